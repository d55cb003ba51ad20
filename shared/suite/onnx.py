"""ONNX Runtime sessions with the suite's options (onnxruntime is imported only when a session is made).

Spinning is off: by default each session's threads busy-wait after a run, which on a 2-core machine takes the
cores from the next model of the same picture (measured in the service: the detector 94 ms per picture after the
classifier against 41 ms alone). DEFECTLAB_ONNX_THREADS sets each session's thread count (default: every core)."""
from __future__ import annotations

import os
from pathlib import Path


def session(path: str | Path):
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    options.intra_op_num_threads = int(os.environ.get("DEFECTLAB_ONNX_THREADS", "0"))
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
