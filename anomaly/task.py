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
PREDICT_OPTIONS = {"onnx": (bool, False, "run the exported model.onnx with ONNX Runtime (texture-knn; about 5x "
                                         "faster on a CPU)")}


train = lazy("anomaly.train:train")   # (recipe, progress=True) -> Run
load = lazy("anomaly.run:load")      # (path) -> Run, safe loaders only
export = lazy("anomaly.export:export_checked")  # (run) -> (model.onnx, max |PyTorch - ONNX Runtime| / max |PyTorch|)


def summary(metrics: dict) -> str:
    text = f"image AUROC {metrics['image_auroc']:.3f}, F1 at threshold {metrics['f1_at_threshold']:.3f}"
    if metrics.get("pixel_auroc") is not None:
        text += f", pixel AUROC {metrics['pixel_auroc']:.3f}"
    return text


def evaluation(run, pictures: list[dict], out, progress: bool = False) -> dict:
    """The suite evaluation's part: leave-one-class-out on the run's data and split with the run's recipe (each
    class in turn is the unseen kind), ROC per held-out class, and per class its highest-scored unseen picture's
    heatmap with the true boxes outlined."""
    from .plots import loco_heatmaps_png, loco_roc_png
    from .protocols import run_protocol

    result = run_protocol(run.recipe.data, "loco", run.recipe, out, progress=progress)
    boxes = {path: p["boxes"] for p in pictures for path in p["paths"]}
    folder = Path(out)
    return {"metrics": result, "figures": {
        "ROC per held-out class (leave-one-class-out)": loco_roc_png(result, folder / "loco_roc.png"),
        "heatmaps of the top-scored unseen picture per held-out class, true boxes outlined":
            loco_heatmaps_png(result, boxes, folder / "loco_heatmaps.png")}}


def register_verbs(verbs, common) -> None:
    from .cli import register_protocol

    register_protocol(verbs, common)
