"""defectlab anomaly: flag defect patterns no model was trained on (anomalib). Depends on `shared` only.
Verbs: fit(config) -> run folder, evaluate(run) -> metrics, load(run) -> Predictor.predict(images) -> records."""
from shared import framework_guard as _framework_guard

from .memory_guard import cap_mmap_threshold as _cap_mmap_threshold

_framework_guard.install()
MALLOC_GUARDED = _cap_mmap_threshold()
