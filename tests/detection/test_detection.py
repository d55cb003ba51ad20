"""YOLO detector on synthetic NEU-DET: offline train / val / predict / ONNX export, outputs and errors."""
import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import network_blocked

from shared.suite.errors import DataError


@pytest.fixture(scope="session")
def trained(generic_runs):
    """The smoke detector trained on synthetic NEU copies (50 pictures a class) through the generic path (conftest)."""
    return generic_runs("detection")[0]


@pytest.fixture(scope="session")
def det_run(trained):
    return trained.path


def test_ultralytics_is_confined_to_the_suite_folder(det_run, suite_home):
    from ultralytics.utils import SETTINGS

    folder = suite_home / "ultralytics"
    assert os.environ["YOLO_CONFIG_DIR"] == str(folder) and os.environ["YOLO_OFFLINE"] == "1"
    assert (folder / "Ultralytics" / "Arial.ttf").stat().st_size > 100_000
    assert SETTINGS["sync"] is False and Path(SETTINGS["weights_dir"]).is_relative_to(folder)


def test_run_folder_and_metrics(det_run):
    for name in ("config.json", "data.json", "model.yaml", "model.pt", "metrics.json", "training.json", "data/data.yaml",
                 "data/export_report.json", "plots/pr_curve.png", "plots/confusion.png"):
        assert (det_run / name).is_file(), name
    metrics = json.loads((det_run / "metrics.json").read_text())
    for key in ("map50", "map50_95", "per_class_ap50", "precision", "recall", "data_fingerprint", "git_commit"):
        assert key in metrics
    assert 0 <= metrics["map50_95"] <= metrics["map50"] <= 1
    assert set(metrics["per_class_ap50"]) <= set(metrics["classes"])
    report = json.loads((det_run / "data" / "export_report.json").read_text())
    assert report["images"]["test"] == 60 and report["images"]["train"] + report["images"]["valid"] == 240  # 50 a class


def test_predict_records_files_and_a_bad_image(det_run, synthetic_root, tmp_path):
    from detection import task

    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"nope")
    images = sorted((synthetic_root / "NEU-DET" / "IMAGES").glob("scratches_*.jpg"))[:3]
    with network_blocked():
        predictor = task.load(det_run).predictor(conf=0.0001)
        records = predictor.predict_to([images[0], bad, *images[1:]], tmp_path / "out")
    assert [("error" in r) for r in records] == [False, True, False, False]
    assert "broken.jpg" in records[1]["error"]
    table = pd.read_csv(tmp_path / "out" / "predictions.csv")
    assert len(table.dropna(subset=["class"])) == sum(len(r.get("boxes", [])) for r in records)
    assert len(list((tmp_path / "out" / "pictures").glob("*.png"))) == 3
    for box in (b for r in records for b in r.get("boxes", [])):
        assert 0 <= box["xmin"] <= box["xmax"] <= 200 and box["class"] in predictor.classes


def test_onnx_runtime_agrees_with_pytorch(trained, synthetic_root):
    """ONNX parity: the raw head outputs agree within 1e-3 of their scale (box pixels and class scores apart), and
    the boxes a user gets agree as a set, matched by class and IoU, whatever order near-equal boxes come out in
    with this CPU's kernels."""
    from parity import assert_close_to_scale, assert_same_boxes, strong_floor
    from PIL import Image

    from detection.export import export_checked, raw_outputs

    pictures = [synthetic_root / "NEU-DET" / "IMAGES" / f"{name}_3.jpg" for name in ("patches", "inclusion", "scratches")]
    size = trained.recipe.image_size
    tensors = np.stack([np.asarray(Image.open(p).convert("RGB").resize((size, size)), np.float32).transpose(2, 0, 1)
                        for p in pictures]) / 255
    with network_blocked():
        path, difference = export_checked(trained)
        torch_out, onnx_out = raw_outputs(trained, tensors)
        via_torch = trained.predictor(conf=0.0001).predict(pictures)
        via_onnx = trained.predictor(conf=0.0001, onnx=True).predict(pictures)
    assert path.is_file() and difference < 1e-3
    assert_close_to_scale(torch_out[:, :4], onnx_out[:, :4])  # box coordinates, in pixels
    assert_close_to_scale(torch_out[:, 4:], onnx_out[:, 4:])  # class scores
    strong = 0
    for a, b in zip(via_torch, via_onnx):
        strong += assert_same_boxes(a["boxes"], b["boxes"], min_conf=strong_floor(a["boxes"]))
    assert strong > 0


