"""The novel flag calibrated on the line (shared.suite.novel): the anomaly score and the classifier's energy
standardised for the class the classifier names, their larger thresholded as a conformal order statistic. The guarantee on synthetic scores drawn many times,
then `defectlab calibrate` on the generic smoke runs (the anomaly run copied: the session's run is never written
into) and the calibration in force in inspect and the service."""
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from shared.suite import calibration, novel

PARTS = {"scores": ["anomaly", "classification"], "class": "classification"}


def record(score: float, klass: str, energy: float | None = None) -> dict:
    named = {"class": klass, "confidence": 1.0, **({} if energy is None else {"energy": energy})}
    return {"anomaly": {"score": score, "is_anomalous": False}, "classification": named}


def fitted(scores, classes, alpha: float, energies=None) -> novel.Calibrated:
    """What novel.calibrate does with the scores of known-good pictures in path order."""
    found = [({"anomaly": s, **({} if energies is None else {"classification": energies[k]})}, c)
             for k, (s, c) in enumerate(zip(scores, classes))]
    scales = novel.scales_of(found[0::2])
    standard = [novel.largest(s, c, scales) for s, c in found[1::2]]
    threshold = calibration.conformal_threshold(standard, alpha)
    return novel.Calibrated({**threshold.to_dict(), "name": "draw", "roles": PARTS, "scale": scales,
                             "scores": sorted(standard)}, path=None)


def test_the_expected_false_alarm_rate_holds_and_the_narrow_class_novel_pictures_are_found():
    """Two known classes with other score scales (spread 1 and 6) and novel pictures the classifier names the
    narrow class, scoring where the wide class's known pictures do. Over 400 seeded calibration sets of 200
    pictures, judged on fresh known-good pictures: the mean false-alarm rate is at most alpha; the class-conditioned
    flag finds most novel pictures, a pooled threshold (the same procedure, one class) few."""
    rng = np.random.default_rng(0)
    alpha, rates, found, pooled = 0.05, [], [], []

    def known(n):
        classes = rng.choice(["narrow", "wide"], size=n)
        return rng.gamma(2.0, size=n) * np.where(classes == "wide", 6.0, 1.0), classes

    for _ in range(400):
        calibrated = fitted(*known(200), alpha)
        one = fitted(known(200)[0], ["any"] * 200, alpha)
        fresh, classes = known(500)
        novel_scores = rng.gamma(2.0, size=100) * 4.0 + 6.0
        rates.append(np.mean([calibrated.judge(record(s, c))["novel"] for s, c in zip(fresh, classes)]))
        found.append(np.mean([calibrated.judge(record(s, "narrow"))["novel"] for s in novel_scores]))
        pooled.append(np.mean([one.judge(record(s, "any"))["novel"] for s in novel_scores]))
    assert np.mean(rates) <= alpha + 0.003  # 400 x 500 judgements: the mean's noise is about 0.001
    assert np.mean(rates) >= alpha - 0.02  # and the threshold is not needlessly high
    assert np.mean(found) > 0.9 and np.mean(pooled) < 0.6


def test_the_larger_of_two_scores_finds_what_either_finds_and_keeps_the_expected_rate():
    """Two scores of known-good pictures (class-dependent scales, correlated) and two novel kinds, each seen by one
    score only. Over 300 seeded calibration sets of 200 pictures: the largest standardised score keeps the mean
    false-alarm rate at most alpha and finds most of both kinds; either score alone misses one kind."""
    rng = np.random.default_rng(1)
    alpha, rates, found, alone = 0.05, [], [], {"anomaly": [], "energy": []}

    def known(n):
        classes = rng.choice(["narrow", "wide"], size=n)
        base = rng.normal(size=n)
        anomaly = np.exp(0.5 * base + 0.5 * rng.normal(size=n)) * np.where(classes == "wide", 5.0, 1.0)
        return anomaly, classes, base + rng.normal(size=n) - np.where(classes == "wide", 3.0, 0.0)

    for _ in range(300):
        anomaly, classes, energy = known(200)
        both = fitted(anomaly, classes, alpha, energy)
        only = {"anomaly": fitted(anomaly, classes, alpha), "energy": fitted(energy, classes, alpha)}
        fresh = known(500)
        rates.append(np.mean([both.judge(record(a, c, e))["novel"] for a, c, e in zip(*fresh)]))
        # kind A: anomaly scores far out, energy typical; kind B: the other way round
        kind_a = [(rng.uniform(8, 12), "narrow", rng.normal()) for _ in range(50)]
        kind_b = [(float(np.exp(0.5 * rng.normal())), "narrow", rng.uniform(5, 8)) for _ in range(50)]
        found.append(np.mean([both.judge(record(*p))["novel"] for p in kind_a + kind_b]))
        alone["anomaly"].append(np.mean([only["anomaly"].judge(record(*p))["novel"] for p in kind_a + kind_b]))
        alone["energy"].append(np.mean([only["energy"].judge(record(e, c))["novel"] for _, c, e in kind_a + kind_b]))
    assert np.mean(rates) <= alpha + 0.004 and np.mean(rates) >= alpha - 0.02
    assert np.mean(found) > 0.9 and max(np.mean(alone["anomaly"]), np.mean(alone["energy"])) < 0.6


