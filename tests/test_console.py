"""A quiet console: in a fresh process, every CLI verb of every task runs on synthetic data, with and without
--quiet, and
- stdout holds only defectlab's results: no Keras progress bars (`34/34 ━━━━ 0s 513ms/step`), no library log
  lines;
- stderr holds only defectlab's own lines (errors and skips start with 'defectlab:', progress bars with '[task]'),
  not TensorFlow's start-up lines, ultralytics' requirement notes, timm / anomalib warnings or Keras' bars;
- with --quiet, stderr holds no progress bar at all.
stderr looks like a terminal to the verbs: tqdm draws no bar on a pipe, so on a plain pipe the bars would pass
unseen. --verbose brings the library lines back."""
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = """
import json, sys, time


class Terminal:
    # stderr as a terminal: tqdm (defectlab's bars) draws nothing on a pipe
    def __init__(self, stream):
        self.stream = stream

    def isatty(self):
        return True

    def __getattr__(self, name):
        return getattr(self.stream, name)


sys.stderr = Terminal(sys.stderr)
from shared.suite.cli import main
for words in json.loads(sys.argv[1]):
    for stream in (sys.stdout, sys.stderr):  # each verb's part of both streams starts with this line
        print(f"\\n@@ {' '.join(words)}", file=stream, flush=True)
    started = time.perf_counter()
    code = main(words)
    print(f"EXIT {code} in {time.perf_counter() - started:.1f} s", flush=True)
"""
# what conftest's console.setup() put in this process's environment must not help the fresh process
SET_BY_SETUP = ("TF_CPP_MIN_LOG_LEVEL", "GRPC_VERBOSITY", "GLOG_minloglevel", "YOLO_VERBOSE")
ENV = {k: v for k, v in os.environ.items() if k not in SET_BY_SETUP}
TASKS = r"(classification|detection|anomaly|demo|inspect|evaluate)"
OWN_LINE = re.compile(rf"^(defectlab: |\[{TASKS}\] )")
# defectlab's dataset reader and loader (shared.datasets) name their bars after a folder or a split side
DATASET_BAR = re.compile(r"^(reading|loading) [^:]+: +\d+%\|")
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
BAR = re.compile(r"\d+%\||\d+it \[|\d+/\d+ \[")   # a tqdm bar, ours or anyone's
# Keras' progress bars, epoch headers and early-stopping notes, TensorFlow / absl / ultralytics / Lightning log lines
FOREIGN = re.compile(r"━|\d+m?s/step|\bstep - |^Epoch \d+/\d+|: early stopping|Restoring model weights|"
                     r"^\s*\d+/\d+\s*$|^[IWEF]\d{4} |WARNING|absl|oneDNN|"
                     r"Ultralytics|GPU_mem|Lightning|LOCAL_RANK|FutureWarning|UserWarning|\x08")


def _commands(data, out, image, bad, pictures, runs):
    # tiny recipes: the small CNN where the backbone does not matter (the console is the same), the generic smoke
    # runs (conftest) for the verbs that read a run
    cnn = ["model=baseline-cnn", "weights=none", "image_size=32", "head_epochs=1"]
    semi = ["preset=semi", "labels_per_class=2", "pseudo_rounds=1", "pseudo_steps=2"]
    tune = ["preset=lite0-frozen", *cnn[:3], "head_epochs=10", "folds=2", "--trials", "1"]
    quiet = [  # semi with stage 2: features of 8 views, self-training and fine-tuning in one run
        ["classification", "train", f"data={data}", *semi, *cnn, "finetune_epochs=1", f"out={out}/s"],
        ["classification", "tune", f"data={data}", *tune, f"out={out}/t"],
        ["classification", "cluster", pictures, "--clusters", "2", "--out", f"{out}/k"],
        ["detection", "train", f"data={data}/NEU-DET", "preset=smoke", "cache=ram", f"out={out}/d"],
        ["anomaly", "train", f"data={data}", "preset=smoke", "image_size=32", f"out={out}/a"],
    ]
    loud = [  # with progress: each way Keras drew its bars on stdout, and ultralytics' caching bar
        ["classification", "train", f"data={data}", "preset=smoke", *cnn, f"out={out}/c"],
        ["classification", "train", f"data={data}", *semi, *cnn, f"out={out}/s-loud"],
        ["classification", "train", f"data={data}", "preset=auto", "select=frozen", "select_folds=2", *cnn,
         f"out={out}/auto"],
        ["classification", "tune", f"data={data}", *tune, f"out={out}/t-loud"],
        ["classification", "cluster", pictures, "--clusters", "2", "--out", f"{out}/k-loud"],
        ["detection", "train", f"data={data}/NEU-DET", "preset=smoke", "cache=ram", f"out={out}/d-loud"],
        ["anomaly", "train", f"data={data}", "preset=smoke", "image_size=32", f"out={out}/a-loud"],
    ]
    return [*(words + ["--quiet"] for words in quiet), *loud,
            ["classification", "evaluate", runs["classification"], "--side", "valid"],
            ["classification", "predict", runs["classification"], image, bad, "--out", f"{out}/cp"],
            ["classification", "predict", runs["classification"], image],
            ["classification", "explain", runs["classification"], image, "--out", f"{out}/cam"],
            ["detection", "evaluate", runs["detection"], "--side", "valid"],
            ["detection", "predict", runs["detection"], image, "--out", f"{out}/dp"],
            ["detection", "export", runs["detection"]],
            ["anomaly", "evaluate", runs["anomaly"]],
            ["anomaly", "predict", runs["anomaly"], image],
            ["anomaly", "protocol", f"data={data}", "preset=smoke", "image_size=32", f"out={out}/p", "--classes",
             "scratches"],
            ["inspect", image, bad, "--out", f"{out}/i", "--runs", *(f"{task}={path}" for task, path in runs.items())]]


