"""The committed results say how to make every number again (scripts/benchmarks/references.py, docs/reproducing.md):
each entry carries the exact `defectlab` commands that give it, or why none does and the script that did; every
such command is one `defectlab` reads; paths are relative to the project root; and each benchmark's one merge gives
its committed result file again from the committed parts."""
import importlib.util
import json
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the project root: `scripts.benchmarks`

from scripts.benchmarks import references, results
from shared.suite.provenance import PROVENANCE_KEYS, portable

MERGED = {"classification": "classification/benchmark_classification.py",
          "detection": "detection/benchmark_detection.py",
          "anomaly": "anomaly/benchmark_anomaly.py",
          "fewlabels": "classification/benchmark_fewlabels.py"}


def script(path: str):
    spec = importlib.util.spec_from_file_location(Path(path).stem, results.ROOT / "scripts" / "benchmarks" / path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_result_entry_carries_its_defectlab_commands_or_a_reason():
    files = references.files()
    assert len(files) > 70
    found = [p for path in files for p in references.problems(str(path.relative_to(results.RESULTS)),
                                                              json.loads(path.read_text()))]
    assert not found, "\n".join(found)


def test_every_recorded_defectlab_command_is_one_defectlab_reads():
    from shared.suite import cli

    parser = cli.build_parser()
    made = {c for path in references.files()
            for c in references.commands_of(json.loads(path.read_text()), str(path.relative_to(results.RESULTS)))}
    assert len(made) > 50 and any(" evaluate " in c for c in made) and any(" time=" in c for c in made)
    refused = {c: why for c in sorted(made) if (why := references.unparsed(c, parser))}
    assert not refused, refused


def test_the_checker_names_what_an_entry_lacks():
    good = {"defectlab": ["defectlab detection train preset=smoke"], "routes": {"a/plain": {"defectlab": None}}}
    assert references.problems("detection.json", good) == [
        "detection.json routes/a/plain: `defectlab` is null without a `why`",
        "detection.json routes/a/plain: `defectlab` is null without the `command` that made it"]
    assert "no `defectlab` field" in references.problems("novelty.json", {"mean": {}})[0]
    assert "neither null nor" in references.problems("novelty.json", {"defectlab": ["python x.py"]})[0]
    moved = {"defectlab": None, "why": "a sweep", "command": "python x.py --data /work/shared/data"}
    assert "absolute path" in references.problems("kernels.json", moved)[0]


def test_paths_are_written_relative_to_the_project_root(tmp_path):
    root = tmp_path / "work" / "main"
    assert portable({f"{root}/runs/a": [f"python s.py --data {tmp_path}/work/shared/data/NEU-DET --runs /tmp/x",
                                        f"detection={root}/runs/b,anomaly={root}", 0.5]}, root) == {
        "runs/a": ["python s.py --data ../shared/data/NEU-DET --runs /tmp/x", "detection=runs/b,anomaly=.", 0.5]}
    assert portable(f"{tmp_path}/work/mainframe/x {tmp_path}/workshop", root) == f"../mainframe/x {tmp_path}/workshop"
    written = results.write(tmp_path / "part.json", {"run": str(results.ROOT / "runs" / "x")}, command="x")
    assert json.loads(written.read_text())["run"] == "runs/x"


def test_numbers_are_compared_leaf_by_leaf():
    before = {"a": [1, 0.5, True], "/work/main/runs/x": {"b": 2}}
    assert references.numbers(before) == references.numbers({**before, "defectlab": None, "why": "text"})
    assert references.numbers(before) == references.numbers({"a": [1, 0.5, True], "runs/x": {"b": 2}})
    assert references.numbers(before) != references.numbers({"a": [1, 0.5, False], "runs/x": {"b": 2}})


@pytest.mark.parametrize("name", sorted(MERGED))
def test_the_one_merge_gives_the_committed_result_again(name, tmp_path, monkeypatch):
    monkeypatch.setattr(results, "RESULTS", shutil.copytree(results.RESULTS, tmp_path / "results"))
    built = json.loads(json.dumps(script(MERGED[name]).combine(results.read_parts(name))))
    committed = json.loads((results.RESULTS / f"{name}.json").read_text())
    assert ({k: v for k, v in built.items() if k not in PROVENANCE_KEYS}
            == {k: v for k, v in committed.items() if k not in PROVENANCE_KEYS})
