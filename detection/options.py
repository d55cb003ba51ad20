"""The detection task's verb options (shared.suite.options): each with its one default; the task spec and the run read
them here."""
from __future__ import annotations

from shared.suite.options import Option, table

EVALUATE_OPTIONS = table(
    Option("tta", bool, False, "test-time augmentation (flips and scales); writes tta_* files"),
    Option("coco", bool, False, "also score with pycocotools (COCO's interpolation and box matching, as papers "
                                "report either): metrics gain `pycocotools`"))
PREDICT_OPTIONS = table(
    Option("conf", float, 0.25, "lowest box confidence returned", request=True, minimum=0, maximum=1),
    Option("border", float, 0.5, "grey frame around each picture, in strides of the network: 0.5 shows it what "
                                 "`evaluate` shows it; 0, the bare picture, is about 1.35x faster"),
    Option("onnx", bool, False, "run the exported model.onnx with ONNX Runtime"),
    Option("int8", bool, False, "run model.int8.onnx, the INT8 quantized model (`defectlab detection export RUN "
                                "int8=1`), with ONNX Runtime"),
    Option("tta", bool, False, "test-time augmentation (flips and scales): 3 passes a picture"),
    Option("fuse_with", str, "", "other run folders (comma-separated) whose boxes are fused with this run's: an "
                                 "ensemble, one pass per run"),
    Option("fusion", str, "wbf-max", "how the runs' boxes merge: wbf-max (corners averaged, best confidence), wbf, "
                                     "wbf-floor0.05, nms", choices=("wbf-max", "wbf", "wbf-floor0.05", "nms")),
    Option("fusion_iou", float, 0.7, "IoU above which boxes of one class merge"),
    Option("batch_size", int, 16, "pictures decoded and scored at a time"),
)
