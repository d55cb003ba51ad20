"""Training, evaluation and prediction on synthetic data (seconds-long recipe)."""
import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from shared.suite.errors import DataError


def test_run_folder_holds_everything_a_report_needs(smoke_run):
    smoke_run = smoke_run.path
    for name in ("config.json", "data.json", "model.keras", "metrics.json", "history.csv", "training.json",
                 "predictions.csv", "confusion.csv", "plots/confusion.png", "plots/history.png", "plots/predictions.png"):
        assert (smoke_run / name).is_file(), name
    metrics = json.loads((smoke_run / "metrics.json").read_text())
    for key in ("schema_version", "command", "git_commit", "split", "data_fingerprint", "versions", "hardware"):
        assert key in metrics
    assert metrics["n"] == 72 and sum(map(sum, metrics["confusion_matrix"])) == 72
    assert metrics["correct"] == sum(metrics["confusion_matrix"][i][i] for i in range(6))
    assert metrics["accuracy"] > 0.3  # chance is 1/6
    assert len(metrics["mistakes"]) == 72 - metrics["correct"]
    history = pd.read_csv(smoke_run / "history.csv")
    assert list(history["stage"].unique()) == ["head", "finetune"] and "val_loss" in history


def test_confusion_csv_and_predictions_agree_with_metrics(smoke_run):
    smoke_run = smoke_run.path
    metrics = json.loads((smoke_run / "metrics.json").read_text())
    confusion = pd.read_csv(smoke_run / "confusion.csv", index_col=0)
    assert confusion.to_numpy().tolist() == metrics["confusion_matrix"]
    predictions = pd.read_csv(smoke_run / "predictions.csv")
    assert int(predictions["correct"].sum()) == metrics["correct"]


def test_evaluate_and_predict_agree(smoke_run):
    from classification import task

    metrics = task.load(smoke_run.path).evaluate("test")  # a loaded run reads the dataset once itself
    predictions = pd.read_csv(smoke_run.path / "predictions.csv")
    records = smoke_run.predictor().predict(list(predictions["path"]))
    assert [r["class"] for r in records] == list(predictions["predicted"])
    assert metrics["accuracy"] == pytest.approx(float((predictions["predicted"] == predictions["true"]).mean()))
    for record in records:
        assert abs(sum(record["probabilities"].values()) - 1) < 1e-4


def test_a_bad_file_gets_an_error_record_and_the_batch_goes_on(smoke_run, classification_data, tmp_path):
    good = sorted((classification_data / "NEU-DET" / "IMAGES").glob("*.jpg"))[:2]
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not an image")
    array = np.asarray(Image.open(good[0]).convert("L"))
    records = smoke_run.predictor().predict([good[0], bad, good[1], array])
    assert [("error" in r) for r in records] == [False, True, False, False]
    assert records[1]["error"].startswith(str(bad)) and "\n" not in records[1]["error"]
    assert records[3]["class"] == records[0]["class"]  # the same picture as an array


def test_rerunning_a_finished_run_does_not_retrain(smoke_run):
    from classification import task

    stamp = (smoke_run.path / "model.keras").stat().st_mtime_ns
    assert task.train(task.Recipe.load(smoke_run.path / "config.json"), progress=False).path == smoke_run.path
    assert (smoke_run.path / "model.keras").stat().st_mtime_ns == stamp


def test_gradcam_heatmap_for_any_image(smoke_run, classification_data, tmp_path):
    from classification.gradcam import gradcam, overlay_png

    predictor = smoke_run.predictor()
    image = classification_data / "NEU-DET" / "IMAGES" / "scratches_40.jpg"
    result = gradcam(predictor, image)
    assert result["heatmap"].shape == (96, 96) and 0 <= result["heatmap"].min() and result["heatmap"].max() <= 1
    assert result["class"] == predictor.predict([image])[0]["class"]
    assert gradcam(predictor, image, "crazing")["class"] == "crazing"
    assert overlay_png(result, tmp_path / "cam.png").stat().st_size > 1000


def _class_folders(root, classes, per_class=4):
    for name in classes:
        (root / name).mkdir(parents=True)
        for k in range(per_class):
            Image.new("L", (32, 32), k * 20).save(root / name / f"{k}.png")
    return root


@pytest.mark.parametrize("make, message", [
    (lambda root: _class_folders(root, ["only"]), "need at least 2 classes"),
    (lambda root: (_class_folders(root, ["a", "b"]), (root / "c").mkdir()), "empty class folder"),
    (lambda root: root.mkdir(), "no dataset found"),
])
def test_bad_datasets_fail_before_training(make, message, tmp_path):
    from classification import task

    make(tmp_path / "d")
    with pytest.raises(DataError, match=message):
        task.train(task.Recipe.from_preset("smoke", data=str(tmp_path / "d"), split="holdout", out=str(tmp_path / "runs")), progress=False)
    assert not (tmp_path / "runs").exists()


