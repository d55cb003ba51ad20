"""Recipes as JSON: the save/load every task package's config dataclass shares (run folders keep config.json)."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path


class JsonConfig:
    """Mixin for a config dataclass: save() writes config.json; load() reads it back, ignoring keys that a
    newer or older version of the dataclass does not know. Override from_dict for nested dataclasses."""

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict):
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def load(cls, path: str | Path):
        return cls.from_dict(json.loads(Path(path).read_text()))
