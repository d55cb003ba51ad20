"""`defectlab evaluate` (also `python scripts/evaluate.py`): every task scored on one split, one report."""
from __future__ import annotations

import shlex
import sys
from pathlib import Path

from . import registry


def task_pairs(words: list[str], option: str) -> dict[str, str]:
    """['detection=PATH', ...] -> {'detection': 'PATH'}; a malformed word is a one-line error."""
    pairs = {}
    for word in words:
        task, _, value = word.partition("=")
        if task not in registry.TASKS or not value:
            raise ValueError(f"{option} takes TASK=VALUE with TASK one of {', '.join(registry.TASKS)}, got {word!r}")
        pairs[task] = value
    return pairs


def register(tasks, common) -> None:
    evaluate = tasks.add_parser(
        "evaluate", help="score the classifier, detector and anomaly detector on one split; one HTML report",
        description="Evaluate every task's run on the test side of one named split of DATA (anomaly: leave one class "
                    "out on the same split), time the whole inspection on the test pictures, and write "
                    "OUT/evaluation.json (schema in the README) and OUT/report.html (self-contained, opens offline). "
                    "Runs are found as RUNS_ROOT/<task>/<default run name>, or named with --runs; --train-missing "
                    "trains what is missing with each task's default recipe (or --preset).",
        epilog="examples:\n"
               "  defectlab evaluate ../shared/data --split kaggle-det --train-missing\n"
               "  defectlab evaluate runs/synthetic --runs classification=runs/classification/lite0-finetune-kaggle-det-seed0\n"
               "  python scripts/evaluate.py ../shared/data --preset detection=cpu-lite0-imagenet --train-missing",
        formatter_class=__import__("argparse").RawDescriptionHelpFormatter)
    evaluate.add_argument("data", type=Path, help="dataset folder (any layout `defectlab data check` reads)")
    evaluate.add_argument("--split", default="kaggle-det", help="named split; its test side is scored (default kaggle-det)")
    evaluate.add_argument("--runs", nargs="+", default=[], metavar="TASK=PATH", help="run folder of a task")
    evaluate.add_argument("--runs-root", type=Path, default=Path("runs"),
                          help="where runs are looked for and missing ones trained (default runs)")
    evaluate.add_argument("--preset", nargs="+", default=[], metavar="TASK=PRESET",
                          help="recipe preset for a run that is missing (default: the task's default recipe)")
    evaluate.add_argument("--train-missing", action="store_true", help="train the runs that are missing")
    evaluate.add_argument("--tasks", nargs="+", choices=list(registry.TASKS), default=list(registry.TASKS),
                          help="which tasks to evaluate (default all)")
    evaluate.add_argument("--out", type=Path, default=Path("runs/evaluation"),
                          help="output folder: evaluation.json, report.html, per-task files (default runs/evaluation)")
    evaluate.add_argument("--batch-size", type=int, default=16, help="pictures per inspection batch (default 16)")
    common(evaluate)
    evaluate.set_defaults(handler=run_evaluate)


def run_evaluate(args) -> int:
    from .evaluate import evaluate_suite
    from .provenance import script_command

    script = sys.argv[0].endswith(".py")  # python scripts/evaluate.py ... or defectlab evaluate ...
    command = script_command(sys.argv[0]) if script else shlex.join(["defectlab", *sys.argv[1:]])
    result = evaluate_suite(args.data, args.split, task_pairs(args.runs, "--runs"), args.runs_root, args.out,
                            args.train_missing, task_pairs(args.preset, "--preset"), args.tasks, args.batch_size,
                            command=command)
    print(summary_lines(result))
    print(f"report: {result['report']}")
    return 0


def summary_lines(result: dict) -> str:
    lines = [f"[evaluate] {result['split_name']} test side, {result['test_pictures']} pictures"]
    if "classification" in result:
        m = result["classification"]["metrics"]
        lines.append(f"  classification accuracy {m['accuracy']:.2%} ({m['correct']}/{m['n']})")
    if "detection" in result:
        m = result["detection"]["metrics"]
        lines.append(f"  detection mAP50 {m['map50']:.3f}, mAP50-95 {m['map50_95']:.3f}")
    if "anomaly" in result:
        lines.append(f"  anomaly leave-one-class-out mean image AUROC {result['anomaly']['metrics']['mean_auroc']:.3f}")
    speeds = result["inspection"]["images_per_second"]
    lines.append("  images/s: " + ", ".join(f"{k} {v}" for k, v in speeds.items()))
    return "\n".join(lines)
