"""Export an index + split to an ultralytics YOLO dataset: images/<side>/, labels/<side>/, data.yaml."""
from __future__ import annotations

import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import yaml

from ..suite.errors import DataError
from .boxes import clean_boxes
from .index import BOXED_SOURCES
from .index import class_names as index_class_names

YOLO_SIDE = {"train": "train", "valid": "val", "test": "test"}


@dataclass
class YoloExport:
    data_yaml: Path
    images: dict = field(default_factory=dict)   # side -> count
    boxes: int = 0
    changes: Counter = field(default_factory=Counter)  # duplicate / degenerate / clipped / unknown_class / no_boxes


def to_yolo_dataset(index: pd.DataFrame, split: pd.Series, out_dir: str | Path,
                    classes: list[str] | None = None, val_side: str = "test") -> YoloExport:
    """Write the rows that carry boxes (NEU-DET / VOC rows). data.yaml's `val` is the `val_side` side
    ('valid' when the split carved one, else 'test'); boxes with classes outside `classes` are counted
    and left out. Files are copied, so the export is self-contained and the source is never touched."""
    rows = index[index["source"].isin(BOXED_SOURCES)].copy()
    if rows.empty:
        raise DataError(None, "no VOC (box-annotated) images in this dataset: nothing to export for YOLO")
    rows["side"] = split.loc[rows.index]
    classes = classes or sorted({b["name"] for bs in rows["boxes"] for b in bs}, key=_canonical(rows))
    class_id = {name: i for i, name in enumerate(classes)}
    out_dir = Path(out_dir).resolve()
    export = YoloExport(data_yaml=out_dir / "data.yaml")
    for side, group in rows.groupby("side"):
        image_dir, label_dir = out_dir / "images" / YOLO_SIDE[side], out_dir / "labels" / YOLO_SIDE[side]
        image_dir.mkdir(parents=True, exist_ok=True)
        label_dir.mkdir(parents=True, exist_ok=True)
        for row in group.itertuples():
            shutil.copyfile(row.path, image_dir / Path(row.path).name)
            lines = _label_lines(row, class_id, export.changes)
            (label_dir / f"{Path(row.path).stem}.txt").write_text("".join(lines))
            export.boxes += len(lines)
            export.changes["no_boxes"] += not lines
        export.images[side] = len(group)
    sides = set(rows["side"])
    val = val_side if val_side in sides else next(s for s in ("valid", "test", "train") if s in sides)
    config = {"path": str(out_dir), "train": f"images/{YOLO_SIDE['train']}", "val": f"images/{YOLO_SIDE[val]}",
              "names": dict(enumerate(classes))}
    if "test" in sides:
        config["test"] = "images/test"
    export.data_yaml.write_text(yaml.safe_dump(config, sort_keys=False))
    return export


def _canonical(rows: pd.DataFrame):
    order = index_class_names(rows)
    return lambda name: (order.index(name) if name in order else len(order), name)


def _label_lines(row, class_id: dict, changes: Counter) -> list[str]:
    boxes, counts = clean_boxes(row.boxes, row.width, row.height)
    changes.update(counts)
    lines = []
    for box in boxes:
        if box["name"] not in class_id:
            changes["unknown_class"] += 1
            continue
        cx, cy = (box["xmin"] + box["xmax"]) / 2 / row.width, (box["ymin"] + box["ymax"]) / 2 / row.height
        w, h = (box["xmax"] - box["xmin"]) / row.width, (box["ymax"] - box["ymin"]) / row.height
        lines.append(f"{class_id[box['name']]} {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}\n")
    return lines


def read_yolo_labels(label_file: str | Path, width: int, height: int, names: dict[int, str]) -> list[dict]:
    """Inverse of the export, for round trips: YOLO label lines back to pixel boxes."""
    boxes = []
    for line in Path(label_file).read_text().splitlines():
        cls, cx, cy, w, h = line.split()
        cx, cy, w, h = float(cx) * width, float(cy) * height, float(w) * width, float(h) * height
        boxes.append({"name": names[int(cls)], "xmin": cx - w / 2, "ymin": cy - h / 2,
                      "xmax": cx + w / 2, "ymax": cy + h / 2})
    return boxes
