"""train(recipe) -> DetectorRun: the YOLO view of the split (read once, written once), ultralytics YOLO trained
offline (resumable from its last epoch), the best weights kept as model.yaml + model.pt (tensors only)."""
from __future__ import annotations

import json
import time
from pathlib import Path

from shared.suite.console import silenced
from shared.suite.errors import DataError

from .data import prepare_data
from .devices import check_devices
from .offline import ultralytics_module
from .recipe import DetectorRecipe
from .run import DetectorRun, build_yolo, load, read_weights, save_model


def train(recipe: DetectorRecipe, progress: bool = True) -> DetectorRun:
    run_dir = recipe.run_dir().resolve()
    finished = DetectorRun.existing(recipe, load)  # another recipe there: refused; this one finished: loaded
    if finished is not None:
        return finished
    check_devices(recipe.device)  # GPUs this machine lacks: one line, before any file is written
    start = start_weights(recipe.pretrained) if recipe.pretrained else None  # a bad file fails before anything
    data = prepare_data(recipe, run_dir / "data", progress=progress)  # bad data fails before training
    run = DetectorRun(run_dir, recipe, data.classes, data.info(recipe), data=data)
    if recipe.pretrained:
        same_split(Path(recipe.pretrained), recipe, run.data_info["data_fingerprint"])
    run.save_description()
    started = time.perf_counter()
    ul = ultralytics_module()
    last = run_dir / "train" / "weights" / "last.pt"
    resume = last.is_file()
    before = note_resume(run_dir / "train") if resume else new_sessions(run_dir / "train")
    if resume and (sessions(run_dir / "train")["checkpoint"] or {}).get("final"):
        return _finish(run, data, before, started)  # cut after its last epoch (ultralytics' last.pt cannot resume)
    pretrained = False
    if recipe.pretrain_epochs > 0 and not resume:  # ultralytics reads the classifier checkpoint it wrote itself
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
    model.add_callback("on_model_save", lambda trainer: note_checkpoint(trainer, before + time.perf_counter() - started))
    model.add_callback("on_pretrain_routine_end", lambda trainer: load_exact_state(trainer, exact))
    if start is not None and not resume:
        model.add_callback("on_pretrain_routine_end", lambda trainer: load_start_weights(trainer, start, recipe.pretrained))
    # ultralytics draws its image-caching bar whatever `verbose` or YOLO_VERBOSE say, and on stdout among the
    # results: silenced unless its own output is on (--verbose leaves YOLO_VERBOSE unset)
    with silenced(not progress or not ul.utils.VERBOSE):
        model.train(data=str(data.export.data_yaml), epochs=recipe.epochs, imgsz=recipe.image_size,
                    batch=recipe.batch_size, patience=recipe.patience, workers=recipe.workers,
                    device=recipe.device or None, cache=recipe.cache or False, seed=recipe.seed, deterministic=True,
                    project=str(run_dir), name="train", exist_ok=True, plots=True, verbose=progress, resume=resume,
                    pretrained=pretrained, time=recipe.time or None, **recipe.extra)
    return _finish(run, data, before, started)


def _finish(run: DetectorRun, data, before: float, started: float) -> DetectorRun:
    """model.yaml + model.pt from ultralytics' best.pt; training.json with the seconds of every session and the
    device and threads the epochs ran with (recorded by the training process itself)."""
    save_model(_best_network(run.path / "train" / "weights" / "best.pt"), run.path)
    (run.path / "train" / "weights" / EXACT_STATE).unlink(missing_ok=True)  # only a run that may resume needs it
    checkpoint = sessions(run.path / "train")["checkpoint"] or {}
    run.timings = {"train_seconds": round(before + time.perf_counter() - started, 1)}
    run.write_json("training.json", {**run.timings, "device": checkpoint.get("device"),
                                     "threads": checkpoint.get("threads"), "images": data.export.images,
                                     "boxes": data.export.boxes})
    run.model = build_yolo(run.path, data.classes)
    return run


def start_weights(path: str) -> dict:
    """The tensors of a detection run's model.pt (the run folder or the file), read with the safe loader."""
    file = Path(path) / "model.pt" if Path(path).is_dir() else Path(path)
    if not file.is_file():
        raise DataError(file, "no such file; pretrained= takes a detection run folder or its model.pt")
    return read_weights(file)


SPLIT_FIELDS = ("split", "folds", "fold", "data_seed", "valid_fraction")


