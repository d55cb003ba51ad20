"""The classification step of `defectlab demo`: the seconds-long recipe on the demo's synthetic data."""
from __future__ import annotations

import json
from pathlib import Path


def run(data_root: Path, out_dir: Path, seed: int = 0) -> dict:
    from .config import make_config
    from .train import train

    config = make_config("smoke", data=str(data_root), out=str(out_dir), seed=seed, name="smoke")
    run_dir = train(config, progress=False)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    training = json.loads((run_dir / "training.json").read_text())
    print(f"[demo] classification: test accuracy {metrics['accuracy']:.2%} ({metrics['correct']}/{metrics['n']}) "
          f"in {training['train_seconds']} s; run folder {run_dir}")
    return {"run": str(run_dir), "test_accuracy": metrics["accuracy"], "train_seconds": training["train_seconds"]}
