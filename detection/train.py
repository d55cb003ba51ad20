"""train(recipe) -> DetectorRun: the YOLO view of the split (read once, written once), ultralytics YOLO trained
offline (resumable from its last epoch), the best weights kept as model.yaml + model.pt (tensors only)."""
from __future__ import annotations

import json
import time
from pathlib import Path

from shared.suite.console import silenced

from .data import prepare_data
from .offline import ultralytics_module
from .recipe import DetectorRecipe
from .run import DetectorRun, build_yolo, load, save_model


def train(recipe: DetectorRecipe, progress: bool = True) -> DetectorRun:
    run_dir = recipe.run_dir().resolve()
    if (run_dir / "model.pt").is_file() and (run_dir / "data.json").is_file():
        print(f"[detection] {run_dir} is complete; delete it to train again")
        return load(run_dir)
    if (run_dir / "config.json").is_file() and DetectorRecipe.load(run_dir / "config.json") != recipe:
        raise ValueError(f"{run_dir} holds a run with another recipe; choose another name= or delete it")
    data = prepare_data(recipe, run_dir / "data", progress=progress)  # bad data fails before training
    run = DetectorRun(run_dir, recipe, data.classes, data.info(recipe), data=data)
    run.save_description()
    started = time.perf_counter()
    ul = ultralytics_module()
    last = run_dir / "train" / "weights" / "last.pt"
    resume = last.is_file()
    before = note_session(run_dir / "train") if resume else 0.0
    pretrained = recipe.pretrained or False
    if recipe.pretrain_epochs > 0 and not resume:
        from .pretrain import pretrain_backbone

        pretrained = str(pretrain_backbone(recipe, data.index, data.split, run_dir, progress=progress))
    architecture = recipe.model
    if recipe.backbone:
        from .lite_backbone import register, write_model_yaml

        register()  # ultralytics parses the architecture file, also when it resumes
        architecture = str(write_model_yaml(run_dir / "model.yaml", recipe.backbone, len(data.classes),
                                            recipe.backbone_imagenet, recipe.frozen_blocks, recipe.head))
    model = ul.YOLO(str(last) if resume else architecture)
    model.add_callback("on_train_epoch_start", reseed_epoch(recipe.seed))
    exact = run_dir / "train" / "weights" / EXACT_STATE
    model.add_callback("on_model_save", lambda trainer: save_exact_state(trainer, exact))
    model.add_callback("on_pretrain_routine_end", lambda trainer: load_exact_state(trainer, exact))
    with silenced(not progress):  # ultralytics draws its own bars (image caching) whatever `verbose` says
        model.train(data=str(data.export.data_yaml), epochs=recipe.epochs, imgsz=recipe.image_size,
                    batch=recipe.batch_size, patience=recipe.patience, workers=recipe.workers,
                    device=recipe.device or None, cache=recipe.cache or False, seed=recipe.seed, deterministic=True,
                    project=str(run_dir), name="train", exist_ok=True, plots=True, verbose=progress, resume=resume,
                    pretrained=pretrained, **recipe.extra)
    save_model(_best_network(run_dir / "train" / "weights" / "best.pt"), run_dir)
    exact.unlink(missing_ok=True)  # only a run that may still resume needs it
    run.timings = {"train_seconds": round(before + time.perf_counter() - started, 1)}
    run.write_json("training.json", {**run.timings, "images": data.export.images, "boxes": data.export.boxes})
    run.model = build_yolo(run_dir, data.classes)
    return run


EXACT_STATE = "exact_state.pt"
SESSIONS = "sessions.json"


def note_session(train_dir: Path) -> float:
    """A resumed session: its first row of results.csv and the seconds trained before it (sessions.json), because
    ultralytics' `time` column restarts at 0 when a run resumes. Returns those seconds."""
    seconds = epoch_seconds(train_dir)
    path = train_dir / SESSIONS
    sessions = json.loads(path.read_text()) if path.is_file() else []
    sessions.append({"rows_before": len(seconds), "seconds_before": seconds[-1] if seconds else 0.0})
    path.write_text(json.dumps(sessions, indent=1) + "\n")
    return sessions[-1]["seconds_before"]


def epoch_seconds(train_dir: Path) -> list[float]:
    """Seconds from the start of training to the end of each epoch in results.csv, counted over every session."""
    import pandas as pd

    if not (train_dir / "results.csv").is_file():
        return []
    times = pd.read_csv(train_dir / "results.csv").rename(columns=str.strip)["time"].tolist()
    offsets = [0.0] * len(times)
    path = train_dir / SESSIONS
    for session in json.loads(path.read_text()) if path.is_file() else []:
        offsets[session["rows_before"]:] = [session["seconds_before"]] * (len(times) - session["rows_before"])
    return [round(offset + t, 3) for offset, t in zip(offsets, times)]


def save_exact_state(trainer, path: Path) -> None:
    """Beside ultralytics' last.pt, what it rounds or drops: the raw model (its resume starts from the EMA), the
    EMA and the optimizer in full precision (last.pt keeps them in half)."""
    import torch

    from ultralytics.utils.torch_utils import unwrap_model

    torch.save({"epoch": trainer.epoch, "model": unwrap_model(trainer.model).state_dict(),
                "ema": trainer.ema.ema.state_dict(), "optimizer": trainer.optimizer.state_dict()}, path)


def load_exact_state(trainer, path: Path) -> None:
    """On resume, put back the full-precision state of the epoch last.pt was written at (tensors only)."""
    import torch

    from ultralytics.utils.torch_utils import unwrap_model

    if trainer.start_epoch == 0 or not path.is_file():
        return
    state = torch.load(path, map_location="cpu", weights_only=True)
    if state["epoch"] != trainer.start_epoch - 1:
        return  # written at another epoch than last.pt: ultralytics' own resume stands
    unwrap_model(trainer.model).load_state_dict(state["model"])
    trainer.ema.ema.load_state_dict(state["ema"])
    trainer.optimizer.load_state_dict(state["optimizer"])


def reseed_epoch(seed: int):
    """An ultralytics callback that makes each epoch's data order and augmentations a function of (seed, epoch)
    alone: the random generators are reseeded and the loader's iterator rebuilt (its workers restart with seeds
    drawn from the reseeded generator). A run resumed from last.pt then trains exactly as one never stopped; the
    price is a worker restart per epoch (ultralytics otherwise keeps one iterator, prefetching across epochs)."""
    import random

    import numpy as np
    import torch

    def on_train_epoch_start(trainer) -> None:
        epoch_seed = (seed * 1_000_003 + trainer.epoch) % 2**32
        random.seed(epoch_seed)
        np.random.seed(epoch_seed)
        torch.manual_seed(epoch_seed)
        trainer.train_loader.generator.manual_seed(epoch_seed)
        trainer.train_loader.reset()

    return on_train_epoch_start


def _best_network(checkpoint: Path):
    """The network of ultralytics' own checkpoint, written by the training that just ran in this process."""
    from ultralytics.nn.tasks import load_checkpoint

    return load_checkpoint(str(checkpoint), device="cpu")[0]
