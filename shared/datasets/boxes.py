"""Box hygiene shared by every exporter: drop exact duplicates and degenerate boxes, clip to the image."""
from __future__ import annotations

from collections import Counter


def box_key(box: dict) -> tuple:
    return (box["name"], box["xmin"], box["ymin"], box["xmax"], box["ymax"])


def is_degenerate(box: dict) -> bool:
    return box["xmax"] <= box["xmin"] or box["ymax"] <= box["ymin"]


def is_outside(box: dict, width: int, height: int) -> bool:
    return box["xmin"] < 0 or box["ymin"] < 0 or box["xmax"] > width or box["ymax"] > height


def clean_boxes(boxes: list[dict], width: int, height: int) -> tuple[list[dict], Counter]:
    """Return usable boxes and counts of what was changed: 'duplicate' and 'degenerate' dropped,
    'clipped' kept after clipping to [0, width] x [0, height] (dropped as degenerate if nothing is left)."""
    counts: Counter = Counter()
    kept, seen = [], set()
    for box in boxes:
        if box_key(box) in seen:
            counts["duplicate"] += 1
            continue
        seen.add(box_key(box))
        if is_outside(box, width, height):
            counts["clipped"] += 1
            box = {**box, "xmin": max(box["xmin"], 0), "ymin": max(box["ymin"], 0),
                   "xmax": min(box["xmax"], width), "ymax": min(box["ymax"], height)}
        if is_degenerate(box):
            counts["degenerate"] += 1
            continue
        kept.append(box)
    return kept, counts
