"""Deployment: the Keras classifier as ONNX (Keras' own exporter, tf2onnx underneath), run with ONNX Runtime,
and checked against Keras on the same input."""
from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np

from shared.suite.errors import DataError
from shared.suite.onnx import scaled_difference

ONNX_FILE = "model.onnx"


def to_onnx(run) -> Path:
    """run.path/model.onnx: float32 N x S x S x 3 pictures in 0..255 -> class logits (batch size free)."""
    path = run.path / ONNX_FILE
    with contextlib.redirect_stdout(io.StringIO()):  # tf2onnx reports every rewrite
        run.model.export(str(path), format="onnx", verbose=False)
    return path


class OnnxClassifier:
    """model.onnx behind the one method the predictor uses of a Keras model: predict(x, batch_size, verbose)."""

    def __init__(self, path: str | Path):
        from shared.suite.onnx import session

        path = Path(path)
        if not path.is_file():
            int8 = " int8=1" if path.name != ONNX_FILE else ""
            raise DataError(path, f"no ONNX model yet; run `defectlab classification export {path.parent}{int8}` "
                                  "first")
        self.session = session(path)
        self.input = self.session.get_inputs()[0].name

    def predict(self, x: np.ndarray, batch_size: int = 32, verbose: int = 0) -> np.ndarray:
        x = np.asarray(x, dtype="float32")
        return np.concatenate([self.session.run(None, {self.input: x[i:i + batch_size]})[0]
                               for i in range(0, len(x), batch_size)]) if len(x) else np.zeros((0, 0), "float32")


def calibration_feeds(run, count: int = 100, seed: int = 0) -> list[dict]:
    """What the ONNX predictor feeds its session for `count` of the run's train pictures (a seeded draw)."""
    from shared.datasets.images import load_image
    from shared.suite.quantize import Recorder, picked

    from .data import load_data

    data = load_data(run.recipe)
    train = data.index[(data.split == "train").to_numpy()].drop_duplicates("picture_id")
    predictor = run.predictor(onnx=True, batch_size=16)
    recorder = predictor.model.session = Recorder(predictor.model.session)
    paths = picked(sorted(train.path), count, seed)
    for start in range(0, len(paths), 16):
        predictor.predict_arrays([load_image(p) for p in paths[start:start + 16]])
    return recorder.feeds


def to_int8(run) -> tuple[Path, float]:
    """run.path/model.int8.onnx: model.onnx (exported first where missing) quantized statically, every Conv and
    MatMul, calibrated on 100 train pictures; and the largest |fp32 - int8| logit difference on them, as a share
    of the largest logit."""
    from shared.suite.quantize import run_to_int8

    return run_to_int8(run, run.path / ONNX_FILE, export_checked, calibration_feeds)


def export_checked(run, samples: int = 4, seed: int = 0, int8: bool = False) -> tuple[Path, float]:
    """Export, then the largest |Keras - ONNX Runtime| output difference on seeded random pictures, as a share of
    the largest output. int8: model.int8.onnx instead (to_int8)."""
    if int8:
        return to_int8(run)
    if run.model.name == "ensemble":
        raise ValueError("ONNX export handles a single-backbone classifier; this run is an ensemble of three "
                         "(preset auto chose it) and runs under Keras only")
    size = run.recipe.image_size
    images = np.random.default_rng(seed).uniform(0, 255, (samples, size, size, 3)).astype("float32")
    keras_out = np.asarray(run.model.predict(images, verbose=0))  # also builds a freshly loaded model for export
    path = to_onnx(run)
    return path, scaled_difference(keras_out, OnnxClassifier(path).predict(images))