def test_pycocotools_scores_the_truth_as_perfect_and_a_run_beside_the_validator(trained):
    from detection.coco import coco_map, truth_and_sizes

    pictures, truth, sizes = truth_and_sizes(trained.data_yaml(), "test", trained.classes)
    assert len(pictures) == len(truth) == len(sizes) == 60 and sum(map(len, truth)) > 60
    perfect = [[{**b, "confidence": 1.0} for b in boxes] for boxes in truth]
    scored = coco_map(truth, perfect, sizes, trained.classes)
    assert scored["map50"] == pytest.approx(1.0) and scored["map50_95"] == pytest.approx(1.0)
    assert set(scored["per_class_ap50"]) == {b["class"] for boxes in truth for b in boxes}
    # the same boxes a picture's width to the right: they meet no truth box, so nothing is found
    shifted = [[{**b, "xmin": b["xmin"] + w, "xmax": b["xmax"] + w} for b in boxes] for boxes, (w, _) in zip(perfect, sizes)]
    assert coco_map(truth, shifted, sizes, trained.classes)["map50"] == 0
    with network_blocked():
        metrics = trained.evaluate("test", coco=True)
    coco = metrics["pycocotools"]
    assert 0 <= coco["map50_95"] <= coco["map50"] <= 1 and set(coco["per_class_ap50"]) <= set(trained.classes)


def test_a_dataset_without_boxes_is_refused(synthetic_root, tmp_path):
    from detection import task

    with pytest.raises(DataError, match="no box annotations"):
        task.train(task.Recipe.from_preset("smoke", data=str(synthetic_root / "NEU-Metal-Surface-Defects"),
                                           out=str(tmp_path)))
    assert not list(tmp_path.rglob("data.json"))


def test_cli_evaluate_predict_export_offline(det_run, synthetic_root, tmp_path, capsys):
    from shared.suite.cli import main

    image = str(synthetic_root / "NEU-DET" / "IMAGES" / "inclusion_2.jpg")
    with network_blocked():
        assert main(["detection", "evaluate", str(det_run)]) == 0
        assert main(["detection", "predict", str(det_run), image, "--out", str(tmp_path / "p")]) == 0
        assert main(["detection", "export", str(det_run)]) == 0
        assert main(["detection", "predict", str(det_run), image, "--onnx", "--out", str(tmp_path / "o")]) == 0
        for border in ("0", "0.5"):  # the frame reaches the network: the bare picture gives other boxes
            # options as key=value (ultralytics' grammar) on the predict verb, as `--key value` elsewhere
            assert main(["detection", "predict", str(det_run), image, f"border={border}", "conf=0.0001",
                         "--out", str(tmp_path / f"b{border}")]) == 0
    out = capsys.readouterr().out
    bare, framed = (json.loads((tmp_path / f"b{b}" / "predictions.json").read_text())[0]["boxes"] for b in ("0", "0.5"))
    assert bare and framed and bare != framed
    assert "test: mAP50" in out and "framework - ONNX Runtime|" in out
    assert json.loads((tmp_path / "p" / "predictions.json").read_text())[0]["image"] == image
    assert (tmp_path / "p" / "pictures" / "inclusion_2.png").is_file()


