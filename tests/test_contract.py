"""The task contract: every task in the registry is driven through the same generic code, with no task-specific
branch: a smoke recipe on the same synthetic data, train -> evaluate (the dataset read once, split once, each
picture decoded at most once), then a fresh process loads the run folder and predicts on a file, an in-memory
gray array of another size and an unreadable file."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from shared.suite import registry

ROOT = Path(__file__).resolve().parents[1]

FRESH_PROCESS = """
import json, sys
import numpy as np
from shared.suite import console, registry
console.setup()
task, run_dir, image, bad = sys.argv[1:]
run = registry.load_run(task, run_dir)
gray = np.random.default_rng(0).integers(0, 255, (37, 53)).astype(np.uint8)
records = run.predictor().predict([image, gray, bad])
print(json.dumps(records))
"""


@pytest.mark.parametrize("name", list(registry.TASKS))
def test_every_task_through_one_code_path(name, generic_runs, synthetic_root, tmp_path):
    spec = registry.task(name)
    run, metrics, reads = generic_runs(name)  # smoke recipe, train + evaluate("test"), reads counted (conftest)
    # one read, one split, each picture decoded at most once across train + evaluate
    assert reads.probes and max(reads.probes.values()) == 1
    assert reads.splits == 1
    assert not reads.decodes() or max(reads.decodes().values()) == 1, reads.decodes().most_common(3)

    assert reads.written == json.loads(json.dumps(metrics))  # what evaluate returned is what it wrote
    data = json.loads((run.path / "data.json").read_text())
    assert data["task"] == name and data["data_fingerprint"] == metrics["data_fingerprint"] and data["classes"]
    assert data["data_folder"] == str(Path(run.recipe.data).resolve())  # the folder a run folder's check asks
    assert spec.summary(metrics)

    image = next((synthetic_root / "NEU-DET" / "IMAGES").glob("*.jpg"))
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not a picture")
    done = subprocess.run([sys.executable, "-c", FRESH_PROCESS, name, str(run.path), str(image), str(bad)],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    records = json.loads(done.stdout.strip().splitlines()[-1])
    assert [r["image"] for r in records] == [str(image), "array[1]", str(bad)]
    assert [(r["width"], r["height"]) for r in records[:2]] == [(200, 200), (53, 37)]
    assert "error" not in records[0] and "error" not in records[1] and records[2]["error"].startswith(str(bad))
    assert set(records[0]) == set(records[1]) and len(records[0]) > 3  # the task's own keys, both inputs alike
    assert done.stderr.strip() == "", done.stderr[-2000:]  # quiet: no library noise while loading and predicting
