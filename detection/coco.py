"""COCO-style mAP with pycocotools, beside ultralytics' validator. The two differ in how they interpolate precision
(COCO: 101 recall points; ultralytics: a continuous curve sampled at 101 points and integrated) and in how they
match boxes to truth, and papers report either: both are given, so numbers can be compared with either kind.

Boxes are dicts in picture pixels ({"class", xmin, ymin, xmax, ymax} and "confidence" for found boxes)."""
from __future__ import annotations

import contextlib
import io

BOX_KEYS = ("xmin", "ymin", "xmax", "ymax")


def _xywh(box: dict) -> list[float]:
    return [box["xmin"], box["ymin"], box["xmax"] - box["xmin"], box["ymax"] - box["ymin"]]


def coco_map(truth: list[list[dict]], found: list[list[dict]], sizes: list[tuple[int, int]],
             classes: list[str]) -> dict:
    """mAP50, mAP50-95 and per-class AP50 by pycocotools' COCOeval over pictures given as parallel lists (truth
    boxes, found boxes, (width, height)); a class without truth boxes has no AP (as in COCO)."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    ids = {name: k + 1 for k, name in enumerate(classes)}
    annotations = [{"id": n + 1, "image_id": i, "category_id": ids[b["class"]], "bbox": _xywh(b), "iscrowd": 0,
                    "area": (b["xmax"] - b["xmin"]) * (b["ymax"] - b["ymin"])}
                   for n, (i, b) in enumerate((i, b) for i, boxes in enumerate(truth) for b in boxes)]
    gt = COCO()
    gt.dataset = {"images": [{"id": i, "width": w, "height": h} for i, (w, h) in enumerate(sizes)],
                  "annotations": annotations, "categories": [{"id": ids[c], "name": c} for c in classes]}
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints its progress and table
        gt.createIndex()
        detections = [{"image_id": i, "category_id": ids[b["class"]], "bbox": _xywh(b), "score": b["confidence"]}
                      for i, boxes in enumerate(found) for b in boxes]
        if not detections:
            return {"map50": 0.0, "map50_95": 0.0, "per_class_ap50": {}}
        evaluation = COCOeval(gt, gt.loadRes(detections), "bbox")  # COCO's defaults: at most 100 boxes a picture
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    # precision: [IoU thresholds, recall points, classes, area ranges, max detections (1, 10, 100)]; -1: no truth
    precision = evaluation.eval["precision"][0, :, :, 0, -1]
    per_class = {c: float(precision[:, k][precision[:, k] > -1].mean()) for k, c in enumerate(classes)
                 if (precision[:, k] > -1).any()}
    return {"map50": float(evaluation.stats[1]), "map50_95": float(evaluation.stats[0]), "per_class_ap50": per_class}


def truth_and_sizes(data_yaml, split: str, classes: list[str]) -> tuple[list, list, list[dict]]:
    """The pictures of one side of a run's YOLO view, their truth boxes and sizes (read by the data layer)."""
    from pathlib import Path

    import yaml
    from PIL import Image

    from shared.datasets.export_yolo import read_yolo_labels

    root = Path(data_yaml).parent
    names = dict(enumerate(classes))
    config = yaml.safe_load(Path(data_yaml).read_text())
    pictures = sorted(p for p in (root / config[split]).iterdir() if p.is_file())
    labels = root / config[split].replace("images", "labels", 1)
    truth, sizes = [], []
    for picture in pictures:
        with Image.open(picture) as image:
            sizes.append(image.size)
        label = labels / f"{picture.stem}.txt"
        boxes = read_yolo_labels(label, *sizes[-1], names) if label.is_file() else []
        truth.append([{"class": b["name"], **{k: float(b[k]) for k in BOX_KEYS}} for b in boxes])
    return pictures, truth, sizes

