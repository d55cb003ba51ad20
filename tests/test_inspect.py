"""Inspect: every task's run on the same pictures, each picture decoded once; its per-task answers equal what each
task's own predictor says about the same inputs."""
import json
from pathlib import Path

import numpy as np
import pytest
from parity import assert_same_boxes, assert_same_records, strong_floor

from shared.suite import registry
from shared.suite.errors import DataError


@pytest.fixture(scope="module")
def runs(generic_runs):
    return {name: generic_runs(name)[0].path for name in registry.TASKS}


def test_inspect_equals_each_task_alone_and_keeps_going_past_bad_files(runs, synthetic_root, tmp_path):
    from shared.suite.inspect import Inspector

    images = sorted((synthetic_root / "NEU-DET" / "IMAGES").glob("patches_1*.jpg"))[:3]
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a picture")
    gray = np.random.default_rng(0).integers(0, 255, (40, 60)).astype(np.uint8)
    inputs = [images[0], bad, gray, *images[1:]]
    inspector = Inspector.from_runs(runs, batch_size=2)
    records = inspector.inspect_to(inputs, tmp_path / "out")
    assert [("error" in r) for r in records] == [False, True, False, False, False]
    for task, predictor in inspector.predictors.items():
        alone = predictor.predict(inputs)  # its own batches: sums may round differently in the last digits
        together = [r[task] for r in records if "error" not in r]
        alone = [{k: v for k, v in r.items() if k not in ("image", "width", "height")} for r in alone if "error" not in r]
        assert len(together) == len(alone) == 4, task
        for a, b in zip(alone, together):
            assert_same_records(a, b, rel=1e-4)
    written = json.loads((tmp_path / "out" / "predictions.json").read_text())
    assert written == json.loads(json.dumps(records)) and len(list((tmp_path / "out" / "pictures").glob("*.png"))) == 4


def test_a_missing_run_names_the_command_that_trains_it(tmp_path):
    from shared.suite.inspect import find_runs

    with pytest.raises(DataError, match=r"no detection run here; train one with `defectlab detection train"):
        find_runs({}, tmp_path, tasks=("detection",))


def test_novel_needs_an_anomaly_flag_and_an_unsure_classifier():
    from classification.task import NOVEL_BELOW
    from shared.suite.inspect import is_novel, novel_rule

    assert novel_rule()["voters"] == ["classification", "anomaly"]
    unsure, sure = NOVEL_BELOW - 0.2, min(1.0, NOVEL_BELOW + 0.05)
    assert is_novel({"classification": {"confidence": unsure}, "anomaly": {"is_anomalous": True}}) is True
    assert is_novel({"classification": {"confidence": sure}, "anomaly": {"is_anomalous": True}}) is False
    assert is_novel({"classification": {"confidence": unsure}, "anomaly": {"is_anomalous": False}}) is False
    assert is_novel({"classification": {"confidence": unsure}}) is None  # no anomaly run: no verdict


def test_a_folder_with_bad_files_gives_error_records_and_results_for_the_rest(runs, synthetic_root, tmp_path):
    import shutil

    from shared.suite.inspect import Inspector

    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    for image in sorted((synthetic_root / "NEU-DET" / "IMAGES").glob("scratches_1*.jpg"))[:3]:
        shutil.copy(image, folder / "sub" / image.name)
    (folder / "empty.png").write_bytes(b"")
    (folder / "truncated.jpg").write_bytes((synthetic_root / "NEU-DET" / "IMAGES" / "crazing_1.jpg").read_bytes()[:300])
    records = Inspector.from_runs(runs, batch_size=2).inspect_to(folder, tmp_path / "out", draw=False)
    errors = {r["image"].rsplit("/", 1)[-1] for r in records if "error" in r}
    assert errors == {"empty.png", "truncated.jpg"}
    done = [r for r in records if "error" not in r]
    assert len(done) == 3 and all({"classification", "detection", "anomaly", "novel"} <= set(r) for r in done)


