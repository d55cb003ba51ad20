"""The task spec: everything generic code (CLI, inspection, evaluation, report, demo, service) needs to know of a
task, as one frozen dataclass. A task is its own package plus one line in shared/suite/registry.py; nothing
outside the package names it. Hooks are plain functions; the heavy ones (`train`, `load`, `export`) import their
ML framework when first called (registry.lazy), so reading a spec loads no framework."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .options import Option


@dataclass(frozen=True)
class Metric:
    """A headline number of a task's evaluation metrics: `key` is its dotted path in the metrics dict, `name` the
    stable short name results use (`<task>_<name>` in the demo summary), `label` what a card shows, `style` 'pct' or
    'num', `note` a few words under it, `target` what the demo must reach (None: no target)."""

    key: str
    name: str
    label: str
    style: str = "num"
    note: str = ""
    target: float | None = None

    def value(self, metrics: dict) -> float | None:
        for part in self.key.split("."):
            metrics = metrics.get(part) if isinstance(metrics, dict) else None
        return metrics

    def text(self, metrics: dict) -> str:
        value = self.value(metrics)
        if value is None:
            return "—"
        return f"{value:.2%}" if self.style == "pct" else f"{value:.3f}"


def scalar_columns(part: dict) -> dict:
    """A task's record part as flat table columns: scalars as they are, dicts as `<key>_<name>`, lists counted.
    Private keys ('_...') are left out."""
    row = {}
    for key, value in part.items():
        if key.startswith("_"):
            continue
        if isinstance(value, list):
            row[key] = len(value)
        elif isinstance(value, dict):
            row.update({f"{key}_{k}": v for k, v in value.items() if not isinstance(v, (dict, list))})
        else:
            row[key] = value
    return row


def no_reference(split: str) -> list[dict]:
    return []


@dataclass(frozen=True)
class TaskSpec:
    """One task as the suite sees it.

    Names and help: `name` (the CLI's and the records' key), `title`, `help`, `description`, `examples`,
    `aliases` (other spellings accepted wherever a task is named, e.g. on the HTTP API).
    Training and runs: `recipe` (a shared.suite.recipe.Recipe subclass), `train(recipe, progress) -> Run`,
    `load(path) -> Run` (safe loaders only), `export(run) -> (model.onnx, difference)` or None.
    Options: `predict_options` and `evaluate_options` ({name: Option}); `run.predictor(**options)` and
    `run.evaluate(side, **options)` take them.
    Results: `summary(metrics) -> str` (console), `evaluation(run, pictures, out, progress) -> {"metrics",
    "figures"}` (its part of `defectlab evaluate`), `headline` (Metric: cards, demo, console), `metrics_schema`
    (JSON Schema of its evaluation metrics), `report_table(metrics) -> {"columns", "rows"}` and
    `report_note(section) -> str` (its report section), `references(split) -> [{"what", "split", "number"}]`.
    Records: `record_schema` (JSON Schema of its part of a record: OpenAPI, docs), `columns(part, truth) -> dict`
    (its flat columns of a table row: CSV, the report's per-picture table, databases; `truth` is the picture's
    true class or None), `answer_column` (the column naming the class it predicts, for the cross-task agreement),
    `novelty(part) -> bool` (its vote in the `novel` rule: a picture is novel when every loaded task that votes
    says so; None: it does not vote), `novelty_text` (the vote in words, e.g. `TASK.confidence < 0.9`),
    `novelty_score` (the field of its part holding a score, higher for pictures less like those it was fitted on:
    a calibrated `novel` flag standardises each voter's per class named by a voter with an `answer_column` and
    takes the largest, shared.suite.novel).
    Calibration: `calibrate(run path, pictures, alpha, confidence, name, force, options, progress) -> dict` sets
    the threshold of its vote from a user's known-good pictures for a false-alarm rate alpha
    (shared.suite.calibration), writes RUN/calibrations/NAME.json and returns it; its predict option
    `calibration=NAME` puts it in force. None: nothing to calibrate.
    The CLI: `register_verbs(verbs, common)` adds verbs beyond train / evaluate / predict / export.
    """

    name: str
    title: str
    help: str
    description: str
    examples: str
    recipe: type
    train: Callable
    load: Callable
    summary: Callable[[dict], str]
    evaluation: Callable
    headline: tuple[Metric, ...]
    record_schema: dict
    predict_options: dict[str, Option] = field(default_factory=dict)
    evaluate_options: dict[str, Option] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()
    export: Callable | None = None
    register_verbs: Callable | None = None
    metrics_schema: dict = field(default_factory=dict)
    report_table: Callable[[dict], dict] | None = None
    report_note: Callable[[dict], str] | None = None
    references: Callable[[str], list] = no_reference
    columns: Callable[[dict, Any], dict] = lambda part, truth=None: scalar_columns(part)
    answer_column: str | None = None
    novelty: Callable[[dict], bool] | None = None
    novelty_text: str = ""
    novelty_score: str | None = None
    calibrate: Callable | None = None

    # the names kept from the module contract, so `spec.TASK` / `spec.Recipe` read as before
    @property
    def TASK(self) -> str:
        return self.name

    @property
    def Recipe(self) -> type:
        return self.recipe

    def scores(self, metrics: dict) -> dict:
        """{<task>_<metric name>: value} of the headline metrics."""
        return {f"{self.name}_{m.name}": m.value(metrics) for m in self.headline}
