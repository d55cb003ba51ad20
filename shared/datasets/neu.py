"""Facts about the NEU surface-defect database: class names and file naming in its two copies."""
from __future__ import annotations

import re

# NEU-DET file-name class (also the VOC <name>), in the canonical order used for class ids.
CLASSES = ("crazing", "inclusion", "patches", "pitted_surface", "rolled-in_scale", "scratches")

# NEU-CLS (Kaggle "NEU Metal Surface Defects Data"): folder name and file prefix of each class.
CLS_FOLDER = {
    "crazing": "Crazing",
    "inclusion": "Inclusion",
    "patches": "Patches",
    "pitted_surface": "Pitted",
    "rolled-in_scale": "Rolled",
    "scratches": "Scratches",
}
CLS_PREFIX = {
    "crazing": "Cr",
    "inclusion": "In",
    "patches": "Pa",
    "pitted_surface": "PS",
    "rolled-in_scale": "RS",
    "scratches": "Sc",
}
CLASS_OF_PREFIX = {prefix: name for name, prefix in CLS_PREFIX.items()}
CLASS_OF_FOLDER = {folder: name for name, folder in CLS_FOLDER.items()}

_STEM = re.compile(r"^(?P<label>.+?)_(?P<number>\d+)$")


def split_stem(stem: str) -> tuple[str, int] | None:
    """'rolled-in_scale_12' -> ('rolled-in_scale', 12); None when the stem has no trailing number."""
    match = _STEM.match(stem)
    if not match:
        return None
    return match["label"], int(match["number"])


def picture_id(class_name: str, number: int) -> str:
    """The one name of a NEU picture in both copies: NEU-DET's file stem, e.g. 'crazing_12'."""
    return f"{class_name}_{number}"


def det_stem_to_picture(stem: str) -> tuple[str, int] | None:
    """NEU-DET stem 'crazing_12' -> ('crazing', 12) when the label is a NEU class."""
    parts = split_stem(stem)
    if parts and parts[0] in CLASSES:
        return parts
    return None


def cls_stem_to_picture(stem: str) -> tuple[str, int] | None:
    """NEU-CLS stem 'Cr_12' -> ('crazing', 12) when the prefix is a NEU-CLS prefix."""
    parts = split_stem(stem)
    if parts and parts[0] in CLASS_OF_PREFIX:
        return CLASS_OF_PREFIX[parts[0]], parts[1]
    return None


def cls_file_name(class_name: str, number: int) -> str:
    """NEU-CLS file name of a picture: ('crazing', 12) -> 'Cr_12.bmp'."""
    return f"{CLS_PREFIX[class_name]}_{number}.bmp"
