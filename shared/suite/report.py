"""The evaluation report: one self-contained HTML page drawn from evaluation.json with Jinja2 (autoescaped), every
figure embedded as a base64 PNG, so the file opens offline and can be mailed on its own."""
from __future__ import annotations

import base64
import json
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape


def embed(path: str | Path) -> str:
    """A PNG file as a data URI."""
    return "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode("ascii")


def write_report(evaluation: str | Path, out: str | Path) -> Path:
    """OUT (HTML) from an evaluation.json; figures are read from the paths it names."""
    data = json.loads(Path(evaluation).read_text())
    env = Environment(loader=PackageLoader("shared.suite", "templates"), autoescape=select_autoescape(["html"]))
    env.filters["embed"] = embed
    env.filters["num"] = lambda v, digits=3: "—" if v is None else f"{v:.{digits}f}"
    env.filters["pct"] = lambda v: "—" if v is None else f"{v:.2%}"
    tasks = [t for t in ("classification", "detection", "anomaly") if t in data]
    html = env.get_template("report.html").render(e=data, tasks=tasks)
    out = Path(out)
    out.write_text(html, encoding="utf-8")
    return out
