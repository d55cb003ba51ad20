"""Recipes: a task's training settings as one validated dataclass with presets as data (timm's pretrained cfg,
scikit-learn's parameters). Every task's recipe subclasses `Recipe`; the fields shared by all tasks keep one
vocabulary (`data`, `split`, `seed`, `valid_fraction`, `image_size`, `batch_size`, `out`, `name`), and the CLI
is generated from the fields, so a new field needs no CLI edit: its `help` lives beside it."""
from __future__ import annotations

import dataclasses
import json
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from ..datasets.splits import SPLIT_NAMES  # the data layer's one list (re-exported for the recipes)
from .options import parse_bool

# fields that say where a run lies, not what is trained: two recipes that differ in them alone are the same
# recipe (a run folder may be moved or copied)
PLACE_FIELDS = ("out", "name")
PATH_FIELDS = ("data",)  # compared as the folders they name: ../data and its absolute path are one dataset


def folder(path: str) -> str:
    return str(Path(path).expanduser().resolve())


def same_value(key: str, a, b) -> bool:
    """Two values of a field alike; paths name one folder seen from here (a run folder's check also asks the
    folder it was trained from: shared.suite.run)."""
    if key in PATH_FIELDS and isinstance(a, str) and isinstance(b, str) and a and b:
        return folder(a) == folder(b)
    return a == b


def option(default=dataclasses.MISSING, help: str = "", *, choices=None, aliases=(), factory=None):
    """A recipe field with its CLI help (and optional choices / old option names kept as aliases)."""
    metadata = {"help": help, "choices": tuple(choices) if choices else None, "aliases": tuple(aliases)}
    if factory is not None:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass
