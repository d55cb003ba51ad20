"""The detection task as the suite's registry sees it (shared.suite.registry): names, recipe, options, and the
verbs, which import ultralytics only when called."""
from __future__ import annotations

from shared.suite.registry import lazy

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
  defectlab detection predict RUN image.jpg folder/ --out runs/boxes         JSON + CSV + pictures with boxes
  defectlab detection predict RUN folder/ --fuse-with RUN2 --tta --border 0  two runs fused
  defectlab detection export RUN                                             ONNX, checked against PyTorch

Offline: ultralytics runs with YOLO_OFFLINE=1, no auto-installs, settings and fonts under
$DEFECTLAB_HOME/ultralytics (default ~/.cache/defectlab/ultralytics).
"""
EVALUATE_OPTIONS = {"tta": (bool, False, "test-time augmentation (flips and scales); writes tta_* files"),
                    "coco": (bool, False, "also score with pycocotools (COCO's interpolation and box matching, as "
                                          "papers report either): metrics gain `pycocotools`")}
PREDICT_OPTIONS = {"conf": (float, 0.25, "confidence threshold"),
                   "border": (float, 0.5, "grey frame around each picture, in strides of the network: 0.5 shows "
                                          "it what `evaluate` shows it; 0, the bare picture, is about 1.35x faster"),
                   "onnx": (bool, False, "run the exported model.onnx with ONNX Runtime"),
                   "tta": (bool, False, "test-time augmentation (flips and scales): 3 passes a picture"),
                   "fuse_with": (str, "", "other run folders (comma-separated) whose boxes are fused with this "
                                          "run's: an ensemble, one pass per run"),
                   "fusion": (str, "wbf-max", "how the runs' boxes merge: wbf-max (corners averaged, best "
                                              "confidence), wbf, wbf-floor0.05, nms"),
                   "fusion_iou": (float, 0.7, "IoU above which boxes of one class merge")}


train = lazy("detection.train:train")   # (recipe, progress=True) -> Run
load = lazy("detection.run:load")      # (path) -> Run, safe loaders only
export = lazy("detection.export:export_checked")  # (run) -> (model.onnx, max |PyTorch - ONNX Runtime| / max |PyTorch|)


def summary(metrics: dict) -> str:
    lines = [f"{metrics['split_side']}{' (TTA)' if metrics.get('tta') else ''}: mAP50 {metrics['map50']:.3f}, "
             f"mAP50-95 {metrics['map50_95']:.3f}, precision {metrics['precision']:.3f}, recall {metrics['recall']:.3f}"]
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
