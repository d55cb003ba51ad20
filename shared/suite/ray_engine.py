"""`defectlab inspect --engine ray`: the same inspection spread over a Ray cluster (this machine's cores, or many
machines), for batches of pictures too large for one process.

Ray Data reads the list of picture paths; a fixed pool of actors, each holding its own Inspector (built in the
actor from the run folders, so no model travels from the driver), inspects batches of them; each batch becomes one
Parquet file under OUT/predictions.parquet/ (record_table: one row per picture), written under a temporary name and
renamed, so a file is there whole or not at all. A job run again skips the pictures whose rows are already written:
an interrupted job loses at most the batches in flight. OUT/summary.json: counts, errors, seconds, pictures/s, actors,
CPUs, Ray version. On a cluster the pictures, the run folders and OUT must be reachable at the same paths from every
node (a shared file system), and each node needs the suite installed. Ray is imported only when a job starts."""
from __future__ import annotations

import json
import os
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import ClassVar

ENGINES = ("local", "ray")
PARQUET = "predictions.parquet"  # OUT/predictions.parquet/part-*.parquet, beside summary.json
# what each library reads for its thread count when first imported: an actor's threads are its CPUs
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "TF_NUM_INTRAOP_THREADS",
                    "TF_NUM_INTEROP_THREADS", "DEFECTLAB_ONNX_THREADS")


def add_engine_options(parser) -> None:
    parser.add_argument("--engine", choices=ENGINES, default="local",
                        help="local: this process (default); ray: a pool of Ray actors, Parquet files under --out "
                             "(docs/ray.md)")
    parser.add_argument("--address",
                        help="with --engine ray: the cluster to join, `auto` (the one `ray start` runs on this "
                             "machine) or ray://HOST:10001; default a Ray of this machine's cores, for this job")
    parser.add_argument("--actors", type=int, help="with --engine ray: inspecting actors (default: the cluster's "
                                                   "CPUs / --actor-cpus)")
    parser.add_argument("--actor-cpus", type=int, default=1,
                        help="with --engine ray: CPUs of each actor, and its threads (default 1)")


def run_ray_inspect(args, runs: dict) -> int:
    """The CLI's `inspect --engine ray` with the runs it chose ({task: folder})."""
    from ..datasets.images import expand_globs
    from .inspect import predict_options
    from .novel import split_option

    if not args.out:
        raise ValueError("--engine ray writes Parquet files: name the folder with --out")
    if getattr(args, "db", None):
        raise ValueError("--engine ray takes no --db: its rows are the Parquet files under --out")
    summary = inspect_on_ray(expand_globs(args.images), runs, args.out, batch_size=args.batch_size,
                             onnx=args.onnx, options=predict_options(args.predict, args.tasks),
                             novel=split_option(args.predict)[0], address=args.address,
                             actors=args.actors, actor_cpus=args.actor_cpus, progress=True)
    for item in summary["error_pictures"]:
        print(f"defectlab: skipped {item['error']}", file=sys.stderr)
    print(f"{summary['written']} new rows ({summary['already_written']} written before, {summary['errors']} errors) "
          f"in {summary['seconds']} s, {summary['pictures_per_second']} pictures/s on {summary['actors']} actors x "
          f"{summary['cpus_per_actor']} CPUs -> {Path(args.out) / PARQUET}, {Path(args.out) / 'summary.json'}")
    return 1 if summary["written"] and summary["errors"] == summary["written"] else 0


