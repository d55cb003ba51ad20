"""Pascal VOC: one XML per picture (Annotations/<name>.xml, sub-folders kept), NEU-DET's own format. `<path>`
holds the picture's absolute path (LabelImg and CVAT read it), so nothing is copied; `<filename>` its file name.
VOC has no field for a confidence and no picture class beside the boxes' names. Read back with the data layer's
VOC reader (shared.datasets.voc, defusedxml); the import writes these files into a dataset's ANNOTATIONS/."""
from __future__ import annotations

from pathlib import Path
from xml.etree.ElementTree import Element, SubElement, indent, tostring

from ..voc import read_voc
from .common import Labelled, Read, common_root, files_of, find_picture, number, relative_name

FOLDER = "Annotations"


def voc_xml(picture: Labelled, filename: str, path: str | None = None) -> bytes:
    root = Element("annotation")
    SubElement(root, "folder").text = Path(filename).parent.name or "IMAGES"
    SubElement(root, "filename").text = Path(filename).name
    if path:
        SubElement(root, "path").text = path
    SubElement(SubElement(root, "source"), "database").text = "defectlab"
    size = SubElement(root, "size")
    for tag, value in (("width", picture.width), ("height", picture.height), ("depth", 3)):
        SubElement(size, tag).text = str(value)
    SubElement(root, "segmented").text = "0"
    for box in picture.boxes:
        obj = SubElement(root, "object")
        SubElement(obj, "name").text = box["name"]
        SubElement(obj, "pose").text = "Unspecified"
        SubElement(obj, "truncated").text = "0"
        SubElement(obj, "difficult").text = "1" if box.get("difficult") else "0"
        bndbox = SubElement(obj, "bndbox")
        for tag in ("xmin", "ymin", "xmax", "ymax"):
            SubElement(bndbox, tag).text = number(box[tag])
    indent(root)
    return tostring(root) + b"\n"


def write(pictures: list[Labelled], out: Path, classes: list[str]) -> list[Path]:
    root, written = common_root(pictures), []
    for picture in pictures:
        name = relative_name(picture.image, root)
        target = (out / FOLDER / name).with_suffix(".xml")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(voc_xml(picture, name, str(Path(picture.image).resolve())))
        written.append(target)
    return written


def _text(file: Path, tag: str) -> str | None:
    from defusedxml import ElementTree

    return (ElementTree.parse(str(file)).getroot().findtext(tag) or "").strip() or None


def read(folder: Path, images: Path | None = None, predictions: bool = False) -> Read:
    """Every *.xml under folder (or in its Annotations/ or ANNOTATIONS/ folder, sub-folders included)."""
    found = Read()
    base = next((folder / n for n in (FOLDER, "ANNOTATIONS", "annotations") if (folder / n).is_dir()), folder)
    files = sorted(base.rglob("*.xml")) if base.is_dir() else files_of(folder, (".xml",))
    for file in files:
        try:
            annotation = read_voc(file)
            recorded = _text(file, "path")
        except Exception as error:  # noqa: BLE001 (defusedxml / expat errors of any kind: this file's problem)
            found.refuse(file, f"not well-formed XML ({error})")
            continue
        if annotation.problems:
            found.refuse(file, "; ".join(message for _, message in annotation.problems))
            continue
        names = [n for n in (recorded, annotation.filename, f"{file.stem}.jpg") if n]
        path = next((p for n in names if (p := find_picture(n, file, images)) is not None), None)
        if path is None:
            found.refuse(file, f"picture {annotation.filename or file.stem!r} not found (pass --images FOLDER where "
                               "the pictures lie)")
            continue
        found.pictures.append(Labelled(image=str(path), width=annotation.width, height=annotation.height,
                                       boxes=[{k: v for k, v in b.as_dict().items() if k != "difficult" or v}
                                              for b in annotation.boxes], source=str(file)))
    return found
