"""Reading the results database back: flat rows (CSV export) and the summary `defectlab results` prints.

Worth a look, the ranking rule (generic: only the specs' novelty votes and the columns' names count):
1. novel pictures first (the record's `novel`: every task that votes says so);
2. then more tasks voting novel (each spec's novelty(part), stored per task as `vote`);
3. then the larger doubt, the largest over the picture's task columns of: 1 - value for a column named
   `confidence` or `*_confidence` (an unsure answer), and the value's rank among all stored values of that task's
   column, 0 (lowest) to 1 (highest), for a column named `score` or `*_score` (the most unusual picture);
4. then the older inspection first.
Pictures that could not be read are counted, not ranked."""
from __future__ import annotations

import csv
import json
from bisect import bisect_left
from collections import defaultdict
from pathlib import Path

from sqlalchemy import Integer, case, func, select

from ..suite import registry
from .schema import boxes, inspections, pictures, results, runs

RULE = ("novel first, then more tasks voting novel, then the larger doubt: 1 - confidence for a *confidence "
        "column, the rank among stored values (0..1) for a *score column; the largest over the picture's columns")


def task_order(found) -> list[str]:
    """Registered tasks in registry order, then any other stored task by name."""
    return [t for t in registry.names() if t in found] + sorted(set(found) - set(registry.names()))


def rows(engine) -> list[dict]:
    """One row per inspection: the picture, the runs key, time, error, novel, timings, then each task's columns
    prefixed by the task (`<task>_<column>`, as predictions.csv names them)."""
    query = (select(inspections.c.id, inspections.c.image, pictures.c.path, pictures.c.sha256, pictures.c.size_bytes,
                    pictures.c.width, pictures.c.height, inspections.c.runs_key, inspections.c.created,
                    inspections.c.error, inspections.c.novel, inspections.c.timings)
             .select_from(inspections.outerjoin(pictures)).order_by(inspections.c.id))
    with engine.connect() as connection:
        stored = connection.execute(query).mappings().all()
        parts = defaultdict(dict)
        for row in connection.execute(select(results.c.inspection_id, results.c.task, results.c["columns"])):
            parts[row.inspection_id][row.task] = row.columns
    tasks = task_order({task for found in parts.values() for task in found})
    table = []
    for row in stored:
        flat = {"inspection": row["id"], **{k: row[k] for k in ("image", "path", "sha256", "size_bytes", "width",
                                                                   "height", "runs_key")},
                "created": row["created"].isoformat(), "error": row["error"], "novel": row["novel"],
                "timings": row["timings"]}
        for task in tasks:
            flat.update({f"{task}_{key}": value for key, value in parts[row["id"]].get(task, {}).items()})
        table.append(flat)
    return table


def export_csv(engine, path: str | Path) -> int:
    """rows() as CSV (lists and dicts as JSON text, None empty); returns the number of rows."""
    table = rows(engine)
    header = list(dict.fromkeys(key for row in table for key in row))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, header)
        writer.writeheader()
        for row in table:
            writer.writerow({k: json.dumps(v) if isinstance(v, (list, dict)) else v for k, v in row.items()})
    return len(table)