def split_values(recipe: DetectorRecipe) -> dict:
    return {field: recipe.data_seed() if field == "data_seed" else getattr(recipe, field) for field in SPLIT_FIELDS}


def same_split(source: Path, recipe: DetectorRecipe, fingerprint: str) -> None:
    """A run that starts from another run's weights must split the same data the same way: otherwise that run's
    validation or test pictures may be in this run's training side. (A bare model.pt carries no split to check.)"""
    if not any((source / name).is_file() for name in ("config.json", "data.json")):
        return
    other, _, info = DetectorRun.read_description(source, DetectorRecipe)
    theirs, ours = split_values(other), split_values(recipe)
    differ = [f"{field} {theirs[field]} (here {ours[field]})" for field in SPLIT_FIELDS if theirs[field] != ours[field]]
    if info.get("data_fingerprint") not in (None, fingerprint):
        differ.append(f"data {info['data_fingerprint']} (here {fingerprint})")
    if differ:
        raise DataError(source, f"trained on another split: {', '.join(differ)}; its validation or test pictures "
                                "could be in this run's training side")


def load_start_weights(trainer, state: dict, source: str) -> None:
    """An ultralytics callback once the network and its EMA exist: the tensors of `state` whose name and shape
    match replace the initial ones in both (the EMA would otherwise pull the weights back to the start)."""
    from ultralytics.utils.torch_utils import unwrap_model

    net = unwrap_model(trainer.model)
    own = net.state_dict()
    matching = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    if not matching:
        raise DataError(source, "no layer matches the detector's by name and shape (another architecture?)")
    net.load_state_dict(matching, strict=False)
    trainer.ema.ema.load_state_dict(net.state_dict())
    print(f"[detection] started from {source}: {len(matching)} of {len(own)} tensors")


EXACT_STATE = "exact_state.pt"
SESSIONS = "sessions.json"


def sessions(train_dir: Path) -> dict:
    """train/sessions.json: each resume's first row of results.csv and the epoch clock before it (ultralytics' `time`
    column restarts at 0 when a run resumes), and the last checkpoint's seconds (set-up and pretraining included),
    device and threads."""
    path = train_dir / SESSIONS
    return json.loads(path.read_text()) if path.is_file() else {"resumes": [], "checkpoint": None}


def _write_sessions(train_dir: Path, state: dict) -> None:
    train_dir.mkdir(parents=True, exist_ok=True)
    (train_dir / SESSIONS).write_text(json.dumps(state, indent=1) + "\n")


def new_sessions(train_dir: Path) -> float:
    """A run starting afresh: no bookkeeping left from an earlier one in the same folder. Returns 0 seconds."""
    (train_dir / SESSIONS).unlink(missing_ok=True)
    return 0.0


def note_resume(train_dir: Path) -> float:
    """Notes a resumed session; returns the seconds trained before it, as of the checkpoint it resumes from (runs
    from before sessions.json: the epoch clock of results.csv)."""
    state, clock = sessions(train_dir), epoch_seconds(train_dir)
    state["resumes"].append({"rows_before": len(clock), "clock_before": clock[-1] if clock else 0.0})
    _write_sessions(train_dir, state)
    return state["checkpoint"]["seconds"] if state["checkpoint"] else state["resumes"][-1]["clock_before"]


def note_checkpoint(trainer, seconds: float) -> None:
    """An ultralytics callback after each saved checkpoint: the seconds so far, the device, the threads, and whether
    it is the last."""
    import torch

    train_dir = Path(trainer.save_dir)
    state = sessions(train_dir)
    # final: training ends after this checkpoint (last epoch or early stop; a time budget's end is decided later),
    # so a session cut now, e.g. in ultralytics' final evaluation, has nothing left to resume
    state["checkpoint"] = {"epoch": trainer.epoch + 1, "seconds": round(seconds, 1), "device": str(trainer.device),
                           "threads": torch.get_num_threads(),
                           "final": bool(trainer.stop or trainer.epoch + 1 >= trainer.epochs)}
    _write_sessions(train_dir, state)


def epoch_seconds(train_dir: Path) -> list[float]:
    """Seconds from the start of training to the end of each row of results.csv, counted over every session."""
    import pandas as pd

    if not (train_dir / "results.csv").is_file():
        return []
    times = pd.read_csv(train_dir / "results.csv").rename(columns=str.strip)["time"].tolist()
    offsets = [0.0] * len(times)
    for resume in sessions(train_dir)["resumes"]:
        offsets[resume["rows_before"]:] = [resume["clock_before"]] * (len(times) - resume["rows_before"])
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
