"""Inspection speed on this CPU: the whole inspection of each picture (decode once,
class + boxes + anomaly score and heatmap) at one image size, beside each model alone on the same decoded pictures,
with the frameworks (Keras, PyTorch) and with ONNX Runtime. Each mode runs in its own process, so that its peak
memory is its own; the pictures are the test side of the runs' split, read from disk as a user's folder would be.

Every model runs at --image-size: a run trained at another size is copied (without its data) and set to that size,
so a 320 px detector inspected at 224 px is the same network on smaller pictures (said in the JSON).

  python scripts/benchmarks/inspection/benchmark_inspect.py --data ../shared/data/NEU-DET \
      --runs classification=runs/neu/classification/lite0-finetune-kaggle-det-seed0 \
             detection=runs/gpu/lite0-unfrozen-t6min-320px-seed0-gpu anomaly=runs/neu/anomaly/texture-knn-imagenet-seed0
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the project root: `scripts.benchmarks`, run as a file

from scripts.benchmarks import commands, results

WHY = ("the runs are `defectlab TASK train` (the commands here); the images/s are timed by this script (`command`) "
       "around the Inspector `defectlab inspect` runs, which reports no speed")
MODES = ("framework", "onnx", "onnx-threads")  # threads: the three models of a batch at once


def sized_copy(path: Path, size: int, into: Path) -> Path:
    """The run itself when it already runs at `size`, else a copy of its model and description set to `size`."""
    config = json.loads((path / "config.json").read_text())
    if config["image_size"] == size:
        return path
    copy = into / path.name
    copy.mkdir(parents=True)
    for name in ("config.json", "data.json", "model.yaml", "model.pt", "model.keras", "threshold.json"):
        if (path / name).is_file():
            shutil.copy(path / name, copy / name)
    (copy / "config.json").write_text(json.dumps({**config, "image_size": size}, indent=2) + "\n")
    return copy


def one_mode(runs: dict, paths: list[str], mode: str, batch_size: int, repeats: int) -> dict:
    """Run in a child process: images/s of each model alone and of the whole inspection, and peak memory."""
    from shared.datasets.images import load_image
    from shared.suite.inspect import Inspector
    from shared.suite.memory_guard import peak_memory_mb

    inspector = Inspector.from_runs(runs, batch_size, onnx=mode.startswith("onnx"), threads=mode.endswith("-threads"))
    inspector.inspect(paths[:batch_size])  # warm-up: lazy allocations, thread pools, ONNX sessions
    pictures = [load_image(p) for p in paths]
    alone = {}
    for task, predictor in inspector.predictors.items():
        rates = []
        for _ in range(repeats):
            started = time.perf_counter()
            for start in range(0, len(pictures), batch_size):
                predictor.predict_arrays(pictures[start:start + batch_size])
            rates.append(len(pictures) / (time.perf_counter() - started))
        alone[task] = round(statistics.median(rates), 1)
    del pictures
    rates = []
    for _ in range(repeats):
        started = time.perf_counter()
        records = inspector.inspect(paths)
        rates.append(len(paths) / (time.perf_counter() - started))
    errors = sum("error" in r for r in records)
    return {"images_per_second": round(statistics.median(rates), 1), "images_per_second_runs": [round(r, 1) for r in rates],
            "per_model_images_per_second": alone, "peak_memory_mb": peak_memory_mb(), "errors": errors,
            "load_average": os.getloadavg()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="the dataset the runs were trained on (NEU-DET)")
    parser.add_argument("--runs", nargs="+", required=True, metavar="TASK=PATH")
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3, help="timed passes per measure (median reported)")
    parser.add_argument("--limit", type=int, default=0, help="first N test pictures (a quick check)")
    parser.add_argument("--out", type=Path, default=results.RESULTS / "inspect.json")
    parser.add_argument("--one", choices=MODES, help=argparse.SUPPRESS)  # internal: one mode, JSON on stdout
    parser.add_argument("--paths", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    from shared.suite import console

    console.setup()
    runs = dict(pair.split("=", 1) for pair in args.runs)
    if args.one:
        result = one_mode(runs, json.loads(args.paths.read_text()), args.one, args.batch_size, args.repeats)
        print("RESULT " + json.dumps(result))
        return 0

    from shared.suite.evaluate import test_pictures
    from shared.suite.provenance import script_command

    configs = {task: json.loads((Path(p) / "config.json").read_text()) for task, p in runs.items()}
    split = configs.get("detection", next(iter(configs.values())))["split"]
    pictures, index = test_pictures(args.data, split)
    paths = [p["path"] for p in pictures][:args.limit or None]
    trained_at = {task: config["image_size"] for task, config in configs.items()}
    modes = {}
    with tempfile.TemporaryDirectory() as scratch:
        sized = {task: str(sized_copy(Path(p), args.image_size, Path(scratch) / task)) for task, p in runs.items()}
        listing = Path(scratch) / "paths.json"
        listing.write_text(json.dumps(paths))
        for mode in MODES:
            command = [sys.executable, __file__, "--data", str(args.data), "--runs",
                       *[f"{t}={p}" for t, p in sized.items()], "--one", mode, "--paths", str(listing),
                       "--batch-size", str(args.batch_size), "--repeats", str(args.repeats)]
            done = subprocess.run(command, capture_output=True, text=True)
            lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
            if done.returncode or not lines:
                sys.exit(f"{mode} failed:\n{done.stderr[-3000:]}")
            modes[mode] = json.loads(lines[-1][len("RESULT "):])
            print(f"{mode}: {modes[mode]}", flush=True)
    best = max(modes, key=lambda m: modes[m]["images_per_second"])
    payload = {
        "images_per_second": modes[best]["images_per_second"], "mode": best,
        "per_model_images_per_second": modes[best]["per_model_images_per_second"],
        "peak_memory_mb": modes[best]["peak_memory_mb"], "batch_size": args.batch_size,
        "image_size": args.image_size, "pictures": len(paths), "target_images_per_second": 25,
        "modes": modes, "runs": runs, "trained_at_image_size": trained_at,
        "note": "whole inspection = decode each file once + classifier + detector + anomaly score and heatmap + "
                "novel flag, in one process using both cores (each runtime's own threads); medians of "
                f"{args.repeats} passes; per-model figures are each model alone on the same decoded pictures",
        "defectlab": [commands.train_line(task, config) for task, config in configs.items()], "why": WHY,
    }
    path = results.write(args.out, payload, split=f"{split} (test side)", index=index,
                         command=script_command(__file__, argv))
    print(f"wrote {path}: {payload['images_per_second']} images/s ({best})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
