"""Batch inspection on Ray against one process, on this machine: `defectlab inspect --onnx` (one process, the
models of a batch in threads) beside `defectlab inspect --onnx --engine ray` with 1 actor x 2 CPUs, 2 actors x 1 CPU,
and 2 actors on two Ray nodes of 1 CPU each on this machine (ray.cluster_utils.Cluster: what a cluster adds, without
the network; the nodes start before the clock, as `ray start` would). Each mode is the whole command a user runs,
from start to its last row written (imports, Ray, model loading included), on the same N pictures: the NEU-DET test side of the runs' split, then synthetic NEU-like
pictures (shared/datasets/synthetic.py, 200 x 200 like NEU) up to N. The load average is read beside each timing;
pictures/s per core is the sizing rule of docs/ray.md.

  python scripts/benchmarks/inspection/benchmark_ray.py --pictures 1000 --repeats 3

Without --runs, each task's `demo` preset (the networks of `defectlab demo`, at their sizes; the detector trained
for one epoch only) is trained on synthetic data under --train-root, unless it is there already; the result names
the command that trains each run.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))  # the project root: `scripts.benchmarks`, run as a file

from scripts.benchmarks import commands, results

MODES = {  # name: (engine options, Ray nodes of this machine: None for one Ray the command starts itself)
    "in-process": ([], None),
    "ray-1x2": (["--engine", "ray", "--actors", "1", "--actor-cpus", "2"], None),
    "ray-2x1": (["--engine", "ray", "--actors", "2", "--actor-cpus", "1"], None),
    "ray-2-nodes-2x1": (["--engine", "ray", "--actors", "2", "--actor-cpus", "1"], 2),
}
CPUS = 2  # what every mode uses
COMPARED = ("in-process", "ray-1x2", "ray-2x1")  # whose records of the last repeat are compared
# the demo network at its size, trained for less time: the speed of inspection does not depend on it
SHORTER = {"detection": ["epochs=1"]}


def picture_folder(data: Path, split: str, count: int, into: Path) -> tuple[Path, int]:
    """A folder of `count` pictures: links to the test side of `split` of the real data, then synthetic ones."""
    from shared.datasets.synthetic import synthesize
    from shared.suite.evaluate import test_pictures

    folder = into / "pictures"
    folder.mkdir(parents=True)
    real = [Path(p["path"]) for p in test_pictures(data, split)[0]][:count] if data.is_dir() else []
    for number, path in enumerate(real):
        (folder / f"neu_{number:05d}{path.suffix}").symlink_to(path.resolve())
    missing = count - len(real)
    if missing > 0:
        per_class = -(-missing // 6)
        made = synthesize(into / "synthetic", per_class=per_class, seed=7, layouts=("neu-det",))
        for number, path in enumerate(sorted((made / "NEU-DET" / "IMAGES").glob("*.jpg"))[:missing]):
            shutil.move(path, folder / f"synthetic_{number:05d}{path.suffix}")
    return folder, len(real)


def demo_runs(root: Path) -> dict[str, Path]:
    """{task: run folder}: each task's demo preset (SHORTER: fewer epochs) on synthetic data (seed 0) under root,
    trained unless there."""
    from shared.suite import registry

    data = root / "data"
    if not (data / "NEU-DET").is_dir():
        commands.run("data", "synth", data, "--seed", "0")
    found = {}
    for task in registry.names():
        found[task] = root / task / "demo"
        if not (found[task] / "data.json").is_file():
            commands.run(task, "train", "preset=demo", *SHORTER.get(task, []), f"data={data}", f"out={root / task}",
                         "name=demo", quiet=True)
    return found


def timed_words(mode: str, pictures, runs: list[str], batch_size: int, out) -> list[str]:
    """The `defectlab` words a mode times (a cluster's --address added where it has nodes)."""
    return ["inspect", str(pictures), "--onnx", "--no-pictures", "--batch-size", str(batch_size), "--out", str(out),
            "--runs", *runs, *MODES[mode][0]]


def reproduction(runs: list[str], train_root: Path) -> dict:
    """The result's `defectlab` commands (the data and the runs: tests/test_results.py) and why the timings have
    none of their own."""
    configs = {task: json.loads((Path(path) / "config.json").read_text())
               for task, _, path in (pair.partition("=") for pair in runs)}
    made = [commands.line("data", "synth", train_root / "data", "--seed", "0")] if all(
        Path(c["data"]).resolve() == (train_root / "data").resolve() for c in configs.values()) else []
    return {"defectlab": made + [commands.train_line(task, config) for task, config in configs.items()],
            "why": "the timings are of the `defectlab inspect` command of each mode (modes/MODE/timed), which the "
                   "script runs on the N pictures it gathers in a scratch folder (PICTURES) and writes to OUT"}


def one_run(mode: str, folder: Path, runs: list[str], batch_size: int, scratch: Path, keep: bool = False) -> dict:
    """The mode's command once, in a child process: wall seconds, and the load average before and after. keep: its
    output stays in scratch/out-MODE (for the records' comparison), where no later run of the mode writes."""
    nodes = MODES[mode][1]
    out = scratch / (f"out-{mode}" if keep else "out-timed")
    options = []
    shutil.rmtree(out, ignore_errors=True)
    cluster = None
    if nodes:
        from ray.cluster_utils import Cluster

        cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
        for _ in range(nodes - 1):
            cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        options = ["--address", cluster.address]
    command = [sys.executable, "-m", "shared.suite.cli", *timed_words(mode, folder, runs, batch_size, out), *options]
    before = os.getloadavg()
    started = time.perf_counter()
    try:
        done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    finally:
        seconds = time.perf_counter() - started
        if cluster:
            cluster.shutdown()
    if done.returncode:
        sys.exit(f"{mode} failed:\n{done.stderr[-3000:]}")
    run = {"seconds": round(seconds, 2), "load_average_before": [round(x, 2) for x in before],
           "load_average_after": [round(x, 2) for x in os.getloadavg()]}
    if (out / "summary.json").is_file():
        summary = json.loads((out / "summary.json").read_text())
        run.update({key: summary[key] for key in ("written", "errors", "first_rows_seconds", "actors",
                                                  "cpus_per_actor", "nodes", "cluster_cpus", "ray_version")})
        run["engine_seconds"] = summary["seconds"]
        run["pictures_per_node"] = summary["pictures_per_node"]
    else:
        records = json.loads((out / "predictions.json").read_text())
        run.update(written=len(records), errors=sum("error" in r for r in records))
    if not keep:
        shutil.rmtree(out, ignore_errors=True)
    return run


def records_compared(outputs: dict[str, Path], tasks: list[str]) -> dict:
    """The Ray modes' rows against the in-process records of the same pictures, as tests/test_ray_engine.py
    compares them (tests/parity.py: each task's part within 1e-3 of its scale, boxes matched by IoU); timings
    left out. Mismatches counted, the first few named."""
    sys.path.insert(0, str(ROOT / "tests"))
    from parity import assert_same_records

    from shared.suite.ray_engine import read_records

    expected = {r["image"]: r for r in json.loads((outputs.pop("in-process") / "predictions.json").read_text())}
    found = {}
    for mode, out in outputs.items():
        got, problems = {r["image"]: r for r in read_records(out)}, []
        if sorted(got) != sorted(expected):
            problems.append(f"{len(set(expected) ^ set(got))} pictures on one side only")
        for image in sorted(set(expected) & set(got)):
            want, have = expected[image], got[image]
            for key in want.keys() | have.keys():
                try:
                    if key in tasks:
                        assert_same_records(want[key], have[key], rel=1e-3)
                    elif key == "error":
                        assert key in want and key in have
                    elif "seconds" not in key and "time" not in key:
                        assert want.get(key) == have.get(key), (want.get(key), have.get(key))
                except (AssertionError, KeyError) as problem:
                    problems.append(f"{image} {key}: {str(problem)[:200]}")
        found[mode] = {"pictures": len(got), "mismatches": len(problems), "first_mismatches": problems[:5]}
    return found


def scale(modes: dict, compared: dict, pictures: int) -> dict:
    """The headline keys: pictures/s in one process and with each Ray layout, the Ray overhead (1 - the better Ray
    figure / one process), whether the records are equal, and the two-node run's pictures per node."""
    rate = lambda mode: modes.get(mode, {}).get("pictures_per_second")
    out = {"in_process": {"images_per_second": rate("in-process")},
           "ray": {"actors_1": {"images_per_second": rate("ray-1x2"), "layout": "1 actor x 2 CPUs"},
                   "actors_2": {"images_per_second": rate("ray-2x1"), "layout": "2 actors x 1 CPU"}}}
    better = max((r for r in (rate("ray-1x2"), rate("ray-2x1")) if r), default=None)
    if better and rate("in-process"):
        out["ray_overhead"] = round(1 - better / rate("in-process"), 3)
        out["ray_overhead_target"] = 0.10
    if compared:
        out["records_equal"] = all(row["mismatches"] == 0 for row in compared.values())
        out["records_compared"] = compared
    if "ray-2-nodes-2x1" in modes:
        last = modes["ray-2-nodes-2x1"]["runs"][-1]
        out["two_nodes"] = {"images_per_second": rate("ray-2-nodes-2x1"), "nodes": len(last["pictures_per_node"]),
                            "pictures_per_node": sorted(last["pictures_per_node"].values(), reverse=True),
                            "of_pictures": pictures}
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", nargs="+", metavar="TASK=PATH", help="default: demo runs under --train-root")
    parser.add_argument("--train-root", type=Path, default=ROOT / "runs" / "ray-bench",
                        help="where the demo runs are trained when --runs is not given (default runs/ray-bench)")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "NEU-DET",
                        help="real NEU-DET, whose test side comes first (default ../shared/data/NEU-DET)")
    parser.add_argument("--split", default="kaggle-det", help="whose test side of --data is used (default kaggle-det)")
    parser.add_argument("--pictures", type=int, default=1000, help="N pictures (default 1000)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each mode (median reported)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--modes", nargs="+", choices=list(MODES), default=list(MODES))
    parser.add_argument("--out", type=Path, default=results.RESULTS / "ray.json")
    parser.add_argument("--note", default="", help="what the runs are, said in the result")
    args = parser.parse_args(argv)

    from shared.suite.inspect import ensure_onnx
    from shared.suite.provenance import script_command

    if not args.runs:
        args.runs = [f"{task}={path}" for task, path in demo_runs(args.train_root).items()]
    args.runs = [f"{task}={Path(path).absolute()}" for task, _, path in (p.partition("=") for p in args.runs)]
    for pair in args.runs:  # exported once, before any mode is timed
        task, _, path = pair.partition("=")
        ensure_onnx(task, path)
    measured = {}
    with tempfile.TemporaryDirectory(prefix="benchmark-ray-") as scratch:
        folder, real = picture_folder(args.data, args.split, args.pictures, Path(scratch))
        one = Path(scratch) / "one"  # the start-up: the same command on one picture
        one.mkdir()
        first = min(folder.iterdir())
        (one / first.name).symlink_to(first.resolve())
        outputs = {}
        for repeat in range(args.repeats):  # modes interleaved, so a change of load touches all of them alike
            for mode in args.modes:
                for what, pictures in (("runs", folder), ("startup_runs", one)):
                    keep = what == "runs" and repeat == args.repeats - 1 and mode in COMPARED
                    run = one_run(mode, pictures, args.runs, args.batch_size, Path(scratch), keep=keep)
                    if keep:
                        outputs[mode] = Path(scratch) / f"out-{mode}"
                    measured.setdefault(mode, {}).setdefault(what, []).append(run)
                    print(f"{mode} {what} #{repeat + 1}: {run}", flush=True)
        compared = records_compared(outputs, [p.partition("=")[0] for p in args.runs]) \
            if "in-process" in outputs and len(outputs) > 1 else {}
    modes = {}
    for mode, runs in measured.items():
        seconds = statistics.median(run["seconds"] for run in runs["runs"])
        startup = statistics.median(run["seconds"] for run in runs["startup_runs"])
        rate, steady = args.pictures / seconds, args.pictures / max(seconds - startup, 1e-9)
        modes[mode] = {"timed": commands.line(*timed_words(mode, "PICTURES", args.runs, args.batch_size, "OUT"),
                                              *(["--address", "CLUSTER"] if MODES[mode][1] else [])),
                       "median_seconds": round(seconds, 2), "pictures_per_second": round(rate, 2),
                       "pictures_per_second_per_core": round(rate / CPUS, 2),
                       "median_startup_seconds": round(startup, 2), "steady_pictures_per_second": round(steady, 2),
                       "steady_pictures_per_second_per_core": round(steady / CPUS, 2), **runs}
    baseline = modes.get("in-process", {}).get("pictures_per_second")
    for mode in modes.values():
        if baseline:
            mode["vs_in_process"] = round(mode["pictures_per_second"] / baseline, 3)
    payload = {
        **reproduction(args.runs, args.train_root), **scale(modes, compared, args.pictures),
        "pictures": args.pictures, "neu_test_pictures": real, "synthetic_pictures": args.pictures - real,
        "cpus": CPUS, "batch_size": args.batch_size, "repeats": args.repeats,
        "runs": dict(pair.split("=", 1) for pair in args.runs), "note": args.note, "modes": modes,
        "timing": "wall seconds of the whole command (start-up, Ray, model loading and every row written); "
                  "median of the repeats, modes interleaved; load average (1, 5, 15 min) before and after each; "
                  "startup: the same command on one picture; steady: N / (median seconds - median startup)",
    }
    path = results.write(args.out, payload, split=f"{args.split} (test side) + synthetic",
                         command=script_command(__file__, argv))
    print(f"wrote {path}")
    for mode, values in modes.items():
        print(f"{mode}: {values['pictures_per_second']} pictures/s ({values['pictures_per_second_per_core']} per core)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
