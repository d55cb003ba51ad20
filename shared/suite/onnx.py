"""ONNX Runtime sessions with the suite's options (onnxruntime is imported only when a session is made).

Spinning is off: by default each session's threads busy-wait after a run, which on a 2-core machine takes the
cores from the next model of the same picture (measured in the service: the detector 94 ms per picture after the
classifier against 41 ms alone). DEFECTLAB_ONNX_THREADS sets each session's thread count (default: every core this process may use)."""
from __future__ import annotations

import os
from pathlib import Path


def session(path: str | Path):
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    # an explicit count: ONNX Runtime's default (0) pins a thread to each of the host's cores, which fails with an
    # error on stderr in a container limited to fewer cores
    options.intra_op_num_threads = int(os.environ.get("DEFECTLAB_ONNX_THREADS") or len(os.sched_getaffinity(0)))
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def scaled_difference(expected, got) -> float:
    """The largest |expected - got| as a share of the largest |expected|. Another runtime or CPU kernel changes the
    last digits, and each output has a scale of its own (pixels, probabilities, distances), so parity is judged
    against that scale rather than in absolute units."""
    import numpy as np

    expected, got = np.asarray(expected, np.float64), np.asarray(got, np.float64)
    if expected.shape != got.shape:
        raise ValueError(f"outputs differ in shape: {expected.shape} vs {got.shape}")
    if not expected.size:
        return 0.0
    return float(np.abs(expected - got).max() / max(float(np.abs(expected).max()), 1e-12))