def test_trains_on_a_yolo_format_dataset(synthetic_index, tmp_path):
    from detection import task
    from shared.datasets.export_yolo import to_yolo_dataset
    from shared.datasets.splits import make_split

    index, _ = synthetic_index
    to_yolo_dataset(index, make_split(index, "kaggle-det"), tmp_path / "own-yolo")
    with network_blocked():
        run = task.train(task.Recipe.from_preset("smoke", data=str(tmp_path / "own-yolo"), out=str(tmp_path / "runs")),
                         progress=False).path
    report = json.loads((run / "data" / "export_report.json").read_text())
    assert report["images"]["test"] == 36 and report["boxes"] == sum(len(b) for b in index[index.source == "voc"].boxes)


def test_inpretrain_hands_the_classifier_backbone_to_the_detector(synthetic_root, tmp_path):
    import torch
    from ultralytics.nn.tasks import DetectionModel

    from detection import task

    config = task.Recipe.from_preset("smoke", data=str(synthetic_root / "NEU-DET"), out=str(tmp_path), name="inpre",
                                     pretrain_epochs=1)
    with network_blocked():
        run = task.train(config, progress=False).path
    info = json.loads((run / "pretrain" / "pretrain.json").read_text())
    assert info["model"] == "yolov8n-cls.yaml" and "test" not in info["pictures"]
    assert sum(info["pictures"]["train"].values()) + sum(info["pictures"]["valid"].values()) == 144
    assert not (run / "pretrain" / "data").exists()
    weights = run / "pretrain" / "train" / "weights" / "best.pt"
    last = run / "train" / "weights" / "last.pt"  # ultralytics' own checkpoint of the training that just ran
    assert torch.load(last, weights_only=False)["train_args"]["pretrained"] == str(weights)
    # the transfer the trainer performs: every backbone tensor (layers 0-8) comes from the classifier
    classifier = torch.load(weights, weights_only=False)["model"].float()
    detector = DetectionModel("yolov8n.yaml", nc=6, verbose=False)
    detector.load(torch.load(weights, weights_only=False), verbose=False)
    backbone = {k: v for k, v in classifier.state_dict().items() if int(k.split(".")[1]) <= 8}
    assert len(backbone) > 100
    assert all(torch.equal(detector.state_dict()[k], v) for k, v in backbone.items())


def test_tta_evaluation_writes_its_own_metrics(trained, det_run):
    with network_blocked():
        plain = json.loads((det_run / "metrics.json").read_text())
        metrics = trained.evaluate("test", tta=True)
    assert metrics["tta"] is True and plain["tta"] is False
    assert (det_run / "tta_metrics.json").is_file() and (det_run / "plots" / "tta_pr_curve.png").is_file()
    assert json.loads((det_run / "metrics.json").read_text()) == plain  # the plain numbers are kept


def test_imagenet_lite_backbone_trains_exports_and_keeps_its_frozen_stem(synthetic_root, tmp_path):
    import torch

    from detection import task
    from detection.export import export_checked
    from detection.lite_backbone import LiteFeatures

    config = task.Recipe.from_preset("smoke", data=str(synthetic_root / "NEU-DET"), out=str(tmp_path), name="lite",
                                     backbone="efficientnet_lite0", epochs=2)
    with network_blocked():
        run = task.train(config, progress=False)
        path, difference = export_checked(run)
    assert (run.path / "model.yaml").is_file() and difference < 1e-3 and path.is_file()
    imagenet = LiteFeatures("efficientnet_lite0").state_dict()
    random = LiteFeatures("efficientnet_lite0", imagenet=False).state_dict()
    saved = torch.load(run.path / "model.pt", weights_only=True)
    trained = {k.removeprefix("model.0."): v for k, v in saved.items() if k.startswith("model.0.")}
    assert set(trained) == set(imagenet)
    stem = "stem.0.weight"  # frozen: still the ImageNet tensor (ultralytics keeps half precision in best.pt)
    assert torch.allclose(trained[stem], imagenet[stem], atol=1e-3) and not torch.allclose(random[stem], imagenet[stem], atol=1e-3)
    late = "blocks.5.0.conv_pw.weight"  # trained: moved away from ImageNet
    assert not torch.allclose(trained[late], imagenet[late].half().float(), atol=1e-4)  # more than best.pt's rounding


