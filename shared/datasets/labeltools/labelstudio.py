"""Label Studio: pre-annotations as tasks with `predictions` (tasks.json, imported in the project's Data Import)
and the labelling interface they need (labeling_config.xml: one choice per picture, rectangles); read back from
the project's JSON export, where each task carries its `annotations`.

Boxes are in percent of the picture (Label Studio's `x`, `y`, `width`, `height`), each result keeps its `score`
(the model's confidence) and each prediction the least sure of them, so sorting the Data Manager by prediction
score brings the doubtful pictures first. Pictures are referenced, not copied: `data.image` is a local-files URL
relative to the common folder of the pictures (serve it with LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED=true and
LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT=that folder), `data.path` the absolute path, which the export keeps."""
from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote, unquote
from xml.sax.saxutils import quoteattr

from .common import Labelled, Read, common_root, files_of, find_picture, relative_name

TASKS, CONFIG = "tasks.json", "labeling_config.xml"
CLASS_FROM, BOX_FROM, TO = "class", "label", "image"
LOCAL = "/data/local-files/?d="


def config(classes: list[str]) -> str:
    choices = "".join(f"\n    <Choice value={quoteattr(c)}/>" for c in classes)
    labels = "".join(f"\n    <Label value={quoteattr(c)}/>" for c in classes)
    return (f'<View>\n  <Image name="{TO}" value="$image" zoom="true"/>\n'
            f'  <Choices name="{CLASS_FROM}" toName="{TO}" choice="single" showInline="true">{choices}\n  </Choices>\n'
            f'  <RectangleLabels name="{BOX_FROM}" toName="{TO}">{labels}\n  </RectangleLabels>\n</View>\n')


def _results(picture: Labelled) -> list[dict]:
    results = []
    if picture.class_name:
        results.append({"id": "class", "from_name": CLASS_FROM, "to_name": TO, "type": "choices",
                        "value": {"choices": [picture.class_name]}, **_score(picture.confidence)})
    w, h = picture.width, picture.height
    for number, box in enumerate(picture.boxes, 1):
        value = {"x": 100 * box["xmin"] / w, "y": 100 * box["ymin"] / h, "width": 100 * (box["xmax"] - box["xmin"]) / w,
                 "height": 100 * (box["ymax"] - box["ymin"]) / h, "rotation": 0, "rectanglelabels": [box["name"]]}
        results.append({"id": f"box{number}", "from_name": BOX_FROM, "to_name": TO, "type": "rectanglelabels",
                        "original_width": w, "original_height": h, "image_rotation": 0, "value": value,
                        **_score(box.get("confidence"))})
    return results


def _score(value) -> dict:
    return {} if value is None else {"score": round(float(value), 6)}


def write(pictures: list[Labelled], out: Path, classes: list[str]) -> list[Path]:
    root = common_root(pictures)
    tasks = []
    for picture in pictures:
        results = _results(picture)
        scores = [r["score"] for r in results if "score" in r]
        prediction = {"model_version": "defectlab", "result": results, **_score(min(scores) if scores else None)}
        name = relative_name(picture.image, root)
        tasks.append({"data": {TO: LOCAL + quote(name), "path": str(Path(picture.image).resolve())},
                      "predictions": [prediction]})
    (out / TASKS).write_text(json.dumps(tasks, indent=1) + "\n")
    (out / CONFIG).write_text(config(classes))
    return [out / TASKS, out / CONFIG]


def _image_name(data: dict) -> str:
    if isinstance(data.get("path"), str):
        return data["path"]
    image = str(data.get(TO) or next((v for v in data.values() if isinstance(v, str)), ""))
    if image.startswith(LOCAL):
        return unquote(image[len(LOCAL):])
    return unquote(image.split("?")[0].rsplit("/", 1)[-1]) if "://" in image or image.startswith("/data/") else image


def _chosen(task: dict, predictions: bool) -> list | None:
    """The result list a task's labels are: its latest kept annotation, else (with `predictions`) its first
    prediction; None when it has neither."""
    kept = [a for a in task.get("annotations") or [] if isinstance(a, dict) and not a.get("was_cancelled")]
    if kept:
        return max(kept, key=lambda a: str(a.get("updated_at") or a.get("created_at") or "")).get("result") or []
    found = task.get("predictions") or []
    return (found[0].get("result") or []) if predictions and found and isinstance(found[0], dict) else None


def _picture(task: dict, results: list, file: Path, images: Path | None) -> Labelled:
    """One task as a picture; ValueError saying what is wrong with it."""
    name = _image_name(task.get("data") or {})
    found = find_picture(name, file, images)
    if found is None:
        raise ValueError(f"picture {name!r} not found (pass --images FOLDER where the pictures lie)")
    picture = Labelled(image=str(found), source=str(file))
    for result in results:
        value, kind = result.get("value") or {}, result.get("type")
        if kind == "choices" and value.get("choices"):
            picture.class_name = str(value["choices"][0])
        elif kind == "rectanglelabels":
            if float(value.get("rotation") or 0) != 0:
                raise ValueError(f"result {result.get('id')}: a rotated rectangle (VOC boxes are upright)")
            w, h = result.get("original_width"), result.get("original_height")
            if not (w and h):
                raise ValueError(f"result {result.get('id')}: no original_width / original_height")
            picture.width, picture.height = int(w), int(h)
            x, y = float(value["x"]) * w / 100, float(value["y"]) * h / 100
            picture.boxes.append({"name": str((value.get("rectanglelabels") or ["?"])[0]), "xmin": x, "ymin": y,
                                  "xmax": x + float(value["width"]) * w / 100,
                                  "ymax": y + float(value["height"]) * h / 100})
    return picture


def read(folder: Path, images: Path | None = None, predictions: bool = False) -> Read:
    """Every *.json export under folder (or the file given). predictions: a task nobody annotated yet takes its
    pre-annotation as its labels (accepting the model's answer unchanged); otherwise it is skipped."""
    found = Read()
    for file in files_of(folder, (".json",)):
        try:
            tasks = json.loads(file.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            found.refuse(file, f"not valid JSON ({error})")
            continue
        if not isinstance(tasks, list) or not all(isinstance(t, dict) for t in tasks):
            found.refuse(file, "not a Label Studio export: expected a list of tasks")
            continue
        for number, task in enumerate(tasks, 1):
            results = _chosen(task, predictions)
            if results is None:
                found.skipped.append(f"{file}: task {task.get('id', number)} has no annotation yet")
                continue
            try:
                found.pictures.append(_picture(task, results, file, images))
            except (ValueError, KeyError, TypeError) as error:
                found.refuse(file, f"task {task.get('id', number)}: {error}")
    return found
