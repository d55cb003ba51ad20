"""Seconds per epoch of the same detection training two ways, in one process one after the other, on the same
data. Epoch 1 (caching, warm-up) is left out; the median of the other epochs is reported.

--compare threads: ultralytics' own CPU thread count (cpu_count - 1: one thread on a 2-core machine) against every
core (detection/offline.py's default). --compare bf16: float32 against bfloat16 forward passes (recipe bf16=true),
both on every core.

  python scripts/benchmark_threads.py --data ../shared/data/NEU-DET --preset demo --epochs 4
  python scripts/benchmark_threads.py --data ../shared/data/NEU-DET --compare bf16 --preset lite2-unfrozen \
      --image-size 320 --epochs 3 --fraction 0.25
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

from shared.suite import console

console.setup()

from shared.datasets.index import read_dataset  # noqa: E402
from shared.suite.provenance import script_command, write_result  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "benchmarks" / "results"


def epoch_seconds(results_csv: Path) -> list[float]:
    from detection.train import epoch_seconds as clock

    seconds = clock(results_csv.parent)  # over every session, should a run have resumed
    return [round(b - a, 2) for a, b in zip(seconds, seconds[1:])]  # epochs 2.. (epoch 1 holds the set-up)


def _last_fitness(results_csv: Path) -> float:
    """The last epoch's validation mAP50-95 (a sanity check that both ways learn, not an accuracy comparison)."""
    import pandas as pd

    return round(float(pd.read_csv(results_csv)["metrics/mAP50-95(B)"].iloc[-1]), 4)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--preset", default="demo")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--image-size", type=int, default=0, help="0: the preset's")
    parser.add_argument("--compare", choices=("threads", "bf16"), default="threads")
    parser.add_argument("--fraction", type=float, default=1.0, help="share of the training pictures each epoch uses")
    parser.add_argument("--runs", type=Path, default=Path("runs/benchmark-threads"))
    parser.add_argument("--out", type=Path, help="default: benchmarks/results/detection_{threads,bf16}.json")
    args = parser.parse_args(argv)
    from detection import task
    from detection.offline import ultralytics_module

    ultralytics_module()
    from ultralytics.utils import torch_utils

    every = torch_utils.NUM_THREADS
    ways = {"threads": [("ultralytics_default", max(1, (os.cpu_count() or 2) - 1), {}), ("every_core", every, {})],
            "bf16": [("float32", every, {}), ("bf16", every, {"bf16": True})]}[args.compare]
    rows = {}
    for label, threads, fields in ways:
        torch_utils.NUM_THREADS = threads
        fields = dict(fields, **({"image_size": args.image_size} if args.image_size else {}))
        if args.fraction < 1:  # ultralytics' share of the training pictures per epoch
            fields["extra"] = {**task.Recipe.from_preset(args.preset).extra, "fraction": args.fraction}
        recipe = task.Recipe.from_preset(args.preset, data=str(args.data), epochs=args.epochs, out=str(args.runs),
                                         name=f"{args.preset}-{label}", patience=args.epochs, **fields)
        run = task.train(recipe, progress=False)
        per_epoch = epoch_seconds(run.path / "train" / "results.csv")
        rows[label] = {"threads": threads, "bf16": recipe.bf16, "seconds_per_epoch": per_epoch,
                       "median_seconds_per_epoch": statistics.median(per_epoch),
                       "train_seconds": run.timings.get("train_seconds"), "image_size": recipe.image_size,
                       "valid_map50_95_last_epoch": _last_fitness(run.path / "train" / "results.csv")}
        print(f"[{args.compare}] {label} ({threads} threads): median {rows[label]['median_seconds_per_epoch']} s/epoch")
    slow, fast = (rows[label]["median_seconds_per_epoch"] for label, _, _ in ways)
    speedup = slow / fast
    index, _ = read_dataset(args.data, progress=False)
    command = script_command(__file__, argv)
    out = args.out or RESULTS / f"detection_{args.compare}.json"
    path = write_result(out, {"compare": args.compare, "preset": args.preset, "epochs": args.epochs,
                              "fraction": args.fraction, "runs": rows, "speedup": round(speedup, 2),
                              "load_note": "both trainings ran alone, one after the other, in one process"},
                        split="kaggle-det (train side)", index=index, command=command)
    print(f"[{args.compare}] speed-up {speedup:.2f}x; wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
