"""defectlab's one data layer for NEU surface-defect data: read + validate -> index, named splits,
exports (YOLO, anomalib folders, numpy arrays), a synthetic generator and result provenance.
Imports no ML framework. Names are loaded on first use so that importing `shared` stays cheap."""
from importlib import import_module

_EXPORTS = {
    "read_dataset": "index", "detect_layout": "index", "class_names": "index", "INDEX_COLUMNS": "index",
    "ValidationReport": "report", "DataError": "errors",
    "make_split": "splits", "leaking_groups": "splits", "split_sizes": "splits", "SPLIT_NAMES": "splits",
    "to_yolo_dataset": "export_yolo", "to_anomaly_folders": "export_anomaly", "to_arrays": "export_arrays",
    "load_image": "images", "synthesize": "synthetic", "CLASSES": "neu",
    "data_fingerprint": "provenance", "provenance": "provenance", "write_result": "provenance",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
