"""Recipes and run folders, for every task: one list of split names, one rule for a run folder that is already
there (Run.existing), and config.json of older versions migrated on load."""
import dataclasses
import json
from dataclasses import dataclass
from typing import ClassVar

import pytest

from shared.suite.recipe import Recipe, recipe_values
from shared.suite.run import Run

RECIPES = ("classification.recipe:ClassifierRecipe", "detection.recipe:DetectorRecipe", "anomaly.recipe:AnomalyRecipe")


def _recipe_class(target: str):
    from importlib import import_module

    module, _, name = target.partition(":")
    return getattr(import_module(module), name)


def _choices(recipe_class, name: str) -> tuple:
    return next(f for f in dataclasses.fields(recipe_class) if f.name == name).metadata["choices"]


def test_one_list_of_split_names():
    from detection.recipe import DETECTION_SPLITS
    from shared.datasets import splits
    from shared.suite import cli_data, recipe

    assert recipe.SPLIT_NAMES is splits.SPLIT_NAMES
    for target in RECIPES:
        recipe_class = _recipe_class(target)
        expected = DETECTION_SPLITS if recipe_class.TASK == "detection" else splits.SPLIT_NAMES
        assert _choices(recipe_class, "split") == expected
    assert DETECTION_SPLITS == tuple(s for s in splits.SPLIT_NAMES if s != "kaggle-cls")
    import argparse

    parser = argparse.ArgumentParser()
    cli_data.add_split_options(parser, "kaggle-det")
    assert tuple(next(a for a in parser._actions if a.dest == "split").choices) == splits.SPLIT_NAMES


def test_one_list_of_anomaly_models_in_the_registry():
    from anomaly import zoo
    from anomaly.recipe import AnomalyRecipe

    assert _choices(AnomalyRecipe, "model") == zoo.MODELS == tuple(zoo.REGISTRY)
    assert zoo.MODELS[0] == AnomalyRecipe.model == AnomalyRecipe.DEFAULT_PRESET  # the default first
    assert [m for m in zoo.MODELS if zoo.entry(m).memory == "coreset"] == ["patchcore"]
    with pytest.raises(KeyError, match="unknown model 'nope'; choose one of texture-knn"):
        zoo.entry("nope")


def test_every_preset_has_one_line_of_help():
    for target in RECIPES:
        recipe_class = _recipe_class(target)
        assert set(recipe_class.PRESET_HELP) == set(recipe_class.PRESETS), recipe_class.TASK
        assert all(line and "\n" not in line for line in recipe_class.PRESET_HELP.values())


def test_recipe_values_are_the_given_fields_without_the_preset():
    from types import SimpleNamespace

    from classification.recipe import ClassifierRecipe

    args = SimpleNamespace(preset="smoke", seed="3", data=None, verbose=True)
    assert recipe_values(args, ClassifierRecipe) == {"seed": "3"}


# -- the one rule for a run folder that is already there ------------------------------------------------------
@dataclass
class ToyRecipe(Recipe):
    TASK = "toy"
    PRESETS: ClassVar[dict] = {"a": {}}
    DEFAULT_PRESET = "a"


@dataclass
class ToyRun(Run):
    TASK = "toy"
    MODEL_FILE = "model.bin"
    FINAL_FILES = ("threshold.json",)


def _toy_train(recipe, opened: list) -> Run:
    """A task's train() in miniature: the rule first, then the folder written (model file and data.json last)."""
    found = ToyRun.existing(recipe, lambda path: opened.append(path) or ToyRun(path, recipe, [], {}))
    if found is not None:
        return found
    run = ToyRun(recipe.run_dir(), recipe, ["a"], {"split": "kaggle-cls"})
    run.save_description()
    for name in (ToyRun.MODEL_FILE, "threshold.json"):
        (run.path / name).write_text("x")
    run.write_json("training.json", {"train_seconds": 1.5})
    return run


def test_a_finished_run_of_the_same_recipe_is_loaded_not_trained_again(tmp_path, capsys):
    recipe = ToyRecipe.from_preset(out=str(tmp_path), name="r")
    opened = []
    _toy_train(recipe, opened)
    stamp = (tmp_path / "r" / "model.bin").stat().st_mtime_ns
    moved = dataclasses.replace(recipe, out=str(tmp_path))  # out and name say where, not what: the same recipe
    again = _toy_train(moved, opened)
    assert opened == [tmp_path / "r"] and again.timings == {"train_seconds": 1.5}
    assert (tmp_path / "r" / "model.bin").stat().st_mtime_ns == stamp
    assert "finished run of this recipe: loaded, not trained again" in capsys.readouterr().out


