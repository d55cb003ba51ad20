import json
import shlex
import shutil

import pytest

from shared.datasets.index import read_dataset
from shared.suite.provenance import data_fingerprint, script_command, write_result


def test_fingerprint_follows_content_not_location(synthetic_root, synthetic_index, tmp_path):
    index, _ = synthetic_index
    moved = shutil.copytree(synthetic_root / "NEU-DET", tmp_path / "elsewhere" / "NEU-DET")
    voc = index[index["source"] == "voc"]
    assert data_fingerprint(read_dataset(moved, progress=False)[0]) == data_fingerprint(voc)
    changed = voc.copy()
    changed.at[changed.index[0], "boxes"] = [{**changed.iloc[0]["boxes"][0], "xmin": 3}]
    assert data_fingerprint(changed) != data_fingerprint(voc)


def test_result_json_carries_provenance(synthetic_index, tmp_path):
    index, _ = synthetic_index
    path = write_result(tmp_path / "r.json", {"accuracy": 0.5}, split="kaggle-cls", index=index, command="x y")
    result = json.loads(path.read_text())
    for key in ("schema_version", "command", "git_commit", "split", "data_fingerprint", "versions",
                "hardware", "created_at"):
        assert key in result
    assert result["command"] == "x y" and result["accuracy"] == 0.5 and result["versions"]["numpy"]


def test_common_fingerprint_refuses_parts_from_different_data():
    from shared.suite.provenance import common_fingerprint

    assert common_fingerprint([{"data_fingerprint": "a"}, {"data_fingerprint": "a"}]) == "a"
    with pytest.raises(ValueError, match="different data"):
        common_fingerprint([{"data_fingerprint": "a"}, {"data_fingerprint": "b"}])


def test_an_announced_commit_wins_over_the_copied_git_folder(monkeypatch):
    from shared.suite.provenance import git_commit

    monkeypatch.delenv("DEFECTLAB_GIT_COMMIT", raising=False)
    here = git_commit()
    monkeypatch.setenv("DEFECTLAB_GIT_COMMIT", "0123abc")
    assert git_commit() == "0123abc" != here


def test_script_command_pastes_back_into_a_shell():
    argv = ["--data", "../shared/data/NEU-DET", "--extra", '{"optimizer": "SGD", "lr0": 0.002}']
    command = script_command("/anywhere/scripts/benchmarks/detection/benchmark_detection.py", argv)
    assert command.startswith("python scripts/benchmarks/detection/benchmark_detection.py --data")
    assert shlex.split(command)[2:] == argv  # the JSON option comes back as one argument, quotes intact