def test_a_tampered_model_file_is_refused_not_executed(det_run, tmp_path):
    import shutil

    import torch

    from detection import task

    class Payload:
        def __reduce__(self):
            return exec, (f"open({str(tmp_path / 'executed.txt')!r}, 'w').write('executed')",)

    run = Path(shutil.copytree(det_run, tmp_path / "run"))
    torch.save({"model.0.conv.weight": Payload()}, run / "model.pt")
    with pytest.raises(DataError, match="not a plain weights file"):
        task.load(run)
    assert not (tmp_path / "executed.txt").exists()


def test_a_run_starts_from_another_runs_weights(trained, tmp_path):
    """pretrained=RUN: the new detector starts from RUN's tensors (at learning rate 0 it ends where it started)."""
    import torch

    from detection import task

    recipe = task.Recipe.from_preset("smoke", data=trained.recipe.data, out=str(tmp_path), name="next",
                                     pretrained=str(trained.path), epochs=1,
                                     extra={"optimizer": "AdamW", "lr0": 0.0, "warmup_epochs": 0})
    with network_blocked():
        run = task.train(recipe, progress=False)
    start = torch.load(trained.path / "model.pt", weights_only=True)
    end = torch.load(run.path / "model.pt", weights_only=True)
    weights = [k for k, _ in run.model.model.named_parameters()]
    assert all(torch.allclose(start[k], end[k], atol=1e-3) for k in weights)
    fresh = task.Recipe.from_dict(dict(recipe.to_dict(), pretrained="", name="scratch"))
    with network_blocked():
        other = torch.load(task.train(fresh, progress=False).path / "model.pt", weights_only=True)
    assert not all(torch.allclose(start[k], other[k], atol=1e-3) for k in weights)  # the control: it did matter


def test_pretrained_takes_tensors_only_and_says_what_is_wrong(tmp_path, synthetic_root):
    import torch

    from detection import task

    class Payload:
        def __reduce__(self):
            return exec, (f"open({str(tmp_path / 'executed.txt')!r}, 'w').write('executed')",)

    torch.save({"model.0.conv.weight": Payload()}, tmp_path / "pickled.pt")
    torch.save({"model.0.conv.weight": torch.zeros(1, 1, 1, 1)}, tmp_path / "other.pt")
    cases = {tmp_path / "pickled.pt": "not a plain weights file", tmp_path / "absent": "no such file",
             tmp_path / "other.pt": "no layer matches"}
    for path, problem in cases.items():
        recipe = task.Recipe.from_preset("smoke", data=str(synthetic_root / "NEU-DET"), out=str(tmp_path / "runs"),
                                         name=path.stem, pretrained=str(path), epochs=1)
        with network_blocked(), pytest.raises(DataError, match=problem) as error:
            task.train(recipe, progress=False)
        assert str(error.value).startswith(str(path)) and "\n" not in str(error.value)
    assert not (tmp_path / "executed.txt").exists()


def test_pretrained_from_a_run_on_another_split_is_refused(trained, synthetic_root, tmp_path):
    """Another seed (another validation carve-out) and other data are both refused, naming what differs."""
    from detection import task

    recipe = task.Recipe.from_preset("smoke", data=trained.recipe.data, out=str(tmp_path), name="leak",
                                     pretrained=str(trained.path), seed=trained.recipe.seed + 1, epochs=1)
    with network_blocked(), pytest.raises(DataError, match="another split: data_seed"):
        task.train(recipe, progress=False)
    assert not (tmp_path / "leak" / "train").exists()  # refused before any training
    other_data = task.Recipe.from_dict(dict(recipe.to_dict(), seed=trained.recipe.seed, name="other",
                                            data=str(synthetic_root / "NEU-DET")))
    with network_blocked(), pytest.raises(DataError, match="another split: data"):
        task.train(other_data, progress=False)
    foreign = tmp_path / "foreign"  # another task's run folder holding a model.pt: its own description says so
    foreign.mkdir()
    for name in ("config.json", "model.pt"):
        (foreign / name).write_bytes((trained.path / name).read_bytes())
    info = json.loads((trained.path / "data.json").read_text())
    (foreign / "data.json").write_text(json.dumps(dict(info, task="anomaly")))
    with network_blocked(), pytest.raises(DataError, match="a run of the anomaly task, not of the detection task"):
        task.train(task.Recipe.from_dict(dict(recipe.to_dict(), seed=trained.recipe.seed, name="foreign-start",
                                              pretrained=str(foreign))), progress=False)


