"""Seconds per epoch of the same detection training two ways, one after the other, on the same data. Epoch 1
(caching, warm-up) is left out; the median of the other epochs is reported.

--compare threads: ultralytics' own CPU thread count (cpu_count - 1: one thread on a 2-core machine) against every
core (detection/offline.py's default), in one process. --compare malloc: glibc's mmap threshold capped at 1 MiB (what
console.setup() applied to every CLI process until 02e9b31; the anomaly fit keeps it) against glibc's default, each
in a fresh process (the cap must be in place before the first large buffer), with the processes' CPU seconds
(user, system) beside them.

  python scripts/benchmarks/detection/benchmark_threads.py --data ../shared/data/NEU-DET --preset demo --epochs 4
  python scripts/benchmarks/detection/benchmark_threads.py --data ../shared/data/NEU-DET --compare malloc --preset lite2-unfrozen \\
      --image-size 320 --epochs 3 --fraction 0.1
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import statistics
import subprocess
import sys
from pathlib import Path
from typing import ClassVar

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the project root: `scripts.benchmarks`, run as a file

from scripts.benchmarks import results
from shared.suite.memory_guard import ENV as MMAP_ENV
from shared.suite.memory_guard import THRESHOLD

WHY = ("two ways of running one training (ultralytics' thread count against every core, or glibc's allocator "
       "settings) in one or two processes, timed by this script's clock (`command`): defectlab has no switch for "
       "either, so no defectlab command gives these numbers")
ROW = "[row] "  # how a child process hands its row back


def epoch_seconds(results_csv: Path) -> list[float]:
    from detection.train import epoch_seconds as clock

    seconds = clock(results_csv.parent)  # over every session, should a run have resumed
    return [round(b - a, 2) for a, b in itertools.pairwise(seconds)]  # epochs 2.. (epoch 1 holds the set-up)


def _last_fitness(results_csv: Path) -> float:
    """The last epoch's validation mAP50-95 (a sanity check that both ways learn, not an accuracy comparison)."""
    import pandas as pd

    return round(float(pd.read_csv(results_csv)["metrics/mAP50-95(B)"].iloc[-1]), 4)


class PhaseClock:
    """Where each epoch's seconds go, from ultralytics' own events (registered as default callbacks, so the
    trainer and its validator made later carry them): batches (forward, backward, step), waiting for the loader,
    validation, checkpoint writing, and the rest."""

    EVENTS = ("on_train_epoch_start", "on_train_batch_start", "on_train_batch_end", "on_val_start", "on_val_end",
              "on_model_save", "on_fit_epoch_end")

    def __init__(self):
        import time

        from ultralytics.utils.callbacks import base

        self.events: list[tuple[str, float]] = []
        self.hooks = {name: (lambda _, name=name: self.events.append((name, time.perf_counter())))
                      for name in self.EVENTS}
        for name, hook in self.hooks.items():
            base.default_callbacks[name].append(hook)

    def close(self) -> None:
        from ultralytics.utils.callbacks import base

        for name, hook in self.hooks.items():
            base.default_callbacks[name].remove(hook)

    # the phase each event closes: the seconds since the previous event go to it
    CLOSES: ClassVar[dict] = {"on_train_batch_start": "loader_wait", "on_train_batch_end": "batches",
                              "on_val_end": "validation", "on_model_save": "checkpoint"}

    def epochs(self) -> list[dict]:
        found, epoch, last = [], None, 0.0
        for name, t in self.events:
            if name == "on_train_epoch_start":
                epoch, start = {"batches": 0.0, "loader_wait": 0.0, "validation": 0.0}, t
            elif epoch is None:
                continue
            elif name in self.CLOSES:
                epoch[self.CLOSES[name]] = epoch.get(self.CLOSES[name], 0.0) + t - last
            elif name == "on_fit_epoch_end":
                epoch["total"] = t - start
                found.append({k: round(v, 2) for k, v in epoch.items()})
                epoch = None
            last = t
        return found

    def medians(self) -> dict:
        """Medians over epochs 2.. (epoch 1 holds the set-up), 'other' being what the named phases leave."""
        every = self.epochs()
        rows = every[1:] or every
        for row in rows:
            row["other"] = round(row["total"] - sum(v for k, v in row.items() if k != "total"), 2)
        return {k: round(statistics.median(row.get(k, 0.0) for row in rows), 2) for k in rows[0]} if rows else {}


