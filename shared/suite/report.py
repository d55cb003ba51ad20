"""The evaluation report: one self-contained HTML page drawn from evaluation.json with Jinja2 (autoescaped), every
figure embedded as a base64 PNG, so the file opens offline and can be mailed on its own.

Nothing here knows a task: each registered task present in the file brings its cards (its spec's `headline`), its
section (`title`, `report_note`, `report_table`, the figures), its reference rows (`references`) and its columns of
the per-picture table (the rows' own keys, in their order)."""
from __future__ import annotations

import base64
import json
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape

from . import registry

TRUTH = ("picture_id", "true_class", "true_boxes")  # the per-picture table's first columns
HIDDEN = ("path", "error")  # the path is long and the picture id names it; an error spans the row instead


def embed(path: str | Path) -> str | None:
    """A PNG file as a data URI; None when the file is gone (a report redrawn from an older evaluation.json)."""
    path = Path(path)
    if not path.is_file():
        return None
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def cell(value, digits: int = 3) -> str:
    """A table cell: floats to `digits` places, lists joined, None as a dash."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value))
    return str(value)


def row_columns(rows: list[dict]) -> list[str]:
    """The per-picture table's columns: the truth first, then every other key of the rows in the rows' own order
    (a key one row lacks, e.g. a class named only where boxes were found, goes where the rows that have it put it)."""
    order: list[str] = list(TRUTH)
    for row in rows:
        before = None
        for key in row:
            if key not in order:
                order.insert(order.index(before) + 1 if before else len(TRUTH), key)
            before = key
    return [key for key in order if key not in HIDDEN]


def is_wrong(row: dict) -> bool:
    """A row some task answered wrongly: any `*_correct` column false."""
    return any(value is False for key, value in row.items() if key.endswith("_correct"))


def headline_text(spec, metrics: dict) -> str:
    return ", ".join(f"{metric.label} {metric.text(metrics)}" for metric in spec.headline)


def task_views(data: dict) -> list[dict]:
    """Each registered task present in the evaluation, as the template draws it."""
    views = []
    for name in registry.names():
        section = data.get(name)
        if not isinstance(section, dict) or "metrics" not in section:
            continue
        spec, metrics = registry.task(name), section["metrics"]
        refs = data.get("references", {}).get(name)
        if not isinstance(refs, list):  # an older layout: the spec's rows for the evaluation's split
            refs = [{**ref, "same_split": ref["split"] == data.get("split_name")}
                    for ref in spec.references(data.get("split_name", ""))]
        views.append({
            "name": name, "title": spec.title, "section": section,
            "cards": [{"label": m.label, "text": m.text(metrics), "note": m.note} for m in spec.headline],
            "note": spec.report_note(section) if spec.report_note else "",
            "table": spec.report_table(metrics) if spec.report_table else None,
            "figures": [{"title": title, "src": embed(path), "path": path}
                        for title, path in section.get("figures", {}).items()],
            "references": refs, "ours": headline_text(spec, metrics)})
    return views


def write_report(evaluation: str | Path, out: str | Path) -> Path:
    """OUT (HTML) from an evaluation.json; figures are read from the paths it names."""
    data = json.loads(Path(evaluation).read_text())
    env = Environment(loader=PackageLoader("shared.suite", "templates"), autoescape=select_autoescape(["html"]))
    env.filters["cell"] = cell
    rows = data["inspection"]["rows"]
    rule = data["inspection"].get("novel_rule", {})
    html = env.get_template("report.html").render(
        e=data, tasks=task_views(data), columns=row_columns(rows), wrong=is_wrong,
        rule_extra={k: v for k, v in rule.items() if k not in ("rule", "voters")})
    out = Path(out)
    out.write_text(html, encoding="utf-8")
    return out
