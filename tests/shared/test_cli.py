"""The front door: every command runs offline, errors are one line, inputs stay untouched."""
import json

import pytest
from conftest import tree_digest

from shared.suite.cli import build_parser, main

COMMANDS = [[], ["data"], ["data", "synth"], ["data", "check"], ["data", "split"], ["data", "export"], ["demo"],
            *[[task, verb] for task in ("classification", "detection", "anomaly") for verb in ("train", "evaluate",
                                                                                              "predict")],
            ["classification"], ["classification", "explain"], ["detection"], ["detection", "export"], ["anomaly"],
            ["anomaly", "protocol"], ["inspect"], ["results"], ["serve"], ["watch"]]


@pytest.mark.parametrize("words", COMMANDS, ids=lambda w: " ".join(w) or "top")
def test_help_explains_every_option(words, capsys):
    with pytest.raises(SystemExit) as done:
        main([*words, "--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    assert "usage: defectlab" in text
    parser_actions = [a for a in build_parser()._actions]
    assert parser_actions  # the parser builds without importing any task framework
    for line in text.splitlines():
        if line.strip().startswith("--") and "  " in line.strip():
            assert line.strip().split("  ", 1)[1].strip(), f"option without help: {line}"


def test_check_split_export_offline_and_read_only(synthetic_root, tmp_path, no_network, capsys):
    before = tree_digest(synthetic_root)
    assert main(["data", "check", str(synthetic_root), "--json", str(tmp_path / "check.json")]) == 0
    report = json.loads((tmp_path / "check.json").read_text())
    assert report["summary"]["images"] == 360 and report["counts"] == {} and report["data_fingerprint"]
    assert main(["data", "split", str(synthetic_root), "--split", "kaggle-cls", "--out", str(tmp_path / "s.csv")]) == 0
    assert "kaggle-cls: train 36, valid 72, test 72 pictures" in capsys.readouterr().out
    for target, extra in (("yolo", []), ("anomaly", ["--normal-classes", "crazing"]), ("arrays", [])):
        out = tmp_path / f"export-{target}"
        assert main(["data", "export", str(synthetic_root), "--to", target, "--split", "kaggle-det",
                     "--out", str(out), *extra]) == 0
        assert (out / "export.json").is_file()
    assert tree_digest(synthetic_root) == before


def test_demo_runs_offline(tmp_path, no_network):
    assert main(["demo", "--out", str(tmp_path / "demo"), "--per-class", "25", "--only", "none"]) == 0
    summary = json.loads((tmp_path / "demo" / "summary.json").read_text())
    assert summary["data"]["splits"]["kaggle-cls"] == {"train": 6, "valid": 72, "test": 72}
    assert summary["data_fingerprint"] and summary["git_commit"] is not None
    # a second run replaces its own folder
    assert main(["demo", "--out", str(tmp_path / "demo"), "--per-class", "25", "--only", "none"]) == 0


def test_network_guard_itself_catches_a_connect(no_network):
    import socket

    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("192.0.2.1", 80), timeout=0.1)
    no_network.clear()  # the attempt was expected here


@pytest.mark.parametrize("words, message", [
    (["data", "check", "{tmp}/absent"], "absent: no such file or folder"),
    (["data", "split", "{tmp}/empty", "--split", "kaggle-cls"], "no dataset found"),
    (["data", "export", "{data}", "--to", "yolo", "--split", "kaggle-det", "--out", "{data}/NEU-DET/out"], "lies inside the input"),
    (["data", "export", "{data}", "--to", "anomaly", "--split", "kaggle-det", "--out", "{tmp}/a"], "needs --normal-classes"),
    (["data", "synth", "{data}"], "exists and is not empty"),
    (["classification", "train", "--data", "{tmp}/empty", "--out", "{tmp}/runs", "--quiet"], "no dataset found"),
    (["classification", "train", "data={tmp}/empty", "image_size=big"], "recipe field image_size: cannot use 'big'"),
    (["classification", "train", "data={tmp}/empty", "preset=huge"], "unknown classification preset 'huge'"),
    (["detection", "train", "data={tmp}/empty", "split=kfold", "fold=7"], "fold must be in 0..4"),
    (["detection", "predict", "{tmp}/empty", "x.jpg"], "not a detection run folder (no data.json)"),
    (["anomaly", "train", "--data", "{tmp}/empty"], "no dataset found"),
    (["anomaly", "train", "data={data}", "normal_classes=crazing,rust"], "normal classes not in the dataset: rust"),
    (["anomaly", "evaluate", "{tmp}/old"], "older defectlab layout (no data.json); re-run `defectlab anomaly train`"),
])
def test_bad_input_gives_one_line_error(words, message, synthetic_root, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "config.json").write_text("{}")  # a run folder of the layout before the task contract
    before = tree_digest(synthetic_root)
    args = [w.format(tmp=tmp_path, data=synthetic_root) for w in words]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("defectlab: error: ") and message in err and "\n" not in err, err
    assert tree_digest(synthetic_root) == before


def test_force_never_replaces_a_folder_defectlab_did_not_write(tmp_path, capsys):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "keep.txt").write_text("precious")
    assert main(["data", "synth", str(tmp_path / "mine"), "--force"]) == 2
    assert (tmp_path / "mine" / "keep.txt").read_text() == "precious"
    assert "did not write" in capsys.readouterr().err


@pytest.mark.parametrize("words, expected", [
    (["detection", "predict", "RUN", "a.jpg", "conf=0.3", "tta=1", "border=0"],
     {"conf": "0.3", "tta": True, "border": "0", "images": ["a.jpg"]}),
    (["detection", "predict", "RUN", "--conf", "0.3", "--no-tta", "a.jpg"], {"conf": "0.3", "tta": False}),
    (["classification", "evaluate", "RUN", "tta=yes"], {"tta": True}),
    (["classification", "train", "data=d", "imgsz=64"], {"data": "d", "image_size": "64"}),
    (["inspect", "detection.conf=0.3", "a.jpg", "b.jpg"], {"predict": ["detection.conf=0.3"],
                                                           "images": ["a.jpg", "b.jpg"]}),
])
def test_one_grammar_for_every_verb(words, expected):
    """key=value and --key value mean the same on every verb; TASK.OPTION=VALUE words reach inspect's --predict
    and leave the pictures after them alone."""
    from shared.suite.cli import expand_key_values

    parser = build_parser()
    args = parser.parse_args(expand_key_values(words, parser))
    assert {k: getattr(args, k) for k in expected} == expected


def test_options_take_one_default_and_name_a_bad_value(capsys):
    from shared.suite import registry
    from shared.suite.options import resolve

    spec = registry.task("detection")
    assert resolve(spec.predict_options, {})["conf"] == spec.predict_options["conf"].default
    assert resolve(spec.predict_options, {"conf": "0.5", "fuse-with": "x"})["fuse_with"] == "x"
    with pytest.raises(ValueError, match="conf: cannot use 'high'"):
        resolve(spec.predict_options, {"conf": "high"})
    assert main(["detection", "predict", "RUN", "a.jpg", "tta=maybe"]) == 2
    assert "expected true or false" in capsys.readouterr().err

