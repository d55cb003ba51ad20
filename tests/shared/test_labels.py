"""Labelling tools both ways: every format's export read back by the import gives the same classes and boxes (to
a pixel); a label file a tool would reject is refused in one line naming it while the rest goes on; conflicts,
repeats and picture ids. No model: the records are made from the synthetic pictures' own boxes."""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from shared.datasets import labeltools
from shared.datasets.images import file_sha1
from shared.datasets.index import read_voc_folder
from shared.datasets.voc import read_voc
from shared.suite.cli import main

FORMATS = list(labeltools.FORMATS)
NEEDS_IMAGES = {"cvat", "coco"}  # their files name pictures relative to the folder the tool was given


@pytest.fixture(scope="module")
def pool(synthetic_root, tmp_path_factory) -> tuple[Path, list[dict]]:
    """12 synthetic NEU-DET pictures (2 per class) and an inspect record for each: the picture's class with a
    confidence and its own boxes, one moved by a fraction of a pixel, with confidences."""
    images = synthetic_root / "NEU-DET" / "IMAGES"
    folder = tmp_path_factory.mktemp("records")
    records = []
    for number, path in enumerate(sorted(images.glob("*_[12].jpg"))):
        annotation = read_voc(synthetic_root / "NEU-DET" / "ANNOTATIONS" / f"{path.stem}.xml")
        boxes = [{"class": b.name, "confidence": round(0.5 + 0.04 * k, 3), "xmin": b.xmin + 0.37 * (k == 0),
                  "ymin": b.ymin, "xmax": b.xmax, "ymax": b.ymax} for k, b in enumerate(annotation.boxes)]
        name = annotation.boxes[0].name
        records.append({"image": str(path), "width": 200, "height": 200,
                        "classification": {"class": name, "confidence": 0.6 + 0.03 * number,
                                           "probabilities": {name: 0.6 + 0.03 * number}},
                        "detection": {"boxes": boxes}})
    records.append({"image": str(folder / "gone.jpg"), "error": "gone.jpg: no such file"})
    (folder / "predictions.json").write_text(json.dumps(records))
    return folder, records[:-1]


def _boxes(boxes) -> list[tuple]:
    return sorted((b["name"] if "name" in b else b["class"], *(round(b[k]) for k in ("xmin", "ymin", "xmax", "ymax")))
                  for b in boxes)


def _moved(text: str, xmin: int) -> str:
    """A VOC file's text with its first box's xmin set."""
    return re.sub(r"<xmin>[^<]*</xmin>", f"<xmin>{xmin}</xmin>", text, count=1)


def _import(folder, source, dataset, *extra) -> int:
    return main(["labels", "import", str(folder), "--from", source, "--into", str(dataset), *extra])


@pytest.mark.parametrize("to", FORMATS)
def test_export_then_import_gives_back_the_classes_and_boxes(to, pool, tmp_path, capsys):
    folder, records = pool
    digests = {r["image"]: file_sha1(r["image"]) for r in records}
    assert main(["labels", "export", str(folder), "--to", to, "--out", str(tmp_path / "out")]) == 0
    extra = ["--predictions"] if to == "label-studio" else []
    extra += ["--images", str(Path(records[0]["image"]).parent)] if to in NEEDS_IMAGES else []
    assert _import(tmp_path / "out", to, tmp_path / "grown", *extra) == 0, capsys.readouterr()
    index, report = read_voc_folder(tmp_path / "grown", progress=False)
    assert report.n_errors == 0, report.to_text()
    got = {row.picture_id: row for row in index.itertuples()}
    assert set(got) == {Path(r["image"]).stem for r in records}
    for record in records:
        row = got[Path(record["image"]).stem]
        assert row.class_name == record["classification"]["class"]
        assert _boxes(row.boxes) == _boxes(record["detection"]["boxes"])  # to a pixel
        assert max(abs(a[k] - b[k]) for a, b in zip(sorted(row.boxes, key=lambda b: b["xmin"]), sorted(
            record["detection"]["boxes"], key=lambda b: b["xmin"])) for k in ("xmin", "ymax")) < 0.01
    assert {r["image"]: file_sha1(r["image"]) for r in records} == digests  # the pictures are never changed


def test_the_confidence_goes_where_each_format_has_a_place(pool, tmp_path):
    folder, records = pool
    for to in ("label-studio", "cvat", "coco"):
        main(["labels", "export", str(folder), "--to", to, "--out", str(tmp_path / to)])
    tasks = json.loads((tmp_path / "label-studio" / "tasks.json").read_text())
    results = tasks[0]["predictions"][0]["result"]
    assert results[0]["value"]["choices"] == [records[0]["classification"]["class"]] and "score" in results[0]
    assert tasks[0]["predictions"][0]["score"] == min(r["score"] for r in results)
    assert tasks[0]["data"]["path"] == records[0]["image"]
    assert '<attribute name="score">0.5000</attribute>' in (tmp_path / "cvat" / "annotations.xml").read_text()
    coco = json.loads((tmp_path / "coco" / "annotations.json").read_text())
    assert coco["annotations"][0]["score"] == 0.5 and coco["images"][0]["picture_class"]


