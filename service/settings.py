"""Service settings, from environment variables (the `defectlab serve` flags set the same variables).

  DEFECTLAB_RUNS          task=path pairs, comma-separated (default: each task's default run under the runs root)
  DEFECTLAB_RUNS_ROOT     where default runs are looked for (default runs)
  DEFECTLAB_TASKS         the tasks loaded, comma-separated (default every task of the registry)
  DEFECTLAB_ONNX          1: every model under ONNX Runtime (model.onnx exported beforehand by `defectlab serve`)
  DEFECTLAB_PREDICT       prediction options TASK.OPTION=VALUE (the --predict flags), space-separated, quoted as a
                          shell quotes them: "TASK.OPTION=VALUE 'TASK.OPTION=a value with spaces'"
  DEFECTLAB_API_KEY       when set, every route but /healthz, /readyz, /openapi.json and the page wants
                          `Authorization: Bearer <key>`
  DEFECTLAB_MAX_UPLOAD_MB largest accepted request body (default 10; larger -> 413)
  DEFECTLAB_DB            a results database (SQLite path or SQLAlchemy URL): every answer is also stored there
"""
from __future__ import annotations

import os
import shlex
from dataclasses import dataclass, field

from shared.suite import registry


@dataclass(frozen=True)
class Settings:
    runs: dict = field(default_factory=dict)
    runs_root: str = "runs"
    tasks: tuple = field(default_factory=registry.names)  # read when made: a task registered at run time too
    onnx: bool = False
    predict: tuple = ()
    api_key: str = ""
    max_upload_mb: float = 10.0
    db: str = ""

    @classmethod
    def from_env(cls, env=None) -> Settings:
        env = os.environ if env is None else env
        runs = dict(pair.split("=", 1) for pair in env.get("DEFECTLAB_RUNS", "").split(",") if "=" in pair)
        known = registry.names()
        tasks = tuple(t for t in env.get("DEFECTLAB_TASKS", ",".join(known)).split(",") if t)
        unknown = set(tasks) - set(known)
        if unknown:
            raise ValueError(f"DEFECTLAB_TASKS: unknown task(s) {', '.join(sorted(unknown))}; choose from "
                             f"{', '.join(known)}")
        return cls(runs=runs, runs_root=env.get("DEFECTLAB_RUNS_ROOT", "runs"), tasks=tasks,
                   onnx=env.get("DEFECTLAB_ONNX", "0") == "1",
                   predict=tuple(shlex.split(env.get("DEFECTLAB_PREDICT", ""))),
                   api_key=env.get("DEFECTLAB_API_KEY", ""),
                   max_upload_mb=float(env.get("DEFECTLAB_MAX_UPLOAD_MB", "10")), db=env.get("DEFECTLAB_DB", ""))
