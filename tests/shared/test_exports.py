"""Exporters: YOLO round trip, anomalib folders with box masks, numpy arrays."""
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from shared.datasets import neu
from shared.datasets.boxes import clean_boxes
from shared.datasets.export_anomaly import to_anomaly_folders
from shared.datasets.export_arrays import to_arrays
from shared.datasets.export_yolo import read_yolo_labels, to_yolo_dataset
from shared.datasets.images import load_image
from shared.datasets.splits import SIDES, make_split
from shared.suite.errors import DataError


def test_yolo_export_round_trips_every_box(synthetic_index, tmp_path):
    index, _ = synthetic_index
    split = make_split(index, "kaggle-det", valid_fraction=0.2)
    export = to_yolo_dataset(index, split, tmp_path / "yolo", val_side="valid")
    config = yaml.safe_load(export.data_yaml.read_text())
    assert config["names"] == dict(enumerate(neu.CLASSES))
    assert (config["train"], config["val"], config["test"]) == ("images/train", "images/val", "images/test")
    assert export.images == {side: int((split[index["source"] == "voc"] == side).sum()) for side in SIDES}
    assert export.images["test"] == 36 and 24 <= export.images["valid"] <= 36
    voc = index[index["source"] == "voc"].set_index("picture_id")
    for label in (tmp_path / "yolo" / "labels").rglob("*.txt"):
        row = voc.loc[label.stem]
        back = read_yolo_labels(label, row.width, row.height, config["names"])
        for got, want in zip(back, row.boxes, strict=True):
            assert got["name"] == want["name"]
            assert np.allclose([got[k] for k in ("xmin", "ymin", "xmax", "ymax")],
                               [want[k] for k in ("xmin", "ymin", "xmax", "ymax")], atol=1e-3)
    assert sum(len(b) for b in voc["boxes"]) == export.boxes


def test_box_hygiene_counts_what_it_changes():
    box = {"name": "a", "xmin": 10, "ymin": 10, "xmax": 20, "ymax": 20}
    boxes = [box, dict(box), {**box, "xmax": 250}, {**box, "xmax": 5}]
    kept, counts = clean_boxes(boxes, 200, 200)
    assert counts == {"duplicate": 1, "clipped": 1, "degenerate": 1}
    assert kept == [box, {**box, "xmax": 200}]


def test_anomaly_folders_follow_the_protocol(synthetic_index, tmp_path):
    index, _ = synthetic_index
    split = make_split(index, "kaggle-det")
    export = to_anomaly_folders(index, split, tmp_path / "loco", ["crazing", "inclusion"])
    assert (export.normal_train, export.normal_test, export.abnormal) == (2 * 24, 2 * 6, 4 * 6)
    assert export.masks == export.abnormal
    names = {p.name for p in (tmp_path / "loco" / "abnormal").iterdir()}
    assert all(n.split("_")[0] in ("patches", "pitted", "rolled-in", "scratches") for n in names)
    one = min((tmp_path / "loco" / "masks").iterdir())
    mask = np.asarray(Image.open(one))
    row = index[(index["picture_id"] == one.stem) & (index["source"] == "voc")].iloc[0]
    box = row.boxes[0]
    assert mask[int(box["ymin"]) + 1, int(box["xmin"]) + 1] == 255 and set(np.unique(mask)) == {0, 255}
    with pytest.raises(DataError, match="not in the dataset: rust"):
        to_anomaly_folders(index, split, tmp_path / "x", ["rust"])


def test_arrays_repeat_gray_into_three_equal_channels(synthetic_index):
    index, _ = synthetic_index
    arrays = to_arrays(index, make_split(index, "kaggle-cls"))
    x, y, ids, paths = arrays["test"]
    assert x.shape == (72, 200, 200, 3) and x.dtype == np.uint8
    assert (x[..., 0] == x[..., 1]).all() and (x[..., 1] == x[..., 2]).all()
    assert np.bincount(y).tolist() == [12] * 6 and arrays["classes"] == list(neu.CLASSES)
    assert len(set(ids)) == 72 and all(p.endswith(".bmp") for p in paths)  # lossless copy preferred
    small = to_arrays(index, make_split(index, "kaggle-cls"), size=64, channels=1)
    assert small["train"][0].shape == (36, 64, 64, 1)


def test_load_image_names_the_file_it_cannot_read(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG broken")
    with pytest.raises(DataError) as error:
        load_image(bad)
    assert str(error.value).startswith(str(bad)) and "\n" not in str(error.value)


def test_image_inputs_expand_folders_and_keep_the_rest(tmp_path):
    from shared.datasets.images import expand_image_inputs

    (tmp_path / "d" / "sub").mkdir(parents=True)
    for name in ("b.png", "a.bmp", "sub/c.jpg", "notes.txt", ".hidden.png"):
        (tmp_path / "d" / name).write_bytes(b"x")
    array = np.zeros((4, 4), np.uint8)
    items = expand_image_inputs([tmp_path / "d", str(tmp_path / "missing.png"), array])
    names = [i.name if not isinstance(i, np.ndarray) else "array" for i in items]
    assert names == ["a.bmp", "b.png", "c.jpg", "missing.png", "array"]


def test_class_folders_hold_each_picture_once_on_its_side(synthetic_index, tmp_path):
    from shared.datasets.export_classes import to_class_folders
    from shared.datasets.splits import make_split

    index, _ = synthetic_index
    split = make_split(index, "kaggle-det", valid_fraction=0.1)
    counts = to_class_folders(index, split, tmp_path / "cls")
    files = sorted(p for p in (tmp_path / "cls").rglob("*") if p.is_file())
    assert {p.parent.parent.name for p in files} == {"train", "val"}
    picked = index.assign(side=split)[lambda d: d.side.isin(["train", "valid"])].drop_duplicates("picture_id")
    assert len(files) == len(picked) == sum(sum(c.values()) for c in counts.values())
    for path in files:
        row = picked[picked.path.map(lambda p: Path(p).name) == path.name].iloc[0]
        assert path.parent.name == row.class_name
