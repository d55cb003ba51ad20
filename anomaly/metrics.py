"""How well anomaly maps point at the defect, against true masks (NEU: the boxes, which are coarse masks).

pixel AUROC   every pixel of every judged picture pooled (normal pictures: all pixels negative)
pixel PRO     anomalib's area under the per-region-overlap curve up to 30% false positive rate
box hit rate  share of abnormal pictures whose map maximum lies inside a true box / the mask"""
from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score


def pro(maps: np.ndarray, masks: np.ndarray) -> float:
    import torch
    from anomalib.metrics.aupro import _AUPRO

    metric = _AUPRO(fpr_limit=0.3)
    metric.update(torch.from_numpy(np.ascontiguousarray(maps, dtype=np.float32)), torch.from_numpy(masks).int())
    return float(metric.compute())


def peak(heatmap: np.ndarray) -> tuple[int, int]:
    """(x, y) of the map's maximum."""
    y, x = np.unravel_index(int(np.argmax(heatmap)), heatmap.shape)
    return int(x), int(y)


def box_hits(maps: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """Per picture: is the map's maximum inside the mask?"""
    return np.array([bool(mask[peak(m)[::-1]]) for m, mask in zip(maps, masks)], bool)


def localization(maps: np.ndarray, masks: np.ndarray, labels: np.ndarray) -> dict:
    """maps, masks N x S x S (same frame), labels N (1 = abnormal). Normal pictures' masks count as empty."""
    masks = masks & (labels == 1)[:, None, None]
    abnormal = (labels == 1) & masks.reshape(len(masks), -1).any(1)
    result = {"pixel_auroc": float(roc_auc_score(masks.reshape(-1), maps.reshape(-1))),
              "box_hit_rate": float(box_hits(maps[abnormal], masks[abnormal]).mean()) if abnormal.any() else None,
              "judged_abnormal": int(abnormal.sum())}
    try:
        result["pixel_pro"] = pro(maps, masks)
    except Exception as error:  # noqa: BLE001  (a changed library metric must not stop the evaluation; said)
        result["pixel_pro"], result["pixel_pro_error"] = None, f"{type(error).__name__}: {error}"
    return result
