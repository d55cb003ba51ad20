"""A model's answers as labels to correct: inspect or predict records (predictions.json) or a results database,
turned into the data layer's Labelled pictures. Generic: a part of a record that names a `class` with a
`confidence` is the picture's class, a part with `boxes` its boxes (each with its class and confidence), whichever
task answered them."""
from __future__ import annotations

import json
from pathlib import Path

from ..datasets.labeltools import Labelled
from .errors import DataError

BOX_KEYS = ("xmin", "ymin", "xmax", "ymax")


def _parts(record: dict) -> list[dict]:
    return [record] + [v for v in record.values() if isinstance(v, dict)]


def labelled(record: dict, min_confidence: float = 0.0) -> Labelled | None:
    """One record as a picture with its class and boxes; None for an error record."""
    if "error" in record or "image" not in record:
        return None
    picture = Labelled(image=str(record["image"]), width=record.get("width"), height=record.get("height"),
                       source=str(record["image"]))
    for part in _parts(record):
        if isinstance(part.get("class"), str) and isinstance(part.get("confidence"), (int, float)) \
                and picture.class_name is None:
            picture.class_name, picture.confidence = part["class"], float(part["confidence"])
        for box in part.get("boxes") or []:
            if isinstance(box, dict) and all(k in box for k in BOX_KEYS) and \
                    float(box.get("confidence", 1.0)) >= min_confidence:
                picture.boxes.append({"name": str(box.get("class", box.get("name"))),
                                      **{k: float(box[k]) for k in BOX_KEYS},
                                      **({"confidence": float(box["confidence"])} if "confidence" in box else {})})
    return picture


def is_database(target: str) -> bool:
    return "://" in target or Path(target).suffix.lower() in (".db", ".sqlite", ".sqlite3")


def read_records(target: str | Path) -> list[dict]:
    """The records of an inspect / predict output: its predictions.json, or the folder holding it."""
    path = Path(target)
    if path.is_dir():
        path = path / "predictions.json"
    if not path.is_file():
        raise DataError(path, "no such file (expected the predictions.json that `defectlab inspect --out` writes)")
    try:
        records = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DataError(path, f"not valid JSON ({error})") from None
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise DataError(path, "expected a list of records, as `defectlab inspect --out` writes")
    return records


def database_records(target: str) -> list[dict]:
    """The latest inspection of each picture in a results database, as records: the picture's path and size, the
    class of the task whose columns hold its spec's answer column and a confidence, and every stored box."""
    from sqlalchemy import select

    from ..store import open_store
    from ..store.schema import boxes, inspections, pictures, results
    from . import registry

    store = open_store(target, create=False)
    try:
        with store.engine.connect() as connection:
            found = connection.execute(
                select(inspections.c.id, inspections.c.image, pictures.c.path, pictures.c.width, pictures.c.height)
                .select_from(inspections.join(pictures)).where(inspections.c.error.is_(None))
                .order_by(inspections.c.created, inspections.c.id)).mappings().all()
            parts: dict = {}
            for row in connection.execute(select(results.c.inspection_id, results.c.task, results.c["columns"])):
                parts.setdefault(row.inspection_id, {})[row.task] = row.columns
            stored: dict = {}
            for row in connection.execute(select(boxes)).mappings():
                stored.setdefault(row["inspection_id"], []).append(
                    {"class": row["class"], "confidence": row["confidence"], "xmin": row["x_min"],
                     "ymin": row["y_min"], "xmax": row["x_max"], "ymax": row["y_max"]})
    finally:
        store.close()
    latest = {row["path"]: row for row in found}  # ordered by time: the last one wins
    records = []
    for path, row in latest.items():
        record = {"image": path, "width": row["width"], "height": row["height"], "boxes": stored.get(row["id"], [])}
        for task, columns in parts.get(row["id"], {}).items():
            answer = registry.task(task).answer_column if task in registry.names() else None
            if answer and isinstance(columns.get(answer), str) and "confidence" in columns:
                record.setdefault("_class", {"class": columns[answer], "confidence": columns["confidence"]})
        records.append(record)
    return records


def results_pictures(target: str, min_confidence: float = 0.0) -> tuple[list[Labelled], int]:
    """(pictures, records left out as unreadable) of an inspect output or a results database."""
    records = database_records(target) if is_database(str(target)) else read_records(target)
    pictures = [labelled(r, min_confidence) for r in records]
    return [p for p in pictures if p is not None], sum(p is None for p in pictures)
