"""Reading every layout into one index, and validating bad input without crashing."""
import shutil

import pytest
from conftest import tree_digest
from PIL import Image

from shared.datasets import neu
from shared.datasets.index import INDEX_COLUMNS, class_names, detect_layout, read_dataset
from shared.suite.errors import DataError


def test_both_neu_copies_read_as_the_same_pictures(synthetic_index):
    index, report = synthetic_index
    assert list(index.columns) == INDEX_COLUMNS
    assert len(index) == 2 * 6 * 30 and index["picture_id"].nunique() == 6 * 30
    assert report.counts() == {}
    per_picture = index.groupby("picture_id")
    assert (per_picture["source"].nunique() == 2).all()
    assert (per_picture["class_name"].nunique() == 1).all()
    assert (per_picture["twin_group"].nunique() == 1).all()
    assert class_names(index) == list(neu.CLASSES)


def test_voc_rows_carry_boxes_and_split_folder_rows_their_split(synthetic_index):
    index, _ = synthetic_index
    voc, folders = index[index["source"] == "voc"], index[index["source"] == "split-folders"]
    assert all(len(b) >= 1 for b in voc["boxes"]) and all(len(b) == 0 for b in folders["boxes"])
    assert folders["source_split"].value_counts().to_dict() == {"train": 36, "valid": 72, "test": 72}
    assert set(folders["path"].str.rsplit("/", n=1).str[-1].str[:2]) == set(neu.CLS_PREFIX.values())


