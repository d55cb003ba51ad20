"""YOLO detector on synthetic NEU-DET: offline train / val / predict / ONNX export, outputs and errors."""
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import network_blocked
from shared.errors import DataError


@pytest.fixture(scope="session")
def det_run(synthetic_root, tmp_path_factory, suite_home):
    import detection  # noqa: F401
    from detection.config import make_config
    from detection.train import train

    with network_blocked():
        return train(make_config("smoke", data=str(synthetic_root / "NEU-DET"),
                                 out=str(tmp_path_factory.mktemp("det")), name="smoke"), progress=False)


def test_ultralytics_is_confined_to_the_suite_folder(det_run, suite_home):
    from ultralytics.utils import SETTINGS

    folder = suite_home / "ultralytics"
    assert os.environ["YOLO_CONFIG_DIR"] == str(folder) and os.environ["YOLO_OFFLINE"] == "1"
    assert (folder / "Ultralytics" / "Arial.ttf").stat().st_size > 100_000
    assert SETTINGS["sync"] is False and Path(SETTINGS["weights_dir"]).is_relative_to(folder)


def test_run_folder_and_metrics(det_run):
    for name in ("config.json", "model.pt", "metrics.json", "training.json", "data/data.yaml",
                 "data/export_report.json", "plots/pr_curve.png", "plots/confusion.png"):
        assert (det_run / name).is_file(), name
    metrics = json.loads((det_run / "metrics.json").read_text())
    for key in ("map50", "map50_95", "per_class_ap50", "precision", "recall", "data_fingerprint", "git_commit"):
        assert key in metrics
    assert 0 <= metrics["map50_95"] <= metrics["map50"] <= 1
    assert set(metrics["per_class_ap50"]) <= set(metrics["classes"])
    report = json.loads((det_run / "data" / "export_report.json").read_text())
    assert report["images"]["test"] == 36 and report["images"]["train"] + report["images"]["valid"] == 144


def test_predict_records_files_and_a_bad_image(det_run, synthetic_root, tmp_path):
    from detection.predict import load, write_records

    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"nope")
    images = sorted((synthetic_root / "NEU-DET" / "IMAGES").glob("scratches_*.jpg"))[:3]
    with network_blocked():
        predictor = load(det_run, conf=0.0001)
        records = predictor.predict([images[0], bad, *images[1:]])
    assert [("error" in r) for r in records] == [False, True, False, False]
    assert "broken.jpg" in records[1]["error"]
    paths = write_records(records, tmp_path / "out", predictor.classes)
    table = pd.read_csv(paths["csv"])
    assert len(table) == sum(len(r.get("boxes", [])) for r in records)
    assert len(list((tmp_path / "out" / "annotated").glob("*.png"))) == 3
    for box in (b for r in records for b in r.get("boxes", [])):
        assert 0 <= box["xmin"] <= box["xmax"] <= 200 and box["class"] in predictor.classes


def test_onnx_runtime_agrees_with_pytorch(det_run, synthetic_root):
    from detection.export import raw_outputs, to_onnx
    from detection.predict import load

    with network_blocked():
        path = to_onnx(det_run)
        torch_out, onnx_out = raw_outputs(det_run, np.random.default_rng(0).uniform(0, 1, (2, 3, 64, 64)).astype("float32"))
        image = synthetic_root / "NEU-DET" / "IMAGES" / "patches_3.jpg"
        via_torch = load(det_run, conf=0.0001).predict([image])[0]["boxes"]
        via_onnx = load(det_run, conf=0.0001, weights=str(path)).predict([image])[0]["boxes"]
    assert path.is_file() and np.abs(torch_out - onnx_out).max() < 1e-3
    top = min(10, len(via_torch), len(via_onnx))  # boxes right at the threshold may differ in count
    assert top > 0 and abs(len(via_torch) - len(via_onnx)) <= 2
    # near-equal confidences may swap places: compare what was found, not the order
    assert np.allclose([b["confidence"] for b in via_torch[:top]], [b["confidence"] for b in via_onnx[:top]], atol=1e-4)
    assert via_torch[0]["class"] == via_onnx[0]["class"]


def test_a_dataset_without_boxes_is_refused(synthetic_root, tmp_path):
    from detection.config import make_config
    from detection.train import train

    with pytest.raises(DataError, match="no box annotations"):
        train(make_config("smoke", data=str(synthetic_root / "NEU-Metal-Surface-Defects"), out=str(tmp_path)))