def test_coco_loads_in_pycocotools_and_scores_itself_perfectly(pool, tmp_path, capsys):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    folder, records = pool
    main(["labels", "export", str(folder), "--to", "coco", "--out", str(tmp_path)])
    truth = COCO(str(tmp_path / "annotations.json"))
    assert len(truth.getImgIds()) == len(records)
    assert len(truth.getAnnIds()) == sum(len(r["detection"]["boxes"]) for r in records)
    found = truth.loadRes(json.loads((tmp_path / "annotations.json").read_text())["annotations"])
    evaluation = COCOeval(truth, found, "bbox")
    evaluation.evaluate(), evaluation.accumulate(), evaluation.summarize()
    assert evaluation.stats[0] == pytest.approx(1.0)


def test_yolo_and_voc_exports_read_in_the_data_layer(pool, tmp_path):
    from shared.datasets.index import read_yolo_folder

    folder, records = pool
    main(["labels", "export", str(folder), "--to", "yolo", "--out", str(tmp_path / "yolo")])
    index, report = read_yolo_folder(tmp_path / "yolo", progress=False)
    assert len(index) == len(records) and report.n_errors == 0
    assert file_sha1(index["path"][0]) in {file_sha1(r["image"]) for r in records}
    main(["labels", "export", str(folder), "--to", "voc", "--out", str(tmp_path / "voc")])
    first = read_voc(tmp_path / "voc" / "Annotations" / f"{Path(records[0]['image']).stem}.xml")
    assert not first.problems and first.width == 200


def test_a_label_file_a_tool_would_reject_is_refused_in_one_line_and_the_rest_goes_on(pool, tmp_path, capsys):
    folder, records = pool
    main(["labels", "export", str(folder), "--to", "coco", "--out", str(tmp_path / "coco")])
    document = json.loads((tmp_path / "coco" / "annotations.json").read_text())
    first = next(a for a in document["annotations"] if a["image_id"] == 1)
    second = next(a for a in document["annotations"] if a["image_id"] == 2)
    third = next(a for a in document["annotations"] if a["image_id"] == 3)
    first["bbox"] = [250, 250, 10, 10]              # wholly outside the 200 x 200 picture
    second["category_id"] = 99                      # no such category
    third["bbox"] = [190, 190, 30, 5]               # partly outside: clipped
    (tmp_path / "coco" / "annotations.json").write_text(json.dumps(document))
    (tmp_path / "coco" / "broken.json").write_text("{not json")
    capsys.readouterr()
    code = _import(tmp_path / "coco", "coco", tmp_path / "grown", "--images", str(Path(records[0]["image"]).parent))
    out, err = capsys.readouterr()
    assert code == 1
    refused = err.strip().splitlines()
    assert len(refused) == 3 and all(line.startswith("defectlab: refused ") for line in refused)
    assert any("broken.json: not valid JSON" in line for line in refused)
    assert any("annotations.json" in line and "outside the 200x200 picture" in line for line in refused)
    assert any("annotations.json" in line and "category 99, which is not in categories" in line for line in refused)
    assert "clipped to the 200x200 picture" in out
    assert f"{len(records) - 2} pictures written" in out

    (tmp_path / "cvat.xml").write_text("<annotations><image name='x.jpg'")
    assert _import(tmp_path / "cvat.xml", "cvat", tmp_path / "grown") == 2
    assert "cvat.xml: not well-formed XML" in capsys.readouterr().err

    yolo = tmp_path / "yolo"
    main(["labels", "export", str(folder), "--to", "yolo", "--out", str(yolo)])
    bad = min((yolo / "labels").glob("*.txt"))
    bad.write_text("0 0.5 0.5 0.1\n")
    capsys.readouterr()
    assert _import(yolo, "yolo", tmp_path / "from-yolo") == 1
    err = capsys.readouterr().err
    assert f"{bad}: line 1: expected 'class cx cy w h'" in err and len(err.strip().splitlines()) == 1


def test_an_unknown_class_is_refused_and_a_degenerate_box_too(pool, tmp_path, capsys):
    folder, records = pool
    main(["labels", "export", str(folder), "--to", "voc", "--out", str(tmp_path / "voc")])
    files = sorted((tmp_path / "voc" / "Annotations").glob("*.xml"))
    files[0].write_text(files[0].read_text().replace(f"<name>{records[0]['classification']['class']}</name>",
                                                     "<name>rust</name>", 1))
    text = files[1].read_text()
    start = text.index("<xmax>") + len("<xmax>")
    files[1].write_text(text[:start] + "0" + text[text.index("</xmax>"):])
    dataset = tmp_path / "grown"
    assert _import(tmp_path / "voc", "voc", dataset, "--classes", "crazing,inclusion,patches,pitted_surface,"
                   "rolled-in_scale,scratches") == 1
    err = capsys.readouterr().err
    assert f"{files[0]}: " in err and "unknown class 'rust'" in err
    assert f"{files[1]}: " in err and "has no area" in err


