"""INT8 models: `defectlab TASK export RUN int8=1` writes model.int8.onnx (model.onnx quantized statically with ONNX
Runtime, calibrated on the run's train pictures), `predict int8=1` runs it, and its records follow fp32's.

What "follow" means is set by what 8-bit arithmetic does to each output, on smoke runs trained for seconds (near
their decision edges) and on CPUs whose 8-bit kernels differ (VNNI or not): the class probabilities of all pictures
correlate with fp32's (Pearson >= 0.9) and the class is the same wherever fp32's top two are 0.2 apart; every fp32
box of confidence 0.3 or more is found again (same class, IoU >= 0.5); anomaly scores keep their order across
pictures (Spearman >= 0.6; 8-bit noise adds distance, so the scores themselves rise: measured 1.1-1.4x, the reason
the benchmark adopts an INT8 anomaly model only where its flags agree). A calibration fed the wrong inputs breaks
all three."""
import shutil

import numpy as np
import pytest

from shared.suite.errors import DataError


@pytest.fixture(scope="module")
def runs(generic_runs, classification_data, tmp_path_factory):
    """Private copies of the smoke runs (classification, detection) and a texture-knn run (the anomaly model that
    exports to ONNX) at 64 px."""
    from anomaly import task as anomaly_task

    folder = tmp_path_factory.mktemp("int8")
    copies = {task: shutil.copytree(generic_runs(task)[0].path, folder / task,
                                    ignore=shutil.ignore_patterns("val_*", "train", "model.onnx", "model.int8.onnx"))
              for task in ("classification", "detection")}
    recipe = anomaly_task.Recipe.from_preset("demo", data=str(classification_data), image_size=64, out=str(folder),
                                             name="knn")
    copies["anomaly"] = anomaly_task.train(recipe, progress=False).path
    return copies


def iou(a: dict, b: dict) -> float:
    width = min(a["xmax"], b["xmax"]) - max(a["xmin"], b["xmin"])
    height = min(a["ymax"], b["ymax"]) - max(a["ymin"], b["ymin"])
    inter = max(width, 0) * max(height, 0)
    area = lambda box: (box["xmax"] - box["xmin"]) * (box["ymax"] - box["ymin"])
    return inter / (area(a) + area(b) - inter) if inter else 0.0


def assert_follows(task: str, fp32: list[dict], int8: list[dict]) -> None:
    from scipy.stats import pearsonr, spearmanr

    if task == "classification":
        names = sorted(fp32[0]["probabilities"])
        flat = lambda records: [r["probabilities"][c] for r in records for c in names]
        assert pearsonr(flat(fp32), flat(int8))[0] >= 0.9
        for a, b in zip(fp32, int8):
            first, second = sorted(a["probabilities"].values(), reverse=True)[:2]
            assert a["class"] == b["class"] or first - second < 0.2, (a, b)
    elif task == "detection":
        for a, b in zip(fp32, int8):
            for box in (x for x in a["boxes"] if x["confidence"] >= 0.3):
                assert any(y["class"] == box["class"] and iou(y, box) >= 0.5 for y in b["boxes"]), box
    else:
        assert spearmanr([r["score"] for r in fp32], [r["score"] for r in int8])[0] >= 0.6


@pytest.mark.parametrize("task", ["classification", "detection", "anomaly"])
def test_int8_export_and_predict_follow_fp32(task, runs, synthetic_root, capsys, tmp_path, monkeypatch):
    import onnx

    from shared.suite import registry
    from shared.suite.cli import main

    monkeypatch.chdir(tmp_path)  # the export leaves nothing in the working directory

    run = registry.task(task).load(runs[task])
    with pytest.raises(DataError, match=rf"defectlab {task} export .* int8=1"):
        run.predictor(int8=True)
    assert main([task, "export", str(runs[task]), "int8=1"]) == 0
    assert "INT8 model:" in capsys.readouterr().out
    assert (runs[task] / "model.onnx").is_file() and (runs[task] / "model.int8.onnx").is_file()
    assert not list(tmp_path.iterdir())
    images = sorted((synthetic_root / "NEU-DET" / "IMAGES").glob("*.jpg"))[::5][:30]
    options = {"conf": 0.05} if task == "detection" else {}
    fp32 = run.predictor(onnx=True, **options).predict(images)
    int8 = run.predictor(int8=True, **options).predict(images)
    assert len(fp32) == len(int8) == len(images) and not any("error" in r for r in fp32 + int8)
    assert all(a.keys() == b.keys() for a, b in zip(fp32, int8))  # the same record, another model file
    assert_follows(task, fp32, int8)
    graph = onnx.load(str(runs[task] / "model.int8.onnx")).graph
    assert sum(node.op_type == "QuantizeLinear" for node in graph.node) > 0  # quantized, not a copy


def test_calibration_inputs_are_the_predictors_own():
    """The recorder hands every call on and keeps a copy of what it was fed."""
    from shared.suite.quantize import Recorder, picked

    class Session:
        def run(self, names, feed):
            return [feed["x"] * 2]

        def get_inputs(self):
            return ["x"]

    recorder = Recorder(Session())
    x = np.arange(3.0)
    assert recorder.run(None, {"x": x})[0].tolist() == [0, 2, 4] and recorder.get_inputs() == ["x"]
    x[0] = 9  # a caller reusing its buffer does not change what was recorded
    assert recorder.feeds[0]["x"].tolist() == [0, 1, 2]
    assert picked(list(range(10)), 4) == sorted(picked(list(range(10)), 4)) and len(picked(list(range(10)), 4)) == 4
