"""Deployment: the texture-knn anomaly model as ONNX (torch's exporter), run with ONNX Runtime, and checked against
PyTorch on the same input. Only texture-knn: the anomalib models keep their own export paths."""
from __future__ import annotations

import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch
from torch import nn

from shared.suite.errors import DataError
from shared.suite.onnx import scaled_difference

from .models import to_input

ONNX_FILE = "model.onnx"


class ScoreAndMap(nn.Module):
    """TextureKnnModel's inference as tensors in, tensors out: (score N, anomaly map N x 1 x S x S). The model's
    own forward: its distances are matrix products (texture_knn.nearest), which every ONNX opset knows."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor):
        out = self.model(x)
        return out.pred_score, out.anomaly_map


def to_onnx(run) -> Path:
    """run.path/model.onnx: normalised float32 N x 3 x S x S -> (score, anomaly map); batch size free."""
    if run.recipe.model != "texture-knn":
        raise DataError(run.path, f"ONNX export supports the texture-knn model, not {run.recipe.model}")
    path = run.path / ONNX_FILE
    size = run.recipe.image_size
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer notes about Python ints taken from shapes
        torch.onnx.export(ScoreAndMap(run.model.eval()), (torch.zeros(1, 3, size, size),), str(path),
                          input_names=["image"], output_names=["score", "map"], opset_version=17, dynamo=False,
                          dynamic_axes={"image": {0: "n"}, "score": {0: "n"}, "map": {0: "n"}})
    return path


class OnnxAnomalyModel:
    """model.onnx behind what anomaly.models.score uses of a torch model: eval() and a call returning
    pred_score and anomaly_map."""

    def __init__(self, path: str | Path):
        from shared.suite.onnx import session

        path = Path(path)
        if not path.is_file():
            int8 = " int8=1" if path.name != ONNX_FILE else ""
            raise DataError(path, f"no ONNX model yet; run `defectlab anomaly export {path.parent}{int8}` first")
        self.session = session(path)

    def eval(self):
        return self

    def __call__(self, x: torch.Tensor) -> SimpleNamespace:
        score, anomaly_map = self.session.run(None, {"image": x.numpy().astype("float32")})
        return SimpleNamespace(pred_score=torch.from_numpy(score), anomaly_map=torch.from_numpy(anomaly_map))


def calibration_feeds(run, count: int = 100, seed: int = 0) -> list[dict]:
    """What the ONNX predictor feeds its session for `count` of the normal pictures the run was fitted on (a seeded
    draw)."""
    from shared.datasets.images import load_image
    from shared.suite.quantize import Recorder, picked

    predictor = run.predictor(onnx=True, batch_size=16)
    recorder = predictor.model.session = Recorder(predictor.model.session)
    paths = picked(sorted(run.dataset().part("fit").path), count, seed)
    for start in range(0, len(paths), 16):
        predictor.predict_arrays([load_image(p) for p in paths[start:start + 16]])
    return recorder.feeds


# only the backbone's convolutions: the nearest-patch search (texture_knn.nearest: |b|^2 - 2ab, one Gemm with the
# normal bank) has a bias computed at run time, which ONNX Runtime's 8-bit Gemm does not take, and the pooling and
# concatenation of the patch features fail as 8-bit operators (QLinearConcat sees mismatched grids)
QUANTIZED_OPS = ["Conv"]


def to_int8(run) -> tuple[Path, float]:
    """run.path/model.int8.onnx: model.onnx (exported first where missing) with the backbone's convolutions
    quantized statically, calibrated on 100 normal train pictures; and the largest |fp32 - int8| difference of
    scores and maps on them, as a share of the largest fp32 value. The image score is a distance between
    per-channel means and log standard deviations: 8-bit noise adds variance to every channel, which moves the
    descriptors of quiet channels by many of their normal spreads (scripts/benchmarks/results/inspect.json, int8)."""
    from shared.suite.quantize import run_to_int8

    return run_to_int8(run, run.path / ONNX_FILE, export_checked, calibration_feeds, op_types=QUANTIZED_OPS)


def export_checked(run, samples: int = 4, seed: int = 0, int8: bool = False) -> tuple[Path, float]:
    """Export, then the largest |PyTorch - ONNX Runtime| difference of scores and maps on seeded random pictures
    (each as a share of its largest PyTorch value, as scores and maps have their own scales). int8:
    model.int8.onnx instead (to_int8)."""
    if int8:
        return to_int8(run)
    path = to_onnx(run)
    size = run.recipe.image_size
    pictures = np.random.default_rng(seed).integers(0, 256, (samples, size, size, 3), dtype=np.uint8)
    x = to_input(pictures, run.recipe.backbone)
    with torch.no_grad():
        expected = run.model.eval()(x)
    got = OnnxAnomalyModel(path)(x)
    return path, max(scaled_difference(expected.pred_score.numpy(), got.pred_score.numpy()),
                     scaled_difference(expected.anomaly_map.numpy(), got.anomaly_map.numpy()))
