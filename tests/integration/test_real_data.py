"""Facts of the real NEU data in ../shared/data (skipped with a reason when it is absent)."""
import pytest

from shared.datasets.index import read_dataset
from shared.datasets.splits import leaking_groups, make_split, split_sizes

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(scope="module")
def neu(real_data):
    return read_dataset(real_data, progress=False)


def test_counts_of_pictures_classes_and_boxes(neu):
    index, report = neu
    assert report.summary["images"] == 3600 and report.summary["pictures"] == 1800
    det = index[index["source"] == "voc"]
    assert len(det) == 1800 and det["class_name"].value_counts().tolist() == [300] * 6
    assert sum(len(b) for b in det["boxes"]) == 4189
    assert set(zip(index["width"], index["height"])) == {(200, 200)}


def test_quirks_are_found_and_counted(neu):
    _, report = neu
    assert report.counts() == {"duplicate_box": 3, "cross_class_box": 188, "filename_without_extension": 174,
                               "byte_identical_files": 2, "difficult_box": 81}
    assert {f.path.rsplit("/", 1)[-1] for f in report.of_kind("duplicate_box")} == \
        {"crazing_120.xml", "inclusion_62.xml", "patches_198.xml"}
    pairs = {tuple(sorted([f.path.rsplit("/", 1)[-1], f.message.rsplit("/", 1)[-1]]))
             for f in report.of_kind("byte_identical_files")}
    assert pairs == {("patches_101.jpg", "patches_105.jpg"), ("Pa_101.bmp", "Pa_105.bmp")}


def test_both_copies_are_one_picture_each(neu, real_data):
    import pandas as pd

    index, _ = neu
    assert (index.groupby("picture_id")["source"].nunique() == 2).all()
    table = pd.read_csv(real_data / "neu_det_cls_correspondence.csv")
    by_path = dict(zip(index["path"], index["picture_id"]))
    for det, cls in zip(table["neu_det_image"], table["neu_metal_surface_defects_image"]):
        root = real_data.resolve()
        assert by_path[str(root / det)] == by_path[str(root / cls)]


def test_named_split_sizes_and_published_splits(neu, real_data):
    import pandas as pd

    index, _ = neu
    assert split_sizes(make_split(index, "kaggle-cls"), index) == {"train": 1656, "valid": 72, "test": 72}
    det_split = make_split(index, "kaggle-det")
    assert split_sizes(det_split, index) == {"train": 1440, "test": 360}
    kaggle = pd.read_csv(real_data / "NEU-DET" / "kaggle_split.csv")
    published = dict(zip(kaggle["filename"], kaggle["split"].map({"train": "train", "validation": "test"})))
    voc = index["source"] == "voc"
    ours = dict(zip(index.loc[voc, "path"].str.rsplit("/", n=1).str[-1], det_split[voc]))
    assert ours == published
    cls = index["source"] == "split-folders"
    assert (make_split(index, "kaggle-cls")[cls] == index.loc[cls, "source_split"]).all()


@pytest.mark.parametrize("name, options", [("kaggle-cls", {}), ("kaggle-det", {}), ("holdout", {"seed": 0})]
                         + [("kfold", {"fold": f}) for f in range(5)])
def test_no_picture_or_twin_on_both_sides(neu, name, options):
    index, _ = neu
    split = make_split(index, name, **options)
    assert leaking_groups(index, split) == []
    twins = split[index["picture_id"].isin(["patches_101", "patches_105"])]
    assert twins.nunique() == 1
