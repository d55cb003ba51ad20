"""What every labelling-tool format reads and writes: a picture with its class and boxes (pixels, the data
layer's box dicts plus an optional `confidence`), where its labels came from, and the one-line problems found."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ...suite.errors import DataError

PRECISION = 2  # decimals of pixel coordinates written: far below a pixel, short files


@dataclass
class Labelled:
    image: str                          # the picture's path as the labels name it (resolved when found)
    width: int | None = None
    height: int | None = None
    class_name: str | None = None       # the picture's class, where the format has one
    confidence: float | None = None     # the model's confidence in class_name
    boxes: list[dict] = field(default_factory=list)  # {name, xmin, ymin, xmax, ymax[, confidence]}
    source: str = ""                    # the label file, for error lines


@dataclass
class Read:
    """What a reader found in a folder of label files: pictures, the classes the files declare (None when the
    format declares none), and problems as one-line 'file: problem' texts (the file's other pictures go on)."""
    pictures: list[Labelled] = field(default_factory=list)
    classes: list[str] | None = None
    problems: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # pictures without labels yet: not errors

    def refuse(self, path, problem: str) -> None:
        self.problems.append(str(DataError(path, problem)))


def number(value: float) -> str:
    """A coordinate as text: integers stay integers (NEU's own files), others keep PRECISION decimals."""
    value = round(float(value), PRECISION)
    return str(int(value)) if value == int(value) else f"{value:.{PRECISION}f}".rstrip("0")


def common_root(pictures: list[Labelled]) -> Path:
    """The deepest folder holding every picture: names in the label files are relative to it."""
    parents = [str(Path(p.image).resolve().parent) for p in pictures]
    return Path(os.path.commonpath(parents)) if parents else Path.cwd()


def relative_name(image: str, root: Path) -> str:
    path = Path(image).resolve()
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def find_picture(name: str, label_file: Path, images: Path | None) -> Path | None:
    """A picture a label file names: as an absolute path, beside the label file, under `images` (the name, then
    its file name alone: tools often keep only that)."""
    name = name.replace("\\", "/")
    candidates = [Path(name)] if Path(name).is_absolute() else []
    candidates += [label_file.parent / name]
    if images is not None:
        candidates += [images / name, images / Path(name).name]
    return next((c.resolve() for c in candidates if c.is_file()), None)


def class_order(pictures: list[Labelled], given: list[str] | None = None) -> list[str]:
    """The classes to declare: those given, then any other class the pictures use, sorted."""
    used = {p.class_name for p in pictures if p.class_name} | {b["name"] for p in pictures for b in p.boxes}
    given = list(given or [])
    return given + sorted(used - set(given))


def files_of(folder: Path, suffixes: tuple[str, ...], names: tuple[str, ...] = ()) -> list[Path]:
    """The label files to read: the file given, or the files of a folder with one of these suffixes (searched in
    the sub-folders `names` too)."""
    if folder.is_file():
        return [folder]
    if not folder.is_dir():
        raise DataError(folder, "no such file or folder")
    found = [p for p in sorted(folder.iterdir()) if _label_file(p, suffixes)]
    for name in names:
        if (folder / name).is_dir():
            found += [p for p in sorted((folder / name).iterdir()) if _label_file(p, suffixes)]
    return found


def _label_file(path: Path, suffixes: tuple[str, ...]) -> bool:
    return path.is_file() and path.suffix.lower() in suffixes and not path.name.startswith(".")  # not our marker
