"""The suite's evaluation: every task's run scored on the test side of one named split of one dataset, the whole
inspection timed on the same pictures, one `evaluation.json` (schema: README, "evaluation.json") and the HTML report
drawn from it.

Runs come from --runs TASK=PATH, else from RUNS_ROOT/<task>/<run name of the task's recipe on this data and split>;
a missing one is trained with the task's default recipe when `train_missing`, else a one-line error names the
command. The tasks are the registry's, read when called (a task registered at run time takes part). Each task's own
numbers come from its spec's `evaluation(run, pictures, out, progress)` hook (the test side, or the task's own
protocol on the same split), its reference numbers from `references(split)`, its columns of the cross-task table
from `columns(part, truth)`; the table and the speeds come from one `Inspector` pass over the test pictures."""
from __future__ import annotations

import time
from pathlib import Path

from ..datasets.index import BOXED_SOURCES, read_dataset
from ..datasets.splits import make_split
from . import registry
from .errors import DataError
from .inspect import Inspector
from .provenance import PROVENANCE_KEYS, plain, with_provenance, write_json

SCHEMA = "defectlab.evaluation/1"
SCHEMA_FILE = Path(__file__).parent / "schemas" / "evaluation.schema.json"


def run_recipe(task: str, data, split: str, preset: str | None = None, runs_root: str | Path = "runs", **fields):
    """The recipe `evaluate` trains when a run is missing: the task's preset (default recipe) on this data and split."""
    recipe_class = registry.task(task).Recipe
    return recipe_class.from_preset(preset or recipe_class.DEFAULT_PRESET, data=str(data), split=split,
                                    out=str(Path(runs_root) / task), **fields)


def obtain_run(task: str, recipe, path: str | Path | None = None, train_missing: bool = False,
               progress: bool = True):
    """The run at `path` (or where `recipe` puts it); trained from `recipe` when missing and `train_missing`."""
    spec = registry.task(task)
    path = Path(path) if path else recipe.run_dir()
    if (path / "data.json").is_file():
        run = spec.load(path)
        if run.data_info.get("split") != recipe.split_name():
            raise DataError(path, f"trained on split {run.data_info.get('split')}, not {recipe.split}; evaluate on "
                                  "that split or train on this one")
        return run
    if not train_missing:
        raise DataError(path, f"no {task} run here; train one with `defectlab {task} train data={recipe.data} "
                              f"split={recipe.split}`, name one with --runs {task}=PATH, or pass --train-missing")
    print(f"[evaluate] training the missing {task} run ({recipe.preset}) -> {path}", flush=True)
    return spec.train(recipe, progress=progress)


def test_pictures(data, split: str):
    """([one entry per test picture of the split (its boxed copy where there is one): path, class, true boxes],
    the dataset index)."""
    index, _ = read_dataset(data, progress=False)
    index = index.assign(side=make_split(index, split).to_numpy(), boxed=index["source"].isin(BOXED_SOURCES))
    test = index[index["side"] == "test"]
    copies = test.groupby("picture_id")["path"].agg(list)
    test = test.sort_values(["boxed", "picture_id"], ascending=[False, True]).drop_duplicates("picture_id")
    return [{"path": row.path, "picture_id": row.picture_id, "class": row.class_name, "boxes": list(row.boxes),
             "paths": copies[row.picture_id]} for row in test.sort_values("picture_id").itertuples()], index


def evaluate_suite(data, split: str = "kaggle-det", runs: dict | None = None, runs_root: str | Path = "runs",
                   out: str | Path = "runs/evaluation", train_missing: bool = False, presets: dict | None = None,
                   tasks=None, batch_size: int = 16, progress: bool = True,
                   command: str | None = None, recipe_fields: dict | None = None) -> dict:
    """Evaluate `tasks` (default: every registered task) on `split` of `data`, time the inspection, write
    OUT/evaluation.json + OUT/report.html."""
    out = Path(out)
    tasks = tuple(tasks or registry.names())
    started = time.perf_counter()
    pictures, index = test_pictures(data, split)
    if not pictures:
        raise DataError(data, f"split {split} has no test pictures")
    sections, live = {}, {}
    for task in tasks:
        recipe = run_recipe(task, data, split, (presets or {}).get(task), runs_root, **(recipe_fields or {}).get(task, {}))
        run = obtain_run(task, recipe, (runs or {}).get(task), train_missing, progress)
        print(f"[evaluate] {task}: scoring {run.path}", flush=True)
        section = registry.task(task).evaluation(run, pictures, out / task, progress=progress)
        section = {"run": str(run.path), "recipe": run.recipe.to_dict(), "train_seconds": _train_seconds(run),
                   "metrics": without_provenance(section["metrics"]),
                   "figures": {title: str(path) for title, path in section["figures"].items()}}
        sections[task], live[task] = section, run
    print(f"[evaluate] inspecting the {len(pictures)} test pictures with every run", flush=True)
    inspection = inspect_pictures(live, pictures, batch_size, progress)
    for task in tasks:
        sections[task]["images_per_second"] = inspection["images_per_second"][task]
    result = {
        "schema": SCHEMA, "dataset": str(data), "split_name": split, "test_pictures": len(pictures),
        **sections,
        "inspection": inspection,
        "timings": {"train_seconds": {t: sections[t]["train_seconds"] for t in tasks},
                    "images_per_second": inspection["images_per_second"],
                    "evaluation_seconds": round(time.perf_counter() - started, 1)},
        "references": references(split, tasks),
    }
    result = with_provenance(result, split=f"{split} (test side, {len(pictures)} pictures)", index=index,
                             command=command)
    validate(result)
    path = write_json(out / "evaluation.json", result)
    from .report import write_report

    result["report"] = str(write_report(path, out / "report.html"))
    return result


