"""The views of a dataset and split that `defectlab data export --to NAME` writes, by name, each with a line of
help. Names are the data layer's: a view is named after the layout it writes, which the suite's core never spells."""
from __future__ import annotations

YOLO = "yolo"
FOLDERS = "anomaly"   # normal/ and abnormal/ picture folders (export_anomaly.to_anomaly_folders)
ARRAYS = "arrays"

TARGETS = {
    YOLO: "images/{train,val,test} + labels + data.yaml (boxed images)",
    FOLDERS: "normal/train, normal/test, abnormal, masks (from boxes) for --normal-classes",
    ARRAYS: "arrays.npz: x_<side>, y_<side>, classes",
}
