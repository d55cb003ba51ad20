"""defectlab classification: name the defect in a surface image (Keras 3 transfer learning). Depends on `shared` only."""
from shared import framework_guard as _framework_guard

_framework_guard.install()
