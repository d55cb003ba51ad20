"""`defectlab demo`: the main job. Synthesize NEU-like data (or take --data), check, split and export it, then train
every task's `demo` recipe and evaluate the suite on the kaggle-det split: OUT/summary.json keeps each task's headline
numbers under stable keys (`<task>_<metric name>`, its spec's `scores`) beside their targets, and
OUT/evaluation/report.html shows everything."""
from __future__ import annotations

import json
import time
from pathlib import Path

from . import registry


def targets() -> dict:
    """What the demo must show on its synthetic default (the README's promise: every model visibly works): each
    registered task's headline metrics that have a target, under the same keys as the scores."""
    return {f"{spec.name}_{metric.name}": metric.target for spec in map(registry.task, registry.names())
            for metric in spec.headline if metric.target is not None}


def register(tasks, common) -> None:
    demo = tasks.add_parser("demo", help="run the whole suite on embedded synthetic data (a few minutes)",
                            description="Synthesize NEU-like data (or use --data), validate it, split it, export every "
                                        "task view, train each task's `demo` recipe and evaluate the suite: "
                                        "OUT/summary.json and the report OUT/evaluation/report.html.")
    demo.add_argument("--out", type=Path, default=Path("runs/demo"), help="output folder (default runs/demo)")
    demo.add_argument("--data", type=Path, help="a dataset instead of the synthetic one, e.g. ../shared/data")
    demo.add_argument("--per-class", type=int, default=60, help="synthetic pictures per class (default 60)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    demo.add_argument("--only", nargs="+", metavar="TASK", help="run only these task steps (default: all; "
                                                                  "'none' checks the data steps alone)")
    common(demo)
    demo.set_defaults(handler=run_demo)


def run_demo(args) -> int:
    from ..datasets.export_anomaly import to_anomaly_folders
    from ..datasets.export_arrays import to_arrays
    from ..datasets.export_yolo import to_yolo_dataset
    from ..datasets.exports import FOLDERS
    from ..datasets.index import class_names, read_dataset
    from ..datasets.splits import leaking_groups, make_split, split_sizes
    from ..datasets.synthetic import synthesize
    from .evaluate import evaluate_suite
    from .outputs import prepare_output
    from .provenance import write_result

    started = time.perf_counter()
    out = prepare_output(args.out, "demo", force=True, inputs=[args.data] if args.data else ())
    if args.data:
        data = args.data
    else:
        data = synthesize(out / "synthetic", per_class=args.per_class, seed=args.seed)
        print(f"[demo] synthesized {args.per_class * 6} pictures in two NEU layouts under {data}")
    index, report = read_dataset(data, progress=False)
    (out / "check.json").write_text(report.to_json() + "\n")
    print(f"[demo] checked: {report.summary['images']} images, {report.summary['boxes']} boxes, "
          f"findings {report.counts() or 'none'}")
    splits = {name: make_split(index, name) for name in ("kaggle-cls", "kaggle-det")}
    for name, split in splits.items():
        print(f"[demo] split {name}: {split_sizes(split, index)}; twins leaking: {leaking_groups(index, split) or 'none'}")
    yolo = to_yolo_dataset(index, splits["kaggle-det"], out / "exports" / "yolo")
    # normal / abnormal folders with the first class as the normal one
    folders = to_anomaly_folders(index, splits["kaggle-det"], out / "exports" / FOLDERS, class_names(index)[:1])
    arrays = to_arrays(index, splits["kaggle-cls"])
    print(f"[demo] exported YOLO ({yolo.boxes} boxes), {FOLDERS} folders ({folders.abnormal} abnormal), "
          f"arrays (train {arrays['train'][0].shape})")
    summary = {"data": {"dataset": str(data), "images": report.summary["images"], "counts": report.counts(),
                        "splits": {n: split_sizes(s, index) for n, s in splits.items()}}}
    tasks = [t for t in registry.names() if not args.only or t in args.only]
    if tasks:
        result = evaluate_suite(data, "kaggle-det", runs_root=out / "runs", out=out / "evaluation", train_missing=True,
                                presets={t: "demo" for t in tasks}, tasks=tasks, progress=False,
                                recipe_fields={t: {"seed": args.seed} for t in tasks})
        summary.update(scores(result), report=result["report"], evaluation=str(out / "evaluation" / "evaluation.json"))
    summary["seconds"] = round(time.perf_counter() - started, 1)
    path = write_result(out / "summary.json", summary, split="kaggle-det (test side)", index=index)
    print(json.dumps({k: v for k, v in summary.items() if k in ("scores", "targets_met", "seconds")}, indent=1))
    print(f"[demo] done in {summary['seconds']} s; summary {path}")
    if tasks:
        print(f"[demo] report: {result['report']}")
    return 0


def scores(result: dict) -> dict:
    """The headline numbers under stable keys (each evaluated task's spec's `scores`), each with its target and
    whether it was met."""
    found = {}
    for name in registry.names():
        if isinstance(result.get(name), dict) and "metrics" in result[name]:
            found.update(registry.task(name).scores(result[name]["metrics"]))
    goals = targets()
    met = {k: found[k] >= target for k, target in goals.items() if found.get(k) is not None}
    timings = result["timings"]
    return {"scores": found, "targets": goals, "targets_met": met, "train_seconds": timings["train_seconds"],
            "images_per_second": timings["images_per_second"]}
