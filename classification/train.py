"""train(recipe) -> ClassifierRun (model and data alive for evaluate). Two stages: (1) the classifier on frozen, cached backbone features;
(2) the whole network fine-tuned with augmentation (BatchNorm frozen). Early stopping on validation
loss, seeded, resumable (a re-run continues an interrupted run), progress shown."""
from __future__ import annotations

import time
from pathlib import Path

import keras
import numpy as np
import pandas as pd

from .data import load_data
from .models import create_classifier
from .recipe import ClassifierRecipe
from .run import ClassifierRun, load


def _one_hot(y, n):
    return np.eye(n, dtype="float32")[y]


def _loss(config):
    return keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=config.label_smoothing)


def _callbacks(config, run: Path, stage: str, verbose: int):
    callbacks = [keras.callbacks.EarlyStopping("val_loss", patience=config.patience, restore_best_weights=True,
                                               start_from_epoch=config.early_stop_from, verbose=verbose),
                 keras.callbacks.CSVLogger(str(run / f"history_{stage}.csv"), append=True)]
    if stage == "finetune":
        callbacks.append(keras.callbacks.BackupAndRestore(str(run / "backup")))
    return callbacks


def _freeze_batchnorm(model: keras.Model) -> None:
    for layer in model._flatten_layers(include_self=False):
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = False


def train(recipe: ClassifierRecipe, progress: bool = True) -> ClassifierRun:
    config = recipe
    run_dir = recipe.run_dir()
    verbose = 1 if progress else 0
    if (run_dir / "model.keras").is_file() and (run_dir / "data.json").is_file():
        print(f"[classification] {run_dir} is complete; delete it to train again")
        return load(run_dir)
    if (run_dir / "config.json").is_file() and ClassifierRecipe.load(run_dir / "config.json") != recipe:
        raise ValueError(f"{run_dir} holds a run with another recipe; choose another name= or delete it")
    started = time.perf_counter()
    data = load_data(recipe, progress=progress)  # bad data fails here, before anything is written
    classes, n = data.classes, len(data.classes)
    train_side, valid_side = data.side("train"), data.side("valid")
    run = ClassifierRun(run_dir, recipe, classes, data.info(recipe), data=data)
    run.save_description()
    keras.utils.set_random_seed(config.seed)
    train_x, train_y = train_side.x, _one_hot(train_side.y, n)
    valid = (valid_side.x, _one_hot(valid_side.y, n))
    pretrained = config.weights not in ("none", "", None)
    model, backbone, head = create_classifier(config.model, n, config.image_size, config.weights, config.l2,
                                              config.dropout, config.augment, config.seed)
    timings = {}
    if config.head_epochs:
        stage_started = time.perf_counter()
        head_weights = run_dir / "head_stage1.weights.h5"
        if head_weights.is_file():
            head.load_weights(head_weights)
        else:
            pooler = keras.Sequential([backbone, keras.layers.GlobalAveragePooling2D()])
            features = pooler.predict(train_x, batch_size=config.batch_size, verbose=verbose)
            valid_features = pooler.predict(valid[0], batch_size=config.batch_size, verbose=verbose)
            head.compile(keras.optimizers.Adam(config.head_lr), _loss(config), metrics=["accuracy"])
            head.fit(features, train_y, validation_data=(valid_features, valid[1]), epochs=config.head_epochs,
                     batch_size=config.batch_size, callbacks=_callbacks(config, run_dir, "head", verbose),
                     verbose=verbose)
            head.save_weights(head_weights)
        timings["head_seconds"] = round(time.perf_counter() - stage_started, 1)
    if config.finetune_epochs:
        stage_started = time.perf_counter()
        backbone.trainable = True
        if pretrained:
            _freeze_batchnorm(backbone)
        optimizer = keras.optimizers.AdamW(config.finetune_lr, weight_decay=config.weight_decay) \
            if config.weight_decay else keras.optimizers.Adam(config.finetune_lr)
        model.compile(optimizer, _loss(config), metrics=["accuracy"])
        model.fit(train_x, train_y, validation_data=valid, epochs=config.finetune_epochs,
                  batch_size=config.batch_size, callbacks=_callbacks(config, run_dir, "finetune", verbose),
                  verbose=verbose)
        timings["finetune_seconds"] = round(time.perf_counter() - stage_started, 1)
    model.save(run_dir / "model.keras")
    timings["train_seconds"] = round(time.perf_counter() - started, 1)
    run.write_json("training.json", {**timings, "train_pictures": int(len(train_y)),
                                     "valid_pictures": int(len(valid[1]))})
    _write_history(run_dir)
    run.model, run.timings = model, timings
    return run


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
