"""Inspect: every task's run on the same pictures, each picture decoded once; its per-task answers equal what each
task's own predictor says about the same inputs."""
import json

import numpy as np
import pytest

from shared.suite import registry
from shared.suite.errors import DataError


@pytest.fixture(scope="module")
def runs(generic_runs):
    return {name: generic_runs(name)[0].path for name in registry.TASKS}


def test_inspect_equals_each_task_alone_and_keeps_going_past_bad_files(runs, synthetic_root, tmp_path):
    from shared.suite.inspect import Inspector

    images = sorted((synthetic_root / "NEU-DET" / "IMAGES").glob("patches_1*.jpg"))[:3]
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a picture")
    gray = np.random.default_rng(0).integers(0, 255, (40, 60)).astype(np.uint8)
    inputs = [images[0], bad, gray, *images[1:]]
    inspector = Inspector.from_runs(runs, batch_size=2)
    records = inspector.inspect_to(inputs, tmp_path / "out")
    assert [("error" in r) for r in records] == [False, True, False, False, False]
    for task, predictor in inspector.predictors.items():
        alone = predictor.predict(inputs)  # its own batches: sums may round differently in the last digits
        together = [r[task] for r in records if "error" not in r]
        assert _close(together, [{k: v for k, v in r.items() if k not in ("image", "width", "height")}
                                  for r in alone if "error" not in r]), task
    written = json.loads((tmp_path / "out" / "predictions.json").read_text())
    assert written == json.loads(json.dumps(records)) and len(list((tmp_path / "out" / "pictures").glob("*.png"))) == 4


def _close(a, b) -> bool:
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b))
    if isinstance(a, float):
        return abs(a - b) <= 1e-4 * max(1.0, abs(b))
    return a == b


def test_a_missing_run_names_the_command_that_trains_it(tmp_path):
    from shared.suite.inspect import find_runs

    with pytest.raises(DataError, match=r"no detection run here; train one with `defectlab detection train"):
        find_runs({}, tmp_path, tasks=("detection",))
