"""Pascal VOC annotation files (NEU-DET's format), parsed with defusedxml (safe against XML bombs)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from defusedxml import ElementTree

BOX_FIELDS = ("xmin", "ymin", "xmax", "ymax")


@dataclass(frozen=True)
class VocBox:
    name: str
    xmin: float
    ymin: float
    xmax: float
    ymax: float
    difficult: bool = False

    def as_dict(self) -> dict:
        return {"name": self.name, "xmin": self.xmin, "ymin": self.ymin, "xmax": self.xmax,
                "ymax": self.ymax, "difficult": self.difficult}


@dataclass
class VocAnnotation:
    filename: str | None
    width: int | None
    height: int | None
    boxes: list[VocBox] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (finding kind, message)


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


def read_voc(path: str | Path) -> VocAnnotation:
    """Parse one VOC XML. Faults become (kind, message) problems; an unparsable file raises ParseError."""
    root = ElementTree.parse(str(path)).getroot()
    annotation = VocAnnotation(
        filename=(root.findtext("filename") or "").strip() or None,
        width=None, height=None,
    )
    size = root.find("size")
    if size is not None:
        width, height = _number(size.findtext("width")), _number(size.findtext("height"))
        annotation.width = int(width) if width else None
        annotation.height = int(height) if height else None
    if annotation.filename is None:
        annotation.problems.append(("xml_missing_field", "no <filename>"))
    for number, obj in enumerate(root.iter("object"), start=1):
        name = (obj.findtext("name") or "").strip()
        box = obj.find("bndbox")
        values = {f: _number(box.findtext(f)) if box is not None else None for f in BOX_FIELDS}
        missing = [f for f, v in values.items() if v is None]
        if not name or missing:
            absent = (["name"] if not name else []) + (missing if box is not None else ["bndbox"])
            annotation.problems.append(("xml_missing_field", f"object {number} lacks {', '.join(absent)}"))
            continue
        difficult = (obj.findtext("difficult") or "0").strip() == "1"
        annotation.boxes.append(VocBox(name, difficult=difficult, **values))
    return annotation

