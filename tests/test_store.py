"""The results database (shared.store): records -> rows -> the same columns, one row per picture and runs, error
records kept, migrations that match the tables; on SQLite always and on a throwaway PostgreSQL cluster (the
`database` fixture of tests/conftest.py)."""
import csv
import json
import shutil
from pathlib import Path

import pytest
from conftest import free_port
from sqlalchemy import create_engine, inspect, select

from shared.store import describe_runs, migrate, open_store
from shared.store.schema import boxes
from shared.suite import registry

RUNS = {"classification": {"run": "/runs/c", "version": "1"}, "detection": {"run": "/runs/d", "version": "1"},
        "anomaly": {"run": "/runs/a", "version": "1"}}


def pictures(folder: Path, count: int) -> list[Path]:
    """Files with distinct bytes: the store hashes them, it does not decode them."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"picture_{n}.jpg" for n in range(count)]
    for n, path in enumerate(paths):
        path.write_bytes(f"picture {n} ".encode() * (50 + n))
    return paths


def record(path: Path, confidence: float, score: float, boxes_found: int = 1, label: str = "patches") -> dict:
    """A record as `defectlab inspect` makes it, each task's part as its record_schema says."""
    novel = confidence < 0.9 and score > 0.5
    found = [{"class": label, "confidence": 0.5 + 0.1 * n, "xmin": 10.0 * n, "ymin": 5.0, "xmax": 10.0 * n + 40,
              "ymax": 60.0} for n in range(boxes_found)]
    return {"image": str(path), "width": 200, "height": 200,
            "classification": {"class": label, "confidence": confidence,
                               "probabilities": {label: confidence, "other": 1 - confidence}},
            "detection": {"boxes": found},
            "anomaly": {"score": score, "is_anomalous": score > 0.5, "threshold": 0.5,
                        "peak": {"x": 3, "y": 4, "value": score}, "explanation": "texture unlike the normal ones"},
            "novel": novel, "timings_ms": {"classification": 3.5, "detection": 20.25, "anomaly": 7.0}}


def sample(folder: Path) -> list[dict]:
    paths = pictures(folder, 4)
    return [record(paths[0], 0.99, 0.1, 2, "crazing"), record(paths[1], 0.6, 0.9, 0),
            record(paths[2], 0.8, 0.4, 1), record(paths[3], 0.95, 0.7, 3)]


# -- the store ---------------------------------------------------------------------------------------------------

def test_records_round_trip_to_the_same_columns(database, tmp_path):
    records = sample(tmp_path / "pictures")
    with open_store(database) as store:
        assert store.write(records, RUNS) == {"added": 4, "changed": 0, "same": 0}
        rows = store.rows()
        with store.engine.connect() as connection:
            stored_boxes = connection.execute(select(boxes).order_by(boxes.c.id)).mappings().all()
    assert len(rows) == 4
    for row, given in zip(rows, records):
        assert row["image"] == given["image"] and row["error"] is None and row["novel"] == given["novel"]
        assert (row["width"], row["height"], row["size_bytes"]) == (200, 200, Path(given["image"]).stat().st_size)
        assert row["timings"] == given["timings_ms"]
        for task in registry.names():
            columns = registry.task(task).columns(given[task])
            assert {key: row[f"{task}_{key}"] for key in columns} == columns, task
    expected = [{"task": "detection", "class": box["class"], "confidence": box["confidence"],
                 **{f"{k[0]}_{k[1:]}": box[k] for k in ("xmin", "ymin", "xmax", "ymax")}}
                for given in records for box in given["detection"]["boxes"]]
    assert [{k: v for k, v in box.items() if k not in ("id", "inspection_id")} for box in stored_boxes] == expected


def test_a_picture_inspected_twice_with_the_same_runs_is_one_row(database, tmp_path):
    records = sample(tmp_path / "pictures")
    copy = tmp_path / "elsewhere" / "same_bytes.jpg"
    copy.parent.mkdir()
    shutil.copy(records[0]["image"], copy)
    with open_store(database) as store:
        store.write(records, RUNS)
        before = store.counts()
        assert store.write(records, RUNS) == {"added": 0, "changed": 0, "same": 4}
        assert store.write([{**records[0], "image": str(copy), "timings_ms": {"anomaly": 1.0}}], RUNS)["same"] == 1
        assert store.counts() == before  # the same content under another path and other timings: nothing changes
        assert store.rows()[0]["timings"] == records[0]["timings_ms"]
        other_runs = {**RUNS, "anomaly": {"run": "/runs/a2", "version": "2"}}
        assert store.write(records[:1], other_runs)["added"] == 1  # another runs key: another inspection
        assert store.counts()["pictures"] == before["pictures"] and store.counts()["runs"] == 2
        changed = record(Path(records[1]["image"]), 0.97, 0.2, 2, "scratches")
        assert store.write([changed], RUNS) == {"added": 0, "changed": 1, "same": 0}
        after = store.rows()
        assert len(after) == store.counts()["inspections"] == 5
    row = next(r for r in after if r["image"] == changed["image"] and r["runs_key"] == after[0]["runs_key"])
    assert row["classification_class"] == "scratches" and row["detection_boxes"] == 2


def test_an_error_record_is_stored_with_its_error(database, tmp_path):
    unreadable = tmp_path / "broken.png"
    unreadable.write_bytes(b"not a picture")
    errors = [{"image": str(unreadable), "error": f"{unreadable}: cannot identify image file"},
              {"image": str(tmp_path / "missing.png"), "error": "no such file"}]
    with open_store(database) as store:
        assert store.write(errors, RUNS)["added"] == 2
        assert store.write(errors, RUNS)["same"] == 2
        rows = store.rows()
        summary = store.summary()
    assert [(r["image"], r["error"]) for r in rows] == [(e["image"], e["error"]) for e in errors]
    assert rows[0]["sha256"] and rows[0]["width"] is None and rows[1]["sha256"] is None  # a missing file: no hash
    assert summary["errors"] == summary["inspections"] == 2 and summary["worth_a_look"] == []


