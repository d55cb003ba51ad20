"""Inspection records as table rows (Arrow tables, Parquet files): one row per picture, and back.

Columns, the same in every table of the same tasks: `image`, `width`, `height`, `error` (a picture that could not be
read: its other columns are empty), `novel`; then each task's record fields as its spec's `record_schema` describes
them, named `<task>_<field>`: an object of fixed properties flattened into `<task>_<field>_<property>`, a list as a
nested list column (a list of objects: a list of structs), an object of free keys as a map; then the task's flat
columns (its spec's `columns`: CSV, report, database) as `<task>_<column>` where they add a name; last `extra`, JSON
of anything a record holds that no schema describes. Fields read back exactly (records_from_table): the flat
columns are derived and only written. pyarrow is imported when a table is made or read."""
from __future__ import annotations

import json
from dataclasses import dataclass

from . import registry

SHARED = {"image": "string", "width": "integer", "height": "integer", "error": "string", "novel": "boolean"}
TASKS_KEY = b"defectlab.tasks"  # the schema metadata naming the tasks whose columns a table holds


@dataclass(frozen=True)
class Column:
    name: str
    task: str | None  # None: a shared column
    path: tuple  # the keys of its value inside the task's part of a record
    type: object  # pyarrow.DataType
    as_json: bool = False  # a schema arrow cannot type: JSON text
    derived: bool = False  # one of the spec's flat columns: written, not read back


def table_columns(tasks) -> list[Column]:
    import pyarrow as pa

    found = [Column(name, None, (name,), _arrow({"type": kind})[0]) for name, kind in SHARED.items()]
    for task in tasks:
        spec = registry.task(task)
        fields = [leaf for key, schema in spec.record_schema.get("properties", {}).items()
                  for leaf in _leaves(task, (key,), schema)]
        taken = {c.name for c in found + fields}
        found += fields
        for name, value in _flat_example(spec).items():
            if f"{task}_{name}" not in taken:
                found.append(Column(f"{task}_{name}", task, (name,), _inferred(value), derived=True))
    return found + [Column("extra", None, (), pa.string(), as_json=True)]


def arrow_schema(tasks):
    import pyarrow as pa

    return pa.schema([(c.name, c.type) for c in table_columns(tasks)], metadata={TASKS_KEY: json.dumps(list(tasks))})


def to_table(records: list[dict], tasks):
    """The records (Inspector's, `_` keys left out) as one Arrow table of arrow_schema(tasks)."""
    import pyarrow as pa

    from .provenance import plain

    tasks = list(tasks)
    columns = table_columns(tasks)
    values = {c.name: [] for c in columns}
    for record in records:
        extra = {key: value for key, value in record.items()
                 if key not in SHARED and key not in tasks and not key.startswith("_")}
        flat = {}
        for task in tasks:
            part = record.get(task) or {}
            described = registry.task(task).record_schema.get("properties", {})
            unknown = {k: v for k, v in part.items() if k not in described and not k.startswith("_")}
            if unknown:
                extra[task] = unknown
            flat[task] = registry.task(task).columns(part) if part else {}
        for column in columns:
            if column.name == "extra":
                value = json.dumps(extra, default=plain) if extra else None
            elif column.task is None:
                value = record.get(column.name)
            elif column.derived:
                value = flat[column.task].get(column.path[0])
            else:
                value = _get(record.get(column.task), column.path)
                if column.as_json and value is not None:
                    value = json.dumps(value, default=plain)
            values[column.name].append(_plain(value))
    return pa.Table.from_arrays([pa.array(values[c.name], type=c.type) for c in columns], schema=arrow_schema(tasks))


