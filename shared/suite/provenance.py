"""What every metrics or benchmark JSON carries: schema version, command, git commit, split, data
fingerprint, package versions, hardware and time (see docs/results/index.md, 'Results as data')."""
from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import shlex
import subprocess
import sys
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import pandas as pd

SCHEMA_VERSION = 1
PROJECT_ROOT = Path(__file__).resolve().parents[2]  # the checkout: shared/suite/provenance.py
PROVENANCE_KEYS = ("schema_version", "command", "git_commit", "split", "data_fingerprint", "versions", "hardware",
                   "created_at")  # what provenance() returns
TRACKED_PACKAGES = ("numpy", "pandas", "pillow", "scikit-learn", "tensorflow", "keras", "torch", "torchvision",
                    "ultralytics", "anomalib", "timm", "lightning", "onnxruntime")


def data_fingerprint(index: pd.DataFrame) -> str:
    """sha256 over the sorted (picture_id, class, file hash, boxes) of the index: same data, same fingerprint,
    wherever it lies on disk."""
    digest = hashlib.sha256()
    for row in index.sort_values("image_id").itertuples():
        boxes = json.dumps(row.boxes, sort_keys=True)
        digest.update(f"{row.picture_id}|{row.class_name}|{row.sha1}|{boxes}\n".encode())
    return digest.hexdigest()[:16]


def git_commit(path: str | Path | None = None) -> str | None:
    """HEAD (+ "-dirty"), or $DEFECTLAB_GIT_COMMIT when set: a tree copied to a GPU machine can carry a .git of
    another commit than the files beside it."""
    if os.environ.get("DEFECTLAB_GIT_COMMIT"):
        return os.environ["DEFECTLAB_GIT_COMMIT"]
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=path or Path(__file__).parent,
                             capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=path or Path(__file__).parent, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def package_versions(names=TRACKED_PACKAGES) -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return versions


def hardware() -> dict:
    info = {"machine": platform.machine(), "system": platform.system(), "cpu_count": os.cpu_count(),
            "processor": _cpu_model()}
    try:
        info["memory_gb"] = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        pass
    return info


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def script_command(script: str, argv: list[str] | None = None) -> str:
    """The command line that reproduces a benchmark script's run, `python scripts/.../NAME.py ARGS` from the project
    root, quoted so that it can be pasted back into a shell (argv defaults to this process's arguments)."""
    parts = Path(script).parts
    where = len(parts) - 1 - parts[::-1].index("scripts") if "scripts" in parts else len(parts) - 1
    return shlex.join(["python", "/".join(parts[where:]), *(sys.argv[1:] if argv is None else argv)])


def portable(value, root: str | Path = PROJECT_ROOT):
    """A JSON tree with every absolute path inside the project, or beside it in the folder that holds it, written
    relative to the project root: /work/main/runs/x -> runs/x, /work/shared/data/NEU-DET -> ../shared/data/NEU-DET.
    Strings (commands too), list items and dict keys; paths elsewhere (scratch folders such as /tmp/x) stay, and so
    does everything when the project lies at the top of the file system."""
    root = Path(root)
    if root.parent == Path(root.anchor):
        return value
    pattern = re.compile(rf"(?<![\w.~/-]){re.escape(str(root.parent))}(?![\w.~+@%-])[\w.~+@%/-]*")

    def relative(text: str) -> str:
        return pattern.sub(lambda found: os.path.relpath(found.group(0), root), text)

    if isinstance(value, str):
        return relative(value)
    if isinstance(value, dict):
        return {relative(k) if isinstance(k, str) else k: portable(v, root) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [portable(v, root) for v in value]
    return value


def provenance(split: str | None = None, index: pd.DataFrame | None = None, command: str | None = None,
               fingerprint: str | None = None) -> dict:
    """The provenance keys. The data fingerprint comes from `fingerprint` (captured once, e.g. at train time)
    or is computed from `index`."""
    return {
        "schema_version": SCHEMA_VERSION,
        "command": command or shlex.join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "git_commit": git_commit(),
        "split": split,
        "data_fingerprint": fingerprint or (data_fingerprint(index) if index is not None else None),
        "versions": package_versions(),
        "hardware": hardware(),
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def common_fingerprint(results) -> str | None:
    """The data fingerprint that result dicts (benchmark parts) share; ValueError when they differ."""
    fingerprints = {r.get("data_fingerprint") for r in results}
    if len(fingerprints) > 1:
        raise ValueError(f"parts were measured on different data: {sorted(map(str, fingerprints))}")
    return fingerprints.pop() if fingerprints else None


def with_provenance(payload: dict, **provenance_args) -> dict:
    """payload with the provenance keys in front (payload keys win)."""
    return {**provenance(**provenance_args), **payload}


def write_result(path: str | Path, payload: dict, **provenance_args) -> Path:
    """Write payload with provenance keys in front (payload keys win). Parent folders are created."""
    return write_json(path, with_provenance(payload, **provenance_args))


def write_json(path: str | Path, payload: dict) -> Path:
    """A result that already carries its provenance, as indented JSON. Parent folders are created."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, default=plain) + "\n")
    return path


def plain(value):
    """JSON fallback for numpy scalars and arrays and paths."""
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serializable: {type(value).__name__}")
