"""The detection step of `defectlab demo`: one short YOLO training on the demo's synthetic NEU-DET."""
from __future__ import annotations

import json
from pathlib import Path


def run(data_root: Path, out_dir: Path, seed: int = 0) -> dict:
    from .config import make_config
    from .train import train

    config = make_config("smoke", data=str(Path(data_root) / "NEU-DET"), out=str(out_dir), seed=seed,
                         name="smoke", imgsz=128, epochs=3)
    run_dir = train(config, progress=False)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    seconds = json.loads((run_dir / "training.json").read_text())["train_seconds"]
    print(f"[demo] detection: test mAP50 {metrics['map50']:.3f} after 3 epochs from scratch at 128 px in {seconds} s "
          "(a pipeline check, not a model: YOLO from scratch needs ~100 epochs; see README); "
          f"run folder {run_dir}")
    return {"run": str(run_dir), "map50": metrics["map50"], "map50_95": metrics["map50_95"], "train_seconds": seconds}