def test_cli_evaluate_predict_export_offline(det_run, synthetic_root, tmp_path, capsys):
    from shared.cli import main

    image = str(synthetic_root / "NEU-DET" / "IMAGES" / "inclusion_2.jpg")
    with network_blocked():
        assert main(["detection", "evaluate", str(det_run)]) == 0
        assert main(["detection", "predict", str(det_run), image, "--out", str(tmp_path / "p")]) == 0
        assert main(["detection", "export", str(det_run)]) == 0
        assert main(["detection", "predict", str(det_run), image, "--onnx", "--out", str(tmp_path / "o")]) == 0
    out = capsys.readouterr().out
    assert "test: mAP50" in out and "max |PyTorch - ONNX Runtime|" in out
    assert json.loads((tmp_path / "p" / "predictions.json").read_text())[0]["image"] == image


def test_trains_on_a_yolo_format_dataset(synthetic_index, tmp_path):
    from detection.config import make_config
    from detection.train import train
    from shared.export_yolo import to_yolo_dataset
    from shared.splits import make_split

    index, _ = synthetic_index
    to_yolo_dataset(index, make_split(index, "kaggle-det"), tmp_path / "own-yolo")
    with network_blocked():
        run = train(make_config("smoke", data=str(tmp_path / "own-yolo"), out=str(tmp_path / "runs")), progress=False)
    report = json.loads((run / "data" / "export_report.json").read_text())
    assert report["images"]["test"] == 36 and report["boxes"] == sum(len(b) for b in index[index.source == "voc"].boxes)


def test_inpretrain_hands_the_classifier_backbone_to_the_detector(synthetic_root, tmp_path):
    import torch
    from ultralytics.nn.tasks import DetectionModel

    from detection.config import make_config
    from detection.train import train

    config = make_config("smoke", data=str(synthetic_root / "NEU-DET"), out=str(tmp_path), name="inpre",
                         pretrain_epochs=1)
    with network_blocked():
        run = train(config, progress=False)
    info = json.loads((run / "pretrain" / "pretrain.json").read_text())
    assert info["model"] == "yolov8n-cls.yaml" and "test" not in info["pictures"]
    assert sum(info["pictures"]["train"].values()) + sum(info["pictures"]["valid"].values()) == 144
    assert not (run / "pretrain" / "data").exists()
    weights = run / "pretrain" / "train" / "weights" / "best.pt"
    assert torch.load(run / "model.pt", weights_only=False)["train_args"]["pretrained"] == str(weights)
    # the transfer the trainer performs: every backbone tensor (layers 0-8) comes from the classifier
    classifier = torch.load(weights, weights_only=False)["model"].float()
    detector = DetectionModel("yolov8n.yaml", nc=6, verbose=False)
    detector.load(torch.load(weights, weights_only=False), verbose=False)
    backbone = {k: v for k, v in classifier.state_dict().items() if int(k.split(".")[1]) <= 8}
    assert len(backbone) > 100
    assert all(torch.equal(detector.state_dict()[k], v) for k, v in backbone.items())


def test_tta_evaluation_writes_its_own_metrics(det_run):
    from detection.evaluate import evaluate

    with network_blocked():
        plain = json.loads((det_run / "metrics.json").read_text())
        metrics = evaluate(det_run, "test", tta=True)
    assert metrics["tta"] is True and plain["tta"] is False
    assert (det_run / "tta_test_metrics.json").is_file() and (det_run / "plots" / "tta_test_pr_curve.png").is_file()
    assert json.loads((det_run / "metrics.json").read_text()) == plain  # the plain numbers are kept


def test_imagenet_lite_backbone_trains_exports_and_keeps_its_frozen_stem(synthetic_root, tmp_path):
    import torch

    from detection.config import make_config
    from detection.export import raw_outputs, to_onnx
    from detection.lite_backbone import LiteFeatures
    from detection.train import train

    config = make_config("smoke", data=str(synthetic_root / "NEU-DET"), out=str(tmp_path), name="lite",
                         backbone="efficientnet_lite0", epochs=2)
    with network_blocked():
        run = train(config, progress=False)
        path = to_onnx(run)
        torch_out, onnx_out = raw_outputs(run, np.random.default_rng(0).uniform(0, 1, (2, 3, 64, 64)).astype("float32"))
    assert (run / "model.yaml").is_file() and np.abs(torch_out - onnx_out).max() < 1e-3 and path.is_file()
    imagenet = LiteFeatures("efficientnet_lite0").state_dict()
    random = LiteFeatures("efficientnet_lite0", imagenet=False).state_dict()
    trained = torch.load(run / "model.pt", weights_only=False)["model"].model[0].float().state_dict()
    assert set(trained) == set(imagenet)
    stem = "stem.0.weight"  # frozen: still the ImageNet tensor (saved in half precision)
    assert torch.allclose(trained[stem], imagenet[stem], atol=1e-3) and not torch.allclose(random[stem], imagenet[stem], atol=1e-3)
    late = "blocks.5.0.conv_pw.weight"  # trained: moved away from ImageNet
    assert not torch.allclose(trained[late], imagenet[late], atol=1e-4)
