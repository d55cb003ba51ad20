"""Several detectors as one, measured: each run's raw boxes, classifier-guided scores, and the mAP of any box lists,
counted with ultralytics' own matching and AP code so that fused (detection.fusion) and single-model numbers share
one definition.

Boxes travel as one (N, 6) array per picture: xmin, ymin, xmax, ymax in [0, 1] of the picture, confidence, class."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from .fusion import FUSION_FLOOR
from .predict import VALIDATOR_BORDER, unit_scale

IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)  # COCO's, as ultralytics' validator


def raw_boxes(run, images: list[np.ndarray], tta: bool = False, batch_size: int = 16, conf: float = FUSION_FLOOR,
              border: float = VALIDATOR_BORDER) -> list:
    """The run's boxes for RGB arrays, in [0, 1] of each picture, through its predictor with the validator's low
    confidence floor, NMS and grey frame (what mAP is computed on)."""
    predictor = run.predictor(conf=conf, border=border, batch_size=batch_size, tta=tta)
    found = []
    for start in range(0, len(images), batch_size):
        chunk = images[start:start + batch_size]
        found += [boxes / unit_scale(image) for boxes, image in zip(predictor.boxes(chunk, conf), chunk)]
    return found


def guide(boxes: list[np.ndarray], probabilities: np.ndarray) -> list[np.ndarray]:
    """Classifier-guided scores: each box's confidence times the picture's classifier probability of the box's
    class (probabilities: pictures x classes, in the detector's class order)."""
    guided = []
    for found, p in zip(boxes, probabilities):
        found = found.copy()
        found[:, 4] *= p[found[:, 5].astype(int)]
        guided.append(found)
    return guided


def box_map(predictions: list[np.ndarray], truths: list[np.ndarray], classes: list[str]) -> dict:
    """mAP50, mAP50-95 and per-class AP50 of predictions against truths (per picture (M, 5): class, xyxy in [0, 1])."""
    import torch
    from ultralytics.engine.validator import BaseValidator
    from ultralytics.utils.metrics import ap_per_class, box_iou

    matcher = SimpleNamespace(iouv=torch.tensor(IOU_THRESHOLDS, dtype=torch.float32))
    correct, conf, pred_cls, target_cls = [], [], [], []
    for pred, truth in zip(predictions, truths):
        pred = pred[np.argsort(-pred[:, 4], kind="stable")]
        target_cls.append(truth[:, 0])
        conf.append(pred[:, 4])
        pred_cls.append(pred[:, 5])
        if len(truth) and len(pred):
            iou = box_iou(torch.from_numpy(truth[:, 1:5]).float(), torch.from_numpy(pred[:, :4]).float())
            correct.append(BaseValidator.match_predictions(matcher, torch.from_numpy(pred[:, 5]),
                                                           torch.from_numpy(truth[:, 0]), iou).numpy())
        else:
            correct.append(np.zeros((len(pred), len(IOU_THRESHOLDS)), bool))
    _, _, _, _, _, ap, seen, *_ = ap_per_class(np.concatenate(correct), np.concatenate(conf),
                                               np.concatenate(pred_cls), np.concatenate(target_cls))
    return {"map50": float(ap[:, 0].mean()), "map50_95": float(ap.mean()),
            "per_class_ap50": {classes[c]: float(a) for c, a in zip(seen, ap[:, 0])}}


def recall_at(predictions: list[np.ndarray], truths: list[np.ndarray], conf: float = 0.25, iou: float = 0.5) -> float:
    """Share of true boxes found by a box of their class with confidence >= conf and IoU >= iou."""
    import torch
    from ultralytics.utils.metrics import box_iou

    found = total = 0
    for pred, truth in zip(predictions, truths):
        total += len(truth)
        pred = pred[pred[:, 4] >= conf]
        if len(truth) and len(pred):
            overlap = box_iou(torch.from_numpy(truth[:, 1:5]).float(), torch.from_numpy(pred[:, :4]).float()).numpy()
            overlap *= truth[:, :1] == pred[None, :, 5]
            found += int((overlap >= iou).any(1).sum())
    return found / total if total else float("nan")
