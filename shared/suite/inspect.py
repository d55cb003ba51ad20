"""Inspect pictures with every task's run at once: each picture is decoded once, every predictor sees the same
pixels, and one record per picture carries each task's answer under the task's name.

Record: the shared `image`, `width`, `height` (or `error` when the picture cannot be read), then one key per task
(the task's name in the registry) holding that task's record fields (its spec's `record_schema`), and `novel` when
every task that votes in the novel rule ran (novel_rule); under a novel calibration also `novel_score` (the
standardised score) and `novel_calibration` (its name).
"""
from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ..datasets.images import decode_input, expand_image_inputs
from . import registry
from .errors import DataError
from .options import resolve
from .predictor import input_name, picture_stem, public, write_drift, write_records


def default_run(task: str, runs_root: str | Path = "runs") -> Path:
    """Where `defectlab TASK train` puts a run of the default recipe: RUNS/<task>/<run name>."""
    recipe_class = registry.task(task).Recipe
    recipe = recipe_class.from_preset(recipe_class.DEFAULT_PRESET)
    return Path(runs_root) / task / recipe.run_name()


def find_runs(given: dict[str, str | Path] | None = None, runs_root: str | Path = "runs",
              tasks=None) -> dict[str, Path]:
    """{task: run folder}: the folders given, else each task's default run under runs_root. A missing one is a
    one-line DataError naming the command that trains it."""
    found = {}
    for task in tasks or registry.names():
        path = Path((given or {}).get(task) or default_run(task, runs_root))
        if not (path / "data.json").is_file():
            raise DataError(path, f"no {task} run here; train one with `defectlab {task} train data=...` "
                                  f"(or name another with --runs {task}=PATH)")
        found[task] = path
    return found


def predict_options(pairs, tasks=None) -> dict[str, dict]:
    """{task: {option: value}} from 'TASK.OPTION=VALUE' strings (TASK by name or alias), typed and checked by the
    task's predict_options, the parser every verb uses. A bad one is a one-line ValueError naming what it takes."""
    from .novel import split_option

    tasks = tasks or registry.names()
    given = {}
    for pair in split_option(pairs)[1]:  # novel.calibration=NAME is the novel flag's, not a task's
        head, equals, value = pair.partition("=")
        task, dot, name = head.partition(".")
        try:
            task = registry.canonical(task)
        except KeyError:
            task = None
        if not (equals and dot) or task is None:
            raise ValueError(f"{pair!r}: want TASK.OPTION=VALUE, TASK one of {', '.join(registry.names())}")
        if task not in tasks:
            raise ValueError(f"{pair!r}: {task} is not loaded (tasks: {', '.join(tasks)})")
        given.setdefault(task, {})[name] = value
    return {task: {name.replace("-", "_"): value for name, value in
                   resolve(registry.task(task).predict_options, values, f"{task}.").items() if name in
                   {n.replace("-", "_") for n in values}}
            for task, values in given.items()}


def member_runs(path: str | Path, options: dict) -> list[Path]:
    """The run folders a task's predictor loads: its own and those fused with it (the detector's `fuse_with`)."""
    return [Path(path), *(Path(p.strip()) for p in options.get("fuse_with", "").split(",") if p.strip())]


def predictor_of(run, options: dict, onnx: bool = False):
    """run.predictor with a task's prediction options (predict_options), under ONNX Runtime with onnx."""
    return run.predictor(**{**options, **({"onnx": True} if onnx else {})})