def test_split_seed_lets_runs_of_other_seeds_share_their_validation_pictures(trained, tmp_path):
    """The carve-out follows split_seed where given (from CLI strings too), else the seed; a run of another seed
    with the trained run's split_seed may start from its weights, since neither has seen the other's validation."""
    from detection import task
    from detection.data import prepare_data
    from detection.train import same_split

    base = trained.recipe.to_dict()
    def valid_side(**fields):
        recipe = task.Recipe.from_dict({**base, **fields})
        split = prepare_data(recipe, tmp_path / "view").split
        return set(split.index[split == "valid"])

    own = valid_side()
    shared = valid_side(seed=str(trained.recipe.seed + 1), split_seed=str(trained.recipe.seed))
    other = valid_side(seed=trained.recipe.seed + 1)
    assert own and shared == own and other != own
    fingerprint = json.loads((trained.path / "data.json").read_text())["data_fingerprint"]
    same_split(trained.path, task.Recipe.from_dict({**base, "seed": 7, "split_seed": trained.recipe.seed}), fingerprint)
    with pytest.raises(DataError, match=rf"data_seed {trained.recipe.seed} \(here 7\)"):
        same_split(trained.path, task.Recipe.from_dict({**base, "seed": 7}), fingerprint)
    with pytest.raises(ValueError, match="split_seed must be"):
        task.Recipe.from_dict({**base, "split_seed": -2})


def test_frozen_blocks_decide_which_lite_blocks_learn():
    import torch

    from detection.lite_backbone import LiteFeatures

    def grads(frozen: int) -> dict:
        net = LiteFeatures("efficientnet_lite0", imagenet=False, frozen_blocks=frozen)
        sum(o.mean() for o in net(torch.rand(1, 3, 64, 64))).backward()
        return {"stem": net.stem[0].weight.grad, "block1": net.blocks[1][0].conv_pw.weight.grad,
                "block2": net.blocks[2][0].conv_pw.weight.grad}

    frozen, free = grads(2), grads(0)
    assert frozen["stem"] is None and frozen["block1"] is None and frozen["block2"] is not None
    assert all(g is not None and g.abs().sum() > 0 for g in free.values())


def test_benchmark_part_keeps_the_learning_curve(tmp_path):
    import importlib.util

    script = Path(__file__).parents[2] / "scripts" / "benchmarks" / "detection" / "benchmark_detection.py"
    spec = importlib.util.spec_from_file_location("bench", script)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    csv = tmp_path / "results.csv"
    csv.write_text("                  epoch,   time,  train/box_loss,  metrics/mAP50-95(B)\n"
                   "1, 5.5, 2.0, 0.1\n2, 11.0, 1.5, 0.2\n")
    curve = bench.learning_curve(csv)
    assert curve == {"epoch": [1, 2], "seconds": [5.5, 11.0], "train_box_loss": [2.0, 1.5], "valid_map50_95": [0.1, 0.2]}
    assert bench.learning_curve(tmp_path / "absent.csv") == {}


