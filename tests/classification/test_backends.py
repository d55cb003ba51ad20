"""Model and training code are backend-agnostic: no TensorFlow calls outside gradcam.py, and the same
weights give the same logits under KERAS_BACKEND=torch."""
import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

PACKAGE = Path(__file__).resolve().parents[2] / "classification"


def test_no_tensorflow_in_model_and_training_code():
    for path in PACKAGE.glob("*.py"):
        if path.name == "gradcam.py":  # gradients are per backend by nature
            continue
        tree = ast.parse(path.read_text())
        imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        imported |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        assert "tensorflow" not in imported, path.name


SCRIPT = """
import json, numpy as np, keras
import classification
from classification.efficientnet_lite import build_efficientnet_lite, load_imagenet_weights
from classification.models import create_classifier
from classification.recipe import Augment
model = load_imagenet_weights(build_efficientnet_lite("efficientnet_lite0", (224, 224, 3)))
x = np.random.default_rng(0).uniform(0, 255, (1, 224, 224, 3)).astype("float32")
logits = np.asarray(keras.ops.convert_to_numpy(model(x, training=False)))
clf, _, _ = create_classifier("efficientnet_lite0", 3, 64, augment=Augment())
clf.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
history = clf.fit(np.random.default_rng(1).uniform(0, 255, (8, 64, 64, 3)), np.arange(8) % 3, epochs=1, verbose=0)
print(json.dumps({"backend": keras.backend.backend(), "logits": logits[0].tolist(),
                  "loss": float(history.history["loss"][0])}))
"""


def test_same_logits_and_a_training_step_under_the_torch_backend():
    from classification.efficientnet_lite import build_efficientnet_lite, load_imagenet_weights

    env = {**os.environ, "KERAS_BACKEND": "torch"}
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["backend"] == "torch" and np.isfinite(result["loss"])
    model = load_imagenet_weights(build_efficientnet_lite("efficientnet_lite0", (224, 224, 3)))
    x = np.random.default_rng(0).uniform(0, 255, (1, 224, 224, 3)).astype("float32")
    ours = np.asarray(model(x, training=False))[0]
    reference = np.array(result["logits"])
    assert np.abs(ours - reference).max() <= 1e-3 * max(1.0, np.abs(reference).max())  # of the logits' scale