def test_migrations_upgrade_from_empty_and_match_the_tables(database):
    engine = create_engine(database)
    try:
        migrate.upgrade(engine)
        migrate.check(engine)  # `alembic check`: raises when schema.py and the migrations differ
        assert {"pictures", "runs", "inspections", "results", "boxes"} <= set(inspect(engine).get_table_names())
        migrate.downgrade(engine, "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        migrate.upgrade(engine)
        migrate.check(engine)
    finally:
        engine.dispose()


def test_the_summary_counts_and_ranks_what_is_worth_a_look(database, tmp_path):
    records = sample(tmp_path / "pictures")
    with open_store(database) as store:
        store.write(records, RUNS)
        summary = store.summary()
    assert (summary["pictures"], summary["inspections"], summary["errors"], summary["boxes"]) == (4, 4, 0, 6)
    assert summary["classes"]["classification"] == {"column": "class", "counts": {"patches": 3, "crazing": 1}}
    assert summary["classes"]["detection"]["counts"] == {"patches": 2, "(none)": 1, "crazing": 1}
    assert summary["novel"] == {"novel": 1, "judged": 4, "rate": 0.25}
    assert len(summary["days"]) == 1 and summary["days"][0]["inspections"] == 4
    ranked = [Path(pick["image"]).name for pick in summary["worth_a_look"]]
    # novel first; then one task voting novel each: the higher doubt first (score ranks 2/3 and 1/3 of the stored
    # scores, above 1 - confidence), then no vote
    assert ranked == ["picture_1.jpg", "picture_3.jpg", "picture_2.jpg", "picture_0.jpg"]
    assert [pick["votes"] for pick in summary["worth_a_look"]] == [2, 1, 1, 0]
    assert summary["worth_a_look"][1]["because"] == "anomaly.anomaly_score = 0.7"
    assert summary["worth_a_look"][3]["because"] == "classification.confidence = 0.99"


def test_describe_runs_keys_the_run_version_and_options(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text('{"epochs": 1}')
    first = describe_runs({"detection": run}, {"detection": {"conf": 0.3}})
    assert first["detection"]["run"] == str(run.resolve()) and first["detection"]["options"] == {"conf": 0.3}
    (run / "config.json").write_text('{"epochs": 2}')
    assert describe_runs({"detection": run}, {"detection": {"conf": 0.3}}) != first


# -- the commands ------------------------------------------------------------------------------------------------

def test_results_command_prints_the_summary_json_and_csv(tmp_path, capsys):
    from shared.suite.cli import main

    db = tmp_path / "results.db"
    records = sample(tmp_path / "pictures")
    with open_store(db) as store:
        store.write(records, RUNS)
    assert main(["results", str(db)]) == 0
    out = capsys.readouterr().out
    assert "4 pictures, 4 inspections" in out and "novel: 1 of 4 judged (25.0%)" in out and "picture_1.jpg" in out
    assert main(["results", str(db), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["novel"]["rate"] == 0.25
    assert main(["results", str(db), "--export", str(tmp_path / "out.csv")]) == 0
    with (tmp_path / "out.csv").open() as stream:
        rows = list(csv.DictReader(stream))
    assert len(rows) == 4 and rows[1]["classification_confidence"] == "0.6" and rows[0]["detection_boxes"] == "2"
    assert main(["results", str(db), "--export", str(tmp_path / "out.parquet")]) == 0  # the same rows, as Parquet
    import pyarrow.parquet as pq

    table = pq.read_table(tmp_path / "out.parquet").to_pylist()
    assert [r["image"] for r in table] == [r["image"] for r in rows]
    assert table[1]["classification_confidence"] == 0.6 and table[0]["detection_boxes"] == 2
    assert main(["results", str(tmp_path / "none.db")]) == 2
    assert "no results database at" in capsys.readouterr().err and not (tmp_path / "none.db").exists()


def test_an_unreachable_database_is_a_one_line_error():
    with pytest.raises(ValueError, match="cannot open the results database postgresql"):
        open_store(f"postgresql+psycopg://nobody:secret@127.0.0.1:{free_port()}/none")
    with pytest.raises(ValueError, match="cannot open the results database"):
        open_store("nosuchdialect://x")


def test_inspect_streams_its_records_into_the_database(generic_runs, synthetic_root, tmp_path, capsys):
    from shared.suite.cli import main

    runs = [f"{name}={generic_runs(name)[0].path}" for name in registry.names()]
    images = [str(p) for p in sorted((synthetic_root / "NEU-DET" / "IMAGES").glob("*_1.jpg"))[:2]]
    db = tmp_path / "inspections.db"
    command = ["inspect", *images, "--runs", *runs, "--batch-size", "1", "--db", str(db)]
    assert main(command) == 0
    printed = capsys.readouterr()
    assert "2 added, 0 changed, 0 stored already" in printed.err
    assert main(command) == 0
    assert "0 added, 0 changed, 2 stored already" in capsys.readouterr().err
    records = json.loads(printed.out)
    with open_store(db, create=False) as store:
        rows, counts = store.rows(), store.counts()
    assert counts["inspections"] == counts["pictures"] == 2 and counts["runs"] == 1
    for row, given in zip(rows, records):
        assert row["image"] == given["image"] and set(row["timings"]) == set(registry.names())
        for task in registry.names():
            columns = json.loads(json.dumps(registry.task(task).columns(given[task])))
            assert {key: row[f"{task}_{key}"] for key in columns} == columns, task
