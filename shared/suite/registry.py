"""The suite's tasks, by name: code you can read, no entry-point arrows. Each value is a light module (no ML
framework at import) that implements the task contract:

  TASK, HELP, DESCRIPTION, EXAMPLES        names and help text
  Recipe                                   a shared.suite.recipe.Recipe subclass (presets as data)
  EVALUATE_OPTIONS, PREDICT_OPTIONS        {name: (type, default, help)} passed to run.evaluate / run.predictor
  train(recipe, progress) -> Run           the framework loads here, not before
  load(path) -> Run                        safe loaders only
  summary(metrics) -> str                  one line for the console
  evaluation(run, pictures, out, progress) -> {"metrics", "figures"}
                                           the task's part of `defectlab evaluate` (and of the demo, which
                                           trains each task's `demo` preset)
  register_verbs(verbs)                    verbs beyond train / evaluate / predict (optional)
"""
from __future__ import annotations

from importlib import import_module
from types import ModuleType

TASKS = {"classification": "classification.task", "detection": "detection.task", "anomaly": "anomaly.task"}


def task(name: str) -> ModuleType:
    if name not in TASKS:
        raise KeyError(f"unknown task {name!r}; choose one of {', '.join(TASKS)}")
    return import_module(TASKS[name])


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
