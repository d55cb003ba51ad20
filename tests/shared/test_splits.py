"""Named splits: sizes, determinism, twin-awareness."""
import shutil

import pandas as pd
import pytest

from shared.datasets.index import read_dataset
from shared.datasets.splits import leaking_groups, make_split, split_sizes
from shared.suite.errors import DataError


def test_kaggle_cls_rule_matches_the_folders_it_describes(synthetic_index):
    index, _ = synthetic_index
    split = make_split(index, "kaggle-cls")
    folders = index["source"] == "split-folders"
    assert (split[folders] == index.loc[folders, "source_split"]).all()
    assert split_sizes(split, index) == {"train": 6 * 6, "valid": 72, "test": 72}
    # lexicographic order: Cr_1, Cr_10..Cr_19, Cr_2 are the first twelve
    test_numbers = set(index.loc[(split == "test") & (index["class_name"] == "crazing"), "number"])
    assert test_numbers == {1, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 2}


def test_kaggle_det_rule_is_the_first_80_percent_by_number(synthetic_index):
    index, _ = synthetic_index
    split = make_split(index, "kaggle-det")
    assert split_sizes(split, index) == {"train": 6 * 24, "test": 6 * 6}
    assert (split[index["number"] <= 24] == "train").all() and (split[index["number"] > 24] == "test").all()


def test_kfold_covers_every_picture_once_and_is_deterministic(synthetic_index):
    index, _ = synthetic_index
    tests = [set(index.loc[make_split(index, "kfold", folds=5, fold=f, seed=3) == "test", "picture_id"])
             for f in range(5)]
    assert set().union(*tests) == set(index["picture_id"])
    assert sum(len(t) for t in tests) == index["picture_id"].nunique()
    per_class = index[index["picture_id"].isin(tests[0])].drop_duplicates("picture_id")["class_name"].value_counts()
    assert set(per_class) == {6}  # stratified: 30 per class / 5 folds
    pd.testing.assert_series_equal(make_split(index, "kfold", fold=2, seed=3), make_split(index, "kfold", fold=2, seed=3))
    assert not make_split(index, "kfold", fold=0, seed=3).equals(make_split(index, "kfold", fold=0, seed=4))


def test_valid_is_carved_from_train_only(synthetic_index):
    index, _ = synthetic_index
    plain, carved = make_split(index, "kaggle-det"), make_split(index, "kaggle-det", valid_fraction=0.25)
    assert (carved[plain == "test"] == "test").all()
    assert set(carved[plain == "train"]) == {"train", "valid"}
    assert split_sizes(carved, index)["valid"] == 6 * 6


def test_valid_pick_last_takes_each_class_newest_train_pictures(synthetic_index):
    index, _ = synthetic_index
    carved = make_split(index, "kaggle-det", valid_fraction=0.25, valid_pick="last")
    assert split_sizes(carved, index) == split_sizes(make_split(index, "kaggle-det", valid_fraction=0.25), index)
    # kaggle-det trains on 1-24 of 30 per class: the last quarter of those, 19-24, is valid in every class
    valid = index[carved == "valid"].drop_duplicates("picture_id")
    assert set(valid["number"]) == set(range(19, 25))
    assert (valid["class_name"].value_counts() == 6).all()
    with pytest.raises(DataError, match="unknown valid_pick 'newest'"):
        make_split(index, "kaggle-det", valid_fraction=0.25, valid_pick="newest")


def test_byte_identical_twins_never_straddle_a_split(synthetic_copy):
    images = synthetic_copy / "NEU-DET" / "IMAGES"
    # patches_1 (test under kaggle-cls) and patches_30 (train) made byte-identical
    shutil.copy(images / "patches_1.jpg", images / "patches_30.jpg")
    index, report = read_dataset(synthetic_copy, progress=False)
    assert report.counts() == {"byte_identical_files": 1}
    for name, options in [("kaggle-cls", {}), ("kaggle-det", {}), ("holdout", {"seed": 1})] + \
            [("kfold", {"fold": f}) for f in range(5)]:
        split = make_split(index, name, **options)
        assert leaking_groups(index, split) == [], name
    assert make_split(index, "kaggle-cls")[index["picture_id"] == "patches_30"].eq("test").all()


def test_a_twin_of_a_picture_picked_last_for_validation_goes_with_it(synthetic_copy):
    images = synthetic_copy / "NEU-DET" / "IMAGES"
    shutil.copy(images / "patches_20.jpg", images / "patches_2.jpg")  # 20 is picked last (19-24), 2 is not
    index, _ = read_dataset(synthetic_copy, progress=False)
    split = make_split(index, "kaggle-det", valid_fraction=0.25, valid_pick="last")
    assert leaking_groups(index, split) == []
    assert split[index["picture_id"].isin(["patches_2", "patches_20"])].eq("valid").all()


def test_bad_split_requests_fail_clearly(synthetic_index):
    index, _ = synthetic_index
    with pytest.raises(DataError, match="unknown split 'random'"):
        make_split(index, "random")
    with pytest.raises(DataError, match="fold must be in 0..4"):
        make_split(index, "kfold", fold=5)
    with pytest.raises(DataError, match="needs the split each file came with"):
        make_split(index[index["source"] == "voc"].assign(source_split=None), "source")
    small = index[index["number"] <= 20]
    with pytest.raises(DataError, match="more than 24 pictures per class"):
        make_split(small, "kaggle-cls")