def records_from_table(table) -> list[dict]:
    """The records a table holds (the inverse of to_table; its tasks are in the schema's metadata)."""
    tasks = json.loads((table.schema.metadata or {}).get(TASKS_KEY, b"[]"))
    columns = [c for c in table_columns(tasks) if not c.derived and c.name in table.column_names]
    records = []
    for row in table.to_pylist():
        record = {"image": row["image"]}
        if row.get("error") is not None:
            record["error"] = row["error"]
        else:
            record.update(width=row["width"], height=row["height"])
        for column in columns:
            value = row[column.name]
            if column.task is None or value is None:
                continue
            value = json.loads(value) if column.as_json else _from_arrow(value, column.type)
            part = record.setdefault(column.task, {})
            for key in column.path[:-1]:
                part = part.setdefault(key, {})
            part[column.path[-1]] = value
        if row.get("novel") is not None:
            record["novel"] = row["novel"]
        for key, value in json.loads(row.get("extra") or "{}").items():
            if key in tasks:
                record.setdefault(key, {}).update(value)
            else:
                record[key] = value
        records.append(record)
    return records


def _leaves(task: str, path: tuple, schema: dict) -> list[Column]:
    """An object of fixed properties becomes one column per property; anything else one column."""
    if schema.get("type") == "object" and schema.get("properties"):
        return [leaf for key, inner in schema["properties"].items() for leaf in _leaves(task, (*path, key), inner)]
    kind, as_json = _arrow(schema)
    return [Column("_".join((task, *path)), task, path, kind, as_json)]


def _arrow(schema: dict):
    """(Arrow type, whether it is kept as JSON text) of a JSON Schema."""
    import pyarrow as pa

    scalars = {"string": pa.string(), "number": pa.float64(), "integer": pa.int64(), "boolean": pa.bool_()}
    kind = schema.get("type")
    if isinstance(kind, str) and kind in scalars:
        return scalars[kind], False
    if kind == "array" and isinstance(schema.get("items"), dict):
        inner, as_json = _arrow(schema["items"])
        return (pa.string(), True) if as_json else (pa.list_(inner), False)
    if kind == "object" and schema.get("properties"):
        fields = {key: _arrow(inner) for key, inner in schema["properties"].items()}
        if any(as_json for _, as_json in fields.values()):
            return pa.string(), True
        return pa.struct([(key, inner) for key, (inner, _) in fields.items()]), False
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        inner, as_json = _arrow(schema["additionalProperties"])
        return (pa.string(), True) if as_json else (pa.map_(pa.string(), inner), False)
    return pa.string(), True


def _example(schema: dict):
    """A value of a JSON Schema's shape, to learn the types of the flat columns a spec derives from it."""
    kind = schema.get("type")
    if kind == "array":
        return [_example(schema.get("items") or {})]
    if kind == "object":
        if schema.get("properties"):
            return {key: _example(inner) for key, inner in schema["properties"].items()}
        return {"x": _example(schema.get("additionalProperties") or {})}
    return {"string": "x", "number": 0.5, "integer": 1, "boolean": False}.get(kind)


def _flat_example(spec) -> dict:
    try:
        return spec.columns(_example(spec.record_schema))
    except Exception:  # noqa: BLE001 (a spec whose columns need more than its schema says: no flat columns)
        return {}


def _inferred(value):
    import pyarrow as pa

    kind = pa.array([value]).type
    return pa.string() if pa.types.is_null(kind) else kind


def _get(part, path: tuple):
    for key in path:
        if not isinstance(part, dict):
            return None
        part = part.get(key)
    return part


def _plain(value):
    """numpy scalars and arrays inside a value as Python ones."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "tolist"):
        return _plain(value.tolist())
    return value


def _from_arrow(value, kind):
    """A to_pylist value as the record held it: maps as dicts, a struct's empty fields left out."""
    import pyarrow as pa

    if value is None:
        return None
    if pa.types.is_map(kind):
        return {k: _from_arrow(v, kind.item_type) for k, v in value}
    if pa.types.is_list(kind):
        return [_from_arrow(v, kind.value_type) for v in value]
    if pa.types.is_struct(kind):
        return {field.name: _from_arrow(value[field.name], field.type) for field in kind
                if value.get(field.name) is not None}
    return value