def test_an_unfinished_run_of_the_same_recipe_is_trained_on(tmp_path):
    recipe = ToyRecipe.from_preset(out=str(tmp_path), name="r")
    _toy_train(recipe, [])
    (tmp_path / "r" / "threshold.json").unlink()  # cut before its last file
    assert ToyRun.existing(recipe, load=None) is None


def test_another_recipe_in_the_folder_is_refused_unless_overwrite(tmp_path):
    _toy_train(ToyRecipe.from_preset(out=str(tmp_path), name="r"), [])
    other = ToyRecipe.from_preset(out=str(tmp_path), name="r", seed=5)
    with pytest.raises(ValueError) as refused:
        _toy_train(other, [])
    assert "holds a run of another recipe (seed 0 (here 5))" in str(refused.value)
    assert "overwrite=true" in str(refused.value) and "\n" not in str(refused.value)
    (tmp_path / "r" / "model.bin").unlink()  # unfinished: refused all the same
    with pytest.raises(ValueError, match="another recipe"):
        _toy_train(other, [])
    run = _toy_train(dataclasses.replace(other, overwrite=True), [])
    assert ToyRecipe.load(run.path / "config.json").seed == 5
    assert "overwrite" not in json.loads((run.path / "config.json").read_text())  # an instruction, not the recipe


def test_a_folder_whose_config_cannot_be_read_is_refused(tmp_path):
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "config.json").write_text('{"epochs": 3}')  # another task's recipe
    with pytest.raises(ValueError, match="cannot read .*unknown toy recipe field"):
        _toy_train(ToyRecipe.from_preset(out=str(tmp_path), name="r"), [])


# -- config.json of older versions --------------------------------------------------------------------------
OLD_DETECTION_CONFIG = {  # a run of the Lite2 headline route, saved when the budget was passed through extra
    "preset": "lite2-unfrozen", "data": "../shared/data/NEU-DET", "split": "kaggle-det", "folds": 5, "fold": 0,
    "seed": 1, "split_seed": -1, "valid_fraction": 0.1, "image_size": 320, "batch_size": 16, "out": "runs/cpu",
    "name": "lite2-unfrozen-t12600s-320px-seed1", "model": "yolov8n.yaml", "backbone": "efficientnet_lite2",
    "backbone_imagenet": True, "frozen_blocks": 0, "head": "yolov8", "pretrained": "", "pretrain_epochs": 0,
    "epochs": 30, "patience": 30, "workers": 2, "device": "", "cache": "ram", "extra": {"time": 3.5}}


def test_an_old_detection_config_with_its_budget_in_extra_loads_as_time(tmp_path):
    from detection.recipe import DetectorRecipe

    (tmp_path / "config.json").write_text(json.dumps(OLD_DETECTION_CONFIG))
    recipe = DetectorRecipe.load(tmp_path / "config.json")
    assert recipe.time == 3.5 and recipe.extra == {}
    # the command that trains it today is the same recipe, so the old run is loaded or resumed, not refused
    today = DetectorRecipe.from_preset("lite2-unfrozen", data="../shared/data/NEU-DET", seed=1, image_size=320,
                                       batch_size=16, epochs=30, time=3.5, out="runs/cpu",
                                       name="lite2-unfrozen-t12600s-320px-seed1")
    assert today.differences(recipe) == []
    kept = {**OLD_DETECTION_CONFIG, "extra": {"time": 2.0, "flipud": 0.5}}
    assert DetectorRecipe.migrate(kept)["extra"] == {"flipud": 0.5}
    older = {k: v for k, v in OLD_DETECTION_CONFIG.items() if k not in ("image_size", "batch_size", "split_seed")}
    older.update(imgsz=320, batch=16)  # field names of the first recipes
    assert DetectorRecipe.migrate(older)["image_size"] == 320
    assert DetectorRecipe.from_dict(DetectorRecipe.migrate(older)).differences(recipe) == []


