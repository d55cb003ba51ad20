"""The one place that changes the process, called by the CLI and the service (never by an import):
the framework guard and a quiet console. Quiet means a user
sees defectlab's own progress, results and errors, not library start-up noise (TensorFlow's oneDNN / cuInit /
absl lines, ultralytics' requirement notes, timm / anomalib FutureWarnings); verbose brings it back."""
from __future__ import annotations

import contextlib
import logging
import os
import warnings

from . import framework_guard

NOISY_LOGGERS = ("tensorflow", "absl", "ultralytics", "anomalib", "lightning", "lightning.pytorch", "timm", "h5py",
                 "matplotlib", "PIL", "numexpr")
NOISY_MODULES = r"(tensorflow|keras|absl|timm|anomalib|lightning|torch|torchvision|ultralytics|kornia|torchmetrics|"\
                r"google|jsonargparse|openvino|onnx|onnxruntime|sklearn|h5py)(\..*)?"


def setup(verbose: bool = False) -> None:
    """Idempotent. Call before any ML framework is imported (TensorFlow reads its log level at import)."""
    framework_guard.install(quiet_tensorflow=not verbose)
    if verbose:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")      # oneDNN, cuInit, CPU-feature lines
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    os.environ.setdefault("GLOG_minloglevel", "3")
    os.environ.setdefault("YOLO_VERBOSE", "False")           # ultralytics' own chatter; our progress stays
    for category in (FutureWarning, DeprecationWarning, UserWarning, RuntimeWarning, ImportWarning):
        warnings.filterwarnings("ignore", category=category, module=NOISY_MODULES)
    warnings.filterwarnings("ignore", message=r".*(pi_heif|pi-heif).*")
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)



@contextlib.contextmanager
def silenced(active: bool = True):
    """Python-level stdout and stderr to /dev/null while a library draws progress bars of its own (ultralytics'
    image caching, anomalib's coreset); exceptions still propagate."""
    if not active:
        yield
        return
    with open(os.devnull, "w") as null, contextlib.redirect_stdout(null), contextlib.redirect_stderr(null):
        yield
