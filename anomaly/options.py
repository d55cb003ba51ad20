"""The anomaly task's verb options (shared.suite.options): each with its one default; the task spec and the run read
them here."""
from __future__ import annotations

from shared.suite.options import Option, table

EVALUATE_OPTIONS: dict = {}
PREDICT_OPTIONS = table(
    Option("onnx", bool, False, "run the exported model.onnx with ONNX Runtime (texture-knn; about 5x faster on a "
                                "CPU)"),
    Option("int8", bool, False, "run model.int8.onnx, the INT8 quantized model (`defectlab anomaly export RUN "
                                "int8=1`), with ONNX Runtime"),
    Option("batch_size", int, 0, "pictures decoded and scored at a time (0: the recipe's batch_size)"),
    Option("heatmap", bool, False, "the service answers with anomaly.heatmap_png, the anomaly map over the picture "
                                   "as base64 PNG", request=True),
    Option("calibration", str, "", "a calibration of the run (`defectlab anomaly calibrate RUN PICTURES`, "
                                    "RUN/calibrations/NAME.json): its threshold in force instead of the run's own, "
                                    "its name in every record, and the scores that follow watched for drift"),
)
