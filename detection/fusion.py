"""How the boxes of several detectors become one list (the `ensemble-boxes` library): weighted box fusion and
its variants, or NMS over the pooled boxes. Boxes travel as one (N, 6) array per picture: xmin, ymin, xmax, ymax in
[0, 1] of the picture, confidence, class."""
from __future__ import annotations

import numpy as np

FUSION_FLOOR = 0.001  # members' boxes are fused from the validator's confidence floor, as the benchmarks fused them

FUSIONS = {  # name -> how the boxes of several models become one list (ensemble-boxes)
    "wbf": {},  # weighted box fusion: a cluster's confidence is the mean of its boxes, damped by absent models
    "wbf-max": {"conf_type": "max"},  # a cluster keeps its best confidence (no dilution by weak neighbours)
    "wbf-floor0.05": {"skip_box_thr": 0.05},  # boxes under 0.05 left out before clustering
    "nms": {"method": "nms"},  # boxes pooled, then NMS: each kept box keeps its own corners and score
}


def fuse(per_model: list[list[np.ndarray]], weights=None, iou_thr: float = 0.55, skip_box_thr: float = FUSION_FLOOR,
         fusion: str = "wbf") -> list:
    """Several models' boxes as one list per picture, by one of FUSIONS. WBF: boxes of one class found by several
    models merge into one whose corners and confidence are their weighted means (a box only one model found is
    damped by the models that missed it); NMS: the highest-scored of overlapping boxes stays as it is."""
    import warnings

    from ensemble_boxes import nms, weighted_boxes_fusion

    if fusion not in FUSIONS:
        raise ValueError(f"unknown fusion {fusion!r}; choose one of {', '.join(FUSIONS)}")
    options = {"skip_box_thr": skip_box_thr, **FUSIONS[fusion]}
    method = options.pop("method", "wbf")
    fused = []
    for boxes in zip(*per_model):
        with warnings.catch_warnings():  # zero-area boxes (clipped at the border) are skipped, as they should be
            warnings.simplefilter("ignore", UserWarning)
            if method == "nms":  # arrays: an empty list would lose its second axis in ensemble-boxes' concatenate
                b, s, c = (nms([x[:, :4] for x in boxes], [x[:, 4] for x in boxes], [x[:, 5] for x in boxes],
                               weights=weights, iou_thr=iou_thr) if sum(map(len, boxes)) else ([], [], []))
            else:
                b, s, c = weighted_boxes_fusion([x[:, :4].tolist() for x in boxes], [x[:, 4].tolist() for x in boxes],
                                                [x[:, 5].tolist() for x in boxes], weights=weights, iou_thr=iou_thr,
                                                **options)
        fused.append(np.column_stack([b, s, c]).astype(np.float32) if len(b) else np.zeros((0, 6), np.float32))
    return fused
