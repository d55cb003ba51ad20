"""The suite's tasks, by name: code you can read, no entry-point arrows. Each entry points at a light module's
`SPEC` (shared.suite.spec.TaskSpec; no ML framework at import). Adding a task is its own package plus one line
here; `register(spec)` adds one at run time (a plugin, a test)."""
from __future__ import annotations

from importlib import import_module

from .spec import TaskSpec

TASKS: dict[str, str | TaskSpec] = {
    "classification": "classification.task:SPEC",
    "detection": "detection.task:SPEC",
    "anomaly": "anomaly.task:SPEC",
}

# the suite's commands beyond the tasks' own, each a `register(subparsers, common)`; named here as data so that the
# framework-free core imports no service
COMMANDS = ("shared.suite.cli_data:register", "shared.suite.cli_demo:register", "shared.suite.cli_evaluate:register",
            "shared.suite.cli_watch:register", "shared.suite.cli_calibrate:register",
            "shared.suite.cli_inspect:register", "shared.suite.cli_results:register",
            "shared.suite.cli_labels:register", "service.cli:register")


def names() -> tuple[str, ...]:
    """The registered tasks, in registry order (the order of records, reports and tables)."""
    return tuple(TASKS)


def task(name: str) -> TaskSpec:
    """The spec of a task, by its name or one of its aliases."""
    name = canonical(name)
    entry = TASKS[name]
    if isinstance(entry, str):
        entry = TASKS[name] = _attribute(entry)
    return entry


def canonical(name: str) -> str:
    """A task's name from its name or an alias (e.g. the HTTP API's older short names); KeyError otherwise."""
    if name in TASKS:
        return name
    for known in TASKS:
        if name in task(known).aliases:
            return known
    raise KeyError(f"unknown task {name!r}; choose one of {', '.join(TASKS)}")


def register(spec: TaskSpec) -> None:
    """Add (or replace) a task at run time."""
    TASKS[spec.name] = spec


def unregister(name: str) -> None:
    TASKS.pop(name, None)


def commands() -> list:
    return [_attribute(target) for target in COMMANDS]


def _attribute(target: str):
    module, _, name = target.partition(":")
    return getattr(import_module(module), name)


def load_run(task_name: str, path):
    """Open a run folder of the named task."""
    return task(task_name).load(path)


def lazy(target: str):
    """'package.module:function' as a function that imports its module when first called, so that a task's
    light module can name its verbs without loading an ML framework."""
    module, _, name = target.partition(":")

    def call(*args, **kwargs):
        return getattr(import_module(module), name)(*args, **kwargs)

    call.__name__, call.__qualname__, call.__doc__ = name, name, f"{target} (imported when called)"
    return call
