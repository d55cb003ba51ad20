"""Corrected labels into a VOC dataset (IMAGES/ + ANNOTATIONS/, NEU-DET's layout), checked as the data layer
checks a dataset, one picture at a time: a faulty picture is refused with one line naming its label file and the
rest go on.

- Picture ids are kept: a picture is written as <picture id>.<suffix>, the id index.py gives it (a NEU name of
  either copy -> 'crazing_12', else the file stem), so both NEU copies of a picture and byte-identical files stay
  twins and land on one side of every split.
- Boxes partly outside the picture are clipped to it (noted); a box wholly outside, without area, or of a class
  the dataset does not know refuses its picture; a box given twice is kept once (noted).
- Nothing in the dataset is replaced without `force`: another picture under the same id, or other labels for the
  same picture, are conflicts. A picture the dataset holds under another id (same bytes) is not added twice."""
from __future__ import annotations

import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ...suite.errors import DataError
from .. import neu
from ..boxes import box_key, is_degenerate, is_outside
from ..images import file_sha1, probe_image
from ..index import VOC_ANNOTATION_DIRS, VOC_IMAGE_DIRS, class_names, detect_layout, read_voc_folder
from .common import PRECISION, Labelled, Read
from .voc import voc_xml


@dataclass
class Imported:
    dataset: Path
    written: list[str] = field(default_factory=list)    # picture ids written (new, or replaced with force)
    unchanged: list[str] = field(default_factory=list)  # the dataset had these labels already
    refused: list[str] = field(default_factory=list)    # 'file: problem', one line each
    notes: list[str] = field(default_factory=list)      # clipped, duplicates, twins, class remarks
    findings: list[str] = field(default_factory=list)   # the data layer's findings on the written files


def picture_id(path: str | Path) -> str:
    """The id index.py gives a picture file: NEU-DET's stem for a NEU name of either copy, else the stem."""
    stem = Path(path).stem
    parsed = neu.det_stem_to_picture(stem) or neu.cls_stem_to_picture(stem)
    return neu.picture_id(*parsed) if parsed else stem


def _where(box: dict) -> str:
    return f"box {box['name']} ({box['xmin']:g},{box['ymin']:g},{box['xmax']:g},{box['ymax']:g})"


def checked_boxes(picture: Labelled, width: int, height: int, known: set | None, notes: list) -> list[dict]:
    """The picture's boxes, rounded, clipped and without repeats; ValueError for a box the dataset cannot hold."""
    kept, seen = [], set()
    if known and picture.class_name and picture.class_name not in known:
        raise ValueError(f"unknown class {picture.class_name!r} (known: {', '.join(sorted(known))})")
    for box in picture.boxes:
        box = {"name": box["name"], **{k: round(float(box[k]), PRECISION) for k in ("xmin", "ymin", "xmax", "ymax")}}
        if known and box["name"] not in known:
            raise ValueError(f"{_where(box)}: unknown class {box['name']!r} (known: {', '.join(sorted(known))})")
        if is_degenerate(box):
            raise ValueError(f"{_where(box)} has no area")
        if is_outside(box, width, height):
            clipped = {**box, "xmin": max(box["xmin"], 0), "ymin": max(box["ymin"], 0),
                       "xmax": min(box["xmax"], width), "ymax": min(box["ymax"], height)}
            if is_degenerate(clipped):
                raise ValueError(f"{_where(box)} lies outside the {width}x{height} picture")
            notes.append(f"{picture.source}: {_where(box)} clipped to the {width}x{height} picture")
            box = clipped
        if box_key(box) in seen:
            notes.append(f"{picture.source}: {_where(box)} given twice; kept once")
            continue
        seen.add(box_key(box))
        kept.append(box)
    return sorted(kept, key=box_key)


def _existing(dataset: Path) -> tuple[dict, dict, set]:
    """{picture id: row}, {sha1: picture id} and the classes of the dataset there (empty when new)."""
    if not dataset.exists() or not any(dataset.iterdir()):
        return {}, {}, set()
    layout = detect_layout(dataset)
    if layout != "voc":
        raise DataError(dataset, f"labels are imported into a VOC dataset (IMAGES/ + ANNOTATIONS/); this is {layout}")
    index, _ = read_voc_folder(dataset, progress=False)
    rows = {row.picture_id: row for row in index.itertuples()}
    known = set(class_names(index)) | {b["name"] for boxes in index["boxes"] for b in boxes}
    return rows, {row.sha1: row.picture_id for row in index.itertuples()}, known


