"""Verb options, declared like recipe fields: one `Option` each, with its one default, type, help and choices.
One parser reads them wherever a user gives them: `defectlab TASK predict ... conf=0.3` (or `--conf 0.3`),
`defectlab inspect ... TASK.conf=0.3`, `defectlab serve ... TASK.conf=0.3`, and the HTTP query
`?conf=0.3` / `?TASK.conf=0.3`. Values arrive as text or as Python values; `resolve` types, checks and
completes them with the defaults, and a bad one is a one-line ValueError naming the option."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


def parse_bool(text: str) -> bool:
    """'true' / '1' / 'yes' or 'false' / '0' / 'no', any case; anything else is a ValueError."""
    if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
        raise ValueError("expected true or false")
    return text.lower() in ("true", "1", "yes")


@dataclass(frozen=True)
class Option:
    """name, type (bool, int, float or str), default, help; choices limit the values, and so do minimum and maximum
    (inclusive, for a number); `request` marks an option a single request may change (the service builds a
    per-request view of its predictor for it)."""

    name: str
    type: type
    default: Any
    help: str
    choices: tuple = ()
    request: bool = False
    minimum: float | None = None
    maximum: float | None = None

    def parse(self, value, where: str = "") -> Any:
        """Text or a Python value -> the option's type, checked; ValueError names the option."""
        label = f"{where}{self.name}"
        try:
            if self.type is bool:
                typed = parse_bool(value) if isinstance(value, str) else value
                if not isinstance(typed, bool):
                    raise ValueError("expected true or false")
            elif self.type in (int, float) and isinstance(value, bool):
                raise ValueError(f"expected {self.type.__name__}")
            else:
                typed = self.type(value)
        except (TypeError, ValueError) as error:
            raise ValueError(f"{label}: cannot use {value!r} ({error})") from None
        if self.choices and typed not in self.choices:
            raise ValueError(f"{label}: {typed!r} is not one of {', '.join(map(str, self.choices))}")
        low = float("-inf") if self.minimum is None else self.minimum
        high = float("inf") if self.maximum is None else self.maximum
        if (self.minimum, self.maximum) != (None, None) and not low <= typed <= high:  # NaN too
            raise ValueError(f"{label}: {typed!r} is outside {low:g}..{high:g}")
        return typed

    def shown_default(self) -> str:
        return "" if self.default in ("", None) else f" (default {self.default})"


def table(*options: Option) -> dict[str, Option]:
    """{name: Option}, in the order given."""
    return {o.name: o for o in options}


def resolve(options: dict[str, Option], given: dict, where: str = "") -> dict:
    """Every option of the table, typed: the given values (text or Python values; '-' in names read as '_'),
    else the defaults. An unknown name is a one-line ValueError listing what the table takes."""
    values = {name: option.default for name, option in options.items()}
    for name, value in given.items():
        key = name.replace("-", "_")
        if key not in options:
            raise ValueError(f"{where}{name}: unknown option; this takes {', '.join(options) or 'no options'}")
        values[key] = options[key].parse(value, where)
    return values


def changed(options: dict[str, Option], given: dict, where: str = "") -> dict:
    """Only the given options, typed and checked (for a view that keeps the other values as they are)."""
    values = resolve(options, given, where)
    return {name.replace("-", "_"): values[name.replace("-", "_")] for name in given}