def novel_rule(calibrated=None) -> dict:
    """A picture of a kind no model was trained on is `novel` when every task that votes says so (one flags it as
    unlike every picture it was fitted on; another, which must still name a known class, is unsure). Under a novel
    calibration (`calibrated`, shared.suite.novel.Calibrated): when the largest of the scoring voters' scores, each
    standardised for the class the naming voter gives, is above the calibrated threshold. Measured on NEU leave-one-class-out:
    scripts/benchmarks/results/novelty.json."""
    voters = [t for t in registry.names() if registry.task(t).novelty is not None]
    if calibrated is not None:
        from .novel import voters_of

        parts = calibrated.parts
        scores = [f"{t}.{registry.task(t).novelty_score}" for t in parts["scores"] if t in calibrated.scale]
        said = (f"{'the largest of ' if len(scores) > 1 else ''}{', '.join(scores)} standardised for the "
                f"{parts['class']}.{registry.task(parts['class']).answer_column} > {calibrated.threshold:.4g} "
                f"(calibration {calibrated.name})")
        return {"rule": said, "voters": voters_of(parts), "calibrated": calibrated}
    return {"rule": " and ".join(registry.task(t).novelty_text or f"{t} votes novel" for t in voters),
            "voters": voters}


def is_novel(record: dict, rule: dict | None = None) -> bool | None:
    """The novel rule on one record; None when a voting task did not run."""
    return judge(record, rule).get("novel")


def judge(record: dict, rule: dict | None = None) -> dict:
    """The record's `novel` (and under a calibration `novel_score`, `novel_calibration`); {} when a voting task
    did not run."""
    rule = rule or novel_rule()
    voters = rule["voters"]
    if not voters or any(not record.get(task) for task in voters):
        return {}
    if rule.get("calibrated") is not None:
        return rule["calibrated"].judge(record)
    return {"novel": all(registry.task(task).novelty(record[task]) for task in voters)}


def ensure_onnx(task: str, path: str | Path, run=None) -> None:
    """Export the run at `path` (loaded here unless given) to model.onnx, checked against its framework and the
    difference printed, unless it is there already."""
    if not (Path(path) / "model.onnx").is_file():
        spec = registry.task(task)
        exported, difference = spec.export(run or spec.load(path))
        print(f"[{task}] exported {exported} (max |framework - ONNX Runtime| {difference:.1e} of the largest output)")


