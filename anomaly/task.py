"""The anomaly task as the suite's registry sees it (shared.suite.registry): names, recipe, options, and the
verbs, which import torch / anomalib only when called."""
from __future__ import annotations

from pathlib import Path

from shared.suite.registry import lazy
from shared.suite.spec import Metric, TaskSpec

from .options import EVALUATE_OPTIONS, PREDICT_OPTIONS
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
  defectlab anomaly calibrate RUN line/week12/ --false-alarm-rate 0.01   threshold from your known-good pictures

data: anomaly folders normal/train/ (fit), normal/test/ and abnormal/ (scored), masks/ (optional pixel masks
named like their abnormal image); or any labelled dataset with normal_classes=... (its split's train pictures of
those classes are fitted; test pictures of all classes scored; boxes are the masks). valid_fraction of the
normal training pictures is held out to set the threshold (threshold_quantile of their scores).
"""

RECORD_SCHEMA = {"type": "object", "properties": {
    "score": {"type": "number"}, "is_anomalous": {"type": "boolean"}, "threshold": {"type": "number"},
    "peak": {"type": "object", "description": "where the anomaly map is highest, in the picture's pixels",
             "properties": {"x": {"type": "integer"}, "y": {"type": "integer"}, "value": {"type": "number"}}},
    "explanation": {"type": "string"},
    "calibration": {"type": "string", "description": "the calibration in force, RUN/calibrations/NAME.json "
                                                     "(absent: the run's own threshold)"},
    "heatmap_png": {"type": "string", "format": "byte"}}}
UNIT_OR_NULL = {"anyOf": [{"$ref": "#/$defs/unit"}, {"type": "null"}]}
METRICS_SCHEMA = {"type": "object", "required": ["protocol", "mean_auroc", "per_class_auroc", "per_class"],
                  "properties": {"protocol": {"const": "loco"}, "mean_auroc": {"$ref": "#/$defs/unit"},
                                 "per_class_auroc": {"type": "object",
                                                     "additionalProperties": {"$ref": "#/$defs/unit"}},
                                 "per_class": {"type": "object", "additionalProperties": {
                                     "type": "object", "required": ["image_auroc", "f1_at_threshold", "pixel_auroc",
                                                                    "pixel_pro", "fit_seconds", "roc"],
                                     "properties": {"image_auroc": {"$ref": "#/$defs/unit"},
                                                    "f1_at_threshold": {"$ref": "#/$defs/unit"},
                                                    "pixel_auroc": UNIT_OR_NULL, "pixel_pro": UNIT_OR_NULL,
                                                    "fit_seconds": {"type": "number"},
                                                    "roc": {"type": "object", "required": ["fpr", "tpr"]}}}}}}


train = lazy("anomaly.train:train")   # (recipe, progress=True) -> Run
load = lazy("anomaly.run:load")      # (path) -> Run, safe loaders only
export = lazy("anomaly.export:export_checked")  # (run) -> (model.onnx, max |PyTorch - ONNX Runtime| / max |PyTorch|)
calibrate = lazy("anomaly.calibrate:calibrate")  # (run path, pictures, alpha, ...) -> RUN/calibrations/NAME.json


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
    from .cli import register_calibrate, register_protocol

    register_protocol(verbs, common)
    register_calibrate(verbs, common)


def report_table(metrics: dict) -> dict:
    rows = [[name, row["image_auroc"], row["f1_at_threshold"], row["pixel_auroc"], row["pixel_pro"], row["fit_seconds"]]
            for name, row in metrics["per_class"].items()]
    return {"columns": ["held-out class", "image AUROC", "F1 at threshold", "pixel AUROC", "PRO", "fit s"],
            "rows": rows + [["mean", metrics["mean_auroc"], None, None, None, None]]}


def report_note(section: dict) -> str:
    recipe = section["recipe"]
    return (f"leave one class out: each class in turn is the kind no model saw; the detector ({recipe['model']}, "
            f"{recipe['image_size']} px) is fitted on the train pictures of the other classes and scores the test "
            f"pictures of all. Inspection uses {section['run']}, fitted on every class")


def columns(part: dict, truth=None) -> dict:
    calibrated = {"calibration": part["calibration"]} if part.get("calibration") else {}
    return {"anomaly_score": round(part["score"], 4), "is_anomalous": part["is_anomalous"], **calibrated}


def novelty(part: dict) -> bool:
    return bool(part["is_anomalous"])


SPEC = TaskSpec(
    name=TASK, title="Anomaly detection", help=HELP, description=DESCRIPTION, examples=EXAMPLES, recipe=Recipe,
    train=train, load=load, export=export, summary=summary, evaluation=evaluation,
    predict_options=PREDICT_OPTIONS, evaluate_options=EVALUATE_OPTIONS,
    headline=(Metric("mean_auroc", "auroc", "anomaly image AUROC", "num", "mean over held-out classes",
                     target=0.90),),
    record_schema=RECORD_SCHEMA, metrics_schema=METRICS_SCHEMA, report_table=report_table, report_note=report_note,
    columns=columns, novelty=novelty, novelty_text="anomaly.is_anomalous", novelty_score="score",
    register_verbs=register_verbs, calibrate=calibrate)
