"""Where benchmark numbers live and the one way they are written: a part per measurement
(results/NAME_parts/PART.json) or a result file (results/NAME.json), each with the provenance keys in front (command,
git commit, split, data fingerprint, versions, hardware) and its paths relative to the project root
(docs/reproducing.md); `merge` combines a benchmark's parts into results/NAME.json."""
from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# $DEFECTLAB_RESULTS: another folder for a trial run, so that the committed numbers stay as they are
RESULTS = Path(os.environ.get("DEFECTLAB_RESULTS") or ROOT / "scripts" / "benchmarks" / "results")


def parts_dir(name: str) -> Path:
    return RESULTS / f"{name}_parts"


def write(path: str | Path, payload: dict, **provenance_args) -> Path:
    """payload with provenance in front (payload keys win; provenance_args as shared.suite.provenance.provenance
    takes them), every path inside or beside the project relative to its root."""
    from shared.suite.provenance import portable, with_provenance, write_json

    return write_json(path, portable(with_provenance(payload, **provenance_args)))


def write_part(name: str, part: str, payload: dict, folder: str | Path | None = None, **provenance_args) -> Path:
    """results/NAME_parts/PART.json (or FOLDER/PART.json, e.g. on a machine whose parts are copied back later)."""
    return write(Path(folder or parts_dir(name)) / f"{part}.json", payload, **provenance_args)


def read_parts(name: str) -> dict[str, dict]:
    return {path.stem: json.loads(path.read_text()) for path in sorted(parts_dir(name).glob("*.json"))}


def merge(name: str, build: Callable[[dict], dict], script: str, split: str | None = None) -> Path:
    """results/NAME.json from every part of NAME: build(parts) gives the result; the parts must have been measured
    on one dataset (their data fingerprints agree), which the result records. The command recorded is the script's
    `--merge`."""
    from shared.suite.provenance import common_fingerprint, script_command

    parts = read_parts(name)
    if not parts:
        sys.exit(f"no {name} parts to merge in {parts_dir(name)}")
    fingerprint = common_fingerprint(parts.values())
    result = build(parts)
    result.setdefault("data_fingerprint", fingerprint)
    return write(RESULTS / f"{name}.json", result, split=split, command=script_command(script, ["--merge"]))


def rewrite(path: str | Path, payload: dict) -> Path:
    """A result that already carries its provenance, written again (e.g. with a measurement added)."""
    from shared.suite.provenance import portable, write_json

    return write_json(path, portable(payload))
