"""The anomaly verbs beyond train / evaluate / predict: `protocol` (NEU leave-one-class-out or one-class) and
`calibrate` (the threshold from the user's known-good pictures). Parsing only; the work is
anomaly.protocols.run_protocol and anomaly.calibrate.calibrate."""
from __future__ import annotations

from pathlib import Path

from .recipe import PROTOCOLS, AnomalyRecipe


def register_protocol(verbs, common) -> None:
    from shared.suite.cli import FORMATTER, add_recipe_options

    protocol = verbs.add_parser("protocol", help="NEU leave-one-class-out or one-class, one model per class",
                                formatter_class=FORMATTER,
                                description="Fit one model per class on a labelled NEU-like dataset (split "
                                            "kaggle-det) and score it; writes OUT/<protocol>.json with provenance.")
    protocol.add_argument("--protocol", choices=PROTOCOLS, default="loco", help="protocol (default loco)")
    protocol.add_argument("--classes", nargs="+", help="only these held-out / normal classes (default all)")
    add_recipe_options(protocol, AnomalyRecipe)
    protocol.set_defaults(out_default="runs/anomaly-protocols")
    common(protocol)
    protocol.set_defaults(handler=run_protocol_verb)


def run_protocol_verb(args) -> int:
    from shared.suite.recipe import recipe_values

    from .protocols import run_protocol

    values = {k: v for k, v in recipe_values(args, AnomalyRecipe).items() if k not in ("data", "out")}
    if not args.data:
        raise ValueError("protocol needs data=PATH (a labelled NEU-like dataset, e.g. ../shared/data)")
    out = args.out or args.out_default
    result = run_protocol(args.data, args.protocol, AnomalyRecipe.from_preset(args.preset, **values), out,
                          classes=args.classes, progress=True)
    print(f"{args.protocol}: mean image AUROC {result['mean_auroc']:.3f} -> {out}/{args.protocol}.json")
    return 0


def register_calibrate(verbs, common) -> None:
    import argparse

    from shared.suite.cli import add_options
    from shared.suite.cli_calibrate import GUARANTEES, add_calibration_options

    from .options import PREDICT_OPTIONS

    calibrate = verbs.add_parser(
        "calibrate", formatter_class=argparse.RawDescriptionHelpFormatter,
        help="set the threshold from known-good pictures of your line for a false-alarm rate",
        description="Score recent known-good pictures of your line with the run and set the anomaly threshold so "
                    "that at most ALPHA of such pictures are flagged. Score them as you will inspect (onnx=1 for "
                    "`inspect --onnx`).",
        epilog=GUARANTEES + "\nexamples:\n"
               "  defectlab anomaly calibrate RUN line/week12/ --false-alarm-rate 0.01\n"
               "  defectlab anomaly calibrate RUN line/week12/ --false-alarm-rate 0.01 --confidence 0.95 onnx=1\n"
               "  defectlab inspect images/ anomaly.calibration=week12     in force, watched for drift")
    calibrate.add_argument("run", type=Path, help="run folder")
    add_calibration_options(calibrate)
    add_options(calibrate, scoring_options(PREDICT_OPTIONS), "how the pictures are scored")
    common(calibrate)
    calibrate.set_defaults(handler=run_calibrate_verb)


def scoring_options(table: dict) -> dict:
    """The predict options a calibration is scored with: not the one that picks a calibration, nor the picture
    drawing."""
    return {name: option for name, option in table.items() if name not in ("calibration", "heatmap")}


def run_calibrate_verb(args) -> int:
    from shared.suite.cli import given_options
    from shared.suite.cli_calibrate import report

    from .calibrate import calibrate
    from .options import PREDICT_OPTIONS

    found = calibrate(args.run, args.pictures, args.false_alarm_rate, args.confidence, args.name, args.force,
                      given_options(args, scoring_options(PREDICT_OPTIONS)), progress=True)
    print(report("anomaly", found))
    print(f"in force with: defectlab inspect IMAGES anomaly.calibration={found['name']}   (serve alike; "
          f"predict calibration={found['name']})")
    return 0