def test_nothing_is_replaced_without_force_and_repeats_are_reported(pool, tmp_path, capsys):
    folder, records = pool
    main(["labels", "export", str(folder), "--to", "voc", "--out", str(tmp_path / "voc")])
    dataset = tmp_path / "grown"
    assert _import(tmp_path / "voc", "voc", dataset) == 0
    assert _import(tmp_path / "voc", "voc", dataset) == 0
    assert f"0 pictures written into {dataset}, {len(records)} unchanged" in capsys.readouterr().out
    changed = min((tmp_path / "voc" / "Annotations").glob("*.xml"))
    changed.write_text(_moved(changed.read_text(), 0))
    before = (dataset / "ANNOTATIONS" / changed.name).read_bytes()
    assert _import(tmp_path / "voc", "voc", dataset) == 1
    assert "has other labels in the dataset" in capsys.readouterr().err
    assert (dataset / "ANNOTATIONS" / changed.name).read_bytes() == before
    assert _import(tmp_path / "voc", "voc", dataset, "--force") == 0
    assert (dataset / "ANNOTATIONS" / changed.name).read_bytes() != before

    twice = tmp_path / "twice"  # one picture labelled twice, alike and otherwise, and a byte-identical twin
    (twice / "a").mkdir(parents=True)
    shutil.copy(sorted((tmp_path / "voc" / "Annotations").glob("*.xml"))[1], twice / "a" / "one.xml")
    shutil.copy(sorted((tmp_path / "voc" / "Annotations").glob("*.xml"))[1], twice / "a" / "two.xml")
    shutil.copy(changed, twice / "a" / "three.xml")
    shutil.copy(changed, twice / "a" / "four.xml")
    (twice / "a" / "four.xml").write_text(_moved(changed.read_text(), 1))
    capsys.readouterr()
    assert _import(twice, "voc", tmp_path / "fresh") == 1
    out, err = capsys.readouterr()
    assert "labelled again, the same; kept once" in out and "is also labelled, otherwise" in err


def test_picture_ids_are_the_index_ids_so_twins_stay_together(synthetic_root, tmp_path):
    """A picture of the NEU-CLS copy (Cr_1.bmp) joins a VOC dataset as crazing_1: the id both copies share."""
    from shared.datasets.labeltools.common import Labelled, Read
    from shared.datasets.labeltools.into import into_dataset, picture_id

    source = next((synthetic_root / "NEU-Metal-Surface-Defects").rglob("Cr_1.bmp"))
    assert picture_id(source) == "crazing_1"
    box = {"name": "crazing", "xmin": 10, "ymin": 10, "xmax": 50, "ymax": 60}
    done = into_dataset(Read([Labelled(str(source), 200, 200, "crazing", boxes=[box], source="x.json")]),
                        tmp_path / "grown")
    assert done.written == ["crazing_1"] and not done.refused
    index, _ = read_voc_folder(tmp_path / "grown", progress=False)
    assert list(index["picture_id"]) == ["crazing_1"] and list(index["class_name"]) == ["crazing"]
    assert Path(index["path"][0]).name == "crazing_1.bmp"


def test_export_from_a_results_database(pool, tmp_path, capsys):
    from shared.store import open_store

    _folder, records = pool
    with open_store(tmp_path / "results.db") as store:
        store.write(records, {"made": "by the test"})
    assert main(["labels", "export", str(tmp_path / "results.db"), "--to", "coco", "--out", str(tmp_path / "c")]) == 0
    coco = json.loads((tmp_path / "c" / "annotations.json").read_text())
    assert len(coco["images"]) == len(records)
    assert sum("picture_class" in i for i in coco["images"]) == len(records)
    assert len(coco["annotations"]) == sum(len(r["detection"]["boxes"]) for r in records)


def test_export_refuses_an_output_inside_the_pictures_and_a_missing_results_file(pool, tmp_path, capsys):
    folder, records = pool
    inside = Path(records[0]["image"]).parent / "labels-out"
    assert main(["labels", "export", str(folder), "--to", "voc", "--out", str(inside)]) == 2
    assert "lies inside the input" in capsys.readouterr().err and not inside.exists()
    assert main(["labels", "export", str(tmp_path / "nothing"), "--to", "voc", "--out", str(tmp_path / "o")]) == 2
    assert "nothing: no such file (expected the predictions.json" in capsys.readouterr().err
