"""`defectlab anomaly ...`: parses arguments and calls the package's verbs."""
from __future__ import annotations

VERBS = ("train", "evaluate", "predict")


def register(tasks) -> None:
    parser = tasks.add_parser("anomaly", help="flag novel defect patterns no model was trained on (anomalib)",
                              description="flag novel defect patterns no model was trained on (anomalib). Verbs: train -> run folder, evaluate -> metrics, predict -> records.")
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", required=True)
    for verb in VERBS:
        verbs.add_parser(verb, help=f"{verb} (not available yet: see issue #5)").set_defaults(handler=_not_yet)


def _not_yet(args) -> int:
    from shared.errors import DataError

    raise DataError(None, f"'defectlab {args.task} {args.verb}' is not available yet (issue #5)")
