"""The detection task as the suite's registry sees it (shared.suite.registry): names, recipe, options, and the
verbs, which import ultralytics only when called."""
from __future__ import annotations

import json
from pathlib import Path

from shared.suite.registry import lazy
from shared.suite.spec import Metric, TaskSpec

from .options import EVALUATE_OPTIONS, PREDICT_OPTIONS
from .recipe import DetectorRecipe as Recipe

TASK = "detection"
HELP = "locate defects with bounding boxes (ultralytics YOLO, offline)"
DESCRIPTION = ("Train, evaluate, apply and export a YOLO defect detector. A run folder holds config.json, "
               "data.json, model.yaml + model.pt (tensors only), metrics.json, plots/ and the YOLO data view.")
EXAMPLES = """examples:
  defectlab detection train data=../shared/data/NEU-DET                      stock YOLOv8n from scratch, 320 px
  defectlab detection train data=../shared/data/NEU-DET preset=cpu           about two hours on 2 CPU cores
  defectlab detection train data=../shared/data/NEU-DET preset=cpu-lite0-imagenet
                                          ImageNet EfficientNet-Lite0 backbone (offline wheel) + YOLOv8n head
  defectlab detection evaluate runs/detection/yolov8n-320-kaggle-det-seed0 --side valid --tta
  defectlab detection predict RUN image.jpg folder/ conf=0.3 --out runs/boxes  JSON + CSV + pictures
  defectlab detection predict RUN folder/ fuse_with=RUN2 tta=1 border=0     two runs fused
  defectlab detection export RUN                                             ONNX, checked against PyTorch

Offline: ultralytics runs with YOLO_OFFLINE=1, no auto-installs, settings and fonts under
$DEFECTLAB_HOME/ultralytics (default ~/.cache/defectlab/ultralytics).
"""

BOX = {"type": "object", "properties": {"class": {"type": "string"},
                                        **{k: {"type": "number"} for k in ("confidence", "xmin", "ymin", "xmax", "ymax")}}}
RECORD_SCHEMA = {"type": "object", "properties": {"boxes": {"type": "array", "items": BOX}}}
METRICS_SCHEMA = {"type": "object", "required": ["map50", "map50_95", "precision", "recall", "per_class_ap50",
                                                 "per_class_ap50_95", "pr_curve", "confusion_matrix"],
                  "properties": {"map50": {"$ref": "#/$defs/unit"}, "map50_95": {"$ref": "#/$defs/unit"},
                                 "precision": {"$ref": "#/$defs/unit"}, "recall": {"$ref": "#/$defs/unit"},
                                 "per_class_ap50": {"type": "object", "additionalProperties": {"$ref": "#/$defs/unit"}},
                                 "per_class_ap50_95": {"type": "object",
                                                       "additionalProperties": {"$ref": "#/$defs/unit"}},
                                 "pr_curve": {"type": "object", "required": ["recall", "precision"]},
                                 "confusion_matrix": {"$ref": "#/$defs/matrix"}}}
# the committed benchmark of the real NEU-DET, shown beside a new evaluation's numbers
BENCHMARK = Path(__file__).resolve().parents[1] / "scripts" / "benchmarks" / "results" / "detection.json"


train = lazy("detection.train:train")   # (recipe, progress=True) -> Run
load = lazy("detection.run:load")      # (path) -> Run, safe loaders only
export = lazy("detection.export:export_checked")  # (run) -> (model.onnx, max |PyTorch - ONNX Runtime| / max |PyTorch|)


def summary(metrics: dict) -> str:
    lines = [(f"{metrics['split_side']}{' (TTA)' if metrics.get('tta') else ''}: mAP50 {metrics['map50']:.3f}, "
             f"mAP50-95 {metrics['map50_95']:.3f}, precision {metrics['precision']:.3f}, recall {metrics['recall']:.3f}")]
    if "pycocotools" in metrics:
        coco = metrics["pycocotools"]
        lines.append(f"  pycocotools: mAP50 {coco['map50']:.3f}, mAP50-95 {coco['map50_95']:.3f}")
    return "\n".join(lines + [f"  {name:<16} AP50 {ap:.3f}" for name, ap in metrics["per_class_ap50"].items()])


def evaluation(run, pictures: list[dict], out, progress: bool = False) -> dict:
    """The suite evaluation's part: test-side mAP and per-class AP, PR curves, confusion matrix, and test pictures
    with their true (white) and predicted (coloured) boxes."""
    from .plots import ap_bars_png, boxes_grid_png

    metrics = run.evaluate("test")
    plots = run.plots_dir()
    return {"metrics": metrics, "figures": {
        "precision-recall curves (test)": plots / "pr_curve.png",
        "AP50 per class (test)": ap_bars_png(metrics, plots / "ap_per_class.png"),
        "confusion matrix (test)": plots / "confusion.png",
        "test pictures: true boxes white, predicted in colour": boxes_grid_png(run, pictures, plots / "test_boxes.png")}}


def report_table(metrics: dict) -> dict:
    return {"columns": ["class", "AP50", "AP50-95"],
            "rows": [[name, ap, metrics["per_class_ap50_95"][name]] for name, ap in metrics["per_class_ap50"].items()]}


def report_note(section: dict) -> str:
    recipe, metrics = section["recipe"], section["metrics"]
    backbone = f", {recipe['backbone']} backbone" if recipe.get("backbone") else ""
    return (f"{recipe['preset']}{backbone}, {recipe['image_size']} px; precision {metrics['precision']:.3f}, "
            f"recall {metrics['recall']:.3f}")


def references(split: str) -> list[dict]:
    """The committed real-NEU-DET benchmark's headline (and its stock YOLOv8n baseline), where it is present."""
    if not BENCHMARK.is_file():
        return []
    saved = json.loads(BENCHMARK.read_text())
    what = "scripts/benchmarks/results/detection.json (real NEU-DET)"
    rows = [{"what": f"{what}: headline {saved.get('headline_part')}/{saved.get('headline_variant')}",
             "split": "kaggle-det", "number": f"mAP50 {saved['kaggle_det']['map50']:.3f}, mAP50-95 "
                                              f"{saved['kaggle_det']['map50_95']:.3f}"}]
    baseline = saved.get("baseline")
    if baseline:
        rows.append({"what": f"same file: stock YOLOv8n baseline {baseline.get('part')}", "split": "kaggle-det",
                     "number": f"mAP50 {baseline['kaggle_det']['map50']:.3f}, mAP50-95 "
                               f"{baseline['kaggle_det']['map50_95']:.3f}"})
    return rows


def columns(part: dict, truth=None) -> dict:
    boxes = part["boxes"]
    row = {"boxes": len(boxes), "box_classes": sorted({b["class"] for b in boxes})}
    if boxes:
        row["top_box_class"] = max(boxes, key=lambda b: b["confidence"])["class"]
    return row


SPEC = TaskSpec(
    name=TASK, title="Detection", help=HELP, description=DESCRIPTION, examples=EXAMPLES, recipe=Recipe,
    train=train, load=load, export=export, summary=summary, evaluation=evaluation,
    predict_options=PREDICT_OPTIONS, evaluate_options=EVALUATE_OPTIONS, aliases=("detect",),
    headline=(Metric("map50", "map50", "detection mAP50", "num", "test side", target=0.50),
              Metric("map50_95", "map50_95", "detection mAP50-95", "num", "test side")),
    record_schema=RECORD_SCHEMA, metrics_schema=METRICS_SCHEMA, report_table=report_table, report_note=report_note,
    references=references, columns=columns, answer_column="top_box_class")
