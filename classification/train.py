"""train(recipe) -> ClassifierRun (model and data alive for evaluate). Two stages: (1) the classifier on frozen, cached backbone features;
(2) the whole network fine-tuned with augmentation (BatchNorm frozen). Early stopping on validation
loss, seeded, resumable (a re-run continues an interrupted run), progress shown."""
from __future__ import annotations

import time
from pathlib import Path

import keras
import numpy as np
import pandas as pd

from shared.suite.errors import DataError

from .data import load_data
from .fit import class_weights, fit_head, fit_whole, loss, strong_augment
from .models import create_classifier, pooler
from .recipe import ClassifierRecipe
from .run import ClassifierRun, load
from .select import choose, train_ensemble, winner_recipe


def _one_hot(y, n):
    return np.eye(n, dtype="float32")[y]


def _callbacks(config, run: Path, stage: str, valid: bool = True):
    callbacks = [keras.callbacks.CSVLogger(str(run / f"history_{stage}.csv"), append=True)]
    if valid:  # without a validation side (labels_per_class hides it) the epochs are fixed
        # verbose=0: its "Epoch N: early stopping" goes to stdout; the epoch bar shows where the stage stopped
        callbacks.append(keras.callbacks.EarlyStopping("val_loss", patience=config.patience, start_from_epoch=
                                                       config.early_stop_from, restore_best_weights=True))
    if stage == "finetune":
        callbacks.append(keras.callbacks.BackupAndRestore(str(run / "backup")))
    return callbacks


def _self_training(config, data, backbone, head, compile_head, weights, progress: bool) -> dict:
    """Stage 1 with unlabelled pictures: features of every view once, then classification.semi's rounds."""
    from .augment import SteelAugment
    from .semi import self_train, view_features

    pooled = pooler(backbone)
    train_side, pool = data.side("train"), data.side("pool")
    strong = SteelAugment(**vars(strong_augment(config.augment)), seed=config.seed)
    labelled = view_features(pooled, train_side.x, config.batch_size, progress=progress)
    weak = view_features(pooled, pool.x, config.batch_size, progress=progress)
    strong_views = view_features(pooled, pool.x, config.batch_size, strong=strong, progress=progress)
    result = self_train(head, labelled, train_side.y, weak, strong_views, len(data.classes), config, compile_head,
                        weights, progress=progress)
    return {"labelled": len(train_side.y), "unlabelled": len(pool.y), "threshold": config.pseudo_threshold,
            "rounds": result.rounds, "pictures": [
                {"picture_id": str(p), "pseudo_label": data.classes[g], "confidence": round(float(c), 4)}
                for p, g, c in zip(pool.picture_ids, result.pseudo_labels, result.confidence)]}


