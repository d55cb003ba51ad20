"""The anomaly task as the suite's registry sees it (shared.suite.registry): names, recipe, options, and the
verbs, which import torch / anomalib only when called."""
from __future__ import annotations

from pathlib import Path

from shared.suite.registry import lazy

from .recipe import AnomalyRecipe as Recipe

TASK = "anomaly"
HELP = "flag novel defect patterns no model was trained on (texture-knn, anomalib)"
DESCRIPTION = ("Fit an anomaly detector on normal pictures and score new ones. A run folder holds config.json, "
               "data.json, model.pt (tensors only), threshold.json, metrics.json, scores.npz and plots/.")
EXAMPLES = """examples:
  defectlab anomaly train data=../shared/data normal_classes=crazing,inclusion,patches,pitted_surface,rolled-in_scale
  defectlab anomaly train data=runs/ad-data preset=patchcore        anomaly folders (defectlab data export --to anomaly)
  defectlab anomaly protocol --data ../shared/data --protocol loco  leave-one-class-out on NEU, per class + mean
  defectlab anomaly predict RUN images/ --out runs/ad-pred          scores, is_anomalous, heatmap pictures

data: anomaly folders normal/train/ (fit), normal/test/ and abnormal/ (scored), masks/ (optional pixel masks
named like their abnormal image); or any labelled dataset with normal_classes=... (its split's train pictures of
those classes are fitted; test pictures of all classes scored; boxes are the masks). valid_fraction of the
normal training pictures is held out to set the threshold (threshold_quantile of their scores).
"""
EVALUATE_OPTIONS: dict = {}
PREDICT_OPTIONS: dict = {}


train = lazy("anomaly.train:train")   # (recipe, progress=True) -> Run
load = lazy("anomaly.run:load")      # (path) -> Run, safe loaders only


def summary(metrics: dict) -> str:
    text = f"image AUROC {metrics['image_auroc']:.3f}, F1 at threshold {metrics['f1_at_threshold']:.3f}"
    if metrics.get("pixel_auroc") is not None:
        text += f", pixel AUROC {metrics['pixel_auroc']:.3f}"
    return text


def demo(data_root, out_dir, seed: int = 0) -> dict:
    """Leave-scratches-out PatchCore on the demo's synthetic data."""
    from .protocols import run_protocol

    recipe = Recipe.from_preset("smoke", seed=seed, image_size=96)
    result = run_protocol(data_root, "loco", recipe, out_dir, classes=["scratches"])
    scratches = result["per_class"]["scratches"]
    print(f"[demo] anomaly: leave-scratches-out PatchCore image AUROC {scratches['image_auroc']:.3f} "
          f"(fit {scratches['fit_seconds']} s); run folder {Path(out_dir) / 'loco' / 'scratches' / 'run'}")
    return {"loco_scratches_auroc": scratches["image_auroc"], "fit_seconds": scratches["fit_seconds"]}


def register_verbs(verbs, common) -> None:
    from .cli import register_protocol

    register_protocol(verbs, common)
