"""Read an anomaly dataset in the usual folder layout: a normal dir (train), an optional normal test dir,
an abnormal dir and an optional mask dir (pixel masks with the same stem as their abnormal image).
The layout `defectlab data export --to anomaly` writes: normal/train, normal/test, abnormal, masks."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..suite.errors import DataError
from .images import is_image_file, probe_image
from .report import ValidationReport

COLUMNS = ["path", "role", "label", "mask", "width", "height"]  # role: train | test; label: 0 normal, 1 abnormal


def _images(folder: Path, report: ValidationReport) -> list[tuple[Path, int, int]]:
    found = []
    for path in sorted(p for p in folder.rglob("*") if is_image_file(p)):
        probe = probe_image(path)
        if probe.problem:
            report.add(probe.problem, path, f"{probe.detail}; skipped")
        else:
            found.append((path, probe.width, probe.height))
    return found


def read_anomaly_folders(root: str | Path | None = None, normal_dir="normal/train", abnormal_dir="abnormal",
                         normal_test_dir="normal/test", mask_dir="masks") -> tuple[pd.DataFrame, ValidationReport]:
    """(table, report). Unreadable files and masks whose size differs from their image are counted and
    skipped (the image stays, without mask); no normal training image is an error."""
    root = Path(root) if root else Path(".")
    resolve = lambda d: (root / d) if d and (root / d).is_dir() else None
    normal, abnormal, normal_test, masks = map(resolve, (normal_dir, abnormal_dir, normal_test_dir, mask_dir))
    report = ValidationReport(dataset=str(root), layout="anomaly-folders")
    if normal is None:
        raise DataError(root / normal_dir, "no normal images folder: an anomaly model needs normal training images")
    rows = [(p, "train", 0, None, w, h) for p, w, h in _images(normal, report)]
    if not rows:
        raise DataError(normal, "no readable normal images: an anomaly model needs normal training images")
    if normal_test:
        rows += [(p, "test", 0, None, w, h) for p, w, h in _images(normal_test, report)]
    mask_files = {p.stem: p for p in masks.iterdir() if is_image_file(p)} if masks else {}
    for path, width, height in (_images(abnormal, report) if abnormal else []):
        mask = mask_files.get(path.stem)
        if mask is not None:
            probe = probe_image(mask)
            if probe.problem or (probe.width, probe.height) != (width, height):
                report.add("size_mismatch", mask, f"mask {probe.width}x{probe.height} for image {width}x{height}; "
                                                  "mask ignored" if not probe.problem else f"{probe.detail}; mask ignored")
                mask = None
        rows.append((path, "test", 1, mask, width, height))
    table = pd.DataFrame([(str(p), r, lab, str(m) if m else None, w, h) for p, r, lab, m, w, h in rows], columns=COLUMNS)
    report.summary = {"normal_train": int(((table.role == "train")).sum()),
                      "normal_test": int(((table.role == "test") & (table.label == 0)).sum()),
                      "abnormal": int((table.label == 1).sum()), "masks": int(table["mask"].notna().sum())}
    return table, report
