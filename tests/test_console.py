"""A quiet console: in a fresh process, every CLI verb of every task runs on synthetic data and stderr holds only
defectlab's own lines (errors and skips start with 'defectlab:', progress bars with '[task]'), not TensorFlow's
start-up lines, ultralytics' requirement notes or timm / anomalib warnings. --verbose brings those back."""
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = """
import json, sys
from shared.suite.cli import main
data, out, image, bad = sys.argv[1:5]
runs = json.loads(sys.argv[5])  # trained by the generic path in the parent process (conftest)
commands = [
    ["classification", "train", f"data={data}", "preset=smoke", "image_size=32", "head_epochs=1", f"out={out}/c",
     "--quiet"],
    ["classification", "evaluate", runs["classification"], "--side", "valid"],
    ["classification", "predict", runs["classification"], image, bad, "--out", f"{out}/cp"],
    ["classification", "explain", runs["classification"], image, "--out", f"{out}/cam"],
    ["detection", "train", f"data={data}/NEU-DET", "preset=smoke", "cache=ram", f"out={out}/d", "--quiet"],
    ["detection", "evaluate", runs["detection"], "--side", "valid"],
    ["detection", "predict", runs["detection"], image, "--out", f"{out}/dp"],
    ["detection", "export", runs["detection"]],
    ["anomaly", "train", f"data={data}", "preset=smoke", "image_size=32", f"out={out}/a", "--quiet"],
    ["anomaly", "evaluate", runs["anomaly"]],
    ["anomaly", "predict", runs["anomaly"], image],
    ["anomaly", "protocol", f"data={data}", "preset=smoke", "image_size=32", f"out={out}/p", "--classes", "scratches"],
    ["inspect", image, bad, "--out", f"{out}/i", "--runs", *(f"{task}={path}" for task, path in runs.items())],
]
for words in commands:
    code = main(words)
    print(f"EXIT {code} {' '.join(words[:2])}", flush=True)
"""
# what conftest's console.setup() put in this process's environment must not help the fresh process
SET_BY_SETUP = ("TF_CPP_MIN_LOG_LEVEL", "GRPC_VERBOSITY", "GLOG_minloglevel", "YOLO_VERBOSE")
ENV = {k: v for k, v in os.environ.items() if k not in SET_BY_SETUP}
OWN_LINE = re.compile(r"^(defectlab: |\[(classification|detection|anomaly|demo|inspect|evaluate)\] )")


def test_every_verb_keeps_stderr_to_defectlab_lines(synthetic_root, generic_runs, tmp_path, suite_home):
    import json

    import shutil

    # copies: the verbs write into a run folder, and other tests read these runs' files
    runs = {name: shutil.copytree(generic_runs(name)[0].path, tmp_path / "runs" / name)
            for name in ("classification", "detection", "anomaly")}
    runs = {name: str(path) for name, path in runs.items()}
    image = next((synthetic_root / "NEU-DET" / "IMAGES").glob("scratches_*.jpg"))
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"no picture")
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(synthetic_root), str(tmp_path / "out"), str(image),
                           str(bad), json.dumps(runs)], capture_output=True, text=True, cwd=ROOT, timeout=600, env=ENV)
    exits = [line for line in done.stdout.splitlines() if line.startswith("EXIT")]
    assert done.returncode == 0 and len(exits) == 13 and all(line.startswith("EXIT 0") for line in exits), \
        (exits, done.stderr[-3000:])
    lines = [part.strip() for line in done.stderr.splitlines() for part in line.split("\r") if part.strip()]
    foreign = [line for line in lines if not OWN_LINE.match(line)]
    assert not foreign, foreign[:10]
    assert f"defectlab: skipped {bad}: cannot decode image" in done.stderr  # our own line does get through


def test_verbose_brings_library_lines_back(tmp_path):
    code = ("from shared.suite import console; console.setup(verbose=True); import tensorflow")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300, env=ENV)
    assert done.returncode == 0 and done.stderr.strip(), "TensorFlow printed nothing: the quiet test proves nothing"