def test_any_class_folder_dataset_trains(tmp_path):
    from classification import task

    rng = np.random.default_rng(0)
    rows, cols = np.mgrid[0:40, 0:56]
    patterns = {"checks": (rows // 6 + cols // 6) % 2, "columns": (cols // 4) % 2, "rows": (rows // 4) % 2}
    for name, pattern in patterns.items():
        (tmp_path / "d" / name).mkdir(parents=True)
        for k in range(20):
            colour = rng.uniform(60, 255, 3)  # colour pictures, not square
            pixels = pattern[..., None] * colour + rng.normal(0, 10, (40, 56, 3))
            Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(tmp_path / "d" / name / f"{k}.png")
    run = task.train(task.Recipe.from_preset("smoke", data=str(tmp_path / "d"), split="holdout", image_size=64,
                                             head_epochs=30, finetune_epochs=0, out=str(tmp_path / "runs")),
                     progress=False)
    metrics = run.evaluate("test")
    assert metrics["classes"] == ["checks", "columns", "rows"] and metrics["accuracy"] >= 0.9


def test_an_interrupted_run_resumes_without_redoing_stage_one(classification_data, tmp_path):
    from classification import task

    config = task.Recipe.from_preset("smoke", data=str(classification_data), out=str(tmp_path), name="r", head_epochs=3,
                                     image_size=48)
    run = task.train(config, progress=False).path
    head_rows = len(pd.read_csv(run / "history_head.csv"))
    (run / "model.keras").unlink()  # as if the process died during stage 2
    assert task.train(config, progress=False).path == run and (run / "model.keras").is_file()
    assert len(pd.read_csv(run / "history_head.csv")) == head_rows
    with pytest.raises(ValueError, match="another recipe"):
        (run / "model.keras").unlink()
        task.train(task.Recipe.from_preset("smoke", data=str(classification_data), out=str(tmp_path), name="r", seed=5,
                                           image_size=48), progress=False)


def test_keras_applications_need_local_weights_offline(no_network):
    from classification.models import create_backbone

    with pytest.raises(FileNotFoundError, match="cannot be downloaded offline"):
        create_backbone("keras:EfficientNetB0", 64, "imagenet")
    backbone = create_backbone("keras:EfficientNetB0", 64, "none")
    assert backbone.output.shape[-1] == 1280
    with pytest.raises(KeyError, match="unknown model"):
        create_backbone("resnet9000", 64)


def test_cli_predict_evaluate_explain_offline(smoke_run, classification_data, tmp_path, no_network, capsys):
    from shared.suite.cli import main

    folder = classification_data / "NEU-Metal-Surface-Defects" / "test" / "Scratches"
    smoke_run = smoke_run.path
    assert main(["classification", "predict", str(smoke_run), str(folder), "--out", str(tmp_path / "p")]) == 0
    assert len(list((tmp_path / "p" / "pictures").glob("*.png"))) == 12
    table = pd.read_csv(tmp_path / "p" / "predictions.csv")
    assert len(table) == 12 and {"image", "class", "confidence", "p_scratches"} <= set(table.columns)
    assert main(["classification", "evaluate", str(smoke_run), "--side", "valid"]) == 0
    assert (smoke_run / "valid_metrics.json").is_file()
    image = str(folder / "Sc_1.bmp")
    assert main(["classification", "explain", str(smoke_run), image, "--out", str(tmp_path / "cam")]) == 0
    assert (tmp_path / "cam" / "Sc_1_gradcam.png").is_file()
    assert "valid accuracy" in capsys.readouterr().out


def test_tta_averages_the_eight_orientations(smoke_run, classification_data):
    from classification.predict import dihedral_views

    predictor = smoke_run.predictor()
    x = np.stack([np.asarray(Image.open(p).convert("RGB").resize((96, 96))) for p in
                  sorted((classification_data / "NEU-DET" / "IMAGES").glob("patches_*.jpg"))[:3]])
    views = dihedral_views(x)
    assert len(views) == 8 and all(v.shape == x.shape for v in views)
    assert len({v.tobytes() for v in views}) == 8  # eight distinct orientations
    expected = np.mean([predictor.probabilities(v) for v in views], axis=0)
    assert np.allclose(predictor.probabilities(x, tta=True), expected, atol=1e-5)
    # the average is orientation-invariant: a turned input gives the same answer
    assert np.allclose(predictor.probabilities(np.rot90(x, 1, axes=(1, 2)), tta=True), expected, atol=1e-4)


def test_the_energy_is_minus_logsumexp_of_the_logits_and_means_over_the_views(smoke_run, classification_data):
    from scipy.special import logsumexp

    from classification.predict import dihedral_views

    pictures = [np.asarray(Image.open(p).convert("RGB").resize((96, 96))) for p in
                sorted((classification_data / "NEU-DET" / "IMAGES").glob("crazing_*.jpg"))[:3]]
    x = np.stack(pictures).astype("float32")
    logits = smoke_run.model.predict(x, verbose=0)
    plain, turned = smoke_run.predictor(), smoke_run.predictor(tta=True)
    energy = [r["energy"] for r in plain.predict_arrays(pictures)]
    assert np.allclose(energy, -logsumexp(logits, axis=1), rtol=1e-5, atol=1e-5)
    assert len(set(np.round(energy, 4))) == 3  # a score of each picture, not a constant
    views = [-logsumexp(smoke_run.model.predict(v, verbose=0), axis=1) for v in dihedral_views(x)]
    assert np.allclose([r["energy"] for r in turned.predict_arrays(pictures)], np.mean(views, axis=0), atol=1e-5)


def test_classes_keeps_some_classes_on_the_sides_of_the_whole_split(classification_data):
    from classification import task
    from classification.data import load_data

    def sides(**fields):
        recipe = task.Recipe.from_preset("smoke", data=str(classification_data / "NEU-DET"), split="kaggle-det",
                                         valid_fraction=0.25, **fields)
        data = load_data(recipe, progress=False)
        return data, dict(zip(data.index["picture_id"], data.split))

    _, every = sides()
    kept, some = sides(classes="scratches,crazing")
    assert kept.classes == ["crazing", "scratches"]  # NEU's order, whatever order they were given in
    assert set(kept.index["class_name"]) == {"crazing", "scratches"}
    assert some == {p: every[p] for p in some} and len(some) == 2 * 50
    with pytest.raises(DataError, match="classes not in the dataset: rust"):
        sides(classes="crazing,rust")