def _class_note(picture: Labelled, pid: str, boxes: list[dict]) -> str | None:
    if not picture.class_name:
        return None
    named = neu.det_stem_to_picture(pid)
    if named and named[0] != picture.class_name:
        return (f"conflict: picture class {picture.class_name!r} but the NEU name {pid} says {named[0]!r}; the "
                "dataset reads the class from the name")
    if named:
        return None
    if not boxes:
        return (f"class {picture.class_name!r} without boxes: a VOC dataset keeps a picture's class in its boxes, "
                "so it reads as unlabelled")
    common = Counter(b["name"] for b in boxes).most_common(1)[0][0]
    if common != picture.class_name:
        return (f"picture class {picture.class_name!r}, boxes mostly {common!r}: the dataset reads the class of its "
                "most common box")
    return None


def into_dataset(found: Read, dataset: str | Path, classes: list[str] | None = None, force: bool = False) -> Imported:
    """Write the pictures `found` (a reader's result) into the VOC dataset folder (created when missing). classes:
    the allowed class names (default: the dataset's own, else what the label files declare, else any)."""
    dataset = Path(dataset).resolve()
    rows, by_sha1, known = _existing(dataset)
    known = (known | set(classes or [])) or set(found.classes or [])
    done = Imported(dataset, refused=list(found.problems))
    image_dir = next((dataset / n for n in VOC_IMAGE_DIRS if (dataset / n).is_dir()), dataset / "IMAGES")
    xml_dir = next((dataset / n for n in VOC_ANNOTATION_DIRS if (dataset / n).is_dir()), dataset / "ANNOTATIONS")
    batch: dict[str, tuple] = {}
    written_files = set()
    for picture in found.pictures:
        source, path = picture.source or picture.image, Path(picture.image)
        probe = probe_image(path)
        if probe.problem:
            done.refused.append(str(DataError(source, f"picture {path}: {probe.detail}")))
            continue
        if picture.width and picture.height and (picture.width, picture.height) != (probe.width, probe.height):
            done.refused.append(str(DataError(source, f"{path.name}: labels made for {picture.width}x{picture.height}, "
                                                      f"the picture is {probe.width}x{probe.height}")))
            continue
        notes: list[str] = []
        try:
            boxes = checked_boxes(picture, probe.width, probe.height, known or None, notes)
        except ValueError as error:
            done.refused.append(str(DataError(source, f"{path.name}: {error}")))
            continue
        pid, sha1 = picture_id(path), file_sha1(path)
        answer = (picture.class_name, [box_key(b) for b in boxes])
        if pid in batch:
            if batch[pid][0] == answer:
                done.notes.append(f"{source}: {pid} labelled again, the same; kept once")
            else:
                done.refused.append(str(DataError(source, f"conflict: {pid} is also labelled, otherwise, in "
                                                          f"{batch[pid][1]}; kept that first one")))
            continue
        batch[pid] = (answer, source)
        old = rows.get(pid)
        if old is None and sha1 in by_sha1:
            done.notes.append(f"{source}: {path.name} has the same bytes as the dataset's {by_sha1[sha1]}: not "
                              "added twice")
            continue
        if old is not None and not force:
            if old.sha1 != sha1:
                done.refused.append(str(DataError(source, f"conflict: the dataset holds another picture as {pid} "
                                                          f"({old.path}); --force replaces it")))
                continue
            if sorted(box_key(_rounded(b)) for b in old.boxes) == answer[1]:
                done.unchanged.append(pid)
                continue
            done.refused.append(str(DataError(source, f"conflict: {pid} has other labels in the dataset "
                                                      f"({len(old.boxes)} boxes there, {len(boxes)} here); --force "
                                                      "replaces them")))
            continue
        target = image_dir / f"{pid}{path.suffix.lower()}"
        image_dir.mkdir(parents=True, exist_ok=True)
        xml_dir.mkdir(parents=True, exist_ok=True)
        if old is not None and Path(old.path) != target:
            Path(old.path).unlink()  # force: the picture of that id is replaced by this one
        if path.resolve() != target.resolve():
            shutil.copyfile(path, target)
        labelled = Labelled(image=str(target), width=probe.width, height=probe.height, boxes=boxes)
        (xml_dir / f"{pid}.xml").write_bytes(voc_xml(labelled, target.name))
        written_files |= {str(target), str(xml_dir / f"{pid}.xml")}
        done.written.append(pid)
        done.notes += notes
        if note := _class_note(picture, pid, boxes):
            done.notes.append(f"{source}: {pid}: {note}")
    if done.written:  # the data layer's own checks on what was written
        _, report = read_voc_folder(dataset, progress=False)
        done.findings = [f.line() for f in report.findings if f.path in written_files]
    return done


def _rounded(box: dict) -> dict:
    return {"name": box["name"], **{k: round(float(box[k]), PRECISION) for k in ("xmin", "ymin", "xmax", "ymax")}}
