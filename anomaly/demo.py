"""The anomaly step of `defectlab demo`: leave-scratches-out PatchCore on the demo's synthetic data."""
from __future__ import annotations

import dataclasses
from pathlib import Path


def run(data_root: Path, out_dir: Path, seed: int = 0) -> dict:
    from .config import make_config
    from .protocols import run_protocol

    config = dataclasses.replace(make_config("smoke", seed=seed), image_size=96)
    result = run_protocol(data_root, "loco", config, out_dir, classes=["scratches"])
    scratches = result["per_class"]["scratches"]
    print(f"[demo] anomaly: leave-scratches-out PatchCore image AUROC {scratches['image_auroc']:.3f} "
          f"(fit {scratches['fit_seconds']} s); run folder {Path(out_dir) / 'loco' / 'scratches' / 'run'}")
    return {"loco_scratches_auroc": scratches["image_auroc"], "fit_seconds": scratches["fit_seconds"]}
