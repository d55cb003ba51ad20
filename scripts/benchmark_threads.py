"""Seconds per epoch of the same detection training with ultralytics' own CPU thread count (cpu_count - 1: one
thread on a 2-core machine) and with every core (detection/offline.py's default), in one process one after the
other, on the same data. Epoch 1 (caching, warm-up) is left out; the median of the other epochs is reported.

  python scripts/benchmark_threads.py --data ../shared/data/NEU-DET --preset demo --epochs 4
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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--preset", default="demo")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--image-size", type=int, default=0, help="0: the preset's")
    parser.add_argument("--runs", type=Path, default=Path("runs/benchmark-threads"))
    parser.add_argument("--out", type=Path, default=RESULTS / "detection_threads.json")
    args = parser.parse_args(argv)
    from detection import task
    from detection.offline import ultralytics_module

    ultralytics_module()
    from ultralytics.utils import torch_utils

    every = torch_utils.NUM_THREADS
    rows = {}
    for label, threads in (("ultralytics_default", max(1, (os.cpu_count() or 2) - 1)), ("every_core", every)):
        torch_utils.NUM_THREADS = threads
        fields = {"image_size": args.image_size} if args.image_size else {}
        recipe = task.Recipe.from_preset(args.preset, data=str(args.data), epochs=args.epochs, out=str(args.runs),
                                         name=f"{args.preset}-{label}", patience=args.epochs, **fields)
        run = task.train(recipe, progress=False)
        per_epoch = epoch_seconds(run.path / "train" / "results.csv")
        rows[label] = {"threads": threads, "seconds_per_epoch": per_epoch,
                       "median_seconds_per_epoch": statistics.median(per_epoch),
                       "train_seconds": run.timings.get("train_seconds"), "image_size": recipe.image_size}
        print(f"[threads] {label} ({threads} threads): median {rows[label]['median_seconds_per_epoch']} s/epoch")
    speedup = rows["ultralytics_default"]["median_seconds_per_epoch"] / rows["every_core"]["median_seconds_per_epoch"]
    index, _ = read_dataset(args.data, progress=False)
    command = script_command(__file__, argv)
    path = write_result(args.out, {"preset": args.preset, "epochs": args.epochs, "runs": rows,
                                   "speedup": round(speedup, 2), "load_note": "both trainings ran alone, one after "
                                   "the other, in one process"}, split="kaggle-det (train side)", index=index,
                        command=command)
    print(f"[threads] speed-up {speedup:.2f}x; wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
