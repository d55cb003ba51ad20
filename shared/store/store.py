"""Writing records: one picture row per content (sha256), one inspection row per picture and runs key, the task
parts as their specs' columns (`results`) and boxes (`boxes`).

Dedupe: a record whose picture (by content) was already inspected with the same runs key updates that row only when
its answer differs (error, novel, each task's columns and vote, boxes: the digest); the same answer again changes
nothing, its timings and time included. A picture that could not be read at all has no content hash: its error is
kept once per path and runs key."""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Self

from sqlalchemy import create_engine, delete, event, func, insert, select, update
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import SQLAlchemyError

from ..suite import registry
from .migrate import upgrade
from .schema import boxes, inspections, pictures, results, runs

# a box's keys in a record -> its columns (PostgreSQL reserves xmin and xmax)
BOX_COLUMNS = {"class": "class", "confidence": "confidence", "xmin": "x_min", "ymin": "y_min", "xmax": "x_max",
               "ymax": "y_max"}


def plain(value):
    """JSON for what records hold: numpy scalars and arrays (duck-typed, no numpy import), paths."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def dumps(value, sort_keys: bool = True) -> str:
    """JSON text; sorted keys for digests and keys, the given order where a column is stored."""
    return json.dumps(value, default=plain, sort_keys=sort_keys)


def stored_json(value) -> str:
    return dumps(value, sort_keys=False)


def database_url(target: str | Path) -> str:
    """A URL as it is; a path as a SQLite file: results.db -> sqlite:///results.db."""
    text = str(target)
    return text if "://" in text else f"sqlite:///{text}"


def open_store(target: str | Path, create: bool = True) -> Store:
    """The store at a URL or SQLite file path, its tables brought to the latest migration. create=False: a
    SQLite file that does not exist is a FileNotFoundError, not a new empty database. A database that cannot be
    opened (a bad URL, no server, a refused login) is a one-line ValueError."""
    engine = url = None
    try:
        url = make_url(database_url(target))
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            path = Path(url.database)
            if not path.is_file() and not create:
                raise FileNotFoundError(f"no results database at {path}")
            path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, json_serializer=stored_json)
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _sqlite_foreign_keys)
        upgrade(engine)
    except SQLAlchemyError as error:
        if engine is not None:
            engine.dispose()
        reason = " ".join(str(getattr(error, "orig", None) or error).split())
        shown = url.render_as_string() if url is not None else target  # the password hidden
        raise ValueError(f"cannot open the results database {shown}: {reason}") from None
    return Store(engine)


def _sqlite_foreign_keys(connection, _record) -> None:
    connection.execute("PRAGMA foreign_keys=ON")  # ON DELETE CASCADE, as on PostgreSQL


def run_version(path: str | Path) -> str | None:
    """A run folder's version: sha256 of its config.json and data.json (the recipe, the classes, the data
    fingerprint); None when neither is there."""
    digest, found = hashlib.sha256(), False
    for name in ("config.json", "data.json"):
        file = Path(path) / name
        if file.is_file():
            digest.update(name.encode() + b"\0" + file.read_bytes())
            found = True
    return digest.hexdigest()[:16] if found else None


def describe_runs(paths: Mapping[str, str | Path], options: Mapping[str, dict] | None = None,
                  onnx: bool = False) -> dict:
    """{task: {run, version, options}}: what produced a record, whose sha256 is its runs key. The prediction
    options count (they change answers); ONNX Runtime counts where it was used."""
    described = {}
    for task, path in sorted(paths.items()):
        entry = {"run": str(Path(path).resolve()), "version": run_version(path),
                 "options": dict(sorted((options or {}).get(task, {}).items()))}
        described[task] = {**entry, "onnx": True} if onnx else entry
    return described


def runs_key(description: Mapping) -> str:
    return hashlib.sha256(dumps(description).encode()).hexdigest()


def file_identity(image) -> tuple[str, int] | None:
    """(sha256, size) of the picture's file, or None when there is no readable file."""
    path = Path(str(image))
    try:
        with path.open("rb") as stream:
            digest, size = hashlib.sha256(), 0
            while chunk := stream.read(1 << 20):
                digest.update(chunk)
                size += len(chunk)
    except OSError:
        return None
    return digest.hexdigest(), size


def task_parts(record: Mapping) -> dict[str, dict]:
    """{task: part} of the registered tasks the record answers, in registry order."""
    return {task: record[task] for task in registry.names() if isinstance(record.get(task), dict)}


