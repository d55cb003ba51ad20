"""`defectlab anomaly calibrate` and `defectlab calibrate` on the generic smoke run (copied: the session's run is
never written into), then the calibration in force: records and OUT/drift.json of inspect, the service's
/v1/models, its records and /metrics."""
import io
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from shared.suite import calibration


@pytest.fixture(scope="module")
def run(generic_runs, tmp_path_factory):
    source = generic_runs("anomaly")[0].path
    return shutil.copytree(source, tmp_path_factory.mktemp("calibrated") / source.name,
                           ignore=shutil.ignore_patterns("plots", "model.onnx"))


@pytest.fixture(scope="module")
def good(synthetic_root, tmp_path_factory):
    """30 pictures of a class the run was fitted on: the line's known-good pictures of a week."""
    folder = tmp_path_factory.mktemp("line") / "week12"
    folder.mkdir()
    for path in sorted((synthetic_root / "NEU-DET" / "IMAGES").glob("crazing_*.jpg"))[:30]:
        shutil.copy(path, folder / path.name)
    return folder


@pytest.fixture(scope="module")
def calibrated(run, good):
    """Both forms, through the command line; the run's threshold.json as it was before."""
    from shared.suite.cli import main

    before = (run / "threshold.json").read_bytes()
    assert main(["anomaly", "calibrate", str(run), str(good), "--false-alarm-rate", "0.1"]) == 0
    assert main(["anomaly", "calibrate", str(run), str(good), "false-alarm-rate=0.1", "--false-alarm-rate", "0.1",
                 "--confidence", "0.9", "--name", "strict", "batch_size=7"]) == 0
    return before


def test_calibrate_sets_the_order_statistic_and_leaves_the_run_threshold(run, good, calibrated, capsys):
    from anomaly.run import load

    assert (run / "threshold.json").read_bytes() == calibrated
    week = json.loads((run / "calibrations" / "week12.json").read_text())
    scores = [r["score"] for r in load(run).predictor().predict(good)]
    k = math.ceil(31 * 0.9)  # ceil((n + 1)(1 - alpha))
    assert (week["n"], week["k"], week["form"], week["confidence"]) == (30, k, "expected", None)
    assert week["threshold"] == pytest.approx(sorted(scores)[k - 1], rel=1e-5)
    assert week["scores"] == pytest.approx(sorted(scores), rel=1e-5) and week["score_summary"]["count"] == 30
    assert week["pictures_fingerprint"] == calibration.fingerprint(good.glob("*.jpg"))
    assert week["training_threshold"] == json.loads(calibrated)["threshold"] and week["created_at"]
    strict = json.loads((run / "calibrations" / "strict.json").read_text())
    assert (strict["form"], strict["k"]) == ("high-probability", calibration.rank(30, 0.1, 0.9))
    assert strict["scored_with"] == {"onnx": False, **({"int8": False} if "int8" in strict["scored_with"] else {})}
    assert "probability >= 0.9" in strict["guarantee"]


def test_too_few_pictures_and_a_taken_name_are_one_line_refusals(run, good, calibrated, capsys):
    from shared.suite.cli import main

    capsys.readouterr()
    assert main(["anomaly", "calibrate", str(run), str(good), "--false-alarm-rate", "0.01", "--confidence",
                 "0.95"]) == 2
    said = capsys.readouterr().err
    assert said == (f"defectlab: error: {good}: 30 known-good pictures are too few for a false-alarm rate of 0.01 at "
                    "confidence 0.95: 299 are needed\n")
    assert main(["anomaly", "calibrate", str(run), str(good), "--false-alarm-rate", "0.1"]) == 2
    assert "a calibration of this name exists" in capsys.readouterr().err
    assert sorted(p.name for p in (run / "calibrations").iterdir()) == ["strict.json", "week12.json"]


def test_pictures_the_model_fitted_are_refused(run, generic_runs, calibrated, tmp_path, capsys):
    """A fitted picture is in the model's memory (texture-knn: it matches itself, score 0): a threshold set on such
    scores comes out too low."""
    from shared.suite.cli import main

    folder = tmp_path / "fitted"
    folder.mkdir()
    for path in generic_runs("anomaly")[0].data.part("fit").path[:30]:
        shutil.copy(path, folder / Path(path).name)
    capsys.readouterr()
    assert main(["anomaly", "calibrate", str(run), str(folder), "--false-alarm-rate", "0.1"]) == 2
    assert "30 of the 30 pictures were fitted by the model" in capsys.readouterr().err
    assert not (run / "calibrations" / "fitted.json").exists()