class Inspector:
    def __init__(self, predictors: dict, batch_size: int = 16, rule: dict | None = None, threads: bool = False):
        self.predictors, self.batch_size, self.novel_rule = predictors, batch_size, rule or novel_rule()
        # threads: the models of a batch run at once, one thread each (a predictor stays in one thread at a time),
        # so that one model's Python steps overlap another's native kernels on the other core
        self.threads, self._executor = threads, None
        self.predict_seconds = {}  # per task, accumulated: each model's own time on the pictures

    @classmethod
    def from_runs(cls, runs: dict[str, str | Path], batch_size: int = 16, onnx: bool = False,
                  threads: bool | None = None, options: dict | None = None, novel: str | None = None) -> Inspector:
        """onnx: every model under ONNX Runtime, exported first (and checked) where a run has no model.onnx yet.
        threads (default: with onnx): the models of a batch at once (33.0 vs 28.7 images/s here, inspect.json).
        options: {task: run.predictor's keyword arguments} (predict_options). novel: the novel calibration in force
        (shared.suite.novel)."""
        predictors, options, loaded = {}, options or {}, {}
        for task, path in runs.items():
            run = loaded[task] = registry.task(task).load(path)
            if onnx:
                ensure_onnx(task, path, run)
                for partner in member_runs(path, options.get(task, {}))[1:]:
                    ensure_onnx(task, partner)
            predictors[task] = predictor_of(run, options.get(task, {}), onnx)
        rule = None
        if novel:
            from .novel import load

            scoring = {task: {**options.get(task, {}), **({"onnx": True} if onnx else {})} for task in runs}
            rule = novel_rule(load(runs, novel, scoring, loaded))
        return cls(predictors, batch_size, rule=rule, threads=onnx if threads is None else threads)

    def iter_pairs(self, images, progress: bool = False) -> Iterator[tuple[dict, np.ndarray | None]]:
        """(record, decoded picture or None) in input order, batch by batch (memory bounded by batch_size)."""
        items = expand_image_inputs(images)
        bar = tqdm(total=len(items), desc="[inspect] pictures", unit="img", disable=not progress or None)
        for start in range(0, len(items), self.batch_size):
            pairs = []
            for number, item in enumerate(items[start:start + self.batch_size], start=start):
                record = {"image": input_name(item, number)}
                try:
                    image = decode_input(item)
                except DataError as error:
                    pairs.append(({**record, "error": str(error)}, None))
                else:
                    pairs.append(({**record, "width": int(image.shape[1]), "height": int(image.shape[0])}, image))
            ready = [(record, image) for record, image in pairs if image is not None]
            if ready:
                arrays = [image for _, image in ready]
                if self.threads:
                    futures = {task: self._pool().submit(self._timed, task, arrays) for task in self.predictors}
                    answers = {task: future.result() for task, future in futures.items()}
                else:
                    answers = {task: self._timed(task, arrays) for task in self.predictors}
                for task, results in answers.items():
                    for (record, _), result in zip(ready, results):
                        record[task] = result
                for record, _ in ready:
                    record.update(judge(record, self.novel_rule))
            bar.update(len(pairs))
            yield from pairs
        bar.close()

    def _timed(self, task: str, arrays: list) -> list[dict]:
        started = time.perf_counter()
        results = self.predictors[task].predict_arrays(arrays)
        self.predict_seconds[task] = self.predict_seconds.get(task, 0.0) + time.perf_counter() - started
        return results

    def _pool(self):
        if self._executor is None:
            from concurrent.futures import ThreadPoolExecutor

            self._executor = ThreadPoolExecutor(len(self.predictors), thread_name_prefix="inspect")
        return self._executor

    def inspect(self, images, progress: bool = False) -> list[dict]:
        return [_public(record) for record, _ in self.iter_pairs(images, progress)]

    def inspect_to(self, images, out: str | Path, progress: bool = False, draw: bool = True) -> list[dict]:
        """inspect + OUT/predictions.json, OUT/predictions.csv and OUT/pictures/<stem>.png: every task's picture
        side by side; OUT/drift.json when a task runs under a calibration (watch)."""
        out = Path(out)
        records = []
        for number, (record, image) in enumerate(self.iter_pairs(images, progress)):
            if draw and image is not None:
                target = out / "pictures" / f"{picture_stem(record, number)}.png"
                target.parent.mkdir(parents=True, exist_ok=True)
                self.composite(record, image).save(target)
                record["picture"] = str(target)
            records.append(_public(record))
        write_records(records, out, self.csv_rows)
        write_drift(self.watch(), out)
        return records

    def watch(self) -> dict:
        """{task: drift summary} of each predictor under a calibration: its recent scores against the
        calibration's (shared.suite.calibration.Watch)."""
        watching = {task: p.watch() for task, p in self.predictors.items() if hasattr(p, "watch")}
        if self.novel_rule.get("calibrated") is not None:
            watching["novel"] = self.novel_rule["calibrated"].watcher.summary()
        return {task: found for task, found in watching.items() if found is not None}

    def composite(self, record: dict, image: np.ndarray):
        """Each task's drawing of the picture, scaled to one height, left to right."""
        from PIL import Image

        parts = [self.predictors[task].draw(record[task], image) for task in self.predictors]
        parts = [p for p in parts if p is not None] or [Image.fromarray(image)]
        height = max(p.height for p in parts)
        parts = [p.resize((max(1, round(p.width * height / p.height)), height)) for p in parts]
        canvas = Image.new("RGB", (sum(p.width for p in parts), height), "white")
        left = 0
        for part in parts:
            canvas.paste(part.convert("RGB"), (left, 0))
            left += part.width
        return canvas

    def csv_rows(self, record: dict) -> list[dict]:
        """One row per picture: each task's flat fields prefixed with the task name (boxes counted)."""
        row = {k: v for k, v in record.items() if k not in self.predictors}
        for task in self.predictors:
            for key, value in (record.get(task) or {}).items():
                if isinstance(value, list):
                    row[f"{task}_{key}"] = len(value)
                elif isinstance(value, dict):
                    row.update({f"{task}_{key}_{k}": v for k, v in value.items()})
                else:
                    row[f"{task}_{key}"] = value
        return [row]


def _public(record: dict) -> dict:
    return {k: public(v) if isinstance(v, dict) else v for k, v in public(record).items()}