def test_a_run_copied_without_its_data_view_rebuilds_it_from_the_same_data(det_run, tmp_path):
    import shutil

    from detection.run import load

    copy = Path(shutil.copytree(det_run, tmp_path / "copy", ignore=shutil.ignore_patterns("data")))
    assert not (copy / "data").exists()
    metrics = load(copy).evaluate("test")
    assert metrics["map50"] == json.loads((det_run / "metrics.json").read_text())["map50"]
    config = json.loads((copy / "config.json").read_text())
    config["data"] = str(tmp_path / "elsewhere")
    (copy / "config.json").write_text(json.dumps(config))
    shutil.rmtree(copy / "data")
    with pytest.raises(DataError, match="data view is missing and its dataset .* is not here"):
        load(copy).evaluate("test")


def test_yolo26_head_on_a_lite1_backbone_from_the_cli(synthetic_root, tmp_path, capsys):
    """head=yolo26 puts YOLO26n's end-to-end head on the Lite stages: trains offline from the CLI, keeps the
    bundled Lite1 ImageNet stem, reloads from its folder and exports to ONNX with the same outputs."""
    import torch

    from backbones import create_lite
    from detection import task
    from detection.export import export_checked
    from shared.suite.cli import main

    with network_blocked():
        assert main(["detection", "train", f"data={synthetic_root / 'NEU-DET'}", "preset=lite1-unfrozen", "head=yolo26",
                     "image_size=64", "epochs=1", "batch_size=16", "workers=0", "cache=", f"out={tmp_path}",
                     "name=l1h26"]) == 0
        run = task.load(tmp_path / "l1h26")
        _, difference = export_checked(run)
    architecture = (run.path / "model.yaml").read_text()
    assert "efficientnet_lite1" in architecture and "end2end: true" in architecture and "C2PSA" in architecture
    assert difference < 1e-3
    saved = torch.load(run.path / "model.pt", weights_only=True)
    assert saved["model.0.stem.0.weight"].shape == create_lite("efficientnet_lite1").conv_stem.weight.shape


def test_head_applies_to_a_lite_backbone_only():
    from detection import task

    with pytest.raises(ValueError, match="model=yolo26n.yaml"):
        task.Recipe.from_preset("smoke", head="yolo26")


