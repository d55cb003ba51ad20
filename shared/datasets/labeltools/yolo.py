"""YOLO (ultralytics layout): data.yaml with the class `names`, images/<name> and labels/<name>.txt, one line
`class cx cy w h` per box, normalised to the picture. The format finds a label file by its picture's path
(images/ -> labels/), so the pictures are placed in images/: hard links where the file system allows, else copies;
the originals are never changed. A line has no field for a confidence (a sixth field makes the file unreadable to
dataset readers) and the format has no picture class: boxes only."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import yaml

from ...suite.errors import DataError
from ..images import is_image_file, probe_image
from .common import Labelled, Read, common_root, relative_name

CONFIG = "data.yaml"


def place(source: Path, target: Path) -> None:
    """The picture at target without changing it: a hard link, or a copy across file systems."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def write(pictures: list[Labelled], out: Path, classes: list[str]) -> list[Path]:
    root, ids = common_root(pictures), {name: number for number, name in enumerate(classes)}
    written = []
    for picture in pictures:
        name = Path(relative_name(picture.image, root))
        if name.is_absolute():  # outside the root (cannot happen for a common root): keep the file name
            name = Path(name.name)
        place(Path(picture.image), out / "images" / name)
        w, h = picture.width, picture.height
        lines = [f"{ids[b['name']]} {(b['xmin'] + b['xmax']) / 2 / w:.6f} {(b['ymin'] + b['ymax']) / 2 / h:.6f} "
                 f"{(b['xmax'] - b['xmin']) / w:.6f} {(b['ymax'] - b['ymin']) / h:.6f}\n" for b in picture.boxes]
        label = (out / "labels" / name).with_suffix(".txt")
        label.parent.mkdir(parents=True, exist_ok=True)
        label.write_text("".join(lines))
        written.append(label)
    config = {"path": str(out.resolve()), "train": "images", "val": "images", "names": dict(enumerate(classes))}
    (out / CONFIG).write_text(yaml.safe_dump(config, sort_keys=False))
    return [out / CONFIG, *written]


def _names(folder: Path) -> dict[int, str]:
    configs = sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml"))
    if not configs:
        raise DataError(folder, "no data.yaml (the YOLO class names) in this folder")
    try:
        names = (yaml.safe_load(configs[0].read_text()) or {}).get("names")
    except yaml.YAMLError as error:
        raise DataError(configs[0], f"not valid YAML ({' '.join(str(error).split())})") from None
    if isinstance(names, list):
        names = dict(enumerate(names))
    if not isinstance(names, dict) or not names:
        raise DataError(configs[0], "no 'names' (the class list)")
    return {int(k): str(v) for k, v in names.items()}


def _boxes(label: Path, width: int, height: int, names: dict[int, str]) -> list[dict]:
    boxes = []
    for line_number, line in enumerate(label.read_text(errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        try:
            if len(parts) != 5:
                raise ValueError
            cls, (cx, cy, w, h) = int(parts[0]), map(float, parts[1:])
        except ValueError:
            raise ValueError(f"line {line_number}: expected 'class cx cy w h', got {line.strip()[:40]!r}") from None
        if cls not in names:
            raise ValueError(f"line {line_number}: class id {cls} is not in the names of data.yaml")
        boxes.append({"name": names[cls], "xmin": (cx - w / 2) * width, "ymin": (cy - h / 2) * height,
                      "xmax": (cx + w / 2) * width, "ymax": (cy + h / 2) * height})
    return boxes


def read(folder: Path, images: Path | None = None, predictions: bool = False) -> Read:
    """data.yaml + images/ + labels/ under folder. A picture without a label file is skipped (not labelled);
    an empty one has no boxes."""
    if not (folder / "images").is_dir():
        raise DataError(folder, "not a YOLO folder: no images/ beside data.yaml")
    names = _names(folder)
    found = Read(classes=[names[k] for k in sorted(names)])
    for path in sorted(p for p in (folder / "images").rglob("*") if is_image_file(p)):
        label = (folder / "labels" / path.relative_to(folder / "images")).with_suffix(".txt")
        if not label.is_file():
            found.skipped.append(f"{path}: no label file {label.relative_to(folder)}")
            continue
        probe = probe_image(path)
        if probe.problem:
            found.refuse(path, probe.detail)
            continue
        try:
            boxes = _boxes(label, probe.width, probe.height, names)
        except ValueError as error:
            found.refuse(label, str(error))
            continue
        found.pictures.append(Labelled(image=str(path.resolve()), width=probe.width, height=probe.height,
                                       boxes=boxes, source=str(label)))
    return found
