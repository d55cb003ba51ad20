"""The one exception the data layer raises for bad input: its message is a single line naming the file."""
from __future__ import annotations

from pathlib import Path


class DataError(Exception):
    """Bad or missing input. str(error) is one line: '<path>: <problem>'."""

    def __init__(self, path: str | Path | None, problem: str):
        self.path = None if path is None else str(path)
        self.problem = " ".join(str(problem).split())
        super().__init__(self.problem if self.path is None else f"{self.path}: {self.problem}")

