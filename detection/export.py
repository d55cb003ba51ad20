"""Deployment: export a run's detector to ONNX, and run it with ONNX Runtime."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from .config import DetectorConfig
from .offline import ultralytics_module


def to_onnx(run: str | Path) -> Path:
    run = Path(run)
    config = DetectorConfig.load(run / "config.json")
    model = ultralytics_module().YOLO(str(run / "model.pt"))
    exported = Path(model.export(format="onnx", imgsz=config.imgsz, simplify=False, dynamic=False, verbose=False))
    target = run / "model.onnx"
    if exported.resolve() != target.resolve():
        shutil.move(exported, target)
    return target


def raw_outputs(run: str | Path, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(PyTorch, ONNX Runtime) raw head outputs for float32 N x 3 x S x S inputs in 0..1."""
    import onnxruntime
    import torch

    run = Path(run)
    model = ultralytics_module().YOLO(str(run / "model.pt")).model.float().eval()
    with torch.no_grad():
        torch_out = model(torch.from_numpy(images))
    torch_out = (torch_out[0] if isinstance(torch_out, (list, tuple)) else torch_out).numpy()
    session = onnxruntime.InferenceSession(str(run / "model.onnx"), providers=["CPUExecutionProvider"])
    onnx_out = np.concatenate([session.run(None, {session.get_inputs()[0].name: image[None]})[0] for image in images])
    return torch_out, onnx_out
