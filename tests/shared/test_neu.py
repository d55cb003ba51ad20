from shared.datasets import neu


def test_names_of_one_picture_in_both_copies_round_trip():
    for class_name in neu.CLASSES:
        for number in (1, 12, 300):
            cls_name = neu.cls_file_name(class_name, number)
            assert neu.cls_stem_to_picture(cls_name[:-4]) == (class_name, number)
            assert neu.det_stem_to_picture(neu.picture_id(class_name, number)) == (class_name, number)


def test_stems_with_underscores_and_hyphens_split_at_the_last_number():
    assert neu.det_stem_to_picture("rolled-in_scale_240") == ("rolled-in_scale", 240)
    assert neu.det_stem_to_picture("pitted_surface_7") == ("pitted_surface", 7)
    assert neu.det_stem_to_picture("rust_3") is None
    assert neu.cls_stem_to_picture("PS_300") == ("pitted_surface", 300)
    assert neu.split_stem("no_number_here") is None
