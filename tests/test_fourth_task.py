"""A fourth task, registered here and nowhere else, goes through train, evaluate, inspect, the HTML report and the
service: the generic code asks the registry and the task's spec, never a task by name. The task is tiny on
purpose: each class's mean brightness, and a picture's nearest class by it."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

from shared.suite import registry
from shared.suite.options import Option, table
from shared.suite.predictor import Predictor
from shared.suite.recipe import Recipe, option
from shared.suite.run import Run
from shared.suite.spec import Metric, TaskSpec

NAME = "brightness"
PREDICT_OPTIONS = table(Option("scale", float, 1.0, "brightness is reported times this", request=True),
                        Option("batch_size", int, 8, "pictures at a time"))


@dataclass
class BrightnessRecipe(Recipe):
    TASK: ClassVar[str] = NAME
    PRESETS: ClassVar[dict] = {"means": {}}
    DEFAULT_PRESET: ClassVar[str] = "means"

    split: str = option("kaggle-det", "named split")
    gain: float = option(1.0, "brightness is multiplied by this")


class BrightnessPredictor(Predictor):
    task = NAME

    def __init__(self, means: dict, gain: float, scale: float, batch_size: int):
        self.means, self.gain, self.scale, self.batch_size = means, gain, scale, batch_size

    def predict_arrays(self, images):
        out = []
        for image in images:
            value = float(image.mean()) * self.gain
            nearest = min(self.means, key=lambda c: abs(self.means[c] - value))
            out.append({"brightness": round(value * self.scale, 4), "nearest": nearest})
        return out


class BrightnessRun(Run):
    TASK = NAME
    MODEL_FILE = "means.json"
    PREDICT_OPTIONS = PREDICT_OPTIONS

    def build_predictor(self, scale: float, batch_size: int):
        return BrightnessPredictor(self.model, self.recipe.gain, scale, batch_size)

    def evaluate(self, side: str = "test", progress: bool = False) -> dict:
        from shared.datasets.index import read_dataset
        from shared.datasets.splits import make_split

        index, _ = read_dataset(self.recipe.data, progress=False)
        part = index[make_split(index, self.recipe.split).to_numpy() == side]
        records = self.predictor().predict(list(part["path"]))
        correct = sum(r["nearest"] == c for r, c in zip(records, part["class_name"]))
        return self.write_metrics({"accuracy": correct / len(part), "n": len(part)}, side)


def train(recipe, progress: bool = False):
    from shared.datasets.images import decode_input
    from shared.datasets.index import read_dataset
    from shared.datasets.splits import make_split
    from shared.suite.provenance import data_fingerprint

    index, _ = read_dataset(recipe.data, progress=False)
    sides = make_split(index, recipe.split).to_numpy()
    trained = index[sides == "train"]
    means = {c: float(np.mean([decode_input(p).mean() * recipe.gain for p in group["path"]]))
             for c, group in trained.groupby("class_name")}
    run = BrightnessRun(recipe.run_dir(), recipe, sorted(means), {
        "split": recipe.split_name(), "data_fingerprint": data_fingerprint(index), "dataset": recipe.data})
    run.save_description()
    run.write_json(BrightnessRun.MODEL_FILE, means)
    run.model = means
    return run


def load(path):
    recipe, classes, info = BrightnessRun.read_description(path, BrightnessRecipe)
    return BrightnessRun(Path(path), recipe, classes, info, model=json.loads((Path(path) / "means.json").read_text()))


SPEC = TaskSpec(
    name=NAME, title="Brightness", help="the nearest class by mean brightness", description="A test task.",
    examples="", recipe=BrightnessRecipe, train=train, load=load,
    summary=lambda m: f"accuracy {m['accuracy']:.2%}",
    evaluation=lambda run, pictures, out, progress=False: {"metrics": run.evaluate("test"), "figures": {}},
    headline=(Metric("accuracy", "accuracy", "brightness accuracy", "pct", "test side"),),
    record_schema={"type": "object", "properties": {"brightness": {"type": "number"}, "nearest": {"type": "string"}}},
    predict_options=PREDICT_OPTIONS,
    metrics_schema={"type": "object", "required": ["accuracy"]},
    report_table=lambda m: {"columns": ["pictures", "accuracy"], "rows": [[m["n"], m["accuracy"]]]},
    columns=lambda part, truth=None: {"brightness": part["brightness"], "nearest": part["nearest"]},
    answer_column="nearest")


@pytest.fixture
def fourth_task():
    registry.register(SPEC)
    yield SPEC
    registry.unregister(NAME)


def test_a_fourth_task_runs_through_every_generic_path(fourth_task, synthetic_root, tmp_path, capsys):
    from shared.suite.cli import main
    from shared.suite.evaluate import evaluate_suite

    data = synthetic_root / "NEU-DET"
    assert main([NAME, "train", f"data={data}", f"out={tmp_path / 'runs'}", "gain=1.0"]) == 0  # the generated verb
    run_dir = tmp_path / "runs" / "means-kaggle-det-seed0"
    assert "accuracy" in capsys.readouterr().out and (run_dir / "means.json").is_file()
    assert main([NAME, "evaluate", str(run_dir)]) == 0

    # inspect: its record under its name, its option as TASK.OPTION=VALUE
    image = min((data / "IMAGES").glob("*.jpg"))
    capsys.readouterr()
    assert main(["inspect", str(image), "--tasks", NAME, "--runs", f"{NAME}={run_dir}", f"{NAME}.scale=2"]) == 0
    record = json.loads(capsys.readouterr().out)[0]
    plain = registry.task(NAME).load(run_dir).predictor().predict([str(image)])[0]
    assert record[NAME]["nearest"] == plain["nearest"]
    assert record[NAME]["brightness"] == pytest.approx(2 * plain["brightness"], rel=1e-6)

    # the suite's evaluation and its HTML report
    result = evaluate_suite(data, "kaggle-det", runs={NAME: run_dir}, tasks=(NAME,), out=tmp_path / "evaluation",
                            progress=False)
    assert result[NAME]["metrics"]["accuracy"] == json.loads((run_dir / "metrics.json").read_text())["accuracy"]
    classes = json.loads((run_dir / "data.json").read_text())["classes"]
    assert result["inspection"]["rows"][0]["nearest"] in classes  # its columns in the per-picture table
    report = Path(result["report"]).read_text()
    assert "Brightness" in report and "brightness accuracy" in report

    # the service: its record in the answer and the API description, its request option per request
    from service.app import create_app
    from service.settings import Settings

    client = create_app(Settings(runs={NAME: str(run_dir)}, tasks=(NAME,))).test_client()
    answers = [client.post(f"/v1/inspect{query}", data=image.read_bytes(), content_type="image/jpeg").get_json()
               for query in ("", f"?{NAME}.scale=3", "?scale=3", "")]
    assert answers[0][NAME]["brightness"] == pytest.approx(plain["brightness"], rel=1e-6)
    assert answers[1][NAME]["brightness"] == pytest.approx(3 * plain["brightness"], rel=1e-6) == \
        answers[2][NAME]["brightness"]
    assert answers[3][NAME] == answers[0][NAME]  # a request's option changed no shared predictor
    spec = client.get("/openapi.json").get_json()
    assert NAME in json.dumps(spec["paths"]["/v1/inspect"]["post"])

    # asked to, the service keeps its answers in the results database: the same picture asked alike is one row
    from shared.store import open_store

    db = tmp_path / "results.db"
    client = create_app(Settings(runs={NAME: str(run_dir)}, tasks=(NAME,), db=str(db))).test_client()
    for query in ("", "", f"?{NAME}.scale=3"):
        assert client.post(f"/v1/inspect{query}", data=image.read_bytes(), content_type="image/jpeg").status_code == 200
    with open_store(db) as store:
        rows = store.rows()
        assert store.counts()["pictures"] == 1 and len(rows) == 2  # two runs keys: the option changes the answer
    assert sorted(r[f"{NAME}_brightness"] for r in rows) == pytest.approx(sorted(
        [plain["brightness"], 3 * plain["brightness"]]), rel=1e-6)