def test_streaming_inspect_of_hundreds_of_pictures_keeps_memory_flat(runs, classification_data):
    import psutil

    from shared.suite.inspect import Inspector

    folder = classification_data / "NEU-DET" / "IMAGES"
    inspector = Inspector.from_runs(runs, batch_size=16)
    process, rss, seen = psutil.Process(), [], 0
    for number, (record, image) in enumerate(inspector.iter_pairs(folder)):
        seen += 1
        if number % 16 == 15:
            rss.append(process.memory_info().rss / 2**20)
    assert seen == len(list(folder.glob("*.jpg"))) >= 300
    # a leak keeps growing; lazy allocations, caches and thread pools (more of them on a many-core machine) settle
    early, late = rss[3:len(rss) // 2], rss[len(rss) // 2:]
    assert max(late) - max(early) < 30, [round(r) for r in rss]


def test_onnx_inspection_agrees_with_the_frameworks(runs, classification_data, synthetic_root, tmp_path, capsys):
    """inspect --onnx exports what has no model.onnx yet (each export checked), then agrees with the frameworks:
    probabilities, scores and box confidences within 1e-3, boxes matched by class and IoU, classes and flags equal
    wherever they are not a near-tie (tests/parity.py)."""
    import shutil

    from anomaly import task as anomaly_task
    from shared.suite.cli import main
    from shared.suite.inspect import Inspector

    copies = {task: shutil.copytree(runs[task], tmp_path / task) for task in ("classification", "detection")}
    for folder in copies.values():
        (folder / "model.onnx").unlink(missing_ok=True)
    recipe = anomaly_task.Recipe.from_preset("demo", data=str(classification_data), image_size=64,
                                             out=str(tmp_path), name="knn")
    copies["anomaly"] = anomaly_task.train(recipe, progress=False).path
    images = sorted((synthetic_root / "NEU-DET" / "IMAGES").glob("inclusion_1*.jpg"))[:4]
    framework = Inspector.from_runs(copies, batch_size=4).inspect(images)
    assert main(["anomaly", "export", str(copies["anomaly"])]) == 0
    assert "framework - ONNX Runtime|" in capsys.readouterr().out
    onnx = Inspector.from_runs(copies, batch_size=4, onnx=True).inspect(images)
    assert all((copies[task] / "model.onnx").is_file() for task in copies)
    for a, b in zip(framework, onnx):  # ONNX parity of each task's record, the boxes matched by class and IoU
        for task in copies:
            assert_same_records(a[task], b[task], rel=1e-3)
    assert main(["classification", "predict", str(copies["classification"]), str(images[0]), "--onnx"]) == 0


def test_predict_options_are_typed_by_the_task_and_bad_ones_named():
    from shared.suite.inspect import member_runs, predict_options

    given = ["detection.tta=1", "detection.border=0", "detection.fuse-with=runs/a=b.v2,runs/c", "classification.tta=no"]
    options = predict_options(given)
    assert options == {"detection": {"tta": True, "border": 0.0, "fuse_with": "runs/a=b.v2,runs/c"},
                       "classification": {"tta": False}}
    assert member_runs("runs/r", options["detection"]) == [Path("runs/r"), Path("runs/a=b.v2"), Path("runs/c")]
    assert member_runs("runs/r", options["classification"]) == [Path("runs/r")]
    assert predict_options(["detect.conf=0.5"]) == {"detection": {"conf": 0.5}}  # the HTTP API's old name
    for bad, problem in [("detection.tta", "want TASK.OPTION=VALUE"), ("segment.tta=1", "want TASK.OPTION=VALUE"),
                         ("detection.colour=1", "detection.colour: unknown option; this takes conf, border"),
                         ("anomaly.tta=1", "anomaly.tta: unknown option"),
                         ("detection.tta=maybe", "detection.tta: cannot use 'maybe'"),
                         ("detection.conf=high", "detection.conf: cannot use 'high'"),
                         ("detection.fusion=vote", "detection.fusion: 'vote' is not one of")]:
        with pytest.raises(ValueError, match=problem):
            predict_options([bad])
    with pytest.raises(ValueError, match="classification is not loaded"):
        predict_options(["classification.tta=1"], tasks=("detection",))


def test_inspect_fuses_the_detectors_given_with_predict(generic_runs, partner, synthetic_root, capsys):
    """--predict reaches the task's predictor: `inspect` with a partner run answers what the fused predictor does,
    which is not what the run alone answers."""
    from shared.suite.cli import main

    detector = generic_runs("detection")[0].path  # the only run these need
    images = [str(p) for p in sorted((synthetic_root / "NEU-DET" / "IMAGES").glob("*_1.jpg"))[:3]]
    run = registry.task("detection").load(detector)
    expected = run.predictor(conf=1e-4, tta=True, fuse_with=str(partner)).predict(images)
    alone = run.predictor(conf=1e-4, tta=True).predict(images)
    assert [e["boxes"] for e in expected] != [a["boxes"] for a in alone]  # the partner changes the boxes
    capsys.readouterr()
    assert main(["inspect", *images, "--tasks", "detection", "--runs", f"detection={detector}",
                 "--predict", f"detection.fuse_with={partner}", "--predict", "detection.tta=1",
                 "detection.conf=0.0001"]) == 0  # --predict given twice: both count
    records = json.loads(capsys.readouterr().out)
    assert len(records) == len(expected)
    strong = sum(assert_same_boxes(e["boxes"], r["detection"]["boxes"], min_conf=strong_floor(e["boxes"]))
                 for r, e in zip(records, expected))
    assert strong > 0  # the comparison holds boxes
    assert main(["inspect", *images, "--tasks", "detection", "--runs", f"detection={detector}",
                 "--predict", "detection.fusion=vote"]) == 2
    assert "fusion: 'vote' is not one of" in capsys.readouterr().err