class Recipe:
    """Fields every task shares. Subclasses set TASK, PRESETS (name -> overrides) and DEFAULT_PRESET, add their
    own fields with `option(...)`, and may override `check()` for cross-field rules."""

    TASK: ClassVar[str] = ""
    PRESETS: ClassVar[dict[str, dict]] = {}
    DEFAULT_PRESET: ClassVar[str] = ""
    PRESET_HELP: ClassVar[dict[str, str]] = {}  # preset -> one line for `defectlab TASK train --help`

    preset: str = option("", "named recipe the other fields start from (see the task's presets)")
    data: str = option("", "dataset folder (any layout `defectlab data check` reads)")
    split: str = option("kaggle-cls", "named split (see `defectlab data split --help`)", choices=SPLIT_NAMES)
    folds: int = option(5, "kfold: number of folds")
    fold: int = option(0, "kfold: which fold is test")
    seed: int = option(0, "seed for initialisation and augmentation, and for the split unless split_seed is given")
    split_seed: int = option(-1, "seed for the split alone (folds, validation carve-out; -1: seed): runs of other "
                                 "seeds that share it share their validation pictures, so they can be compared "
                                 "and fused on them")
    valid_fraction: float = option(0.1, "share of the training pictures held out as validation when the split "
                                        "has no validation part of its own (model selection never sees test)")
    image_size: int = option(224, "input size in pixels", aliases=("imgsz",))
    batch_size: int = option(32, "images per batch", aliases=("batch",))
    out: str = option("runs", "parent folder of run folders: the run lands in OUT/NAME")
    name: str = option("", "run folder name (default <preset>-<split>-seed<seed>)")
    overwrite: bool = option(False, "replace a run folder at OUT/NAME that holds another recipe (default: refuse "
                                    "it). A finished run of the same recipe is loaded, not trained again; an "
                                    "unfinished one resumes where the task can")

    # -- construction ------------------------------------------------------------------------------------
    @classmethod
    def from_preset(cls, preset: str | None = None, **overrides):
        """The preset's values, then the overrides (None means 'not given'); validated."""
        preset = preset or cls.DEFAULT_PRESET
        if preset not in cls.PRESETS:
            raise KeyError(f"unknown {cls.TASK} preset {preset!r}; choose one of {', '.join(cls.PRESETS)}")
        values = {**cls.PRESETS[preset], **{k: v for k, v in overrides.items() if v is not None}}
        return cls.from_dict({**cls.derived_defaults(values), **values, "preset": preset})

    @classmethod
    def derived_defaults(cls, values: dict) -> dict:
        """Defaults that follow from other fields (e.g. a backbone's input size), given neither by preset nor user."""
        return {}

    @classmethod
    def from_dict(cls, values: dict):
        """Build and validate from plain values (config.json, CLI strings). Unknown keys are an error."""
        known = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise KeyError(f"unknown {cls.TASK} recipe field(s) {', '.join(unknown)}; known: {', '.join(known)}")
        hints = typing.get_type_hints(cls)
        recipe = cls(**{k: _coerce(k, v, hints[k]) for k, v in values.items()})
        recipe.validate()
        return recipe

    def validate(self) -> None:
        for f in dataclasses.fields(self):
            choices = f.metadata.get("choices")
            if choices and getattr(self, f.name) not in choices:
                raise ValueError(f"{self.TASK} recipe: {f.name}={getattr(self, f.name)!r} is not one of "
                                 f"{', '.join(map(str, choices))}")
        for name in ("image_size", "batch_size", "folds"):
            if getattr(self, name) < 1:
                raise ValueError(f"{self.TASK} recipe: {name} must be positive, got {getattr(self, name)}")
        if not 0 <= self.valid_fraction < 1:
            raise ValueError(f"{self.TASK} recipe: valid_fraction must be in [0, 1), got {self.valid_fraction}")
        if self.split_seed < -1:
            raise ValueError(f"{self.TASK} recipe: split_seed must be -1 (the seed) or >= 0, got {self.split_seed}")
        if not 0 <= self.fold < self.folds:
            raise ValueError(f"{self.TASK} recipe: fold must be in 0..{self.folds - 1}, got {self.fold}")
        self.check()

    def check(self) -> None:
        """Cross-field rules of a task (raise ValueError)."""

    # -- names and files -----------------------------------------------------------------------------------
    def data_seed(self) -> int:
        """The seed that splits the data: split_seed where given, else the run's seed."""
        return self.seed if self.split_seed < 0 else self.split_seed

    def split_name(self) -> str:
        """The split as results name it, e.g. 'kaggle-cls' or 'kfold fold 3/5 seed 0'."""
        return self.split + (f" fold {self.fold}/{self.folds} seed {self.data_seed()}" if self.split == "kfold" else "")

    def run_name(self) -> str:
        fold = f"-fold{self.fold}" if self.split == "kfold" else ""
        return self.name or f"{self.preset}-{self.split}{fold}-seed{self.seed}"

    def run_dir(self) -> Path:
        return Path(self.out) / self.run_name()

    def to_dict(self) -> dict:
        """The recipe as plain values; `overwrite` is left out: it tells one command what to do with a folder."""
        values = dataclasses.asdict(self)
        values.pop("overwrite")
        return values

    def differences(self, other: Recipe) -> list[str]:
        """Fields in which `other` trains something else ('seed 0 (here 5)'); [] for the same recipe. The place
        fields (PLACE_FIELDS) do not count; paths (PATH_FIELDS) count by the folder they name, seen from here."""
        mine, theirs = self.to_dict(), other.to_dict()
        return [f"{k} {theirs.get(k)!r} (here {mine.get(k)!r})" for k in sorted(set(mine) | set(theirs))
                if k not in PLACE_FIELDS and not same_value(k, mine.get(k), theirs.get(k))]

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def load(cls, path: str | Path):
        """A saved recipe (config.json), written by this version or an older one (see `migrate`)."""
        return cls.from_dict(cls.migrate(json.loads(Path(path).read_text())))

    @classmethod
    def migrate(cls, values: dict) -> dict:
        """config.json of an older version -> today's fields, so older runs still load and resume: field
        aliases (old names, e.g. imgsz) become the field. Tasks add their own renames (call super first)."""
        values = dict(values)
        for f in dataclasses.fields(cls):
            for alias in f.metadata.get("aliases", ()):
                if alias in values and f.name not in values:
                    values[f.name] = values.pop(alias)
        return values


def recipe_values(args, recipe_class) -> dict:
    """The recipe fields a command line gave (argparse namespace; None: not given), the preset left out."""
    return {f.name: getattr(args, f.name) for f in dataclasses.fields(recipe_class)
            if getattr(args, f.name, None) is not None and f.name != "preset"}


def _coerce(name: str, value, hint):
    """CLI strings and JSON values -> the field's type, with a one-line error naming the field."""
    origin = typing.get_origin(hint) or hint
    try:
        if dataclasses.is_dataclass(hint):
            if isinstance(value, str):
                value = json.loads(value)
            return value if isinstance(value, hint) else hint(**value)
        if origin is bool:
            return parse_bool(value) if isinstance(value, str) else bool(value)
        if origin in (int, float):
            if isinstance(value, bool) or (origin is int and isinstance(value, float) and not value.is_integer()):
                raise ValueError(f"expected {origin.__name__}")
            return origin(value)
        if origin is list:
            if isinstance(value, str):
                return [v.strip() for v in value.split(",") if v.strip()]
            return list(value)
        if origin is dict:
            return json.loads(value) if isinstance(value, str) else dict(value)
        if origin is str:
            return str(value)
    except (TypeError, ValueError) as error:
        raise ValueError(f"recipe field {name}: cannot use {value!r} ({error})") from None
    return value
