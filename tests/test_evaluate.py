"""The suite evaluation and its report, on synthetic data: evaluation.json fits its schema, every figure the HTML
shows is embedded and decodes, the cross-task table covers every test picture, and the demo keeps its numbers
under stable keys. The committed evaluation of the real NEU-DET still fits the schema and still draws a report."""
import base64
import io
import json
import re
from pathlib import Path

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
    assert any("69/72" in ref["number"] for ref in written["references"]["classification"])


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
    from shared.suite.cli_demo import scores, targets

    result = {"classification": {"metrics": {"accuracy": 0.95}},
              "detection": {"metrics": {"map50": 0.4, "map50_95": 0.2}},
              "anomaly": {"metrics": {"mean_auroc": 0.93}},
              "timings": {"train_seconds": {}, "images_per_second": {}}}
    found = scores(result)
    assert set(found["scores"]) == {"classification_accuracy", "detection_map50", "detection_map50_95", "anomaly_auroc"}
    assert found["targets"] == targets() == {"classification_accuracy": 0.90, "detection_map50": 0.50,
                                             "anomaly_auroc": 0.90}
    assert found["targets_met"] == {"classification_accuracy": True, "detection_map50": False, "anomaly_auroc": True}


COMMITTED = Path(__file__).resolve().parents[1] / "scripts" / "benchmarks" / "results" / "evaluation.json"


def test_the_committed_evaluation_fits_the_schema_and_draws_a_report(tmp_path):
    """An older layout (references per task with fields of their own, `boxes_agree`, `confidence_below`) stays
    valid; its figures are not in this checkout, so the report names them instead of embedding them."""
    from shared.suite import registry
    from shared.suite.evaluate import validate
    from shared.suite.report import write_report

    committed = json.loads(COMMITTED.read_text())
    validate(committed)
    html = write_report(COMMITTED, tmp_path / "report.html").read_text()
    for title in ("Classification", "Detection", "Anomaly detection", "Per picture, across tasks"):
        assert f"<h2>{title}" in html
    accuracy = committed["classification"]["metrics"]["accuracy"]
    assert f"{accuracy:.2%}" in html and f"{committed['detection']['metrics']['map50']:.3f}" in html
    references = [ref for name in registry.names() for ref in registry.task(name).references("kaggle-det")]
    assert "69/72" in html and all(ref["number"] in html for ref in references)   # references from the specs
    rows = committed["inspection"]["rows"]
    assert html.count('<tr class="bad">') == sum(row["class_correct"] is False for row in rows)
    assert html.count("</tr>") > len(rows) and "boxes agree" in html and "confidence_below = 0.9" in html


def test_a_broken_task_metric_is_named_where_it_is():
    from shared.suite.evaluate import validate

    committed = json.loads(COMMITTED.read_text())
    committed["anomaly"]["metrics"]["mean_auroc"] = -0.5
    with pytest.raises(ValueError, match="anomaly/metrics/mean_auroc"):
        validate(committed)
    del committed["anomaly"]["run"]
    with pytest.raises(ValueError, match="at anomaly: 'run' is a required property"):
        validate(committed)


def test_the_cross_task_row_takes_each_task_columns_and_their_agreement():
    from shared.suite.evaluate import cross_row

    picture = {"picture_id": "p1", "path": "p1.jpg", "class": "crazing", "boxes": [{}]}
    record = {"classification": {"class": "crazing", "confidence": 0.95123},
              "detection": {"boxes": [{"class": "patches", "confidence": 0.8},
                                      {"class": "crazing", "confidence": 0.3}]},
              "anomaly": {"score": 1.5, "is_anomalous": False}, "novel": False}
    row = cross_row(picture, record)
    assert row == {"picture_id": "p1", "path": "p1.jpg", "true_class": "crazing", "true_boxes": 1, "class": "crazing",
                   "confidence": 0.9512, "class_correct": True, "boxes": 2, "box_classes": ["crazing", "patches"],
                   "top_box_class": "patches", "anomaly_score": 1.5, "is_anomalous": False, "classes_agree": False,
                   "novel": False}
    record["detection"]["boxes"] = []   # one task names a class: nothing to agree on
    assert "classes_agree" not in cross_row(picture, record)
