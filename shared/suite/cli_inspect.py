"""`defectlab inspect`: every task's run on the same pictures, one record per picture."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from . import registry
from .ray_engine import add_engine_options, run_ray_inspect


def add_run_options(parser, verb: str, runs_root: Path = Path("runs"), predict: list | None = None,
                    runs: list | None = None, tasks: list | None = None) -> None:
    """--runs, --runs-root, --tasks: which runs a command uses (inspect, serve; `runs` and `tasks` their defaults);
    --predict: how (`predict` the default options, given more add to them)."""
    parser.add_argument("--runs", nargs="+", default=list(runs or []), metavar="TASK=PATH",
                        help="run folder of a task")
    parser.add_argument("--runs-root", type=Path, default=runs_root,
                        help=f"where each task's default run is looked for (default {runs_root})")
    parser.add_argument("--tasks", nargs="+", type=task_name, default=list(tasks or registry.names()),
                        help=f"which tasks to {verb}: {', '.join(registry.names())} (default all)")
    parser.add_argument("--predict", nargs="+", action="extend", default=list(predict or []),
                        metavar="TASK.OPTION=VALUE",
                        help="a prediction option of one task, as `defectlab TASK predict` takes it; also as a bare "
                             "word TASK.OPTION=VALUE (a task's options: `defectlab TASK predict --help`)")


def task_name(word: str) -> str:
    """A task's name from its name or alias, for argparse (a bad one: argparse's one-line error)."""
    try:
        return registry.canonical(word)
    except KeyError as error:
        raise argparse.ArgumentTypeError(str(error).strip("'\"")) from None


def chosen_runs(args) -> dict[str, Path]:
    """{task: run folder} from the options add_run_options made; a missing run is a one-line error."""
    from .cli_evaluate import task_pairs
    from .inspect import find_runs

    return find_runs(task_pairs(args.runs, "--runs"), args.runs_root, args.tasks)


def register(tasks, common) -> None:
    inspect = tasks.add_parser(
        "inspect", formatter_class=argparse.RawDescriptionHelpFormatter,
        help="every task's answer for each picture, with every task's run at once",
        description="Decode each picture once and apply every task's run to it: one record per picture with each "
                    "task's answer under its name. Runs are found as each task's default run under --runs-root, or "
                    "named with --runs TASK=PATH. Prediction options as TASK.OPTION=VALUE words.",
        epilog="examples:\n  defectlab inspect images/ --out runs/inspect\n"
               "  defectlab inspect a.bmp b.bmp --runs TASK=RUN_FOLDER ...\n"
               "  defectlab inspect images/ TASK.OPTION=VALUE ...   options of `defectlab TASK predict --help`\n"
               "  defectlab inspect images/ novel.calibration=NAME   the novel flag calibrated on the line "
               "(`defectlab calibrate`)")
    inspect.add_argument("images", nargs="+", help="image files, folders (searched recursively) or globs")
    add_run_options(inspect, "apply")
    inspect.add_argument("--out", type=Path, help="output folder (default: print the records as JSON)")
    inspect.add_argument("--batch-size", type=int, default=16, help="pictures decoded and scored at a time (default 16)")
    inspect.add_argument("--no-pictures", action="store_true", help="with --out: skip the composite pictures")
    inspect.add_argument("--onnx", action="store_true",
                         help="run every model with ONNX Runtime (3-5x faster on a CPU); a run without model.onnx "
                              "is exported first and checked against its framework")
    inspect.add_argument("--db", metavar="URL_OR_PATH",
                         help="also store the records, as they are made, in a results database: a SQLite file path "
                              "or a URL such as postgresql+psycopg://user@host/name; read it with `defectlab "
                              "results` (docs/results-database.md)")
    add_engine_options(inspect)
    common(inspect)
    inspect.set_defaults(handler=run_inspect)


def run_inspect(args) -> int:
    if args.engine == "ray":
        return run_ray_inspect(args, chosen_runs(args))
    from ..datasets.images import expand_globs
    from .inspect import Inspector, predict_options
    from .novel import split_option

    runs, options = chosen_runs(args), predict_options(args.predict, args.tasks)
    store = None
    if args.db:  # opened before the models load: a wrong URL fails at once
        from ..store import describe_runs, open_store, stream_into

        store = open_store(args.db)
    inspector = Inspector.from_runs(runs, args.batch_size, args.onnx, options=options,
                                    novel=split_option(args.predict)[0])
    if store:
        stored = stream_into(store, inspector, describe_runs(runs, options, args.onnx))
    images = expand_globs(args.images)
    if args.out:
        records = inspector.inspect_to(images, args.out, progress=True, draw=not args.no_pictures)
    else:
        records = inspector.inspect(images)
    for record in records:
        if "error" in record:
            print(f"defectlab: skipped {record['error']}", file=sys.stderr)
    drift = inspector.watch()
    for task, found in drift.items():
        if found["warning"]:
            print(f"defectlab: warning: {task}: {found['warning']}", file=sys.stderr)
    if args.out:
        print(f"{len(records)} records -> {args.out / 'predictions.json'}, {args.out / 'predictions.csv'}"
              + (f"; drift against the calibration -> {args.out / 'drift.json'}" if drift else ""))
    else:
        print(json.dumps(records, indent=2))
    if store:
        store.close()
        print(f"{len(records)} records -> {store.url}: {stored['added']} added, {stored['changed']} changed, "
              f"{stored['same']} stored already", file=sys.stdout if args.out else sys.stderr)
    return 1 if records and all("error" in r for r in records) else 0
