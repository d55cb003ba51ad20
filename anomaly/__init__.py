"""defectlab anomaly: flag novel defect patterns no model was trained on (anomalib). Depends on `shared` only."""
from shared import framework_guard as _framework_guard

_framework_guard.install()
