"""The one exception the data layer raises for bad input: its message is a single line naming the file."""
from __future__ import annotations

from pathlib import Path


class DataError(Exception):
    """Bad or missing input. str(error) is one line: '<path>: <problem>'."""

    def __init__(self, path: str | Path | None, problem: str):
        self.path = None if path is None else str(path)
        self.problem = " ".join(str(problem).split())
        super().__init__(self.problem if self.path is None else f"{self.path}: {self.problem}")


def one_line_errors(function):
    """For CLI handlers: recipe and model errors (KeyError, FileNotFoundError, ValueError) become
    DataErrors, which the front door prints as one line."""
    def wrapper(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except (KeyError, FileNotFoundError, ValueError) as error:
            raise DataError(None, str(error).strip("'\"")) from None
    wrapper.__name__, wrapper.__doc__ = function.__name__, function.__doc__
    return wrapper