def test_a_run_interrupted_after_an_epoch_resumes_to_the_same_weights(synthetic_root, tmp_path):
    """Stopped right after epoch 1's checkpoint (as at the end of a session), then run again with the same command:
    the resumed run ends with exactly the weights of a run never stopped. Batch 64 = ultralytics' nominal batch, so
    no gradient is accumulated across the cut (its step counter is not saved)."""
    import torch
    from ultralytics.engine import trainer

    from detection import task
    from detection.train import epoch_seconds

    class Interrupted(Exception):
        pass

    def recipe(name):
        return task.Recipe.from_preset("smoke", data=str(synthetic_root / "NEU-DET"), out=str(tmp_path), name=name,
                                       epochs=3, batch_size=64, patience=10)

    original = trainer.BaseTrainer.run_callbacks

    def stop_after_first_checkpoint(self, event):
        original(self, event)
        if event == "on_model_save" and self.epoch == 0:
            raise Interrupted

    with network_blocked():
        straight = task.train(recipe("straight"), progress=False)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(trainer.BaseTrainer, "run_callbacks", stop_after_first_checkpoint)
            with pytest.raises(Interrupted):
                task.train(recipe("cut"), progress=False)
        assert (tmp_path / "cut" / "train" / "weights" / "last.pt").is_file()
        started = time.perf_counter()
        resumed = task.train(recipe("cut"), progress=False)
        second_session = time.perf_counter() - started
        # cut during ultralytics' final evaluation: last.pt is marked finished and model.pt not yet written
        weights = torch.load(straight.path / "model.pt", weights_only=True)
        (straight.path / "model.pt").unlink()
        task.train(recipe("straight"), progress=False)
        again = torch.load(straight.path / "model.pt", weights_only=True)
        assert all(torch.equal(weights[k], again[k]) for k in weights)
    table = pd.read_csv(resumed.path / "train" / "results.csv")
    assert table["epoch"].tolist() == [1, 2, 3]
    # ultralytics' clock restarts with the session: the seconds trained count the first session too
    raw = table["time"].tolist()
    seconds = epoch_seconds(resumed.path / "train")
    assert seconds == pytest.approx([raw[0], raw[0] + raw[1], raw[0] + raw[2]], abs=1e-3)
    training = json.loads((resumed.path / "training.json").read_text())
    assert training["train_seconds"] > second_session and training["train_seconds"] >= seconds[-1]
    # recorded by the training process: ultralytics' one thread on a CPU is raised to every core
    from detection.offline import cpu_threads

    assert training["device"] == "cpu" and training["threads"] == cpu_threads()  # OMP_NUM_THREADS, else the affinity
    a = torch.load(straight.path / "model.pt", weights_only=True)
    b = torch.load(resumed.path / "model.pt", weights_only=True)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_benchmark_phase_clock_splits_each_epoch_and_leaves_no_hook(synthetic_root, tmp_path):
    """scripts/benchmarks/detection/benchmark_threads.py times an epoch's phases from ultralytics' events; the phases
    add up to the epoch, and the hooks leave ultralytics' defaults when the training ends (the next training starts
    clean)."""
    import argparse
    import importlib.util

    from ultralytics.utils.callbacks import base

    script = Path(__file__).parents[2] / "scripts" / "benchmarks" / "detection" / "benchmark_threads.py"
    spec = importlib.util.spec_from_file_location("threads", script)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    before = {name: len(hooks) for name, hooks in base.default_callbacks.items()}
    args = argparse.Namespace(data=synthetic_root / "NEU-DET", preset="smoke", epochs=2, image_size=0, fraction=1.0,
                              runs=tmp_path)
    row = bench.train_one(args, "clocked")
    phases = row["median_phase_seconds"]  # epoch 2 alone
    assert set(phases) == {"batches", "loader_wait", "validation", "checkpoint", "total", "other"}
    assert phases["batches"] > 0 and phases["validation"] > 0 and phases["other"] >= -0.05
    assert abs(sum(v for k, v in phases.items() if k != "total") - phases["total"]) < 0.05
    assert {name: len(hooks) for name, hooks in base.default_callbacks.items()} == before


def test_the_predictor_shows_the_network_what_the_validator_shows_it(trained, tmp_path):
    """Every mAP of the suite comes from ultralytics' validator, which frames each picture with half a stride of
    grey; the predictor must feed the same canvas, or users get other numbers than evaluate reports."""
    import torch
    from ultralytics.nn.tasks import DetectionModel

    seen = []

    def keep(module, args):  # every network's input: ultralytics' predictor may run a copy of trained.model.model
        if isinstance(module, DetectionModel):
            seen.append(args[0].detach().clone())

    hook = torch.nn.modules.module.register_module_forward_pre_hook(keep)
    try:
        with network_blocked():
            trained.model.val(data=str(trained.data_yaml()), split="val", imgsz=trained.recipe.image_size, batch=8,
                              plots=False, project=str(tmp_path), name="val", verbose=False, workers=0)
            validator = torch.cat([x for x in seen if x.shape[1:] == seen[-1].shape[1:]])  # not the warm-up
            shown = {}
            picture = min((trained.path / "data" / "images" / "val").glob("*"))
            for border in (0.5, 0.0):
                seen.clear()
                trained.predictor(border=border).predict([picture])
                shown[border] = seen[-1]
    finally:
        hook.remove()
    framed, bare = shown[0.5][0], shown[0.0][0]
    assert framed.shape == validator.shape[1:] and bare.shape != framed.shape
    # the same picture is among the validator's inputs, up to JPEG decoders (PIL here, OpenCV there)
    assert float((validator - framed).abs().mean(dim=(1, 2, 3)).min()) < 0.01
    edge = framed[:, :8, :].flatten()  # the grey frame (ultralytics' letterbox fill)
    assert float((edge - 114 / 255).abs().max()) < 1e-6


