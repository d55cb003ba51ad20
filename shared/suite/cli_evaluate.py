"""`defectlab evaluate` (also `python scripts/evaluate.py`): every task scored on one split, one report."""
from __future__ import annotations

import shlex
import sys
from pathlib import Path

from . import registry


def task_pairs(words: list[str], option: str) -> dict[str, str]:
    """['TASK=PATH', ...] -> {'TASK': 'PATH'}; a malformed word or an unknown task is a one-line error."""
    pairs, names = {}, registry.names()
    for word in words:
        task, _, value = word.partition("=")
        if task not in names or not value:
            raise ValueError(f"{option} takes TASK=VALUE with TASK one of {', '.join(names)}, got {word!r}")
        pairs[task] = value
    return pairs


def register(tasks, common) -> None:
    names = list(registry.names())
    evaluate = tasks.add_parser(
        "evaluate", help="score every task's run on one split; one HTML report",
        description="Evaluate every task's run on the test side of one named split of DATA (or by the task's own "
                    "protocol on that split), time the whole inspection on the test pictures, and write "
                    "OUT/evaluation.json (schema in the README) and OUT/report.html (self-contained, opens offline). "
                    "Runs are found as RUNS_ROOT/<task>/<default run name>, or named with --runs; --train-missing "
                    "trains what is missing with each task's default recipe (or --preset).",
        epilog="examples:\n"
               "  defectlab evaluate ../shared/data --split kaggle-det --train-missing\n"
               "  defectlab evaluate runs/synthetic --runs TASK=runs/TASK/RUN_NAME\n"
               "  python scripts/evaluate.py ../shared/data --preset TASK=PRESET --train-missing\n"
               f"TASK: one of {', '.join(names)}",
        formatter_class=__import__("argparse").RawDescriptionHelpFormatter)
    evaluate.add_argument("data", type=Path, help="dataset folder (any layout `defectlab data check` reads)")
    evaluate.add_argument("--split", default="kaggle-det", help="named split; its test side is scored (default kaggle-det)")
    evaluate.add_argument("--runs", nargs="+", default=[], metavar="TASK=PATH", help="run folder of a task")
    evaluate.add_argument("--runs-root", type=Path, default=Path("runs"),
                          help="where runs are looked for and missing ones trained (default runs)")
    evaluate.add_argument("--preset", nargs="+", default=[], metavar="TASK=PRESET",
                          help="recipe preset for a run that is missing (default: the task's default recipe)")
    evaluate.add_argument("--train-missing", action="store_true", help="train the runs that are missing")
    evaluate.add_argument("--tasks", nargs="+", choices=names, help="which tasks to evaluate (default all)")
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
    """The split, each evaluated task's headline numbers (its spec's `headline`) and the speeds."""
    lines = [f"[evaluate] {result['split_name']} test side, {result['test_pictures']} pictures"]
    for name in registry.names():
        if isinstance(result.get(name), dict) and "metrics" in result[name]:
            spec, metrics = registry.task(name), result[name]["metrics"]
            lines.append("  " + ", ".join(f"{m.label} {m.text(metrics)}" for m in spec.headline))
    speeds = result["inspection"]["images_per_second"]
    lines.append("  images/s: " + ", ".join(f"{k} {v}" for k, v in speeds.items()))
    return "\n".join(lines)
