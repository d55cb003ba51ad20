"""Output folders the suite owns: never inside the user's data, never over a folder the suite did not write."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from .errors import DataError

MARKER = ".defectlab-output.json"


def prepare_output(out_dir: str | Path, kind: str, inputs=(), force: bool = False) -> Path:
    """Create out_dir for a new result. Refuses a folder inside any input, and a non-empty folder
    unless force=True and the folder was written by defectlab (it holds the marker file)."""
    out_dir = Path(out_dir).resolve()
    for source in inputs:
        source = Path(source).resolve()
        if out_dir == source or source in out_dir.parents:
            raise DataError(out_dir, f"output folder lies inside the input {source}; choose another --out")
    if out_dir.exists() and any(out_dir.iterdir()):
        if not force:
            raise DataError(out_dir, "output folder exists and is not empty; pass --force to replace a "
                                     "folder that defectlab wrote, or choose another --out")
        if not (out_dir / MARKER).is_file():
            raise DataError(out_dir, "not replacing a folder that defectlab did not write; choose another --out")
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / MARKER).write_text(json.dumps({"kind": kind}) + "\n")
    return out_dir