def test_layout_detection(synthetic_root, tmp_path):
    assert detect_layout(synthetic_root) == "neu-copies"
    assert detect_layout(synthetic_root / "NEU-DET") == "voc"
    assert detect_layout(synthetic_root / "NEU-Metal-Surface-Defects") == "split-folders"
    assert detect_layout(synthetic_root / "NEU-Metal-Surface-Defects" / "train") == "class-folders"
    with pytest.raises(DataError, match="no such file"):
        detect_layout(tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no dataset found"):
        detect_layout(tmp_path / "empty")


def test_any_class_folder_dataset(tmp_path):
    for name, mode, size in (("rust", "RGB", (64, 48)), ("dent", "L", (32, 32)), ("ok", "RGB", (50, 50))):
        (tmp_path / name).mkdir()
        for k in range(3):
            Image.new(mode, size, k * 40).save(tmp_path / name / f"img{k}.png")
    index, report = read_dataset(tmp_path, progress=False)
    assert sorted(index["class_name"].unique()) == ["dent", "ok", "rust"] == class_names(index)
    assert set(index["picture_id"]) == {f"{c}/img{k}" for c in ("rust", "dent", "ok") for k in range(3)}
    assert set(zip(index["width"], index["height"])) == {(64, 48), (32, 32), (50, 50)}
    # img0 in 'ok' and 'rust' are both black RGB images of different size: not identical; within a class
    # no two files are equal either, so no twins are reported
    assert report.counts() == {}


def _damage(root):
    det = root / "NEU-DET"
    images, xmls = det / "IMAGES", det / "ANNOTATIONS"
    data = (images / "crazing_1.jpg").read_bytes()
    (images / "crazing_1.jpg").write_bytes(data[: len(data) // 2])                 # truncated
    (images / "crazing_2.jpg").write_bytes(b"this is not a jpeg")                  # unreadable
    (xmls / "crazing_3.xml").write_text("<annotation><object>")                    # unparsable
    (xmls / "inclusion_1.xml").unlink()                                            # missing annotation
    shutil.copy(xmls / "inclusion_2.xml", xmls / "inclusion_999.xml")              # orphan annotation
    shutil.copy(images / "patches_2.jpg", images / "patches_3.jpg")                # byte-identical twin
    xml = (xmls / "scratches_1.xml").read_text()
    obj = xml[xml.index("<object>"):xml.index("</object>") + 9]
    extra = (obj + obj                                                             # duplicate box
             + obj.replace("<name>scratches</name>", "<name>inclusion</name>")     # cross-class box
             .replace("<difficult>0</difficult>", "<difficult>1</difficult>")      # difficult box
             + "<object><name>scratches</name><bndbox><xmin>5</xmin><ymin>5</ymin><xmax>250</xmax>"
               "<ymax>20</ymax></bndbox></object>"                                  # outside the image
             + "<object><name>scratches</name><bndbox><xmin>9</xmin><ymin>5</ymin><xmax>9</xmax>"
               "<ymax>20</ymax></bndbox></object>"                                  # degenerate
             + "<object><name>scratches</name><bndbox><xmin>9</xmin></bndbox></object>")  # missing fields
    xml = xml.replace(obj, extra).replace("<filename>scratches_1.jpg</filename>", "<filename>scratches_1</filename>")
    (xmls / "scratches_1.xml").write_text(xml)


def test_every_fault_is_counted_and_the_rest_is_read(synthetic_copy):
    _damage(synthetic_copy)
    before = tree_digest(synthetic_copy)
    index, report = read_dataset(synthetic_copy / "NEU-DET", progress=False)
    assert tree_digest(synthetic_copy) == before, "reading must not modify the dataset"
    assert report.counts() == {
        "unreadable_image": 1, "truncated_image": 1, "xml_unparsable": 1, "xml_missing_field": 1,
        "missing_annotation": 1, "orphan_annotation": 1, "box_outside_image": 1, "box_degenerate": 1,
        "duplicate_box": 1, "cross_class_box": 1, "filename_without_extension": 1,
        "byte_identical_files": 1, "difficult_box": 1,
    }
    assert len(index) == 6 * 30 - 2
    assert {f.path.rsplit("/", 1)[-1] for f in report.of_kind("truncated_image") + report.of_kind("unreadable_image")} \
        == {"crazing_1.jpg", "crazing_2.jpg"}
    twins = index[index["picture_id"].isin(["patches_2", "patches_3"])]
    assert twins["twin_group"].nunique() == 1
    scratches = index.set_index("picture_id").loc["scratches_1", "boxes"]
    assert len([b for b in scratches if b["name"] == "inclusion" and b["difficult"]]) == 1
    text = report.to_text()
    assert "truncated_image" in text and "crazing_1.jpg" in text


def test_empty_class_folder_is_reported(tmp_path):
    (tmp_path / "rust").mkdir()
    (tmp_path / "dent").mkdir()
    Image.new("L", (8, 8)).save(tmp_path / "rust" / "a.png")
    index, report = read_dataset(tmp_path, progress=False)
    assert report.counts() == {"empty_class": 1} and len(index) == 1


def test_yolo_layout_round_trips_the_yolo_export(synthetic_index, tmp_path):
    from shared.datasets.export_yolo import to_yolo_dataset
    from shared.datasets.splits import make_split

    index, _ = synthetic_index
    split = make_split(index, "kaggle-det")
    to_yolo_dataset(index, split, tmp_path / "yolo")
    assert detect_layout(tmp_path / "yolo") == "yolo"
    back, report = read_dataset(tmp_path / "yolo", progress=False)
    assert report.counts() == {}
    voc = index[index["source"] == "voc"].set_index("picture_id")
    back = back.set_index("picture_id")
    assert sorted(back.index) == sorted(voc.index)
    assert (back["class_name"] == voc.loc[back.index, "class_name"]).all()
    sides = dict(zip(index["picture_id"], split))
    assert all(back.loc[p, "source_split"] == sides[p] for p in back.index)
    for pid in back.index[:40]:
        for got, want in zip(back.loc[pid, "boxes"], voc.loc[pid, "boxes"], strict=True):
            assert got["name"] == want["name"]
            assert all(abs(got[k] - want[k]) < 1e-3 for k in ("xmin", "ymin", "xmax", "ymax"))


def test_yolo_label_faults_are_counted(tmp_path):
    root = tmp_path / "y"
    for side in ("train", "val"):
        (root / "images" / side).mkdir(parents=True)
        (root / "labels" / side).mkdir(parents=True)
    (root / "data.yaml").write_text("names: [rust, dent]\n")
    for level, name in enumerate(("a", "b", "c", "d")):
        Image.new("L", (100, 50), 100 + 10 * level).save(root / "images" / "train" / f"{name}.png")
    (root / "labels" / "train" / "a.txt").write_text("0 0.5 0.5 0.2 0.2\n0 0.5 0.5 0.2 0.2\n1 0.95 0.5 0.3 0.2\n")
    (root / "labels" / "train" / "b.txt").write_text("7 0.5 0.5 0.1 0.1\nnot a label\n1 0.5 0.5 0 0.1\n")
    (root / "labels" / "train" / "c.txt").write_text("")          # background image
    # d has no label file at all
    index, report = read_dataset(root, progress=False)
    assert report.counts() == {"missing_annotation": 1, "label_unparsable": 1, "unknown_class": 1,
                               "box_outside_image": 1, "box_degenerate": 1, "duplicate_box": 1}
    rows = index.set_index("picture_id")
    assert len(rows.loc["train/a", "boxes"]) == 3 and rows.loc["train/a", "class_name"] == "rust"
    assert rows.loc["train/c", "class_name"] == "background" and rows.loc["train/d", "boxes"] == []
    assert set(index["source_split"]) == {"train"}
    box = rows.loc["train/a", "boxes"][0]
    assert (box["xmin"], box["ymin"], box["xmax"], box["ymax"]) == (40, 20, 60, 30)
