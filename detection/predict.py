"""The detector's predictor: pictures (any size, gray or RGB) -> boxes. ultralytics predictors keep state
between calls and are not thread-safe: use one predictor per thread or process.

Record (beside the shared `image`, `width`, `height` or `error`):
  boxes   [{class, confidence, xmin, ymin, xmax, ymax}] in pixels of the input picture, most confident first"""
from __future__ import annotations

import numpy as np

from shared.suite.predictor import Predictor

from .plots import draw_boxes

BOX_KEYS = ("xmin", "ymin", "xmax", "ymax")


class DetectorPredictor(Predictor):
    task = "detection"

    def __init__(self, model, classes: list[str], image_size: int, conf: float = 0.25, batch_size: int = 16,
                 onnx_file: str | None = None):
        self.model, self.classes, self.image_size, self.conf = model, list(classes), image_size, conf
        self.batch_size, self.onnx_file = batch_size, onnx_file

    def predict_arrays(self, images: list[np.ndarray]) -> list[dict]:
        bgr = [np.ascontiguousarray(image[..., ::-1]) for image in images]  # ultralytics takes arrays as BGR
        results = self.model.predict(bgr, imgsz=self.image_size, conf=self.conf, verbose=False)
        if self.onnx_file and not getattr(self, "_own_session", False):
            self._use_own_session()
        records = []
        for result in results:
            boxes = result.boxes
            records.append({"boxes": [
                {"class": self.classes[int(c)], "confidence": float(s), **dict(zip(BOX_KEYS, np.round(xyxy, 2).tolist()))}
                for xyxy, s, c in zip(boxes.xyxy.cpu().numpy(), boxes.conf.cpu().numpy(), boxes.cls.cpu().numpy())]})
        return records

    def _use_own_session(self) -> None:
        """ultralytics builds its ONNX Runtime session with default options (threads spinning after each run);
        its CPU backend only calls session.run, so the session is swapped for the suite's (shared.suite.onnx)."""
        from shared.suite.onnx import session

        backend = getattr(getattr(self.model.predictor, "model", None), "backend", None)
        if backend is not None and hasattr(backend, "session"):
            backend.session = session(self.onnx_file)
        self._own_session = True

    def csv_rows(self, record: dict) -> list[dict]:
        """One row per box (an image without boxes or with an error: one row without box columns)."""
        base = {k: v for k, v in record.items() if k != "boxes"}
        return [{**base, **box} for box in record.get("boxes", [])] or [base]

    def draw(self, record: dict, image: np.ndarray):
        return draw_boxes(image, record["boxes"], None, self.classes)
