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
The novel flag's goes to SCORING_RUN/calibrations/novel/NAME.json and needs twice the pictures (half set each
class's scale); in force with novel.calibration=NAME, records then carry novel_score and novel_calibration.
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
                    "calibrate, and set it so that at most ALPHA of such pictures are flagged. The novel flag is "
                    "calibrated too (novel.calibration=NAME): the scoring voters' scores (a texture distance, the "
                    "classifier's energy), each standardised by the median and IQR of the pictures the naming voter "
                    "names the same class (half the pictures), their largest thresholded for ALPHA on the other half; the rule that found most "
                    "unseen NEU classes at <= 2% false alarms on validation folds (docs/results/suite.md). Each task's own verb: `defectlab TASK calibrate RUN PICTURES`.",
        epilog=GUARANTEES + "\nexamples:\n  defectlab calibrate line/week12/ --false-alarm-rate 0.01\n"
               "  defectlab calibrate line/week12/ --false-alarm-rate 0.01 --confidence 0.95 --name week12\n"
               "  defectlab inspect images/ TASK.calibration=week12 novel.calibration=week12   in force, watched for drift")
    add_calibration_options(calibrate)
    calibrate.add_argument("--no-novel", action="store_true",
                           help="leave the novel flag uncalibrated (default: calibrated too, where the runs of its "
                                "voters are found)")
    add_run_options(calibrate, "calibrate", tasks=able)
    for action in calibrate._actions:
        if action.dest == "tasks":
            action.help = f"which tasks to calibrate (default every one with a threshold: {', '.join(able)})"
    common(calibrate)
    calibrate.set_defaults(handler=run_calibrate)


def run_calibrate(args) -> int:
    from .cli_evaluate import task_pairs
    from .cli_inspect import chosen_runs
    from .inspect import find_runs, novel_rule, predict_options
    from .novel import OPTION, roles, split_option, voters_of

    refused = [t for t in args.tasks if registry.task(t).calibrate is None]
    if refused:
        raise ValueError(f"--tasks: {', '.join(refused)} has no threshold to calibrate")
    if split_option(args.predict)[0]:
        raise ValueError(f"{OPTION}: calibrate makes novel calibrations; leave it out")
    parts = roles()
    voters = voters_of(parts) if parts and not args.no_novel else []
    runs = chosen_runs(args)
    options = predict_options(args.predict, list(dict.fromkeys([*args.tasks, *voters])))
    done, words = {}, []
    for task, path in runs.items():
        found = registry.task(task).calibrate(path, args.pictures, args.false_alarm_rate, args.confidence,
                                              args.name, args.force, options.get(task, {}), progress=True)
        done[task] = found["name"]
        words.append(f"{task}.calibration={found['name']}")
        print(report(task, found))
    if voters:
        from .errors import DataError

        try:
            found_runs = find_runs({**task_pairs(args.runs, "--runs"), **{t: p for t, p in runs.items()}},
                                   args.runs_root, voters)
        except DataError as error:
            print(f"novel: not calibrated, a voter's run is missing: {error}")
        else:
            found = calibrate_novel(args, found_runs, options, done.get(parts["scores"][0]))
            words.append(f"{OPTION}={found['name']}")
    rule = novel_rule()
    if set(done) & set(rule["voters"]):
        print(f"without {OPTION}, novel ({rule['rule']}) needs every voter, so on known-good pictures like these "
              "it is flagged no more often than a calibrated voter")
    print(f"in force with: defectlab inspect IMAGES {' '.join(words)}   (or defectlab serve {' '.join(words)})")
    return 0


def calibrate_novel(args, runs: dict, options: dict, name: str | None) -> dict:
    from . import calibration
    from .novel import calibrate

    found = calibrate(runs, args.pictures, args.false_alarm_rate, args.confidence,
                      name or args.name or calibration.default_name(args.pictures), args.force, options,
                      progress=True)
    parts, scales = found["roles"], found["scale"]
    scored = "; ".join(
        f"{task}.{registry.task(task).novelty_score} (median / IQR of {scale['pooled']['n']} pictures; own scale: "
        + (", ".join(f"{c} {v['n']}" for c, v in scale["per_class"].items()) or "none") + ")"
        for task, scale in scales.items())
    missing = [t for t in parts["scores"] if t not in scales]
    print(f"[novel] calibration {found['name']}: the largest of {scored}, each standardised for the "
          f"{parts['class']} class (the rest pooled)"
          + (f"; {', '.join(missing)} gave no score" if missing else "")
          + f", threshold {found['threshold']:.4g} from the other {found['n']}"
          + (f", {len(found['unreadable'])} unreadable skipped" if found.get("unreadable") else "")
          + f"\n  {found['form']} form: {found['guarantee']}\n  -> {found['path']}")
    return found