def validate(result: dict) -> None:
    """Check an evaluation against schemas/evaluation.schema.json and each registered task's section's metrics
    against that task's `metrics_schema` (with the evaluation schema's $defs: unit, matrix); a mismatch is a
    ValueError naming where."""
    import json

    schema = json.loads(SCHEMA_FILE.read_text())
    result = json.loads(json.dumps(result, default=plain))
    _check(result, schema, "")
    for task in registry.names():
        section, spec = result.get(task), registry.task(task)
        if isinstance(section, dict) and isinstance(section.get("metrics"), dict) and spec.metrics_schema:
            own = {**spec.metrics_schema, "$defs": {**schema["$defs"], **spec.metrics_schema.get("$defs", {})}}
            _check(section["metrics"], own, f"{task}/metrics/")


def _check(value, schema: dict, prefix: str) -> None:
    import jsonschema

    try:
        jsonschema.validate(value, schema)
    except jsonschema.ValidationError as error:
        where = (prefix + "/".join(map(str, error.absolute_path))).rstrip("/") or "(top)"
        raise ValueError(f"evaluation.json does not fit its schema at {where}: {error.message}") from None


def without_provenance(metrics: dict) -> dict:
    """A task's metrics without the provenance keys (evaluation.json carries its own once)."""
    return {k: v for k, v in metrics.items() if k not in PROVENANCE_KEYS}


def _train_seconds(run) -> float | None:
    """From the live run's timings, else its training.json (where a fitted, not trained, run names it fit_seconds)."""
    import json

    training = run.path / "training.json"
    timings = run.timings or (json.loads(training.read_text()) if training.is_file() else {})
    return timings.get("train_seconds", timings.get("fit_seconds"))


def inspect_pictures(runs: dict, pictures: list[dict], batch_size: int = 16, progress: bool = True) -> dict:
    """Every run on every test picture in one pass: the cross-task table and images/s of each model and of the
    whole inspection (decoding included)."""
    inspector = Inspector({task: run.predictor() for task, run in runs.items()}, batch_size)
    paths = [p["path"] for p in pictures]
    started = time.perf_counter()
    records = list(inspector.iter_pairs(paths, progress=progress))
    seconds = time.perf_counter() - started
    table = [cross_row(picture, record, tuple(runs)) for picture, (record, _) in zip(pictures, records)]
    count = len(paths)
    return {
        "rows": table,
        "images_per_second": {**{t: round(count / s, 1) for t, s in inspector.predict_seconds.items()},
                              "inspection": round(count / seconds, 1)},
        "batch_size": batch_size, "pictures": count, "novel_rule": inspector.novel_rule,
    }


def cross_row(picture: dict, record: dict, tasks=None) -> dict:
    """A row of the per-picture cross-task table: the truth, each task's columns (its spec's `columns`), and
    `classes_agree` where two or more tasks name a class (their `answer_column`): whether they all name the same."""
    row = {"picture_id": picture["picture_id"], "path": picture["path"], "true_class": picture["class"],
           "true_boxes": len(picture["boxes"])}
    if "error" in record:
        return {**row, "error": record["error"]}
    answers = []
    for task in tasks or registry.names():
        part = record.get(task)
        if not part:
            continue
        spec = registry.task(task)
        columns = spec.columns(part, picture["class"])
        row.update(columns)
        if columns.get(spec.answer_column) is not None:
            answers.append(columns[spec.answer_column])
    if len(answers) > 1:
        row["classes_agree"] = len(set(answers)) == 1
    if "novel" in record:
        row["novel"] = record["novel"]
    return row


def references(split: str, tasks=None) -> dict:
    """{task: [{what, split, number, same_split}]}: the reference numbers each task's spec shows beside ours, each
    with its split (comparable only where it equals ours)."""
    refs = {}
    for task in tasks or registry.names():
        rows = registry.task(task).references(split)
        if rows:
            refs[task] = [{**row, "same_split": row["split"] == split} for row in rows]
    return refs
