"""`defectlab demo`: the main job on the embedded synthetic default. Synthesize, check, split and export; then
every task in the registry trains, evaluates and predicts on it through the same contract."""
from __future__ import annotations

import json
import time
from pathlib import Path


def register(tasks, common) -> None:
    demo = tasks.add_parser("demo", help="run the whole suite on embedded synthetic data (a few minutes)",
                            description="Synthesize NEU-like data, validate it, split it, export every task view, "
                                        "then train and evaluate each task's demo recipe. Results land in "
                                        "OUT/summary.json.")
    demo.add_argument("--out", type=Path, default=Path("runs/demo"), help="output folder (default runs/demo)")
    demo.add_argument("--per-class", type=int, default=60, help="synthetic pictures per class (default 60)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    demo.add_argument("--only", nargs="+", metavar="TASK", help="run only these task steps (default: all)")
    common(demo)
    demo.set_defaults(handler=run_demo)


def run_demo(args) -> int:
    from ..datasets.export_anomaly import to_anomaly_folders
    from ..datasets.export_arrays import to_arrays
    from ..datasets.export_yolo import to_yolo_dataset
    from ..datasets.index import read_dataset
    from ..datasets.splits import leaking_groups, make_split, split_sizes
    from ..datasets.synthetic import synthesize
    from . import registry
    from .outputs import prepare_output
    from .provenance import write_result

    started = time.perf_counter()
    out = prepare_output(args.out, "demo", force=True)  # replaces only an earlier demo's folder
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
    anomaly = to_anomaly_folders(index, splits["kaggle-det"], out / "exports" / "anomaly", ["crazing"])
    arrays = to_arrays(index, splits["kaggle-cls"])
    print(f"[demo] exported YOLO ({yolo.boxes} boxes), anomaly folders ({anomaly.abnormal} abnormal), "
          f"arrays (train {arrays['train'][0].shape})")
    summary = {"data": {"images": report.summary["images"], "counts": report.counts(),
                        "splits": {n: split_sizes(s, index) for n, s in splits.items()}}}
    for name in registry.TASKS:
        if args.only and name not in args.only:
            continue
        print(f"[demo] {name} ...")
        summary[name] = registry.task(name).demo(data_root=data, out_dir=out / name, seed=args.seed)
    summary["seconds"] = round(time.perf_counter() - started, 1)
    path = write_result(out / "summary.json", summary, split="kaggle-cls/kaggle-det", index=index)
    print(f"[demo] done in {summary['seconds']} s; summary: {path}")
    print(json.dumps({k: v for k, v in summary.items() if k != "data"}, indent=2))
    return 0