def test_an_ensemble_predicts_the_boxes_the_benchmark_fuses(trained, partner, synthetic_root):
    """The predictor's fused boxes are the ensemble benchmark's (raw boxes of each run, then fuse), kept from conf
    up; NMS keeps a member's own corners and scores, wbf-max a member's score."""
    from detection import task
    from detection.ensemble import raw_boxes
    from detection.fusion import fuse
    from shared.datasets.images import load_image

    images = [load_image(p) for p in sorted((synthetic_root / "NEU-DET" / "IMAGES").glob("*_1.jpg"))]
    scale = [np.array([i.shape[1], i.shape[0]] * 2 + [1, 1], np.float32) for i in images]
    other = task.load(partner)
    with network_blocked():
        members = [raw_boxes(trained, images, tta=True, border=0, conf=1e-4),
                   raw_boxes(other, images, tta=True, border=0, conf=1e-4)]
        for fusion in ("wbf-max", "nms"):
            predictor = trained.predictor(conf=1e-4, border=0, tta=True, fuse_with=str(partner), fusion=fusion)
            got = predictor.fused_boxes(images)
            fused = fuse(members, iou_thr=0.7, skip_box_thr=1e-4, fusion=fusion)
            want = [b[b[:, 4] >= 1e-4] * s for b, s in zip(fused, scale)]
            assert sum(map(len, got)) > 0 and [len(g) for g in got] == [len(w) for w in want]
            for g, w in zip(got, want):
                assert np.allclose(g[np.lexsort(g.T)], w[np.lexsort(w.T)], atol=1e-3)
            pooled = [np.concatenate([a, b]) * s for a, b, s in zip(*members, scale)]
            for g, p in zip(got, pooled):
                if fusion == "nms":  # every box is one of the members'
                    assert all(np.abs(p[:, :6] - box).max(1).min() < 1e-3 for box in g)
                else:  # every confidence is one of the members'
                    assert all(np.abs(p[:, 4] - box[4]).min() < 1e-6 for box in g)


def test_cli_predicts_with_an_ensemble_and_refuses_what_cannot_be_fused(det_run, partner, synthetic_root, tmp_path,
                                                                         capsys):
    import shutil

    from shared.suite.cli import main

    image = str(synthetic_root / "NEU-DET" / "IMAGES" / "inclusion_2.jpg")
    with network_blocked():
        assert main(["detection", "predict", str(det_run), image, "--fuse-with", str(partner), "--tta",
                     "--conf", "0.001", "--out", str(tmp_path / "pair")]) == 0
        boxes = json.loads((tmp_path / "pair" / "predictions.json").read_text())[0]["boxes"]
        assert boxes and [b["confidence"] for b in boxes] == sorted((b["confidence"] for b in boxes), reverse=True)
        assert main(["detection", "predict", str(det_run), image, "--fuse-with", str(partner),
                     "--fusion", "median"]) == 2
        assert "fusion: 'median' is not one of" in capsys.readouterr().err  # the option's choices, checked once
        swapped = tmp_path / "swapped"
        shutil.copytree(partner, swapped)
        info = json.loads((swapped / "data.json").read_text())
        info["classes"] = info["classes"][::-1]
        (swapped / "data.json").write_text(json.dumps(info))
        assert main(["detection", "predict", str(det_run), image, "--fuse-with", str(swapped)]) != 0
    err = capsys.readouterr().err
    assert "swapped" in err and "cannot be fused" in err and len(err.strip().splitlines()) == 1


def test_a_cpu_trains_without_autocast():
    """Offline, ultralytics' AMP check (which downloads a model) is replaced; on a CPU it must still say no: autocast
    there computes in bfloat16, about ten times slower on a CPU without bfloat16 units."""
    from detection.offline import ultralytics_module

    ultralytics_module()
    from ultralytics.engine import trainer
    from ultralytics.nn.tasks import DetectionModel

    assert trainer.check_amp(DetectionModel("yolov8n.yaml", nc=6, verbose=False)) is False