def test_a_calibration_of_the_anomaly_score_alone_still_judges():
    """Calibration files of one score (before the classifier's energy was a score) are read in today's form;
    records without an energy are judged by the anomaly score alone."""
    one = fitted([1.0, 2.0, 3.0, 4.0] * 10, ["a"] * 40, 0.1)
    old = {**one.found, "roles": {"score": "anomaly", "class": "classification"}, "scale": one.scale["anomaly"]}
    upgraded = novel.upgraded(old)
    assert upgraded["roles"] == {"scores": ["anomaly"], "class": "classification"}
    judged = novel.Calibrated(upgraded, path=None).judge(record(50.0, "a", energy=100.0))
    assert judged["novel"] is True and judged["novel_score"] == pytest.approx(one.judge(record(50.0, "a"))["novel_score"])
    assert novel.Calibrated(upgraded, path=None).judge(record(2.0, "a", energy=100.0))["novel"] is False


def test_few_pictures_of_a_class_take_the_pooled_scale_and_a_judgement_names_its_calibration():
    scale = novel.scale_of([1, 2, 3, 4] * 5 + [100], ["a"] * 20 + ["rare"])
    assert set(scale["per_class"]) == {"a"} and scale["pooled"]["n"] == 21
    assert novel.standardise(5.0, "rare", scale) == pytest.approx((5.0 - scale["pooled"]["median"])
                                                                  / scale["pooled"]["iqr"])
    calibrated = fitted([1.0, 2.0] * 20, ["a"] * 40, 0.1)
    assert calibrated.judge({"anomaly": {"score": 1.0, "is_anomalous": False}}) == {}  # no classifier: no verdict
    judged = calibrated.judge(record(50.0, "a"))
    assert judged["novel"] is True and judged["novel_calibration"] == "draw" and judged["novel_score"] > 10


def test_words_for_the_novel_flag_are_its_own():
    assert novel.split_option(["anomaly.batch_size=4", "novel.calibration=week12"]) == ("week12",
                                                                                       ["anomaly.batch_size=4"])
    with pytest.raises(ValueError, match="novel.calibration=NAME alone"):
        novel.split_option(["novel.threshold=3"])


@pytest.fixture(scope="module")
def runs(generic_runs, tmp_path_factory):
    source = generic_runs("anomaly")[0].path
    anomaly = shutil.copytree(source, tmp_path_factory.mktemp("novel") / source.name,
                              ignore=shutil.ignore_patterns("plots", "model.onnx", "calibrations"))
    return {"classification": generic_runs("classification")[0].path, "anomaly": anomaly}


@pytest.fixture(scope="module")
def line(synthetic_root, tmp_path_factory):
    """42 known-good pictures of three classes the runs were fitted on (not the very pictures)."""
    folder = tmp_path_factory.mktemp("line") / "week12"
    folder.mkdir()
    for kind in ("crazing", "patches", "scratches"):
        for path in sorted((synthetic_root / "NEU-DET" / "IMAGES").glob(f"{kind}_*.jpg"))[:14]:
            shutil.copy(path, folder / path.name)
    return folder


@pytest.fixture(scope="module")
def calibrated(runs, line):
    from shared.suite.cli import main

    words = ["--runs", f"anomaly={runs['anomaly']}", f"classification={runs['classification']}"]
    assert main(["calibrate", str(line), *words, "--false-alarm-rate", "0.1"]) == 0
    return json.loads((runs["anomaly"] / "calibrations" / "novel" / "week12.json").read_text())


def test_calibrate_sets_each_class_s_scale_on_half_and_the_threshold_on_the_other(runs, line, calibrated):
    """The file against the same numbers computed here from the records of inspect: numpy's quantiles per class
    on the pictures at even places (path order), the order statistic of the odd places' standardised scores."""
    from shared.suite.inspect import Inspector

    records = Inspector.from_runs(runs).inspect(sorted(line.glob("*.jpg")))
    classes = np.array([r["classification"]["class"] for r in records])
    standard = []
    for task, field in (("anomaly", "score"), ("classification", "energy")):
        scores = np.array([r[task][field] for r in records])
        scale = {}
        for c in set(classes[0::2]):
            mine = scores[0::2][classes[0::2] == c]
            if len(mine) >= novel.MIN_CLASS:
                q1, q2, q3 = np.percentile(mine, [25, 50, 75])
                scale[c] = (q2, q3 - q1)
        q1, q2, q3 = np.percentile(scores[0::2], [25, 50, 75])
        standard.append([(s - scale.get(c, (q2, q3 - q1))[0]) / scale.get(c, (q2, q3 - q1))[1]
                         for s, c in zip(scores[1::2], classes[1::2])])
        assert set(calibrated["scale"][task]["per_class"]) == set(scale)
    standard = np.sort(np.max(standard, axis=0))
    k = int(np.ceil(22 * 0.9))
    assert (calibrated["n"], calibrated["k"], calibrated["roles"]) == (21, k, PARTS)
    assert calibrated["scored"] == {"anomaly": 42, "classification": 42}
    assert calibrated["threshold"] == pytest.approx(standard[k - 1], rel=1e-4, abs=1e-6)
    assert calibrated["scores"] == pytest.approx(list(standard), rel=1e-4, abs=1e-6)
    assert calibrated["pictures_fingerprint"] == calibration.fingerprint(line.glob("*.jpg"))
    assert (runs["anomaly"] / "calibrations" / "week12.json").is_file()  # the anomaly threshold's, beside it


