"""defectlab classification: name the defect in a surface image (Keras 3 transfer learning).
Depends on `shared` only. Verbs: train(config) -> run folder, evaluate(run, split) -> metrics,
load(run) -> Predictor with .predict(images) -> records; explain(...) draws Grad-CAM heatmaps."""
import os as _os

from shared import framework_guard as _framework_guard

_framework_guard.install()
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's C++ start-up chatter out of the CLI