def inspect_on_ray(images, runs: dict, out, *, batch_size: int = 16, onnx: bool = False, options: dict | None = None,
                   address: str | None = None, actors: int | None = None, actor_cpus: int = 1,
                   progress: bool = False, novel: str | None = None) -> dict:
    """Inspect the pictures (paths, folders; expand globs first) with the runs ({task: folder}) on Ray; rows under
    OUT/predictions.parquet, the summary (returned) in OUT/summary.json. Joins the Ray already initialised in this
    process, else `address`, else starts one on this machine for the job. novel: the novel calibration in force
    (checked here first: a missing one fails before Ray starts)."""
    import ray

    from ..datasets.images import expand_image_inputs
    from .inspect import ensure_onnx, member_runs

    if novel:
        from .novel import read

        read(runs, novel)
    names = [str(item) for item in expand_image_inputs(images)]
    folder = Path(out) / PARQUET
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob(".part-*.tmp"):  # a job stopped while writing: that batch is inspected again
        stale.unlink()
    done = written_images(folder)
    todo, left = [], Counter(done)
    for name in names:  # a picture named twice is inspected twice, as in one process
        if left[name]:
            left[name] -= 1
        else:
            todo.append(name)
    runs = {task: Path(path).absolute() for task, path in runs.items()}
    options = options or {}
    if onnx:  # exported once here, not by every actor at once
        for task, path in runs.items():
            for member in member_runs(path, options.get(task, {})):
                ensure_onnx(task, member)

    started = time.perf_counter()  # the job: Ray, the actors' start-up and every row
    owned = not ray.is_initialized()
    if owned:
        ray.init(address=address, include_dashboard=False, logging_level="WARNING", log_to_driver=progress)
    try:
        cluster_cpus = int(ray.cluster_resources().get("CPU", 0))
        actors = actors or max(1, cluster_cpus // actor_cpus)
        if actors * actor_cpus > cluster_cpus:
            print(f"defectlab: {actors} actors x {actor_cpus} CPUs want more than the cluster's {cluster_cpus} CPUs: "
                  "they wait for more nodes", file=sys.stderr)
        written, failures, first_rows, per_node = 0, [], None, Counter()
        batch = max(1, min(batch_size, -(-len(todo) // actors))) if todo else batch_size  # every actor gets work
        if todo:
            for answer in _dataset(todo, runs, folder, batch, onnx, options, actors, actor_cpus, progress, novel):
                written += len(answer["image"])
                per_node.update(answer["node"].tolist())
                failures += [{"image": str(n), "error": str(e)} for n, e in zip(answer["image"], answer["error"]) if e]
                first_rows = first_rows or round(time.perf_counter() - started, 2)
        seconds = time.perf_counter() - started
        nodes = sum(1 for node in ray.nodes() if node.get("Alive"))
    finally:
        if owned:
            ray.shutdown()
    summary = {
        "pictures": len(names), "already_written": len(names) - len(todo), "written": written,
        "errors": len(failures), "error_pictures": failures[:100], "rows": sum(written_images(folder).values()),
        "seconds": round(seconds, 2), "first_rows_seconds": first_rows,
        "pictures_per_second": round(written / seconds, 2) if written else 0.0,
        "actors": actors, "cpus_per_actor": actor_cpus, "cpus": actors * actor_cpus, "cluster_cpus": cluster_cpus,
        "nodes": nodes, "pictures_per_node": dict(sorted(per_node.items())), "batch_size": batch, "onnx": onnx,
        "runs": {task: str(path) for task, path in runs.items()}, "novel_calibration": novel,
        "address": address or "local", "ray_version": ray.__version__, "parquet": str(folder)}
    _write_atomically(Path(out) / "summary.json", (json.dumps(summary, indent=2) + "\n").encode())
    return summary


def _dataset(names, runs, folder, batch, onnx, options, actors, actor_cpus, progress, novel=None):
    """The answers ({"image", "error"} per batch) of the actor pool, as they come."""
    import ray

    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = progress
    context.print_on_execution_start = progress
    items = ray.data.from_items([{"image": name, "path": str(Path(name).absolute())} for name in names])
    # the settings travel inside the class, not as constructor arguments in the object store: a lost actor can be
    # started again from the class alone
    settings = {"runs": {task: str(path) for task, path in runs.items()}, "folder": str(folder), "batch_size": batch,
                "onnx": onnx, "options": options, "threads": actor_cpus, "novel": novel}
    actor = type("InspectActor", (InspectActor,), {"settings": settings})
    answers = items.map_batches(actor, batch_size=batch, batch_format="numpy", num_cpus=actor_cpus,
                                compute=ray.data.ActorPoolStrategy(size=actors))
    yield from answers.iter_batches(batch_size=None, batch_format="numpy")


class InspectActor:
    """One Ray actor's state: an Inspector built here, in the actor's process, with as many threads as its CPUs.
    Each call inspects one batch of paths and writes its rows as one Parquet file. A job uses a subclass whose
    `settings` name the runs, the folder, the batch size, ONNX, the prediction options and the threads."""

    settings: ClassVar[dict] = {}

    def __init__(self):
        runs, threads, onnx = self.settings["runs"], self.settings["threads"], self.settings["onnx"]
        for name in THREAD_VARIABLES:  # before any framework is imported in this process
            os.environ[name] = str(threads)
        from .inspect import Inspector

        # the models of a batch in threads of their own only where the actor has cores for them
        self.inspector = Inspector.from_runs(runs, self.settings["batch_size"], onnx, threads=onnx and threads > 1,
                                             options=self.settings["options"], novel=self.settings.get("novel"))
        self.tasks, self.folder = list(runs), Path(self.settings["folder"])

    def __call__(self, batch: dict) -> dict:
        import numpy as np
        import ray

        from .record_table import to_table

        names = [str(name) for name in batch["image"]]
        records = self.inspector.inspect([str(path) for path in batch["path"]])
        for record, name in zip(records, names):  # the name as given, whatever this worker's directory
            record["image"] = name
        write_part(to_table(records, self.tasks), self.folder)
        node = ray.get_runtime_context().get_node_id()  # where the work ran: the per-node counts of the summary
        return {"image": np.array(names, dtype=object),
                "error": np.array([r.get("error", "") for r in records], dtype=object),
                "node": np.array([node] * len(names), dtype=object)}


def write_part(table, folder: Path) -> Path:
    """One batch's rows as folder/part-<random>.parquet, whole or not at all."""
    import io

    import pyarrow.parquet as pq

    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    target = Path(folder) / f"part-{uuid.uuid4().hex}.parquet"
    _write_atomically(target, buffer.getvalue(), temp=Path(folder) / f".{target.name}.tmp")
    return target


def written_images(folder: Path) -> Counter:
    """How many rows each picture has in the part files already written."""
    import pyarrow.parquet as pq

    found = Counter()
    for path in sorted(Path(folder).glob("part-*.parquet")):
        found.update(pq.read_table(path, columns=["image"]).column("image").to_pylist())
    return found


def read_records(out) -> list[dict]:
    """The records written under OUT (every part file), in no particular order."""
    import pyarrow.parquet as pq

    from .record_table import records_from_table

    parts = [pq.read_table(path) for path in sorted((Path(out) / PARQUET).glob("part-*.parquet"))]
    return [record for table in parts for record in records_from_table(table)] if parts else []


def _write_atomically(target: Path, data: bytes, temp: Path | None = None) -> None:
    temp = temp or target.with_name(f".{target.name}.tmp")
    with open(temp, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temp, target)
