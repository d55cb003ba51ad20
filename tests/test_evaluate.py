"""The suite evaluation and its report, on synthetic data: evaluation.json fits its schema, every figure the HTML
shows is embedded and decodes, the cross-task table covers every test picture, and the demo keeps its numbers
under stable keys."""
import base64
import io
import json
import re

import pytest
from conftest import network_blocked
from PIL import Image

from shared.suite.errors import DataError


@pytest.fixture(scope="module")
def evaluation(generic_runs, classification_data, tmp_path_factory):
    """Detection: the generic run (kaggle-det); the classifier (its generic run is kaggle-cls) and a small
    texture-knn anomaly run (every class normal) are trained here because they are missing."""
    from shared.suite.evaluate import evaluate_suite

    root = tmp_path_factory.mktemp("evaluation")
    runs = {"detection": generic_runs("detection")[0].path}
    with network_blocked():
        result = evaluate_suite(classification_data, "kaggle-det", runs=runs, runs_root=root / "runs",
                                out=root / "out", train_missing=True,
                                presets={"classification": "smoke", "anomaly": "texture-knn"},
                                recipe_fields={"anomaly": {"image_size": 64}}, progress=False, command="pytest")
    return result, root / "out"


def test_evaluation_json_fits_its_schema_and_covers_every_test_picture(evaluation, classification_data):
    from shared.datasets.index import read_dataset
    from shared.datasets.splits import make_split
    from shared.suite.evaluate import validate

    _result, out = evaluation
    written = json.loads((out / "evaluation.json").read_text())
    validate(written)
    index, _ = read_dataset(classification_data, progress=False)
    test = set(index.loc[make_split(index, "kaggle-det") == "test", "picture_id"])
    assert {row["picture_id"] for row in written["inspection"]["rows"]} == test == {
        written["inspection"]["rows"][i]["picture_id"] for i in range(written["test_pictures"])}
    assert written["classification"]["metrics"]["n"] == len(test)  # the classifier scored the same pictures
    assert set(written["anomaly"]["metrics"]["per_class"]) == set(index["class_name"])  # every class held out once
    speeds = written["inspection"]["images_per_second"]
    assert speeds["inspection"] <= min(speeds[t] for t in ("classification", "detection", "anomaly"))
    assert written["references"]["classification"]["correct"] == 69


def test_schema_refuses_a_broken_evaluation(evaluation):
    from shared.suite.evaluate import validate

    broken = json.loads((evaluation[1] / "evaluation.json").read_text())
    broken["detection"]["metrics"]["map50"] = 1.7
    with pytest.raises(ValueError, match="detection/metrics/map50"):
        validate(broken)


def test_report_embeds_every_figure_and_each_decodes(evaluation):
    result, out = evaluation
    html = (out / "report.html").read_text()
    sources = re.findall(r'<img src="([^"]*)"', html)
    figures = [path for section in ("classification", "detection", "anomaly") for path in result[section]["figures"].values()]
    assert len(sources) == len(figures) >= 8
    for source in sources:
        assert source.startswith("data:image/png;base64,")  # nothing fetched: the page opens offline
        image = Image.open(io.BytesIO(base64.b64decode(source.split(",", 1)[1])))
        image.load()
        assert image.width > 50 and image.height > 50
    assert "69/72" in html and "Per picture, across tasks" in html
    assert not re.search(r'(src|href)="(https?:)?//', html)


def test_a_run_on_another_split_is_refused(generic_runs, classification_data, tmp_path):
    from shared.suite.evaluate import obtain_run, run_recipe

    recipe = run_recipe("classification", classification_data, "kaggle-det", "smoke", tmp_path)
    with pytest.raises(DataError, match="trained on split kaggle-cls, not kaggle-det"):
        obtain_run("classification", recipe, generic_runs("classification")[0].path)
    with pytest.raises(DataError, match="no classification run here; train one with `defectlab classification train"):
        obtain_run("classification", recipe, tmp_path / "absent")


def test_demo_scores_keep_stable_keys_and_targets():
    from shared.suite.cli_demo import TARGETS, scores

    result = {"classification": {"metrics": {"accuracy": 0.95}},
              "detection": {"metrics": {"map50": 0.4, "map50_95": 0.2}},
              "anomaly": {"metrics": {"mean_auroc": 0.93}},
              "timings": {"train_seconds": {}, "images_per_second": {}}}
    found = scores(result)
    assert set(found["scores"]) == {"classification_accuracy", "detection_map50", "detection_map50_95", "anomaly_auroc"}
    assert found["targets"] == TARGETS
    assert found["targets_met"] == {"classification_accuracy": True, "detection_map50": False, "anomaly_auroc": True}
