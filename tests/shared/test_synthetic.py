import time

import numpy as np
import pytest

from shared.datasets import neu
from shared.datasets.synthetic import draw_picture, synthesize


def test_same_seed_same_picture_other_seed_other_picture():
    a, boxes_a = draw_picture("scratches", 7, seed=1)
    b, boxes_b = draw_picture("scratches", 7, seed=1)
    c, _ = draw_picture("scratches", 7, seed=2)
    assert np.array_equal(a, b) and boxes_a == boxes_b
    assert not np.array_equal(a, c)


def test_every_class_draws_boxes_inside_the_image():
    for class_name in neu.CLASSES:
        for number in range(1, 21):
            image, boxes = draw_picture(class_name, number)
            assert image.shape == (200, 200) and image.dtype == np.uint8 and boxes
            for xmin, ymin, xmax, ymax in boxes:
                assert 0 < xmin < xmax <= 200 and 0 < ymin < ymax <= 200


def test_defects_change_the_picture_inside_their_boxes():
    # the defect is drawn where its box says: inside differs more from the texture than outside
    image, boxes = draw_picture("inclusion", 3)
    mask = np.zeros_like(image, dtype=bool)
    for xmin, ymin, xmax, ymax in boxes:
        mask[ymin:ymax, xmin:xmax] = True
    assert image[mask].mean() < image[~mask].mean() - 3


def test_a_few_hundred_pictures_take_seconds(tmp_path):
    started = time.perf_counter()
    synthesize(tmp_path, per_class=50, layouts=("neu-det",))
    assert len(list((tmp_path / "NEU-DET" / "IMAGES").iterdir())) == 300
    assert time.perf_counter() - started < 30


def test_a_non_square_picture_is_the_window_of_its_square_around_the_largest_box():
    for class_name in neu.CLASSES:
        for number in (1, 2, 3):
            square, square_boxes = draw_picture(class_name, number, size=320)
            wide, boxes = draw_picture(class_name, number, shape=(320, 120))
            assert wide.shape == (120, 320) and boxes
            for xmin, ymin, xmax, ymax in boxes:
                assert 0 < xmin < xmax <= 320 and 0 < ymin < ymax <= 120 and xmax - xmin >= 4 and ymax - ymin >= 4
            # the window is a part of the square picture (found where it sits)
            hits = [top for top in range(201) if np.array_equal(square[top:top + 120], wide)]
            assert len(hits) == 1
            largest = max(square_boxes, key=lambda b: (b[2] - b[0]) * (b[3] - b[1]))
            assert hits[0] <= (largest[1] + largest[3]) // 2 < hits[0] + 120  # its centre is in the window
    tall, _ = draw_picture("scratches", 4, shape=(96, 200))
    assert tall.shape == (200, 96)


def test_non_square_synthetic_data_reads_back_with_its_size_and_boxes(tmp_path):
    from shared.datasets.index import read_dataset
    from shared.suite.cli import main

    assert main(["data", "synth", str(tmp_path / "wide"), "--per-class", "3", "--layout", "neu-det",
                 "--shape", "256x96"]) == 0
    index, _ = read_dataset(tmp_path / "wide", progress=False)
    assert len(index) == 18 and set(index["width"]) == {256} and set(index["height"]) == {96}
    row = index[index["picture_id"] == neu.picture_id("patches", 2)].iloc[0]
    _, boxes = draw_picture("patches", 2, shape=(256, 96))
    assert [(int(b["xmin"]), int(b["ymin"]), int(b["xmax"]), int(b["ymax"])) for b in row["boxes"]] == boxes


def test_a_bad_shape_is_refused_in_one_line(tmp_path, capsys):
    from shared.suite.cli import main

    with pytest.raises(SystemExit):
        main(["data", "synth", str(tmp_path / "bad"), "--shape", "320by120"])
    assert "320by120: want WIDTHxHEIGHT in pixels, e.g. 320x120" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["data", "synth", str(tmp_path / "bad"), "--shape", "120x64"])  # the defects would not fit
    assert "120x64: want each side at least 32 pixels and the longer one at least 160" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()
    with pytest.raises(ValueError, match="longer side of at least 160 px, got 100"):
        draw_picture("crazing", 1, size=100)
