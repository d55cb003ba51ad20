"""CVAT for images 1.1 (annotations.xml): the XML a CVAT task imports and exports. A picture's class is a `tag`,
each box a `box` (xtl, ytl, xbr, ybr in pixels); both are marked `source="auto"` and carry the model's
confidence as a `score` attribute, declared on every label in the meta block and in labels.json (paste it into
the task's Raw label editor when creating the task, so that the import finds the labels and the attribute).
Image `name`s are relative to the common folder of the pictures: upload the pictures from there, keeping their
sub-folders. Nothing is copied. Parsed back with defusedxml."""
from __future__ import annotations

import json
from pathlib import Path
from xml.etree.ElementTree import Element, SubElement, indent, tostring

from defusedxml import ElementTree

from .common import Labelled, Read, common_root, files_of, find_picture, number, relative_name

ANNOTATIONS, LABELS = "annotations.xml", "labels.json"
SCORE = {"name": "score", "mutable": False, "input_type": "text", "default_value": "", "values": [""]}


def _score(parent: Element, value) -> None:
    if value is not None:
        SubElement(parent, "attribute", name="score").text = f"{float(value):.4f}"


def write(pictures: list[Labelled], out: Path, classes: list[str]) -> list[Path]:
    root = common_root(pictures)
    document = Element("annotations")
    SubElement(document, "version").text = "1.1"
    labels = SubElement(SubElement(SubElement(document, "meta"), "task"), "labels")
    for name in classes:
        label = SubElement(labels, "label")
        SubElement(label, "name").text = name
        attribute = SubElement(SubElement(label, "attributes"), "attribute")
        for key in ("name", "mutable", "input_type", "default_value"):
            SubElement(attribute, key).text = str(SCORE[key]).lower() if key == "mutable" else SCORE[key]
        SubElement(attribute, "values")
    for number_, picture in enumerate(pictures):
        image = SubElement(document, "image", id=str(number_), name=relative_name(picture.image, root),
                           width=str(picture.width), height=str(picture.height))
        if picture.class_name:
            _score(SubElement(image, "tag", label=picture.class_name, source="auto"), picture.confidence)
        for box in picture.boxes:
            element = SubElement(image, "box", label=box["name"], source="auto", occluded="0", z_order="0",
                                 xtl=number(box["xmin"]), ytl=number(box["ymin"]), xbr=number(box["xmax"]),
                                 ybr=number(box["ymax"]))
            _score(element, box.get("confidence"))
    indent(document)
    (out / ANNOTATIONS).write_bytes(b'<?xml version="1.0" encoding="utf-8"?>\n' + tostring(document) + b"\n")
    (out / LABELS).write_text(json.dumps([{"name": c, "attributes": [SCORE]} for c in classes], indent=1) + "\n")
    return [out / ANNOTATIONS, out / LABELS]


def _picture(image, file: Path, images: Path | None) -> Labelled:
    name = image.get("name") or ""
    found = find_picture(name, file, images)
    if found is None:
        raise ValueError(f"picture {name!r} not found (pass --images FOLDER where the pictures lie)")
    picture = Labelled(image=str(found), width=int(float(image.get("width"))),
                       height=int(float(image.get("height"))), source=str(file))
    tags = image.findall("tag")
    if tags:
        picture.class_name = tags[0].get("label")
    for box in image.findall("box"):
        if float(box.get("rotation") or 0) != 0:
            raise ValueError(f"box {box.get('label')}: rotated (VOC boxes are upright)")
        picture.boxes.append({"name": box.get("label"), **{key: float(box.get(attribute)) for key, attribute in
                                                           (("xmin", "xtl"), ("ymin", "ytl"), ("xmax", "xbr"),
                                                            ("ymax", "ybr"))}})
    return picture


def read(folder: Path, images: Path | None = None, predictions: bool = False) -> Read:
    """Every CVAT XML under folder (or the file given): the task's, job's or project's export."""
    found, declared = Read(), []
    for file in files_of(folder, (".xml",), ("annotations",)):
        try:
            document = ElementTree.parse(str(file)).getroot()
        except Exception as error:  # noqa: BLE001 (defusedxml / expat errors of any kind: this file's problem)
            found.refuse(file, f"not well-formed XML ({error})")
            continue
        if document.tag != "annotations":
            found.refuse(file, f"not a CVAT for images XML: the root is <{document.tag}>, not <annotations>")
            continue
        meta = document.find("meta")
        declared += [n.findtext("name") for n in (meta.iter("label") if meta is not None else [])]
        for image in document.iter("image"):
            try:
                found.pictures.append(_picture(image, file, images))
            except (ValueError, TypeError) as error:
                found.refuse(file, f"image {image.get('name')!r}: {error}")
    found.classes = list(dict.fromkeys(c for c in declared if c)) or None
    return found