def answer(record: Mapping) -> dict:
    """What the record says, as stored: error, novel, each task's columns and vote, boxes."""
    parts = {}
    for task, part in task_parts(record).items():
        spec = registry.task(task)
        part = {k: v for k, v in part.items() if not k.startswith("_")}
        columns = json.loads(stored_json(spec.columns(part)))
        vote = bool(spec.novelty(part)) if spec.novelty else None
        found = [json.loads(dumps({column: box.get(key) for key, column in BOX_COLUMNS.items()}))
                 for box in part.get("boxes") or [] if isinstance(box, Mapping)]
        parts[task] = {"columns": columns, "vote": vote, "boxes": found}
    novel = record.get("novel")
    return {"error": record.get("error"), "novel": None if novel is None else bool(novel), "parts": parts}


class Store:
    def __init__(self, engine: Engine):
        self.engine = engine

    @property
    def url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def write(self, records: Iterable[Mapping], description: Mapping) -> dict[str, int]:
        """Store records made by the runs `description` names (describe_runs, or any JSON mapping), in one
        transaction. A record's `timings_ms` ({task: ms}), when it has one, is kept as its timings. Returns how
        many were added, changed (same picture and runs, another answer) and the same (nothing written)."""
        key, now = runs_key(description), datetime.now(UTC)
        counts = {"added": 0, "changed": 0, "same": 0}
        with self.engine.begin() as connection:
            if connection.scalar(select(runs.c.key).where(runs.c.key == key)) is None:
                connection.execute(insert(runs).values(key=key, description=dict(description), first_used=now))
            for record in records:
                counts[self._write_one(connection, record, key, now)] += 1
        return counts

    def _write_one(self, connection, record: Mapping, key: str, now: datetime) -> str:
        said = answer(record)
        digest = hashlib.sha256(dumps(said).encode()).hexdigest()
        picture = self._picture(connection, record, now)
        found = select(inspections.c.id, inspections.c.digest).where(inspections.c.runs_key == key)
        found = found.where(inspections.c.picture_id == picture if picture is not None else
                            (inspections.c.picture_id.is_(None)) & (inspections.c.image == str(record["image"])))
        existing = connection.execute(found).first()
        values = {"error": said["error"], "novel": said["novel"], "digest": digest,
                  "timings": json.loads(dumps(record["timings_ms"])) if record.get("timings_ms") else None}
        if existing is None:
            inspection = connection.execute(insert(inspections).values(
                picture_id=picture, image=str(record["image"]), runs_key=key, created=now, **values)
                .returning(inspections.c.id)).scalar_one()
            outcome = "added"
        elif existing.digest == digest:
            return "same"
        else:
            inspection = existing.id
            connection.execute(update(inspections).where(inspections.c.id == inspection).values(**values))
            connection.execute(delete(results).where(results.c.inspection_id == inspection))
            connection.execute(delete(boxes).where(boxes.c.inspection_id == inspection))
            outcome = "changed"
        rows = [{"inspection_id": inspection, "task": task, "columns": part["columns"], "vote": part["vote"]}
                for task, part in said["parts"].items()]
        if rows:
            connection.execute(insert(results), rows)
        found_boxes = [{"inspection_id": inspection, "task": task, **box}
                       for task, part in said["parts"].items() for box in part["boxes"]]
        if found_boxes:
            connection.execute(insert(boxes), found_boxes)
        return outcome

    @staticmethod
    def _picture(connection, record: Mapping, now: datetime) -> int | None:
        """The picture's id by content (added when new; its size filled in when first known), None without a
        readable file."""
        # an upload (the service) names its content itself; a path is read
        identity = (record["sha256"], record["size_bytes"]) if record.get("sha256") else file_identity(record["image"])
        if identity is None:
            return None
        sha256, size = identity
        where = str(record["image"]) if record.get("sha256") else str(Path(str(record["image"])).resolve())
        row = connection.execute(select(pictures.c.id, pictures.c.width).where(pictures.c.sha256 == sha256)).first()
        if row is None:
            return connection.execute(insert(pictures).values(
                path=where, sha256=sha256, size_bytes=size,
                width=record.get("width"), height=record.get("height"), first_seen=now)
                .returning(pictures.c.id)).scalar_one()
        if row.width is None and record.get("width") is not None:
            connection.execute(update(pictures).where(pictures.c.id == row.id).values(
                width=record["width"], height=record.get("height")))
        return row.id

    def counts(self) -> dict[str, int]:
        """Rows per table."""
        with self.engine.connect() as connection:
            return {table.name: connection.scalar(select(func.count()).select_from(table))
                    for table in (pictures, runs, inspections, results, boxes)}

    def rows(self) -> list[dict]:
        from .read import rows

        return rows(self.engine)

    def export_csv(self, path: str | Path) -> int:
        from .read import export_csv

        return export_csv(self.engine, path)

    def export(self, path: str | Path) -> int:
        """One row per inspection, as CSV or Parquet by the file's suffix."""
        from .read import export_parquet

        return export_parquet(self.engine, path) if Path(path).suffix == ".parquet" else self.export_csv(path)

    def summary(self, top: int = 10) -> dict:
        from .read import summary

        return {"database": self.url, **summary(self.engine, top)}
