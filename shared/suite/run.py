"""A trained run is an object. `train(recipe) -> Run` hands over the model and the data view while they are
alive, so `run.evaluate(side)` scores without reading anything back; `load(path) -> Run` opens a run folder
(safe loaders only) for `run.predictor()`.

A run folder (`OUT/NAME/`) holds what a report needs, each file written once:
  config.json   the recipe                         data.json     task, classes, split, sizes, data fingerprint
  <model file>  weights + config (task-specific)  metrics.json  and [tta_][<side>_]metrics.json for other sides
  plots/*.png   drawn from the metrics             predictions.* per-picture results of an evaluation

Every task's `train(recipe)` first asks `Run.existing(recipe, load)` what is at OUT/NAME already (one rule for all
tasks): another recipe is refused unless `overwrite=true`; a finished run of the same recipe is loaded, not trained
again; an unfinished one is trained on (resumed where the task can).
"""
from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from .errors import DataError
from .options import resolve
from .provenance import plain, with_provenance
from .recipe import folder

RUN_FORMAT = 2  # 1: the layout before the task contract (no data.json; some models pickled)


def another_spelling(path: Path, saved: str, given: str) -> list[str]:
    """[] when a run folder's data= and the given one are the same text, or name the folder it was trained from
    (data.json's data_folder); else the difference (a run saved before data_folder: the texts must agree)."""
    if saved == given:
        return []
    record = path / "data.json"
    trained_from = json.loads(record.read_text()).get("data_folder") if record.is_file() else None
    if trained_from is not None and trained_from == folder(given):
        return []
    return [f"data {saved!r} (here {given!r}{'' if trained_from is None else f'; trained from {trained_from}'})"]


def output_name(stem: str, side: str = "test", tta: bool = False) -> str:
    """The one prefix rule: 'metrics.json' for test, 'valid_metrics.json', 'tta_metrics.json', 'tta_valid_...'."""
    return "".join(["tta_" if tta else "", "" if side == "test" else f"{side}_", stem])