def test_inspect_puts_the_calibration_in_force_and_writes_the_drift(run, good, calibrated, tmp_path, capsys):
    from shared.suite.cli import main

    week = json.loads((run / "calibrations" / "week12.json").read_text())
    out = tmp_path / "out"
    assert main(["inspect", str(good), "--tasks", "anomaly", "--runs", f"anomaly={run}", "anomaly.calibration=week12",
                 "--out", str(out), "--no-pictures"]) == 0
    records = json.loads((out / "predictions.json").read_text())
    assert {r["anomaly"]["calibration"] for r in records} == {"week12"}
    assert {r["anomaly"]["threshold"] for r in records} == {week["threshold"]}
    assert all(r["anomaly"]["is_anomalous"] == (r["anomaly"]["score"] > week["threshold"]) for r in records)
    drift = json.loads((out / "drift.json").read_text())["anomaly"]
    assert (drift["calibration"], drift["recent"], drift["calibration_pictures"]) == ("week12", 30, 30)
    assert drift["ks_pvalue"] > 0.99 and drift["holds"] is True  # the very pictures it was calibrated on
    assert "drift.json" in capsys.readouterr().out
    from anomaly.run import load

    load(run).predictor(calibration="week12").predict_to(good, tmp_path / "predicted", draw=False)
    assert json.loads((tmp_path / "predicted" / "drift.json").read_text())["anomaly"]["recent"] == 30
    assert main(["inspect", str(good), "--tasks", "anomaly", "--runs", f"anomaly={run}",
                 "anomaly.calibration=lastweek"]) == 2
    said = capsys.readouterr().err
    assert said.count("\n") == 1 and "lastweek.json: no such calibration (this run has strict, week12)" in said


def test_a_calibration_of_another_model_is_refused(run, calibrated, tmp_path):
    from anomaly.run import load
    from shared.suite.errors import DataError

    other = json.loads((run / "calibrations" / "week12.json").read_text())
    calibration.write(run, "other", {**other, "model_sha256": "0" * 64})
    try:
        with pytest.raises(DataError, match="made for another model.pt"):
            load(run).predictor(calibration="other")
    finally:
        (run / "calibrations" / "other.json").unlink()


def test_the_suite_command_calibrates_the_novel_rule_s_voter(run, good, calibrated, tmp_path, capsys):
    from shared.suite.cli import main

    assert main(["calibrate", str(good), "--runs", f"anomaly={run}", "--false-alarm-rate", "0.1", "--name",
                 "suite", "--runs-root", str(tmp_path)]) == 0
    said = capsys.readouterr().out
    assert "[anomaly] calibration suite: threshold" in said and "expected form" in said
    assert "novel: not calibrated, a voter's run is missing" in said and "no classification run here" in said
    assert "novel (" in said and "it is flagged no more often than a calibrated voter" in said
    assert "anomaly.calibration=suite   (or" in said and "novel.calibration=" not in said
    assert json.loads((run / "calibrations" / "suite.json").read_text())["k"] == 28
    assert main(["calibrate", str(good), "--runs", f"anomaly={run}", "--tasks", "classification",
                 "--false-alarm-rate", "0.1"]) == 2
    assert "classification has no threshold to calibrate" in capsys.readouterr().err


def test_the_service_names_the_calibration_and_exports_its_drift(run, good, calibrated, capfd):
    from service.app import create_app
    from service.settings import Settings

    week = json.loads((run / "calibrations" / "week12.json").read_text())
    client = create_app(Settings(runs={"anomaly": str(run)}, tasks=("anomaly",),
                                 predict=("anomaly.calibration=week12",))).test_client()
    entry = client.get("/v1/models").json["models"][0]
    assert entry["calibration"]["name"] == "week12" and entry["threshold"] == week["threshold"]
    assert entry["calibration"]["guarantee"] == week["guarantee"] and entry["calibration"]["drift"]["recent"] == 0
    picture = next(good.glob("*.jpg")).read_bytes()
    answer = client.post("/v1/inspect", data={"image": (io.BytesIO(picture), "p.jpg")},
                         content_type="multipart/form-data")
    assert answer.status_code == 200 and answer.json["anomaly"]["calibration"] == "week12"
    metrics = client.get("/metrics").get_data(as_text=True)
    labels = '{calibration="week12",task="anomaly"}'
    assert f"defectlab_drift_recent{labels} 1.0" in metrics and f"defectlab_drift_warning{labels} 0.0" in metrics
    # scores well above the calibration's, as a drifted line gives them
    client.application.extensions["defectlab"].predictors["anomaly"].watcher.add(
        np.full(100, week["threshold"]) * np.linspace(1.5, 3, 100))
    metrics = client.get("/metrics").get_data(as_text=True)
    assert f"defectlab_drift_warning{labels} 1.0" in metrics and f"defectlab_drift_recent{labels} 101.0" in metrics
    logged = capfd.readouterr().err
    assert "defectlab serve: warning: anomaly: calibration 'week12' no longer holds" in logged
