"""Few labels: the unlabelled/ folder, labels_per_class, self-training, class weights (tiny, seconds)."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from PIL import Image

from shared.datasets.index import UNLABELLED, class_names, read_dataset

PATTERNS = ("checks", "fine-checks", "plain")  # classes that keep their look under flips and turns


def _pattern(name, rng, size=(40, 40)):
    rows, cols = np.mgrid[0:size[0], 0:size[1]]
    shift = rng.integers(0, 6)
    pattern = {"checks": ((rows + shift) // 6 + (cols + shift) // 6) % 2,
               "fine-checks": ((rows + shift) // 2 + (cols + shift) // 2) % 2, "plain": np.ones_like(rows)}[name]
    pixels = pattern[..., None] * rng.uniform(80, 255, 3) + rng.normal(0, 10, (*size, 3))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


@pytest.fixture(scope="module")
def few_labels(tmp_path_factory):
    """15 labelled pictures per class (holdout and its validation carve need them) and an unlabelled/ folder of 12 per class, names that do not tell the class."""
    root, rng = tmp_path_factory.mktemp("few") / "d", np.random.default_rng(0)
    truth = {}
    for name in PATTERNS:
        (root / name).mkdir(parents=True)
        for k in range(15):
            _pattern(name, rng).save(root / name / f"{k}.png")
    (root / "unlabelled").mkdir()
    for k in range(36):
        name = PATTERNS[k % 3]
        _pattern(name, rng).save(root / "unlabelled" / f"u{k:02d}.png")
        truth[f"unlabelled/u{k:02d}"] = name
    return root, truth


def test_an_unlabelled_folder_is_read_but_is_no_class(few_labels):
    index, _report = read_dataset(few_labels[0], progress=False)
    assert class_names(index) == sorted(PATTERNS)
    assert (index["class_name"] == UNLABELLED).sum() == 36 and len(index) == 81


def test_self_training_pseudo_labels_the_unlabelled_folder(few_labels, tmp_path, no_network):
    from classification import task

    root, truth = few_labels
    recipe = task.Recipe.from_preset("semi", data=str(root), split="holdout", image_size=48, pseudo_rounds=2,
                                     pseudo_steps=60, pseudo_threshold=0.6, out=str(tmp_path))
    run = task.train(recipe, progress=False)
    record = json.loads((run.path / "self_training.json").read_text())
    assert record["unlabelled"] == 36 and len(record["rounds"]) == 2
    assert json.loads((run.path / "data.json").read_text())["sizes"]["unlabelled"] == 36
    guesses = {p["picture_id"]: p["pseudo_label"] for p in record["pictures"]}
    assert guesses.keys() == truth.keys()
    right = np.mean([guesses[p] == truth[p] for p in truth])
    assert right >= 0.9, f"pseudo-labels right on {right:.0%} of the pool"
    assert record["rounds"][-1]["pseudo_labelled"] > 0


def test_labels_per_class_hides_the_rest_and_never_reads_it(classification_data, tmp_path, monkeypatch):
    from classification import data as data_module
    from classification import task

    recipe = task.Recipe.from_preset("semi", data=str(classification_data), labels_per_class=2, image_size=48,
                                     out=str(tmp_path))
    data = data_module.load_data(recipe, progress=False)
    train, pool = data.side("train"), data.side("pool")
    assert np.bincount(train.y).tolist() == [2] * len(data.classes)
    assert (pool.y == -1).all() and not (data.split == "valid").any()
    again = data_module.load_data(recipe, progress=False).side("train")
    assert list(again.picture_ids) == list(train.picture_ids)  # the draw is a function of the seed
    other = data_module.load_data(dataclasses.replace(recipe, seed=1), progress=False).side("train")
    assert set(other.picture_ids) != set(train.picture_ids)
    # the pool's arrays are decoded from an index whose labels are blank
    seen = []
    real = data_module.to_arrays
    monkeypatch.setattr(data_module, "to_arrays", lambda index, *a, **k: seen.append(index) or real(index, *a, **k))
    data_module.load_data(recipe, progress=False).side("pool")
    assert set(seen[0].loc[data.split == "pool", "class_name"]) == {UNLABELLED}


@pytest.mark.parametrize("fields, message", [
    ({"labels_per_class": -1}, "labels_per_class"), ({"pseudo_threshold": 1.5}, "pseudo_threshold"),
    ({"head_epochs": 0}, "needs stage 1"), ({"select": "frozn"}, "select="), ({"select": ","}, "select="),
])
def test_bad_few_label_fields_fail_when_the_recipe_is_built(fields, message):
    from classification import task

    with pytest.raises(ValueError, match=message):
        task.Recipe.from_preset("semi", data="x", **fields)


def test_self_training_without_unlabelled_pictures_says_where_to_put_them(classification_data, tmp_path):
    from classification import task
    from shared.suite.errors import DataError

    with pytest.raises(DataError, match="unlabelled/ folder"):
        task.train(task.Recipe.from_preset("semi", data=str(classification_data), image_size=48, out=str(tmp_path)),
                   progress=False)


def test_balanced_class_weights_follow_scikit_learn():
    from sklearn.utils.class_weight import compute_class_weight

    from classification.fit import class_weights

    y = np.array([0] * 10 + [1] * 3 + [2] * 1)
    assert np.allclose(class_weights(y, 3, "balanced"), compute_class_weight("balanced", classes=np.arange(3), y=y))
    assert np.allclose(class_weights(y, 3, "none"), 1)


def test_tune_writes_a_study_whose_trial_zero_is_the_default(classification_data, tmp_path, capsys, no_network):
    from shared.suite.cli import main

    code = main(["classification", "tune", f"data={classification_data}", "preset=lite0-frozen", "image_size=48",
                 "head_epochs=10", "folds=2", "--trials", "3", "--quiet", f"out={tmp_path}"])
    assert code == 0
    folder = next(tmp_path.glob("*-tune"))
    study = json.loads((folder / "study.json").read_text())
    assert len(study["trials"]) == 3 and study["folds"] == 2
    assert study["trials"][0]["params"]["head_epochs"] == 10  # the recipe's own values come first
    assert study["best"]["log_loss"] == min(t["log_loss"] for t in study["trials"])
    assert (folder / "search.png").stat().st_size > 1000
    assert json.loads((folder / "best_recipe.json").read_text())["head_lr"] == study["best"]["params"]["head_lr"]
    assert "train it: defectlab classification train" in capsys.readouterr().out


def test_auto_scores_every_candidate_and_trains_the_winner(few_labels, tmp_path, no_network):
    from classification import task

    recipe = task.Recipe.from_preset("auto", data=str(few_labels[0]), split="holdout", image_size=48, head_epochs=3,
                                     finetune_epochs=1, select_folds=2, out=str(tmp_path))
    run = task.train(recipe, progress=False)
    selection = json.loads((run.path / "selection.json").read_text())
    assert set(selection["candidates"]) == {"frozen", "ensemble", "finetune"} and selection["folds"] == 2
    best = max(c["accuracy"] for c in selection["candidates"].values())
    assert selection["candidates"][selection["winner"]]["accuracy"] == best
    training = json.loads((run.path / "training.json").read_text())
    assert (run.model.name == "ensemble") == (selection["winner"] == "ensemble")  # the winner is what was trained
    assert ("finetune_seconds" in training) == (selection["winner"] == "finetune")
    probabilities = run.predictor().probabilities(classification_arrays(run))
    assert np.allclose(probabilities.sum(1), 1, atol=1e-4)
    reloaded = task.load(run.path).predictor().probabilities(classification_arrays(run))
    assert np.allclose(probabilities, reloaded, atol=1e-5)  # the saved model (an ensemble too) loads safely


def test_an_ensemble_model_averages_its_members_probabilities(tmp_path):
    import keras

    from classification.models import create_backbone, create_ensemble, create_head

    members = []
    for name in ("efficientnet_lite0", "efficientnet_lite1"):
        backbone = create_backbone(name, 64, "imagenet")
        head = create_head(backbone.output.shape[-1], 3, 0.0, 0.0, name=f"head_{name}")
        head.set_weights([w + np.random.default_rng(1).normal(0, 0.3, w.shape) for w in head.get_weights()])
        members.append((name, backbone, head))
    model = create_ensemble(members, 64)
    x = np.random.default_rng(0).uniform(0, 255, (2, 64, 64, 3)).astype("float32")
    x[1] = 255 - x[1] * np.linspace(0, 1, 64)[:, None, None]
    expected = []
    for _, backbone, head in members:
        pooled = keras.ops.mean(backbone(x), axis=(1, 2))
        expected.append(keras.ops.convert_to_numpy(keras.ops.softmax(head(pooled))))
    got = keras.ops.convert_to_numpy(keras.ops.softmax(model(x)))
    assert np.allclose(got, np.mean(expected, axis=0), atol=1e-4)
    # its outputs are log-probabilities, so their energy is 0 whatever the picture (why an ensemble run gives none)
    from scipy.special import logsumexp

    assert np.allclose(logsumexp(keras.ops.convert_to_numpy(model(x)), axis=1), 0, atol=1e-5)
    assert not np.allclose(expected[0], expected[1], atol=1e-2)  # two different members, not a trivial mean
    model.save(tmp_path / "m.keras")
    again = keras.saving.load_model(tmp_path / "m.keras", compile=False)  # safe_mode on: no lambdas
    assert np.allclose(keras.ops.convert_to_numpy(again(x)), keras.ops.convert_to_numpy(model(x)), atol=1e-5)


def classification_arrays(run):
    return run.dataset().side("test").x[:8]
