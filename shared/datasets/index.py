"""Read a dataset on disk into one index (a pandas DataFrame, one row per image file) and a
validation report. Layouts: NEU-DET / Pascal VOC, split folders (Kaggle NEU-CLS), class folders,
and a folder holding both NEU copies (their rows share picture_id: the same 1800 pictures)."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from ..suite.errors import DataError
from . import neu
from .boxes import box_key, is_degenerate, is_outside
from .images import file_sha1, is_image_file, probe_image
from .report import ValidationReport
from .voc import read_voc

INDEX_COLUMNS = [
    "image_id",      # unique per row: '<source>/<path relative to the dataset root>'
    "picture_id",    # one name per picture across copies: NEU-DET stem for NEU, else relative stem
    "source",        # 'voc' | 'split-folders' | 'class-folders'
    "path",          # absolute path of the image file
    "class_name",    # picture class (NEU: the file-name class; class folders: the folder)
    "number",        # NEU picture number within its class, else -1
    "boxes",         # list of {'name','xmin','ymin','xmax','ymax','difficult'} from VOC, as written
    "source_split",  # split the dataset came with ('train' | 'valid' | 'test') or None
    "width", "height",
    "sha1",          # hash of the file bytes
    "twin_group",    # pictures that are one picture (same picture_id or byte-identical) share this
]

VOC_IMAGE_DIRS = ("IMAGES", "JPEGImages", "images")
VOC_ANNOTATION_DIRS = ("ANNOTATIONS", "Annotations", "annotations")
SPLIT_DIR_NAMES = {"train": "train", "valid": "valid", "val": "valid", "validation": "valid", "test": "test"}
NEU_DET_DIR, NEU_CLS_DIR = "NEU-DET", "NEU-Metal-Surface-Defects"
BOXED_SOURCES = ("voc", "yolo")  # index sources whose rows carry boxes
# a class folder of this name (any case, either spelling) holds pictures without a label: read, never a class
UNLABELLED = "unlabelled"
UNLABELLED_DIR_NAMES = ("unlabelled", "unlabeled")


def _first_dir(root: Path, names) -> Path | None:
    return next((root / n for n in names if (root / n).is_dir()), None)


def _subdirs(path: Path) -> list[Path]:
    return sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))


def detect_layout(root: str | Path) -> str:
    """Name the layout of a dataset folder, or raise DataError saying what was expected."""
    root = Path(root)
    if not root.exists():
        raise DataError(root, "no such file or folder")
    if not root.is_dir():
        raise DataError(root, "expected a dataset folder, got a file")
    if (root / NEU_DET_DIR).is_dir() or (root / NEU_CLS_DIR).is_dir():
        return "neu-copies"
    if (root / "images").is_dir() and (root / "labels").is_dir() and _yolo_yaml(root):
        return "yolo"
    if _first_dir(root, VOC_IMAGE_DIRS) and _first_dir(root, VOC_ANNOTATION_DIRS):
        return "voc"
    subdirs = _subdirs(root)
    if subdirs and all(d.name.lower() in SPLIT_DIR_NAMES for d in subdirs):
        return "split-folders"
    if any(is_image_file(f) for d in subdirs for f in d.iterdir()):
        return "class-folders"
    raise DataError(root, "no dataset found: expected IMAGES/ + ANNOTATIONS/ (VOC), "
                          "train|valid|test/<class>/ (split folders) or <class>/ folders of images")


def read_dataset(root: str | Path, progress: bool = True) -> tuple[pd.DataFrame, ValidationReport]:
    """Read any supported layout into (index, report)."""
    root = Path(root).resolve()
    layout = detect_layout(root)
    if layout == "neu-copies":
        parts = [read_dataset(root / d, progress) for d in (NEU_DET_DIR, NEU_CLS_DIR) if (root / d).is_dir()]
        index = pd.concat([p[0] for p in parts], ignore_index=True)
        report = ValidationReport(dataset=str(root), layout=layout)
        for _, part_report in parts:
            report.extend(part_report)
    else:
        reader = {"voc": read_voc_folder, "yolo": read_yolo_folder, "split-folders": read_split_folders,
                  "class-folders": read_class_folders}[layout]
        return reader(root, progress)
    return _finish(index, report, root)


def _image_row(path: Path, root: Path, source: str, class_name: str, number: int, pid: str,
               split, report: ValidationReport) -> dict | None:
    probe = probe_image(path)
    if probe.problem:
        report.add(probe.problem, path, probe.detail)
        return None
    return {
        "image_id": f"{source}/{path.relative_to(root).as_posix()}", "picture_id": pid,
        "source": source, "path": str(path), "class_name": class_name, "number": number,
        "boxes": [], "source_split": split, "width": probe.width, "height": probe.height,
        "sha1": file_sha1(path),
    }


def _read_source_split(root: Path) -> dict[str, str]:
    table = root / "source_split.csv"
    if not table.is_file():
        return {}
    frame = pd.read_csv(table)
    return {str(f): SPLIT_DIR_NAMES.get(str(s).lower(), str(s)) for f, s in zip(frame["filename"], frame["split"])}


def read_voc_folder(root: str | Path, progress: bool = True) -> tuple[pd.DataFrame, ValidationReport]:
    """NEU-DET layout: IMAGES/*.jpg + ANNOTATIONS/*.xml (Pascal VOC), matched by file stem."""
    root = Path(root).resolve()
    image_dir, xml_dir = _first_dir(root, VOC_IMAGE_DIRS), _first_dir(root, VOC_ANNOTATION_DIRS)
    if image_dir is None or xml_dir is None:
        raise DataError(root, "VOC layout needs IMAGES/ and ANNOTATIONS/ folders")
    report = ValidationReport(dataset=str(root), layout="voc")
    images = sorted(p for p in image_dir.iterdir() if is_image_file(p))
    xmls = {p.stem: p for p in sorted(xml_dir.glob("*.xml"))}
    source_split = _read_source_split(root)
    rows = []
    for path in tqdm(images, desc=f"reading {root.name}", unit="img", disable=not progress or None):
        parsed = neu.det_stem_to_picture(path.stem)
        class_name, number = parsed if parsed else (None, -1)
        row = _image_row(path, root, "voc", class_name, number, path.stem, source_split.get(path.name), report)
        xml = xmls.pop(path.stem, None)
        if row is None:
            continue
        if xml is None:
            report.add("missing_annotation", path, f"no {path.stem}.xml in {xml_dir.name}/; kept without boxes")
        else:
            row["boxes"] = _read_boxes(xml, row, report)
        if row["class_name"] is None:  # not NEU naming: the picture takes its most common box class
            names = Counter(b["name"] for b in row["boxes"])
            row["class_name"] = names.most_common(1)[0][0] if names else "unlabelled"
        rows.append(row)
    for stem, xml in xmls.items():
        report.add("orphan_annotation", xml, f"no image named {stem}.* in {image_dir.name}/")
    return _finish(pd.DataFrame(rows, columns=INDEX_COLUMNS[:-1]), report, root)


def _check_box(box: dict, where: str, seen: set, width: int, height: int, source: Path,
               report: ValidationReport) -> None:
    """Record duplicate, degenerate and out-of-image boxes (they stay in the index; exporters clean them)."""
    if box_key(box) in seen:
        report.add("duplicate_box", source, f"{where} appears more than once")
    seen.add(box_key(box))
    if is_degenerate(box):
        report.add("box_degenerate", source, where)
    elif is_outside(box, width, height):
        report.add("box_outside_image", source, f"{where} outside {width}x{height}")


def _read_boxes(xml: Path, row: dict, report: ValidationReport) -> list[dict]:
    try:
        annotation = read_voc(xml)
    except Exception as error:  # noqa: BLE001 (defusedxml / expat errors of any kind: record, keep going)
        report.add("xml_unparsable", xml, str(error))
        return []
    for kind, message in annotation.problems:
        report.add(kind, xml, message)
    if annotation.filename and "." not in annotation.filename:
        report.add("filename_without_extension", xml, f"<filename>{annotation.filename}</filename>")
    if annotation.width and annotation.height and (annotation.width, annotation.height) != (row["width"], row["height"]):
        report.add("size_mismatch", xml, f"<size> {annotation.width}x{annotation.height}, "
                                         f"image {row['width']}x{row['height']}")
    boxes, seen = [], set()
    for box in (b.as_dict() for b in annotation.boxes):
        where = f"box {box['name']} ({box['xmin']:g},{box['ymin']:g},{box['xmax']:g},{box['ymax']:g})"
        _check_box(box, where, seen, row["width"], row["height"], xml, report)
        if row["class_name"] and box["name"] != row["class_name"]:
            report.add("cross_class_box", xml, f"{where} in a {row['class_name']} picture")
        if box["difficult"]:
            report.add("difficult_box", xml, where)
        boxes.append(box)
    return boxes


def _yolo_yaml(root: Path) -> Path | None:
    return next(iter(sorted(root.glob("*.yaml")) + sorted(root.glob("*.yml"))), None)


def _yolo_names(config: Path) -> dict[int, str]:
    import yaml

    try:
        names = (yaml.safe_load(config.read_text()) or {}).get("names")
    except yaml.YAMLError as error:
        raise DataError(config, f"not valid YAML ({error})") from None
    if isinstance(names, list):
        names = dict(enumerate(names))
    if not isinstance(names, dict) or not names:
        raise DataError(config, "no 'names' (class list) in the dataset YAML")
    return {int(k): str(v) for k, v in names.items()}


def _yolo_boxes(label: Path, width: int, height: int, names: dict, report: ValidationReport) -> list[dict]:
    boxes, seen = [], set()
    for number, line in enumerate(label.read_text(errors="replace").splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split()
        try:
            if len(parts) != 5:
                raise ValueError("expected 5 fields")
            cls, (cx, cy, w, h) = int(float(parts[0])), map(float, parts[1:])
        except ValueError:
            report.add("label_unparsable", label, f"line {number}: {line.strip()[:60]!r}")
            continue
        if cls not in names:
            report.add("unknown_class", label, f"line {number}: class id {cls} not in names")
            continue
        box = {"name": names[cls], "xmin": round((cx - w / 2) * width, 3), "ymin": round((cy - h / 2) * height, 3),
               "xmax": round((cx + w / 2) * width, 3), "ymax": round((cy + h / 2) * height, 3), "difficult": False}
        _check_box(box, f"line {number}: box {box['name']} ({cx:g} {cy:g} {w:g} {h:g})", seen, width, height,
                   label, report)
        boxes.append(box)
    return boxes


def read_yolo_folder(root: str | Path, progress: bool = True) -> tuple[pd.DataFrame, ValidationReport]:
    """ultralytics layout: <name>.yaml with `names`, images/<side>/*, labels/<side>/*.txt (class cx cy w h,
    normalised). A missing label file keeps the image without boxes (and is counted); an empty one is a
    background image. The picture class is its most common box class ('background' without boxes)."""
    root = Path(root).resolve()
    names = _yolo_names(_yolo_yaml(root))
    report = ValidationReport(dataset=str(root), layout="yolo")
    rows = []
    images = sorted(p for p in (root / "images").rglob("*") if is_image_file(p))
    for path in tqdm(images, desc=f"reading {root.name}", unit="img", disable=not progress or None):
        relative = path.relative_to(root / "images")
        side = SPLIT_DIR_NAMES.get(relative.parts[0].lower()) if len(relative.parts) > 1 else None
        parsed = neu.det_stem_to_picture(path.stem)
        pid = neu.picture_id(*parsed) if parsed else relative.with_suffix("").as_posix()
        row = _image_row(path, root, "yolo", None, parsed[1] if parsed else -1, pid, side, report)
        if row is None:
            continue
        label = (root / "labels" / relative).with_suffix(".txt")
        if label.is_file():
            row["boxes"] = _yolo_boxes(label, row["width"], row["height"], names, report)
        else:
            report.add("missing_annotation", path, f"no labels/{relative.with_suffix('.txt').as_posix()}; kept without boxes")
        counts = Counter(b["name"] for b in row["boxes"])
        row["class_name"] = parsed[0] if parsed else (counts.most_common(1)[0][0] if counts else "background")
        rows.append(row)
    return _finish(pd.DataFrame(rows, columns=INDEX_COLUMNS[:-1]), report, root)


def _labelled_files(folder: Path, class_name: str, report: ValidationReport) -> list[Path]:
    files = sorted(p for p in folder.rglob("*") if is_image_file(p))
    if not files:
        report.add("empty_class", folder, f"class {class_name!r} has no images")
    return files


def _class_of_folder(folder: Path) -> str:
    if folder.name.lower() in UNLABELLED_DIR_NAMES:
        return UNLABELLED
    return neu.CLASS_OF_FOLDER.get(folder.name, folder.name)


def _picture_of_file(path: Path, class_name: str) -> tuple[int, str]:
    parsed = neu.cls_stem_to_picture(path.stem) or neu.det_stem_to_picture(path.stem)
    if parsed and parsed[0] == class_name:
        return parsed[1], neu.picture_id(*parsed)
    return -1, f"{class_name}/{path.stem}"


def read_split_folders(root: str | Path, progress: bool = True) -> tuple[pd.DataFrame, ValidationReport]:
    """Kaggle NEU-CLS layout: {train,valid,test}/<Class>/*.bmp. NEU folder names map to NEU class names."""
    root = Path(root).resolve()
    report = ValidationReport(dataset=str(root), layout="split-folders")
    jobs = []
    for split_dir in _subdirs(root):
        split = SPLIT_DIR_NAMES.get(split_dir.name.lower())
        if split is None:
            continue
        for class_dir in _subdirs(split_dir):
            class_name = _class_of_folder(class_dir)
            jobs += [(f, class_name, split) for f in _labelled_files(class_dir, class_name, report)]
    return _read_labelled(jobs, root, "split-folders", report, progress)


def read_class_folders(root: str | Path, progress: bool = True) -> tuple[pd.DataFrame, ValidationReport]:
    """Any class-folder dataset: root/<class>/*.bmp|jpg|png|tif (sub-folders of a class are included);
    root/unlabelled/ holds pictures without a label (class UNLABELLED: for semi-supervised training)."""
    root = Path(root).resolve()
    report = ValidationReport(dataset=str(root), layout="class-folders")
    jobs = []
    for class_dir in _subdirs(root):
        class_name = _class_of_folder(class_dir)
        jobs += [(f, class_name, None) for f in _labelled_files(class_dir, class_name, report)]
    return _read_labelled(jobs, root, "class-folders", report, progress)


def _read_labelled(jobs, root: Path, source: str, report: ValidationReport, progress: bool):
    rows = []
    for path, class_name, split in tqdm(jobs, desc=f"reading {root.name}", unit="img", disable=not progress or None):
        number, pid = _picture_of_file(path, class_name)
        if number < 0:
            pid = path.relative_to(root).with_suffix("").as_posix()
        row = _image_row(path, root, source, class_name, number, pid, split, report)
        if row is not None:
            rows.append(row)
    return _finish(pd.DataFrame(rows, columns=INDEX_COLUMNS[:-1]), report, root)


def _twin_groups(index: pd.DataFrame) -> pd.Series:
    """Union pictures that share a picture_id or identical bytes; label each group by its first picture_id."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for _, pids in index.groupby("sha1")["picture_id"]:
        first, *rest = sorted(set(pids))
        for other in rest:
            a, b = find(first), find(other)
            if a != b:
                parent[max(a, b)] = min(a, b)
    return index["picture_id"].map(find)


def _finish(index: pd.DataFrame, report: ValidationReport, root: Path) -> tuple[pd.DataFrame, ValidationReport]:
    index = index.sort_values(["source", "class_name", "number", "picture_id"], kind="stable").reset_index(drop=True)
    if "twin_group" in index:
        index = index.drop(columns="twin_group")
    index["twin_group"] = _twin_groups(index) if len(index) else pd.Series(dtype=str)
    if report.layout != "neu-copies":  # byte-identical twins (a combined read gets its parts' findings)
        for _, group in index.groupby("sha1"):
            if len(group) > 1:
                paths = list(group["path"])
                report.add("byte_identical_files", paths[0], "identical to " + ", ".join(paths[1:]))
    report.summary = summarize(index)
    return index[INDEX_COLUMNS], report


def summarize(index: pd.DataFrame) -> dict:
    boxes = [b for bs in index["boxes"] for b in bs]
    return {
        "images": len(index),
        "pictures": int(index["picture_id"].nunique()),
        "per_class": {str(k): int(v) for k, v in index["class_name"].value_counts().sort_index().items()},
        "boxes": len(boxes),
        "images_with_boxes": int(sum(1 for bs in index["boxes"] if bs)),
        "sources": {str(k): int(v) for k, v in index["source"].value_counts().sort_index().items()},
        "sizes": sorted({f"{w}x{h}" for w, h in zip(index["width"], index["height"])})[:10],
    }


def class_names(index: pd.DataFrame) -> list[str]:
    """Classes in canonical order: NEU's order when the classes are NEU's, else sorted. Pictures of an
    `unlabelled/` folder have no class."""
    present = set(index["class_name"]) - {UNLABELLED}
    if present <= set(neu.CLASSES):
        return [c for c in neu.CLASSES if c in present]
    return sorted(present)