def test_a_data_path_counts_by_the_folder_it_names(tmp_path, monkeypatch):
    from anomaly.recipe import AnomalyRecipe

    (tmp_path / "data").mkdir()
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    relative = AnomalyRecipe.from_preset("texture-knn", data="../data")
    assert relative.differences(AnomalyRecipe.from_preset("texture-knn", data=str(tmp_path / "data"))) == []
    assert relative.differences(AnomalyRecipe.from_preset("texture-knn", data=str(tmp_path / "data") + "/")) == []
    other = AnomalyRecipe.from_preset("texture-knn", data=str(tmp_path / "work"))
    assert relative.differences(other) == [f"data {str(tmp_path / 'work')!r} (here '../data')"]


def test_a_run_folder_takes_another_spelling_of_the_folder_it_was_trained_from(tmp_path, monkeypatch):
    """The run folder's data.json names the folder it was trained from: another spelling of it is this recipe; a
    relative path that names another folder from here, or a run saved without data_folder, is refused."""
    from anomaly.recipe import AnomalyRecipe
    from anomaly.run import AnomalyRun

    for name in ("data", "work", "elsewhere"):
        (tmp_path / name).mkdir()
    monkeypatch.chdir(tmp_path / "work")
    saved = AnomalyRecipe.from_preset("texture-knn", data="../data", out=str(tmp_path / "runs"), name="r")
    saved.run_dir().mkdir(parents=True)
    saved.save(saved.run_dir() / "config.json")
    given = AnomalyRecipe.from_preset("texture-knn", data=str(tmp_path / "data"), out=str(tmp_path / "runs"),
                                      name="r")
    record = saved.run_dir() / "data.json"
    record.write_text(json.dumps({"data_folder": str(tmp_path / "data")}))
    assert AnomalyRun.existing(given, load=None) is None  # unfinished, of this recipe: train() resumes it
    record.write_text(json.dumps({"data_folder": str(tmp_path / "elsewhere")}))  # ../data seen from another folder
    with pytest.raises(ValueError, match="holds a run of another recipe .*trained from .*elsewhere"):
        AnomalyRun.existing(given, load=None)
    record.write_text(json.dumps({}))  # a run saved before data_folder
    with pytest.raises(ValueError, match="holds a run of another recipe"):
        AnomalyRun.existing(given, load=None)


def test_the_budget_is_a_field_not_an_extra():
    from detection.recipe import DetectorRecipe

    with pytest.raises(ValueError, match="time=HOURS"):
        DetectorRecipe.from_preset("smoke", extra='{"time": 1}')
    with pytest.raises(ValueError, match="budget in hours"):
        DetectorRecipe.from_preset("smoke", time=-1)


def test_the_detection_default_is_the_measured_one_hour_route():
    """The default preset is the recipe of the detection.json row its help quotes, with that row's scores."""
    from pathlib import Path

    from detection.recipe import DetectorRecipe

    root = Path(__file__).resolve().parents[2] / "scripts" / "benchmarks" / "results"
    row = json.loads((root / "detection.json").read_text())["routes"]["yolov8n-320-e40-224px-seed0/plain"]
    recipe = DetectorRecipe.from_preset()
    assert (recipe.image_size, recipe.epochs, recipe.batch_size) == (row["imgsz"], row["epochs"], 16)
    assert (recipe.model, recipe.backbone, recipe.pretrain_epochs, recipe.time) == ("yolov8n.yaml", "", 0, 0)
    line = DetectorRecipe.PRESET_HELP[DetectorRecipe.DEFAULT_PRESET]
    for value in (row["valid_map50"], row["valid_map50_95"], row["map50"], row["map50_95"]):
        assert f"{value:.3f}" in line
    assert f"{round(row['train_seconds'] / 60)} min" in line


def test_the_budget_reaches_ultralytics_time(synthetic_root, tmp_path, monkeypatch):
    from ultralytics.engine import model

    from detection import task

    class Started(Exception):
        pass

    given = {}

    def record(self, **arguments):
        given.update(arguments)
        raise Started

    monkeypatch.setattr(model.Model, "train", record)
    recipe = task.Recipe.from_preset("smoke", data=str(synthetic_root / "NEU-DET"), out=str(tmp_path), name="t")
    for hours, expected in ((0.25, 0.25), (0, None)):
        with pytest.raises(Started):
            task.train(dataclasses.replace(recipe, time=hours, overwrite=True), progress=False)
        assert given["time"] == expected
