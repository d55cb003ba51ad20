"""inspect --engine ray: a pool of Ray actors (here a local Ray of 2 CPUs) writes, as Parquet rows, the records one
process makes of the same pictures; a job run again inspects only the pictures it has not written yet. Two jobs in
all (each starts its actors, which load every model): 4 pictures and a bad file, then all 6 and the bad file."""
import json
import shutil

import pytest
from parity import assert_same_records

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.heavy  # a local Ray, two jobs whose actors load every model: `pytest -m heavy`


@pytest.fixture(scope="module")
def onnx_runs(generic_runs, classification_data, tmp_path_factory):
    """The generic classifier and detector (copies: their model.onnx is written beside them) and a texture-knn
    anomaly model at 64 px (the anomaly kind that exports to ONNX)."""
    from anomaly import task as anomaly_task

    folder = tmp_path_factory.mktemp("ray-runs")
    runs = {task: shutil.copytree(generic_runs(task)[0].path, folder / task,
                                  ignore=shutil.ignore_patterns("val_*", "train", "data", "model.onnx"))
            for task in ("classification", "detection")}
    recipe = anomaly_task.Recipe.from_preset("demo", data=str(classification_data), image_size=64,
                                             out=str(folder), name="anomaly")
    runs["anomaly"] = anomaly_task.train(recipe, progress=False).path
    return runs


@pytest.fixture(scope="module")
def inputs(synthetic_root, tmp_path_factory):
    """One picture of each of the six classes, and a file that is no picture."""
    found = sorted((synthetic_root / "NEU-DET" / "IMAGES").glob("*_1.jpg"))
    assert len(found) == 6
    bad = tmp_path_factory.mktemp("bad") / "bad.png"
    bad.write_bytes(b"not a picture")
    return found, bad


@pytest.fixture(scope="module")
def jobs(onnx_runs, inputs, tmp_path_factory):
    """OUT after a job on 4 pictures and the bad file (the API), then one on all of them (the command line), on a
    local Ray the test starts; the summaries of both."""
    from shared.suite.cli import main
    from shared.suite.ray_engine import PARQUET, inspect_on_ray

    pictures, bad = inputs
    out = tmp_path_factory.mktemp("ray") / "out"
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    try:
        first = inspect_on_ray([*pictures[:4], bad], onnx_runs, out, batch_size=2, onnx=True)
        parts = set((out / PARQUET).glob("part-*.parquet"))
        (out / PARQUET / ".part-stopped.parquet.tmp").write_bytes(b"half a file")  # a job stopped while writing
        assert main(["inspect", *map(str, pictures), str(bad), "--engine", "ray", "--onnx", "--batch-size", "2",
                     "--out", str(out), "--runs", *[f"{task}={path}" for task, path in onnx_runs.items()]]) == 0
    finally:
        ray.shutdown()
    return out, first, json.loads((out / "summary.json").read_text()), parts


@pytest.fixture(scope="module")
def expected(onnx_runs, inputs):
    """The records of one process (`inspect --onnx`) of the same pictures."""
    from shared.suite.inspect import Inspector

    pictures, bad = inputs
    return Inspector.from_runs(onnx_runs, batch_size=4, onnx=True).inspect([*pictures, bad])


def test_a_job_run_again_writes_only_the_pictures_it_has_not(jobs, inputs):
    from shared.suite.ray_engine import PARQUET, read_records

    out, first, again, parts = jobs
    assert (first["written"], first["errors"], first["rows"]) == (5, 1, 5)
    assert (again["pictures"], again["already_written"], again["written"], again["rows"]) == (7, 5, 2, 7)
    assert parts < set((out / PARQUET).glob("part-*.parquet"))  # the first job's files stay as they were
    assert not list((out / PARQUET).glob(".*.tmp"))
    images = [record["image"] for record in read_records(out)]
    assert sorted(images) == sorted(map(str, [*inputs[0], inputs[1]]))  # every picture once
    assert (first["actors"], first["cpus_per_actor"], first["cluster_cpus"]) == (2, 1, 2)
    assert first["ray_version"] == ray.__version__ and first["pictures_per_second"] > 0
    assert list(first["pictures_per_node"].values()) == [5]  # one node did the work of a local Ray


def test_the_rows_are_the_records_of_one_process(jobs, inputs, onnx_runs, expected):
    from shared.suite.ray_engine import read_records

    bad = inputs[1]
    got = {record["image"]: record for record in read_records(jobs[0])}
    for want in expected:  # each task's part within the export tests' tolerance (tests/parity.py); the rest equal
        have = got[want["image"]]
        assert want.keys() == have.keys(), (want.keys(), have.keys())
        for key, value in want.items():
            if key in onnx_runs:
                assert_same_records(value, have[key], rel=1e-3)
            elif key == "error":  # the decoder's own words depend on the plugins a process has loaded
                assert value.startswith(f"{bad}: cannot decode image") and have[key].startswith(f"{bad}: cannot")
            else:
                assert value == have[key], (key, value, have[key])


def test_the_columns_flatten_each_record_with_boxes_as_a_nested_list(jobs, onnx_runs, expected):
    import copy

    import pyarrow.parquet as pq

    from shared.suite.ray_engine import PARQUET
    from shared.suite.record_table import records_from_table, to_table

    table = pq.read_table(jobs[0] / PARQUET)
    types = {field.name: str(field.type) for field in table.schema}
    assert types["detection_boxes"].startswith("list<element: struct<class: string, confidence: double, xmin")
    assert types["classification_probabilities"].startswith("map<string, double")
    assert types["anomaly_peak_x"] == "int64" and types["anomaly_score"] == "double"
    assert {"detection_top_box_class", "anomaly_anomaly_score"} <= set(types)  # the specs' flat columns too
    assert table.num_rows == 7 and table.column("error").null_count == 6
    records = copy.deepcopy([expected[0], expected[-1]])  # a picture and the bad file
    records[0]["classification"]["note"] = "a field no schema names"
    assert records_from_table(to_table(records, list(onnx_runs))) == records  # exactly, one process