def _parts(text: str) -> dict[str, list[str]]:
    """verb's words -> its non-blank lines (a bar's redraws, split at carriage returns, count as lines)."""
    parts, key = {}, None
    text = ANSI.sub("", text)   # colours, and the cursor moves of a bar drawn under another
    for line in (part.strip() for row in text.splitlines() for part in row.split("\r")):
        if line.startswith("@@ "):
            key = line[3:]
            parts[key] = []
        elif line and key is not None:
            parts[key].append(line)
    return parts


@pytest.fixture(scope="module")
def console(synthetic_root, generic_runs, tmp_path_factory, suite_home):
    """One fresh process runs every command: (commands, stdout part per verb, stderr part per verb, whole stderr,
    the unreadable file)."""
    tmp = tmp_path_factory.mktemp("console")
    # copies: the verbs write into a run folder, and other tests read these runs' files
    runs = {name: str(shutil.copytree(generic_runs(name)[0].path, tmp / "runs" / name))
            for name in ("classification", "detection", "anomaly")}
    images = sorted((synthetic_root / "NEU-DET" / "IMAGES").glob("*.jpg"))
    pictures = tmp / "pictures"
    pictures.mkdir()
    for name in ("crazing", "patches", "scratches"):
        for path in [p for p in images if p.name.startswith(name)][:3]:
            shutil.copy(path, pictures)
    image = str(next(p for p in images if p.name.startswith("scratches")))
    bad = tmp / "bad.jpg"
    bad.write_bytes(b"no picture")
    commands = _commands(str(synthetic_root), str(tmp / "out"), image, str(bad), str(pictures), runs)
    done = subprocess.run([sys.executable, "-c", SCRIPT, json.dumps(commands)], capture_output=True, text=True,
                          cwd=ROOT, timeout=900, env=ENV)
    (tmp / "stdout.txt").write_text(done.stdout)   # to read when a test below fails
    (tmp / "stderr.txt").write_text(done.stderr)
    out, err = _parts(done.stdout), _parts(done.stderr)
    keys = [" ".join(words) for words in commands]
    exits = {key: [line.split(" in ")[0] for line in out.get(key, []) if line.startswith("EXIT")] for key in keys}
    assert done.returncode == 0 and all(exits[key] == ["EXIT 0"] for key in keys), \
        ({k: v for k, v in exits.items() if v != ["EXIT 0"]}, done.stderr[-3000:])
    return commands, out, err, done.stderr, str(bad)


def test_stdout_holds_only_defectlab_results(console):
    _commands, out, *_ = console
    foreign = {key: [line for line in lines if FOREIGN.search(line) or BAR.search(line)][:5]
               for key, lines in out.items()}
    assert not any(foreign.values()), {key: lines for key, lines in foreign.items() if lines}
    train = next(key for key in out if key.startswith("classification train") and "preset=auto" in key)
    assert any(line.startswith("run folder: ") for line in out[train])   # the results do get through


def test_stderr_keeps_to_defectlab_lines(console):
    _, _, err, whole, bad = console
    foreign = {key: [line for line in lines if not (OWN_LINE.match(line) or DATASET_BAR.match(line))
                     or FOREIGN.search(line)][:5] for key, lines in err.items()}
    assert not any(foreign.values()), {key: lines for key, lines in foreign.items() if lines}
    assert f"defectlab: skipped {bad}: cannot decode image" in whole  # our own line does get through


def test_quiet_means_no_bars_and_progress_means_defectlab_bars(console):
    commands, _, err, *_ = console
    keys = [" ".join(words) for words in commands]
    bars = {key: [line for line in err[key] if BAR.search(line)] for key in keys}
    assert not any(bars[key] for key in keys if key.endswith("--quiet")), \
        {key: lines[:3] for key, lines in bars.items() if key.endswith("--quiet") and lines}
    for key in keys:   # Keras' work (features, epochs) shows as defectlab's own bar where progress is on
        if key.startswith(("classification train", "classification tune", "classification cluster")) \
                and not key.endswith("--quiet"):
            assert any(line.startswith("[classification] ") and BAR.search(line) for line in bars[key]), \
                (key, err[key][-5:])


def test_verbose_brings_library_lines_back(tmp_path):
    code = ("from shared.suite import console; console.setup(verbose=True); import tensorflow")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300, env=ENV)
    assert done.returncode == 0 and done.stderr.strip(), "TensorFlow printed nothing: the quiet test proves nothing"
