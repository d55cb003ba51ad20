"""Labelling tools' formats, both ways: a model's pictures, classes and boxes out as pre-annotations, corrected
labels back into a VOC dataset (into.py). Framework-free, small converters of our own: datumaro (the CVAT team's
format library) would move the pinned pandas, Pillow and pyarrow; Label Studio's SDK the pinned numpy; and its
older `label-studio-converter` only turns Label Studio exports into other formats, fetching or copying pictures
to learn their sizes. Tests load what is written with pycocotools and the data layer's own readers."""
from __future__ import annotations

from pathlib import Path

from . import coco, cvat, labelstudio, voc, yolo
from .common import Labelled, Read, class_order

FORMATS = {"label-studio": labelstudio, "cvat": cvat, "coco": coco, "yolo": yolo, "voc": voc}
HELP = {
    "label-studio": "tasks.json (predictions with scores) + labeling_config.xml; pictures referenced",
    "cvat": "annotations.xml (CVAT for images 1.1, score attributes) + labels.json; pictures referenced",
    "coco": "annotations.json (bbox + score); pictures referenced",
    "yolo": "data.yaml + labels/*.txt; pictures hard-linked (or copied) into images/, as the format needs",
    "voc": "Annotations/*.xml with each picture's path; pictures referenced",
}


def write(pictures: list[Labelled], out: str | Path, to: str, classes: list[str] | None = None) -> list[Path]:
    """Write pictures in format `to` under out (an existing folder); returns the files written."""
    return FORMATS[to].write(pictures, Path(out), class_order(pictures, classes))


def read(folder: str | Path, source: str, images: str | Path | None = None, predictions: bool = False) -> Read:
    """Read labels of format `source` from a folder (or one file). images: where the pictures lie when the
    label files name them relative to another place. predictions: Label Studio tasks nobody annotated take their
    pre-annotation as labels."""
    return FORMATS[source].read(Path(folder), Path(images) if images else None, predictions)


__all__ = ["FORMATS", "HELP", "Labelled", "Read", "read", "write"]
