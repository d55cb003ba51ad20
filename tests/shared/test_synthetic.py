import time

import numpy as np

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
