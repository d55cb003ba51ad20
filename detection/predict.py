"""The detector's predictor: pictures (any size, gray or RGB) -> boxes. ultralytics predictors keep state
between calls and are not thread-safe: use one predictor per thread or process.

Record (beside the shared `image`, `width`, `height` or `error`):
  boxes   [{class, confidence, xmin, ymin, xmax, ymax}] in pixels of the input picture, most confident first

`border` frames each picture with grey (in strides of the network) before it is scaled to image_size plus the
frame. The default, half a stride, is what ultralytics' validator shows the network (its rectangular batches pad
by 0.5 stride), so `predict` returns the boxes whose mAP `evaluate` reports. Validation could not tell it from the
bare picture (`border=0`, about 1.35x faster on a 2-core CPU): scripts/benchmarks/results/detection_frames*.json.

`tta` adds ultralytics' test-time augmentation (flips and scales). `partners`, other runs' predictors, make an
ensemble: every model's boxes down to confidence FUSION_FLOOR (what mAP is computed on) are fused
(detection.fusion.FUSIONS), then kept from `conf` up."""
from __future__ import annotations

import numpy as np

from shared.suite.predictor import Predictor

from .fusion import FUSION_FLOOR, fuse
from .plots import draw_boxes

BOX_KEYS = ("xmin", "ymin", "xmax", "ymax")


GREY = 114  # ultralytics' letterbox fill
VALIDATOR_BORDER = 0.5  # strides of grey on each side (ultralytics' rect batches: pad=0.5)


def framed_boxes(model, images: list[np.ndarray], image_size: int, stride: int, border: float = VALIDATOR_BORDER,
                 **predict_args) -> list[np.ndarray]:
    """One (N, 6) array a picture: xmin, ymin, xmax, ymax in its pixels, confidence, class; the picture is framed
    by `border` strides of grey at the network's scale, then scaled to image_size plus the border."""
    canvas = image_size + 2 * round(border * stride)
    framed, pads = [], []
    for image in images:
        pad = round(border * stride * max(image.shape[:2]) / image_size)  # the border at the picture's own scale
        bgr = image[..., ::-1]  # ultralytics takes arrays as BGR; np.pad writes a contiguous copy itself
        framed.append(np.pad(bgr, ((pad, pad), (pad, pad), (0, 0)), constant_values=GREY) if pad
                      else np.ascontiguousarray(bgr))
        pads.append(pad)
    out = []
    for image, pad, result in zip(images, pads, model.predict(framed, imgsz=canvas, verbose=False, **predict_args)):
        height, width = image.shape[:2]
        xyxy = (result.boxes.xyxy.cpu().numpy() - pad).clip(0, [width, height, width, height])
        out.append(np.column_stack([xyxy, result.boxes.conf.cpu().numpy(),
                                    result.boxes.cls.cpu().numpy()]).astype(np.float32).reshape(-1, 6))
    return out


def unit_scale(image: np.ndarray) -> np.ndarray:
    """What divides a picture's (N, 6) boxes into [0, 1] of the picture (confidence and class unchanged)."""
    return np.array([image.shape[1], image.shape[0]] * 2 + [1, 1], np.float32)


class DetectorPredictor(Predictor):
    task = "detection"

    def __init__(self, model, classes: list[str], image_size: int, stride: int, conf: float = 0.25,
                 border: float = VALIDATOR_BORDER, batch_size: int = 16, onnx_file: str | None = None,
                 tta: bool = False, partners: tuple = (), fusion: str = "wbf-max", fusion_iou: float = 0.7):
        self.model, self.classes, self.image_size, self.stride = model, list(classes), image_size, stride
        self.conf, self.border, self.batch_size, self.onnx_file = conf, border, batch_size, onnx_file
        self.tta, self.partners, self.fusion, self.fusion_iou = tta, list(partners), fusion, fusion_iou

    def boxes(self, images: list[np.ndarray], conf: float) -> list[np.ndarray]:
        """This model's boxes alone, one (N, 6) array a picture in its pixels (NMS at IoU 0.7, at most 300)."""
        found = framed_boxes(self.model, images, self.image_size, self.stride, self.border, conf=conf, iou=0.7,
                             max_det=300, augment=self.tta)
        if self.onnx_file and not getattr(self, "_own_session", False):
            self._use_own_session()
        return found

    def fused_boxes(self, images: list[np.ndarray]) -> list[np.ndarray]:
        """The boxes of this model and its partners fused, most confident first, from `conf` up."""
        scales = [unit_scale(image) for image in images]
        floor = min(FUSION_FLOOR, self.conf)
        members = [[b / scale for b, scale in zip(m.boxes(images, floor), scales)]
                   for m in (self, *self.partners)]
        out = []
        for boxes, scale in zip(fuse(members, iou_thr=self.fusion_iou, skip_box_thr=floor, fusion=self.fusion), scales):
            boxes = boxes[boxes[:, 4] >= self.conf] * scale
            out.append(boxes[np.argsort(-boxes[:, 4], kind="stable")])
        return out

    def predict_arrays(self, images: list[np.ndarray]) -> list[dict]:
        found = self.fused_boxes(images) if self.partners else self.boxes(images, self.conf)
        return [{"boxes": [{"class": self.classes[int(c)], "confidence": float(s),
                            **dict(zip(BOX_KEYS, np.round(xyxy, 2).tolist()))} for *xyxy, s, c in boxes]}
                for boxes in found]

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