@dataclass
class Run:
    """What every task's run has. Tasks subclass it and implement `evaluate` and `predictor`."""

    TASK: ClassVar[str] = ""
    MODEL_FILE: ClassVar[str] = ""
    FINAL_FILES: ClassVar[tuple[str, ...]] = ()  # written after MODEL_FILE: with it they mark a finished run
    PREDICT_OPTIONS: ClassVar[dict] = {}  # the task spec's {name: Option}: one default each, here and everywhere

    path: Path
    recipe: Any
    classes: list[str]
    data_info: dict                       # split, sides' sizes, data fingerprint, dataset: captured at train time
    model: Any = None                     # the live model (after train or load)
    data: Any = None                      # the task's live data view (after train only)
    timings: dict = field(default_factory=dict)

    # -- the contract ------------------------------------------------------------------------------------
    def evaluate(self, side: str = "test", **options) -> dict:
        raise NotImplementedError

    def predictor(self, **options):
        """The task's Predictor with its prediction options: the given ones (text or values, checked), the rest
        at their defaults (PREDICT_OPTIONS)."""
        return self.build_predictor(**resolve(self.PREDICT_OPTIONS, options, f"{self.TASK} predict: "))

    def build_predictor(self, **options):
        raise NotImplementedError

    def check_same_data(self, fingerprint: str | None) -> None:
        """A loaded run that reads its dataset again must find the data it was trained on: the metrics carry the
        fingerprint captured at train time."""
        trained_on = self.data_info.get("data_fingerprint")
        if trained_on and fingerprint != trained_on:
            raise DataError(self.recipe.data, f"not the data this run was trained on (fingerprint {fingerprint}, "
                                              f"trained on {trained_on})")

    # -- one writer ----------------------------------------------------------------------------------------
    def file(self, stem: str, side: str = "test", tta: bool = False) -> Path:
        return self.path / output_name(stem, side, tta)

    def write_metrics(self, metrics: dict, side: str = "test", tta: bool = False) -> dict:
        """metrics.json (prefix rule) with provenance: the split and data fingerprint captured at train time."""
        payload = {"task": self.TASK, "split_side": side, "tta": tta, **metrics}
        result = with_provenance(payload, split=f"{self.data_info.get('split')} ({side})",
                                 fingerprint=self.data_info.get("data_fingerprint"))
        self.write_json(output_name("metrics.json", side, tta), result)
        return result

    def write_json(self, name: str, payload: dict) -> Path:
        path = self.path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(payload, indent=2, default=plain) + "\n")
        return path

    def plots_dir(self) -> Path:
        folder = self.path / "plots"
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    # -- the folder ----------------------------------------------------------------------------------------
    def save_description(self) -> None:
        """config.json + data.json: written once, when training starts."""
        self.path.mkdir(parents=True, exist_ok=True)
        self.recipe.save(self.path / "config.json")
        data = getattr(self.recipe, "data", "")
        self.write_json("data.json", {"task": self.TASK, "run_format": RUN_FORMAT, "classes": list(self.classes),
                                      **self.data_info, **({"data_folder": folder(data)} if data else {})})

    @classmethod
    def finished(cls, path: str | Path) -> bool:
        """Training ran to its end here: data.json, the model file and the task's other final files exist."""
        return all((Path(path) / name).is_file() for name in ("data.json", cls.MODEL_FILE, *cls.FINAL_FILES))

    @classmethod
    def existing(cls, recipe, load) -> Run | None:
        """What every task's train() does first with the folder the recipe names (OUT/NAME):
        - it holds another recipe (fields other than out and name differ, or config.json cannot be read): a
          one-line ValueError, unless recipe.overwrite: then the folder is removed and None returned;
        - it holds a finished run of this recipe: that run, opened with `load(path)` (its training.json as its
          timings), not trained again;
        - else (nothing there, or an unfinished run of this recipe): None; train() starts it, or resumes it where
          the task keeps a state to resume from (e.g. a finished first stage and Keras' backup, or YOLO's last.pt)."""
        path = recipe.run_dir()
        config = path / "config.json"
        if not config.is_file():
            return None
        try:
            saved = type(recipe).load(config)
            differ = recipe.differences(saved) or another_spelling(path, saved.data, recipe.data)
        except (KeyError, ValueError) as error:  # a recipe of another task or version
            differ = [f"a config.json this defectlab cannot read ({' '.join(str(error).split())})"]
        if differ:
            if not recipe.overwrite:
                more = f" and {len(differ) - 3} more" if len(differ) > 3 else ""
                raise ValueError(f"{path} holds a run of another recipe ({', '.join(differ[:3])}{more}); choose "
                                 "another name= or pass overwrite=true to replace it")
            print(f"[{cls.TASK}] {path} held a run of another recipe: removed (overwrite=true)")
            shutil.rmtree(path)
            return None
        if not cls.finished(path):
            return None
        print(f"[{cls.TASK}] {path} holds a finished run of this recipe: loaded, not trained again (delete the "
              "folder to train it again)")
        run = load(path)
        training = path / "training.json"
        if not run.timings and training.is_file():
            run.timings = json.loads(training.read_text())
        return run

    @classmethod
    def read_description(cls, path: str | Path, recipe_class) -> tuple[Any, list[str], dict]:
        """(recipe, classes, data_info) of a finished run folder, or a one-line DataError saying what to do."""
        path = Path(path)
        if not path.is_dir():
            raise DataError(path, f"no such run folder (train one with `defectlab {cls.TASK} train data=...`)")
        retrain = f"re-run `defectlab {cls.TASK} train` for it"
        if not (path / "data.json").is_file():
            if (path / "config.json").is_file():
                raise DataError(path, f"a run folder from an older defectlab layout (no data.json); {retrain}")
            raise DataError(path, f"not a {cls.TASK} run folder (no data.json); train one with "
                                  f"`defectlab {cls.TASK} train data=...`")
        info = json.loads((path / "data.json").read_text())
        if info.get("task") != cls.TASK:
            raise DataError(path, f"a run of the {info.get('task')} task, not of the {cls.TASK} task")
        if info.get("run_format") != RUN_FORMAT:
            raise DataError(path, f"run folder format {info.get('run_format')} (this defectlab reads {RUN_FORMAT}); "
                                  f"{retrain}")
        if cls.MODEL_FILE and not (path / cls.MODEL_FILE).is_file():
            raise DataError(path, f"no {cls.MODEL_FILE}: the training did not finish; {retrain} to continue it")
        recipe = recipe_class.load(path / "config.json")
        classes = info.pop("classes")
        for key in ("task", "run_format"):
            info.pop(key)
        return recipe, classes, info
