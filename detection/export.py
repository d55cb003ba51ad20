"""Deployment: export a run's detector to ONNX and check ONNX Runtime against PyTorch on the same input."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from shared.suite.onnx import scaled_difference
from shared.suite.onnx import session as ort_session


def to_onnx(run) -> Path:
    """run.path/model.onnx at the recipe's image_size, batch size free (a batch is one ONNX Runtime call: 13% more
    images/s than one call per picture on 2 cores)."""
    exported = Path(run.model.export(format="onnx", imgsz=run.recipe.image_size, simplify=False, dynamic=True,
                                     verbose=False))
    target = run.path / "model.onnx"
    if exported.resolve() != target.resolve():
        shutil.move(exported, target)
    return target


def raw_outputs(run, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(PyTorch, ONNX Runtime) raw head outputs for float32 N x 3 x S x S inputs in 0..1."""
    import torch

    net = run.model.model.float().eval()
    with torch.no_grad():
        torch_out = net(torch.from_numpy(images))
    torch_out = (torch_out[0] if isinstance(torch_out, (list, tuple)) else torch_out).numpy()
    session = ort_session(run.path / "model.onnx")
    onnx_out = np.concatenate([session.run(None, {session.get_inputs()[0].name: image[None]})[0] for image in images])
    return torch_out, onnx_out


def train_pictures(run) -> list[Path]:
    """The train pictures of the run's YOLO view of its split."""
    import yaml

    from shared.datasets.images import is_image_file

    data_yaml = run.data_yaml()
    config = yaml.safe_load(data_yaml.read_text())
    folder = Path(config.get("path") or data_yaml.parent) / config["train"]
    return sorted(p for p in folder.rglob("*") if is_image_file(p))


def calibration_feeds(run, count: int = 100, seed: int = 0) -> list[dict]:
    """What the ONNX predictor feeds its session (its grey frame, ultralytics' letterbox) for `count` of the run's
    train pictures (a seeded draw)."""
    from shared.datasets.images import load_image
    from shared.suite.quantize import Recorder, picked

    predictor = run.predictor(onnx=True, batch_size=16)
    paths = picked(train_pictures(run), count, seed)
    batches = [[load_image(p) for p in paths[start:start + 16]] for start in range(0, len(paths), 16)]
    predictor.predict_arrays(batches[0][:1])  # ultralytics builds its backend on the first call
    backend = predictor.model.predictor.model.backend
    recorder = backend.session = Recorder(backend.session)
    for batch in batches:
        predictor.predict_arrays(batch)
    return recorder.feeds


def head_post_processing(path: Path) -> list[str]:
    """The detect head's nodes after its last convolutions (box distribution decoding, sigmoid, concatenation of
    pixel boxes with 0..1 class scores): one 8-bit range over both would erase the scores, so they stay float."""
    import onnx

    nodes = onnx.load(str(path)).graph.node
    head = nodes[-1].name.split("/")[1:2]  # exported names are /model.<layer>/...; the head is the last layer
    return [n.name for n in nodes if head and n.name.split("/")[1:2] == head and n.op_type != "Conv"]


def to_int8(run) -> tuple[Path, float]:
    """run.path/model.int8.onnx: model.onnx (exported first where missing) quantized statically but for the
    head's post-processing, calibrated on 100 train pictures; and the largest |fp32 - int8| difference of the raw
    head outputs on them, as a share of the largest fp32 value."""
    from shared.suite.quantize import run_to_int8

    return run_to_int8(run, run.path / "model.onnx", export_checked, calibration_feeds,
                       nodes_to_exclude=head_post_processing)


def export_checked(run, samples: int = 2, seed: int = 0, int8: bool = False) -> tuple[Path, float]:
    """Export, then the largest |PyTorch - ONNX Runtime| difference of the raw head outputs on seeded random
    inputs, as a share of each part's largest value: box coordinates are pixels, class scores 0..1. int8:
    model.int8.onnx instead (to_int8)."""
    if int8:
        return to_int8(run)
    path = to_onnx(run)
    size = run.recipe.image_size
    images = np.random.default_rng(seed).uniform(0, 1, (samples, 3, size, size)).astype("float32")
    torch_out, onnx_out = raw_outputs(run, images)
    if torch_out.shape[1] != 4 + len(run.classes):  # (N, 4 boxes + classes, anchors): the parts are compared apart
        raise ValueError(f"unexpected head output {torch_out.shape} for {len(run.classes)} classes")
    return path, max(scaled_difference(torch_out[:, :4], onnx_out[:, :4]),
                     scaled_difference(torch_out[:, 4:], onnx_out[:, 4:]))