def train_one(args, label: str, threads: int | None = None) -> dict:
    from detection import task
    from detection.offline import ultralytics_module

    ultralytics_module()
    from ultralytics.utils import torch_utils

    clock = PhaseClock()

    if threads:
        torch_utils.NUM_THREADS = threads
    fields = {"image_size": args.image_size} if args.image_size else {}
    if args.fraction < 1:  # ultralytics' share of the training pictures per epoch
        fields["extra"] = {**task.Recipe.from_preset(args.preset).extra, "fraction": args.fraction}
    recipe = task.Recipe.from_preset(args.preset, data=str(args.data), epochs=args.epochs, out=str(args.runs),
                                     name=f"{args.preset}-{label}", patience=args.epochs, **fields)
    try:
        run = task.train(recipe, progress=False)
    finally:
        clock.close()
    per_epoch = epoch_seconds(run.path / "train" / "results.csv")
    return {"threads": torch_utils.NUM_THREADS, "seconds_per_epoch": per_epoch,
            "median_seconds_per_epoch": statistics.median(per_epoch), "median_phase_seconds": clock.medians(),
            "train_seconds": run.timings.get("train_seconds"), "image_size": recipe.image_size,
            "valid_map50_95_last_epoch": _last_fitness(run.path / "train" / "results.csv")}


def train_in_child(argv: list[str], label: str, env: dict) -> dict:
    """One training in a fresh process; its CPU seconds (data workers included) read from this side."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run([sys.executable, __file__, *argv, "--child", label], env=env, capture_output=True,
                          text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    rows = [line[len(ROW):] for line in done.stdout.splitlines() if line.startswith(ROW)]
    if done.returncode or not rows:
        raise SystemExit(f"defectlab: the {label} training failed: {done.stderr.strip()[-2000:]}")
    return {**json.loads(rows[-1]), "cpu_user_seconds": round(after.ru_utime - before.ru_utime, 1),
            "cpu_system_seconds": round(after.ru_stime - before.ru_stime, 1)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--preset", default="demo")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--image-size", type=int, default=0, help="0: the preset's")
    parser.add_argument("--compare", choices=("threads", "malloc"), default="threads")
    parser.add_argument("--fraction", type=float, default=1.0, help="share of the training pictures each epoch uses")
    parser.add_argument("--runs", type=Path, default=Path("runs/benchmark-threads"))
    parser.add_argument("--out", type=Path, help="default: benchmarks/results/detection_{threads,malloc}.json")
    parser.add_argument("--child", help=argparse.SUPPRESS)  # --compare malloc: one training, its row on stdout
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    from shared.suite import console

    console.setup()
    if args.child:
        print(ROW + json.dumps(train_one(args, args.child)), flush=True)
        return 0
    rows = {}
    if args.compare == "threads":
        from detection.offline import ultralytics_module

        ultralytics_module()
        from ultralytics.utils import torch_utils

        ways = [("ultralytics_default", max(1, (os.cpu_count() or 2) - 1)), ("every_core", torch_utils.NUM_THREADS)]
        for label, threads in ways:
            rows[label] = train_one(args, label, threads)
            print(f"[threads] {label} ({threads} threads): median {rows[label]['median_seconds_per_epoch']} s/epoch")
        note = "both trainings ran alone, one after the other, in one process"
    else:
        free = {k: v for k, v in os.environ.items() if k != MMAP_ENV}
        ways = [("mmap_capped_1mib", dict(free, **{MMAP_ENV: str(THRESHOLD)})), ("glibc_default", free)]
        for label, env in ways:
            rows[label] = train_in_child(argv, label, env)
            print(f"[malloc] {label}: median {rows[label]['median_seconds_per_epoch']} s/epoch, CPU seconds "
                  f"{rows[label]['cpu_user_seconds']} user / {rows[label]['cpu_system_seconds']} system")
        note = "both trainings ran alone, one after the other, each in a fresh process"
    slow, fast = (rows[label]["median_seconds_per_epoch"] for label, _ in ways)
    speedup = slow / fast
    from shared.datasets.index import read_dataset
    from shared.suite.provenance import script_command

    index, _ = read_dataset(args.data, progress=False)
    out = args.out or results.RESULTS / f"detection_{args.compare}.json"
    path = results.write(out, {"compare": args.compare, "preset": args.preset, "epochs": args.epochs,
                               "fraction": args.fraction, "runs": rows, "speedup": round(speedup, 2),
                               "load_note": note, "defectlab": None, "why": WHY}, split="kaggle-det (train side)",
                         index=index, command=script_command(__file__, argv))
    print(f"[{args.compare}] speed-up {speedup:.2f}x; wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
