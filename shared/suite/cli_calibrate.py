"""`defectlab calibrate PICTURES --false-alarm-rate A`: every loaded task that has a threshold to calibrate sets it
from the user's known-good pictures (its spec's `calibrate` hook, shared.suite.calibration), and with it the
inspection's `novel` rule, which needs every voter. The options here are the ones each task's own `calibrate`
verb takes too."""
from __future__ import annotations

import argparse

from . import registry

GUARANTEES = """guarantees (split conformal; the pictures must be like the ones to come: same line, camera, model):
  without --confidence  the expected false-alarm rate is <= ALPHA: on average over calibration sets at most ALPHA
                        of known-good pictures are flagged; threshold: the k-th smallest of the n scores,
                        k = ceil((n + 1)(1 - ALPHA)); needs n >= 1/ALPHA - 1 (99 pictures for 0.01)
  --confidence C        the false-alarm rate is <= ALPHA with probability >= C over calibration sets; threshold:
                        the smallest k with P(Beta(k, n + 1 - k) >= 1 - ALPHA) >= C; needs
                        n >= log(1 - C) / log(1 - ALPHA) (299 pictures for 0.01 at 0.95)
The calibration goes to RUN/calibrations/NAME.json (the run's own threshold is never changed); it is in force
where TASK.calibration=NAME is given (inspect, serve; predict calibration=NAME), and the records then name it.
inspect / serve watch the scores that follow against the calibration's (docs/inspection.md, calibration and drift).
"""


def rate(word: str) -> float:
    value = float(word)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"{word}: want a number between 0 and 1, e.g. 0.01")
    return value


def add_calibration_options(parser) -> None:
    parser.add_argument("pictures", nargs="+", help="recent known-good pictures of the line: files, folders "
                                                    "(searched recursively) or globs")
    parser.add_argument("--false-alarm-rate", type=rate, required=True, metavar="ALPHA",
                        help="the share of known-good pictures that may be flagged, e.g. 0.01")
    parser.add_argument("--confidence", type=rate, metavar="C",
                        help="the rate holds with this probability over calibration sets, e.g. 0.95 (default: the "
                             "expected rate holds; needs fewer pictures)")
    parser.add_argument("--name", default="", help="the calibration's name (default: the pictures' folder name)")
    parser.add_argument("--force", action="store_true", help="replace a calibration of the same name")


def report(task: str, found: dict) -> str:
    return (f"[{task}] calibration {found['name']}: threshold {found['threshold']:.6g} (the run's own: "
            f"{found['training_threshold']:.6g}) from {found['n']} known-good pictures"
            + (f", {len(found['unreadable'])} unreadable skipped" if found.get("unreadable") else "")
            + f"\n  {found['form']} form: {found['guarantee']}\n  -> {found['path']}")


def register(tasks, common) -> None:
    from .cli_inspect import add_run_options

    able = [t for t in registry.names() if registry.task(t).calibrate is not None]
    calibrate = tasks.add_parser(
        "calibrate", formatter_class=argparse.RawDescriptionHelpFormatter,
        help="set the thresholds, and the novel flag's, from known-good pictures for a false-alarm rate",
        description="Score recent known-good pictures of your line with each run that has a threshold to "
                    "calibrate, and set it so that at most ALPHA of such pictures are flagged. The `novel` flag "
                    "needs every voter, so it is flagged on known-good pictures no more often than a calibrated "
                    "voter: the same guarantee holds for it. Each task's own verb: `defectlab TASK calibrate RUN "
                    "PICTURES`.",
        epilog=GUARANTEES + "\nexamples:\n  defectlab calibrate line/week12/ --false-alarm-rate 0.01\n"
               "  defectlab calibrate line/week12/ --false-alarm-rate 0.01 --confidence 0.95 --name week12\n"
               "  defectlab inspect images/ TASK.calibration=week12        then in force, watched for drift")
    add_calibration_options(calibrate)
    add_run_options(calibrate, "calibrate", tasks=able)
    for action in calibrate._actions:
        if action.dest == "tasks":
            action.help = f"which tasks to calibrate (default every one with a threshold: {', '.join(able)})"
    common(calibrate)
    calibrate.set_defaults(handler=run_calibrate)


def run_calibrate(args) -> int:
    from .cli_inspect import chosen_runs
    from .inspect import novel_rule, predict_options

    refused = [t for t in args.tasks if registry.task(t).calibrate is None]
    if refused:
        raise ValueError(f"--tasks: {', '.join(refused)} has no threshold to calibrate")
    runs, options = chosen_runs(args), predict_options(args.predict, args.tasks)
    done = {}
    for task, path in runs.items():
        found = registry.task(task).calibrate(path, args.pictures, args.false_alarm_rate, args.confidence,
                                              args.name, args.force, options.get(task, {}), progress=True)
        done[task] = found["name"]
        print(report(task, found))
    rule = novel_rule()
    if set(done) & set(rule["voters"]):
        print(f"novel ({rule['rule']}): needs every voter, so on known-good pictures like these it is flagged no "
              "more often than a calibrated voter; the same guarantee holds for it")
    words = " ".join(f"{task}.calibration={name}" for task, name in done.items())
    print(f"in force with: defectlab inspect IMAGES {words}   (or defectlab serve {words})")
    return 0
