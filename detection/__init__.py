"""defectlab detection: locate defects with bounding boxes (ultralytics YOLO). Depends on `shared` only."""
from shared import framework_guard as _framework_guard

_framework_guard.install()