def export_parquet(engine, path: str | Path) -> int:
    """rows() as one Parquet file (pyarrow; nested values as JSON text, so every row has one schema); DuckDB reads
    it directly: `SELECT * FROM 'inspections.parquet'`. Returns the number of rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = rows(engine)
    header = list(dict.fromkeys(key for row in table for key in row))
    columns = {k: [json.dumps(r[k]) if isinstance(r.get(k), (list, dict)) else r.get(k) for r in table] for k in header}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(columns), path)
    return len(table)


def summary(engine, top: int = 10) -> dict:
    """Counts, runs, classes per task's answer column, days, the novel rate and the pictures most worth a look."""
    novel = func.sum(case((inspections.c.novel.is_(True), 1), else_=0), type_=Integer)
    errors = func.sum(case((inspections.c.error.is_not(None), 1), else_=0), type_=Integer)
    created = inspections.c.created
    day = func.date(func.timezone("UTC", created) if engine.dialect.name == "postgresql" else created)
    with engine.connect() as connection:
        totals = connection.execute(select(func.count(), errors, novel, func.count(inspections.c.novel))).one()
        described = dict(connection.execute(select(runs.c.key, runs.c.description)).all())
        per_runs = connection.execute(select(inspections.c.runs_key, func.count()).group_by(inspections.c.runs_key))
        days = connection.execute(select(day, func.count(), errors, novel).group_by(day).order_by(day)).all()
        classes = answer_counts(connection)
        look = worth_a_look(connection, top)
        counted = {name: connection.scalar(select(func.count()).select_from(table))
                   for name, table in (("pictures", pictures), ("boxes", boxes))}
    return {
        **counted, "inspections": totals[0] or 0, "errors": totals[1] or 0,
        "runs": [{"key": key, "inspections": n, "runs": described.get(key)} for key, n in per_runs],
        "classes": classes,
        "days": [{"day": str(d), "inspections": n, "errors": e or 0, "novel": v or 0} for d, n, e, v in days],
        "novel": {"novel": totals[2] or 0, "judged": totals[3],
                  "rate": round(totals[2] / totals[3], 4) if totals[3] else None},
        "worth_a_look": look, "rule": RULE}


def answer_counts(connection) -> dict:
    """{task: {"column": answer column, "counts": {value: n}}}, most frequent first; no answer counts as
    '(none)'."""
    found = {}
    for task in task_order(connection.scalars(select(results.c.task).distinct()).all()):
        column = registry.task(task).answer_column if task in registry.names() else None
        if not column:
            continue
        value = results.c["columns"][column].as_string()
        counted = connection.execute(select(value, func.count()).where(results.c.task == task).group_by(value)).all()
        counts = sorted(((v if v is not None else "(none)", n) for v, n in counted), key=lambda p: (-p[1], p[0]))
        found[task] = {"column": column, "counts": dict(counts)}
    return found


def kind(column: str) -> str | None:
    for name in ("confidence", "score"):
        if column == name or column.endswith(f"_{name}"):
            return name
    return None


def worth_a_look(connection, top: int) -> list[dict]:
    """The `top` inspections by the ranking rule of this module's docstring."""
    stored = connection.execute(select(inspections.c.id, inspections.c.image, inspections.c.novel)
                                .where(inspections.c.error.is_(None))).all()
    parts = defaultdict(dict)
    for row in connection.execute(select(results.c.inspection_id, results.c.task, results.c["columns"],
                                         results.c.vote)):
        parts[row.inspection_id][row.task] = (row.columns, row.vote)
    scores = defaultdict(list)  # (task, column) -> sorted values, for the rank of a score
    for found in parts.values():
        for task, (columns, _) in found.items():
            for column, value in columns.items():
                if kind(column) == "score" and number(value):
                    scores[task, column].append(value)
    for values in scores.values():
        values.sort()
    ranked = []
    for inspection, image, novel in stored:
        found = parts.get(inspection, {})
        votes = [vote for _, vote in found.values() if vote is not None]
        doubt, because = 0.0, None
        for task, (columns, _) in found.items():
            for column, value in columns.items():
                if not number(value) or kind(column) is None:
                    continue
                if kind(column) == "confidence":
                    this = 1.0 - value
                else:
                    values = scores[task, column]
                    this = bisect_left(values, value) / max(len(values) - 1, 1)
                if because is None or this > doubt:
                    doubt, because = this, f"{task}.{column} = {value}"
        ranked.append({"inspection": inspection, "image": image, "novel": novel, "votes": sum(votes),
                       "voters": len(votes), "doubt": round(doubt, 4), "because": because})
    ranked.sort(key=lambda r: (r["novel"] is not True, -r["votes"], -r["doubt"], r["inspection"]))
    return ranked[:top]


def number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
