"""A committed number made again: compare what a `defectlab` command wrote now (its result JSON) with the entry of a
committed result file, number by number, and keep the comparison in results/reruns_parts/NAME.json.

  python scripts/benchmarks/rerun.py NAME NEW.json RESULT.json KEY [--tolerance 1e-6]

e.g. after `defectlab anomaly protocol --protocol loco preset=texture-knn coreset_ratio=0.005 data=../shared/data
out=runs/rerun/anomaly-loco`: `... anomaly-loco runs/rerun/anomaly-loco/loco.json anomaly.json loco`."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from scripts.benchmarks import results


def numbers(value, path=""):
    """{dotted path: number} of every numeric leaf."""
    if isinstance(value, dict):
        return {k: v for key, item in value.items() for k, v in numbers(item, f"{path}.{key}" if path else key).items()}
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return {path: float(value)}
    return {}


def compare(new: dict, committed: dict, tolerance: float) -> dict:
    """The numbers both hold: equal, within the tolerance, or beyond it (with the largest difference)."""
    a, b = numbers(new), numbers(committed)
    shared = sorted(set(a) & set(b) - {"fit_seconds", "seconds"})
    shared = [k for k in shared if not k.endswith(("seconds", "_per_second", "memory_mb", "_mb"))]  # timings vary
    diffs = {k: abs(a[k] - b[k]) for k in shared}
    return {"compared": len(shared), "equal": sum(d == 0 for d in diffs.values()),
            "within_tolerance": sum(0 < d <= tolerance for d in diffs.values()),
            "beyond_tolerance": {k: {"now": a[k], "committed": b[k]} for k, d in diffs.items() if d > tolerance},
            "largest_difference": max(diffs.values(), default=0.0), "tolerance": tolerance}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name", help="the part's name under results/reruns_parts/")
    parser.add_argument("new", type=Path, help="the result JSON the defectlab command wrote now")
    parser.add_argument("result", help="the committed result file, under scripts/benchmarks/results/")
    parser.add_argument("key", help="the entry of the committed file (dotted path)")
    parser.add_argument("--tolerance", type=float, default=1e-6)
    args = parser.parse_args(argv)
    new = json.loads(args.new.read_text())
    committed = json.loads((results.RESULTS / args.result).read_text())
    for part in args.key.split("."):
        committed = committed[part]
    payload = {"defectlab": [new["command"]], "made_again": str(args.new), "of": f"{args.result}:{args.key}",
               "made_at": new.get("created_at"), "made_on": new.get("hardware"), "made_at_commit": new.get("git_commit"),
               **compare(new, committed, args.tolerance)}
    from shared.suite.provenance import script_command

    path = results.write_part("reruns", args.name, payload, command=script_command(__file__, argv),
                              split=new.get("split"), fingerprint=new.get("data_fingerprint"))
    print(f"{payload['equal']} equal, {payload['within_tolerance']} within {args.tolerance:g}, "
          f"{len(payload['beyond_tolerance'])} beyond, of {payload['compared']} numbers -> {path}")
    return 0 if not payload["beyond_tolerance"] else 1


if __name__ == "__main__":
    sys.exit(main())
