"""Every number in scripts/benchmarks/results/ carries, beside it, how to make it again (docs/reproducing.md):
each result entry (a file's headline, a part, a route, a row) has a `defectlab` field, the exact `defectlab`
commands that give its numbers, or `defectlab: null` with `why` (and `command`, the script that made them) where no
defectlab command does. A list beside a `why` names the commands that make the models a script then scored.

  python scripts/benchmarks/references.py                  check every result file (tests/test_results.py runs it)
  python scripts/benchmarks/references.py --against REV    ... and that no number differs from git revision REV
"""
from __future__ import annotations

import argparse
import fnmatch
import json
import shlex
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the project root: `scripts.benchmarks`, run as a file

from scripts.benchmarks import results

MADE_AT = "/work/main"  # the project root on the machines the committed results were measured on
PAIRS = ("detection_frames*.json", "detection_pair*.json", "detection_ensemble.json")
ENTRIES = {  # file pattern -> the entries in it ("." the file itself; "a/*" every value of a): first match wins
    "detection.json": [".", "routes/*", "baseline"],
    "detection_parts/*.json": [".", "variants/*"],
    **{pattern: [".", "singles/*", "ensembles/*", "classifier_guided/*"] for pattern in PAIRS},
    "classification.json": [".", "cv5", "cv5_tta", "baseline", "floor", "reference_project"],
    "anomaly.json": [".", "models/*", "texture_selection", "map_selection", "classifier_novelty", "speed"],
    "fewlabels.json": ["semi_supervised", "semi_supervised/end_to_end", "clustering", "ensembles", "tuning", "auto"],
    "evaluation.json": ["inspection", "classification", "detection", "anomaly"],  # its schema: no other top keys
    "*": ["."],
}


def entry_paths(name: str) -> list[str]:
    return next(paths for pattern, paths in ENTRIES.items() if fnmatch.fnmatch(name, pattern))


def entries(name: str, data: dict):
    """(where, entry) of every entry a result file declares; absent or null entries (a baseline not measured) are
    left out."""
    for path in entry_paths(name):
        found = [("", data)]
        for step in [] if path == "." else path.split("/"):
            below = []
            for where, node in found:
                if isinstance(node, dict):
                    items = node.items() if step == "*" else [(step, node[step])] if step in node else []
                    below += [(f"{where}/{key}".lstrip("/"), value) for key, value in items]
            found = below
        yield from ((where or ".", entry) for where, entry in found if isinstance(entry, dict))


def problems(name: str, data: dict) -> list[str]:
    """What a result file lacks: an entry without its `defectlab` field, a null one without `why` or `command`, a
    command that is not a defectlab command, an absolute path of the project or its data."""
    found = []
    for where, entry in entries(name, data):
        if "defectlab" not in entry:
            found.append(f"{name} {where}: no `defectlab` field")
            continue
        made = entry["defectlab"]
        if made is None:
            if not isinstance(entry.get("why"), str) or not entry["why"]:
                found.append(f"{name} {where}: `defectlab` is null without a `why`")
            if "command" not in entry:
                found.append(f"{name} {where}: `defectlab` is null without the `command` that made it")
        elif not (isinstance(made, list) and made and all(isinstance(c, str) and c.startswith("defectlab ")
                                                          for c in made)):
            found.append(f"{name} {where}: `defectlab` is neither null nor a list of defectlab commands: {made!r}")
    from shared.suite.provenance import portable

    for root in {MADE_AT, str(results.ROOT)}:
        if portable(data, root) != data:
            found.append(f"{name}: an absolute path under {Path(root).parent} (write it relative to the project root)")
    return found


def commands_of(data: dict, name: str = "") -> list[str]:
    """Every defectlab command a result file holds, once each."""
    return list(dict.fromkeys(c for _, entry in entries(name, data) for c in entry.get("defectlab") or []))


def unparsed(command: str, parser=None) -> str | None:
    """None when `defectlab` reads the command line (nothing runs), else why not."""
    import contextlib
    import io

    from shared.suite import cli

    parser = parser or cli.build_parser()
    words = shlex.split(command)[1:]
    error = io.StringIO()
    try:
        with contextlib.redirect_stderr(error):
            parser.parse_args(cli.expand_key_values(words, parser))
    except SystemExit:
        return error.getvalue().strip().splitlines()[-1] if error.getvalue().strip() else "refused"
    return None


def numbers(value, where: str = "") -> list[tuple[str, object]]:
    """(path, value) of every number and boolean in a JSON tree, in order; keys read as portable paths, so that a
    path written relative does not count as a change."""
    from shared.suite.provenance import portable

    if isinstance(value, dict):
        return [leaf for key, item in value.items() for leaf in numbers(item, f"{where}/{portable(key, MADE_AT)}")]
    if isinstance(value, list):
        return [leaf for i, item in enumerate(value) for leaf in numbers(item, f"{where}/{i}")]
    if isinstance(value, (bool, int, float)):
        return [(where, value)]
    return []


def files() -> list[Path]:
    return sorted(results.RESULTS.glob("*.json")) + sorted(results.RESULTS.glob("*_parts/*.json"))


def changed_numbers(revision: str) -> list[str]:
    """The result files whose numbers differ from REVISION's copy (a file new since then is not compared)."""
    found = []
    for path in files():
        name = str(path.relative_to(results.ROOT))
        done = subprocess.run(["git", "show", f"{revision}:{name}"], cwd=results.ROOT, capture_output=True, text=True)
        if done.returncode == 0 and numbers(json.loads(done.stdout)) != numbers(json.loads(path.read_text())):
            found.append(name)
    return found


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--against", metavar="REV", help="also: every number equal to git revision REV's")
    parser.add_argument("--parse", action="store_true", help="also: every defectlab command parses")
    args = parser.parse_args(argv)
    found, parser = [], None
    if args.parse:
        from shared.suite import cli

        parser = cli.build_parser()
    for path in files():
        name = str(path.relative_to(results.RESULTS))
        data = json.loads(path.read_text())
        found += problems(name, data)
        if args.parse:
            found += [f"{name}: {c}: {why}" for c in commands_of(data, name) if (why := unparsed(c, parser))]
    if args.against:
        found += [f"{name}: a number differs from {args.against}" for name in changed_numbers(args.against)]
    print("\n".join(found) or f"{len(files())} result files: every entry says how to make its numbers again")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
