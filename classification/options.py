"""The classification task's verb options (shared.suite.options): each with its one default; the task spec and the run read
them here."""
from __future__ import annotations

from shared.suite.options import Option, table

EVALUATE_OPTIONS = table(Option("tta", bool, False, "average over the 8 flips / 90-degree turns (files get a tta_ "
                                                   "prefix)"))
PREDICT_OPTIONS = table(
    Option("tta", bool, False, "average over the 8 flips / 90-degree turns", request=True),
    Option("onnx", bool, False, "run the exported model.onnx with ONNX Runtime (about 3x faster on a CPU)"),
    Option("int8", bool, False, "run model.int8.onnx, the INT8 quantized model (`defectlab classification export "
                                "RUN int8=1`), with ONNX Runtime"),
    Option("batch_size", int, 32, "pictures decoded and scored at a time"),
)