def test_inspect_judges_with_the_calibration_and_watches_the_standardised_scores(runs, line, calibrated, tmp_path,
                                                                                capsys):
    from shared.suite.cli import main

    out = tmp_path / "out"
    words = ["--runs", f"anomaly={runs['anomaly']}", f"classification={runs['classification']}", "--tasks",
             "classification", "anomaly"]
    assert main(["inspect", str(line), *words, "novel.calibration=week12", "--out", str(out), "--no-pictures"]) == 0
    records = json.loads((out / "predictions.json").read_text())
    assert {r["novel_calibration"] for r in records} == {"week12"}
    assert all(r["novel"] == (r["novel_score"] > calibrated["threshold"]) for r in records)
    mine = {Path(r["image"]).name: r["novel_score"] for r in records}
    # the odd places are the threshold's pictures: the same standardised scores
    odd = sorted(v for n, v in mine.items() if n in {p.name for p in sorted(line.glob("*.jpg"))[1::2]})
    assert odd == pytest.approx(calibrated["scores"], abs=2e-4)
    drift = json.loads((out / "drift.json").read_text())["novel"]
    assert (drift["calibration"], drift["recent"], drift["calibration_pictures"]) == ("week12", 42, 21)
    assert main(["inspect", str(line), *words, "novel.calibration=lastweek"]) == 2
    said = capsys.readouterr().err
    assert said.count("\n") == 1 and "no such novel calibration (these runs have week12)" in said


def test_a_novel_calibration_of_another_classifier_is_refused(runs, calibrated):
    from shared.suite.errors import DataError

    target = runs["anomaly"] / "calibrations" / "novel" / "other.json"
    other = {**calibrated, "name": "other", "runs": {**calibrated["runs"], "classification": {"model_sha256": "0"}}}
    target.write_text(json.dumps(other))
    try:
        with pytest.raises(DataError, match="made for another classification model.keras"):
            novel.load(runs, "other")
    finally:
        target.unlink()


def test_too_few_pictures_for_the_novel_flag_is_a_one_line_refusal(runs, line, calibrated, tmp_path, capsys):
    from shared.suite.cli import main

    few = tmp_path / "few"
    few.mkdir()
    for path in sorted(line.glob("*.jpg"))[:12]:
        shutil.copy(path, few / path.name)
    capsys.readouterr()
    assert main(["calibrate", str(few), "--runs", f"anomaly={runs['anomaly']}",
                 f"classification={runs['classification']}", "--false-alarm-rate", "0.1", "--no-novel"]) == 0
    assert "[novel]" not in capsys.readouterr().out
    with pytest.raises(Exception, match="12 known-good pictures are too few for the novel flag at a false-alarm "
                                        "rate of 0.1: 18 are needed"):
        novel.calibrate(runs, few, 0.1, name="few")
    assert not (runs["anomaly"] / "calibrations" / "novel" / "few.json").exists()


def test_the_service_names_the_novel_calibration_and_exports_its_drift(runs, line, calibrated):
    from service.app import create_app
    from service.settings import Settings

    client = create_app(Settings(runs={t: str(p) for t, p in runs.items()}, tasks=("classification", "anomaly"),
                                 predict=("novel.calibration=week12",))).test_client()
    described = client.get("/v1/models").json["novel"]
    assert described["calibration"]["name"] == "week12" and "calibration week12" in described["rule"]
    assert described["calibration"]["threshold"] == calibrated["threshold"]
    picture = next(line.glob("*.jpg")).read_bytes()
    answer = client.post("/v1/inspect", data={"image": (io.BytesIO(picture), "p.jpg")},
                         content_type="multipart/form-data").json
    assert answer["novel_calibration"] == "week12" and answer["novel"] == (answer["novel_score"] >
                                                                           calibrated["threshold"])
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'defectlab_drift_recent{calibration="week12",task="novel"} 1.0' in metrics


def test_the_ray_engine_checks_the_novel_calibration_before_ray_starts(runs, line, calibrated, tmp_path):
    from shared.suite.errors import DataError
    from shared.suite.ray_engine import inspect_on_ray

    with pytest.raises(DataError, match="no such novel calibration"):
        inspect_on_ray([str(line)], runs, tmp_path / "out", novel="lastweek")
    assert not (tmp_path / "out").exists()
