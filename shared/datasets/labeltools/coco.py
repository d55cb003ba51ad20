"""COCO object detection JSON (annotations.json): images, categories (ids from 1), annotations with `bbox`
[x, y, width, height] in pixels and the model's `score` (the field COCO's results format has for it). COCO has
no picture class: it is kept as `picture_class` / `picture_score` on the image, which COCO readers ignore.
`file_name`s are relative to the common folder of the pictures (the image folder of most importers); nothing is
copied. pycocotools loads what this writes (tests check it)."""
from __future__ import annotations

import json
from pathlib import Path

from .common import PRECISION, Labelled, Read, common_root, files_of, find_picture, relative_name

ANNOTATIONS = "annotations.json"


def write(pictures: list[Labelled], out: Path, classes: list[str]) -> list[Path]:
    root = common_root(pictures)
    category = {name: number for number, name in enumerate(classes, 1)}
    images, annotations = [], []
    for image_id, picture in enumerate(pictures, 1):
        image = {"id": image_id, "file_name": relative_name(picture.image, root), "width": picture.width,
                 "height": picture.height}
        if picture.class_name:
            image["picture_class"] = picture.class_name
            if picture.confidence is not None:
                image["picture_score"] = round(float(picture.confidence), 6)
        images.append(image)
        for box in picture.boxes:
            bbox = [round(v, PRECISION) for v in (box["xmin"], box["ymin"], box["xmax"] - box["xmin"],
                                                  box["ymax"] - box["ymin"])]
            annotation = {"id": len(annotations) + 1, "image_id": image_id, "category_id": category[box["name"]],
                          "bbox": bbox, "area": round(bbox[2] * bbox[3], PRECISION), "iscrowd": 0}
            if box.get("confidence") is not None:
                annotation["score"] = round(float(box["confidence"]), 6)
            annotations.append(annotation)
    document = {"info": {"description": "defectlab pre-annotations"}, "images": images, "annotations": annotations,
                "categories": [{"id": i, "name": n, "supercategory": "defect"} for n, i in category.items()]}
    (out / ANNOTATIONS).write_text(json.dumps(document, indent=1) + "\n")
    return [out / ANNOTATIONS]


def _read_file(file: Path, images: Path | None, found: Read) -> list[str]:
    try:
        document = json.loads(file.read_text())
        categories = {int(c["id"]): str(c["name"]) for c in document["categories"]}
        entries = {int(i["id"]): i for i in document["images"]}
        annotations = document.get("annotations", [])
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        found.refuse(file, f"not valid JSON ({error})")
        return []
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        found.refuse(file, f"not a COCO file: images or categories missing or malformed ({error})")
        return []
    pictures, bad = {}, {}
    for image_id, entry in entries.items():
        name = str(entry.get("file_name", ""))
        path = find_picture(name, file, images)
        if path is None:
            bad[image_id] = f"image {image_id}: picture {name!r} not found (pass --images FOLDER where the pictures lie)"
            continue
        pictures[image_id] = Labelled(image=str(path), width=entry.get("width"), height=entry.get("height"),
                                      class_name=entry.get("picture_class"), source=str(file))
    for annotation in annotations:
        image_id = annotation.get("image_id")
        try:
            x, y, w, h = map(float, annotation["bbox"])
            name = categories[int(annotation["category_id"])]
        except KeyError as error:
            problem = (f"annotation {annotation.get('id')} names category {annotation.get('category_id')}, which is "
                       "not in categories" if str(error).strip("'") == str(annotation.get("category_id"))
                       else f"annotation {annotation.get('id')} lacks {error}")
            bad.setdefault(image_id, problem)
            continue
        except (TypeError, ValueError):
            bad.setdefault(image_id, f"annotation {annotation.get('id')}: bbox is not [x, y, width, height]")
            continue
        if image_id not in entries:
            found.refuse(file, f"annotation {annotation.get('id')} names image {image_id}, which is not in images")
        elif image_id in pictures:
            pictures[image_id].boxes.append({"name": name, "xmin": x, "ymin": y, "xmax": x + w, "ymax": y + h})
    for problem in bad.values():
        found.refuse(file, problem)
    found.pictures += [p for i, p in pictures.items() if i not in bad]
    return list(categories.values())


def read(folder: Path, images: Path | None = None, predictions: bool = False) -> Read:
    """Every COCO JSON under folder (or the file given); a picture with a faulty annotation is refused whole."""
    found, declared = Read(), []
    for file in files_of(folder, (".json",), ("annotations",)):
        declared += _read_file(file, images, found)
    found.classes = list(dict.fromkeys(declared)) or None
    return found