def train(recipe: ClassifierRecipe, progress: bool = True) -> ClassifierRun:
    config = recipe
    run_dir = recipe.run_dir()
    finished = ClassifierRun.existing(recipe, load)  # another recipe there: refused; this one finished: loaded
    if finished is not None:
        return finished
    started = time.perf_counter()
    data = load_data(recipe, progress=progress)  # bad data fails here, before anything is written
    classes, n = data.classes, len(data.classes)
    train_side = data.side("train")
    has_valid = data.has_valid()
    run = ClassifierRun(run_dir, recipe, classes, data.info(recipe), data=data)
    run.save_description()
    keras.utils.set_random_seed(config.seed)
    train_x, train_y = train_side.x, _one_hot(train_side.y, n)
    valid = (data.side("valid").x, _one_hot(data.side("valid").y, n)) if has_valid else None
    weights = class_weights(train_side.y, n, config.class_weight)
    fit_weights = {i: float(w) for i, w in enumerate(weights)} if config.class_weight != "none" else None
    semi = bool(config.pseudo_rounds)
    if semi and not data.has_pool():
        raise DataError(recipe.data, "pseudo_rounds needs unlabelled pictures: put them in an unlabelled/ folder "
                                     "beside the class folders, or hide labels with labels_per_class=K")
    timings = {}
    if config.select:
        selection = _selection(config, run, data, progress)
        config = winner_recipe(config, selection["winner"])
        if selection["winner"] == "ensemble":
            stage_started = time.perf_counter()
            model = train_ensemble(config, data, fit_weights, progress)
            timings["head_seconds"] = round(time.perf_counter() - stage_started, 1)
            return _finish(run, model, timings, started, train_y, valid)
    model, backbone, head = create_classifier(config.model, n, config.image_size, config.weights, config.l2,
                                              config.dropout, config.augment, config.seed)
    if config.head_epochs:
        stage_started = time.perf_counter()
        head_weights = run_dir / "head_stage1.weights.h5"
        if head_weights.is_file():
            head.load_weights(head_weights)
        elif semi:
            def compile_head(h):
                h.compile(keras.optimizers.Adam(config.head_lr), loss(config))

            run.write_json("self_training.json", _self_training(config, data, backbone, head,
                                                                compile_head, weights, progress))
            head.save_weights(head_weights)
        else:
            fit_head(config, backbone, head, train_x, train_y, valid, fit_weights, progress,
                     _callbacks(config, run_dir, "head", bool(valid)))
            head.save_weights(head_weights)
        timings["head_seconds"] = round(time.perf_counter() - stage_started, 1)
    if config.finetune_epochs:
        stage_started = time.perf_counter()
        if semi:  # stage 2 learns the labels and the confident pseudo-labels of stage 1
            train_x, train_y = _with_pseudo_labels(run_dir, data, config.pseudo_threshold, train_x, train_y)
        fit_whole(config, model, backbone, train_x, train_y, valid, fit_weights, progress,
                  _callbacks(config, run_dir, "finetune", bool(valid)))
        timings["finetune_seconds"] = round(time.perf_counter() - stage_started, 1)
    return _finish(run, model, timings, started, train_y, valid)


def _selection(config, run, data, progress: bool) -> dict:
    """select's record: computed once (a resumed run reads it back)."""
    import json

    path = run.path / "selection.json"
    if path.is_file():
        return json.loads(path.read_text())
    selection = choose(config, data, progress)
    run.write_json("selection.json", selection)
    if progress:
        print(f"[classification] select: {selection['winner']} wins; training it on every train picture")
    return selection


def _finish(run, model, timings: dict, started: float, train_y, valid) -> ClassifierRun:
    model.save(run.path / "model.keras")
    timings["train_seconds"] = round(time.perf_counter() - started, 1)
    run.write_json("training.json", {**timings, "train_pictures": len(train_y),
                                     "valid_pictures": len(valid[1]) if valid else 0})
    _write_history(run.path)
    run.model, run.timings = model, timings
    return run


def _with_pseudo_labels(run_dir: Path, data, threshold: float, train_x, train_y):
    """The labelled pictures plus the pool pictures whose stage-1 pseudo-label reached the threshold (read back
    from self_training.json, so a resumed run fine-tunes on the same set)."""
    import json

    pool = data.side("pool")
    guesses = {p["picture_id"]: p for p in json.loads((run_dir / "self_training.json").read_text())["pictures"]}
    keep = [i for i, p in enumerate(pool.picture_ids) if guesses[str(p)]["confidence"] >= threshold]
    ids = [data.classes.index(guesses[str(pool.picture_ids[i])]["pseudo_label"]) for i in keep]
    return (np.concatenate([train_x, pool.x[keep]]),
            np.concatenate([train_y, _one_hot(np.array(ids, dtype=int), len(data.classes))]))


def _write_history(run: Path) -> None:
    from . import plots

    parts = []
    for stage in ("head", "finetune"):
        path = run / f"history_{stage}.csv"
        if path.is_file():
            parts.append(pd.read_csv(path).assign(stage=stage))
    if parts:
        history = pd.concat(parts, ignore_index=True)
        history.to_csv(run / "history.csv", index=False)
        (run / "plots").mkdir(exist_ok=True)
        plots.history_png(history, run / "plots" / "history.png")
