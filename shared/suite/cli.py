"""The `defectlab` front door: one grammar for every task, `defectlab TASK VERB [key=value | --key value ...]`
(in the spirit of ultralytics). `data` and `demo` live here; every task in the registry gets `train`,
`evaluate` and `predict` generated from its recipe fields and option tables, plus any verbs of its own.
Parsing imports no ML framework; `console.setup()` runs before a command does."""
from __future__ import annotations

import argparse
import dataclasses
import json
import re
import sys
import typing
from pathlib import Path

from ..datasets.images import expand_globs
from . import console, registry
from .errors import DataError
from .options import parse_bool, resolve
from .recipe import recipe_values

EXAMPLES = """examples:
  defectlab demo                                   synthetic data -> every task trained, evaluated (the main job)
  defectlab evaluate ../shared/data --train-missing   every task on one split -> evaluation.json + report.html
  defectlab data synth runs/synthetic --per-class 60
  defectlab data check ../shared/data              validation report of the real NEU copies
  defectlab data split ../shared/data --split kaggle-cls --out split.csv
  defectlab TASK train data=../shared/data         a task's default recipe (`defectlab TASK train --help`)
  defectlab TASK predict RUN images/ key=value     a run on pictures, with the task's prediction options
  defectlab inspect images/ TASK.OPTION=VALUE      every task's run on the same pictures

Every task speaks the same verbs: train (recipe fields), evaluate RUN, predict RUN IMAGES..., each option as
key=value or --key value. Add --verbose to see the libraries' own log lines.

Datasets: a folder in any of these layouts (detected automatically):
  NEU-DET / Pascal VOC   IMAGES/*.jpg + ANNOTATIONS/*.xml
  YOLO                   images/<side>/, labels/<side>/*.txt, a .yaml with names
  split folders          train|valid|test/<Class>/*.bmp   (Kaggle 'NEU Metal Surface Defects Data')
  class folders          <class>/*.bmp|jpg|png|tif
  both NEU copies        NEU-DET/ and NEU-Metal-Surface-Defects/ side by side (as in ../shared/data)
"""
FORMATTER = argparse.RawDescriptionHelpFormatter
KEY_VALUE = re.compile(r"^([A-Za-z][A-Za-z0-9_.-]*)=(.*)$", re.DOTALL)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--verbose", action="store_true", help="show the libraries' own log lines and warnings")


def _type_of(hint):
    origin = typing.get_origin(hint) or hint
    if origin is bool:
        return "true|false"
    if origin is list:
        return "A,B,..."
    if origin is dict or dataclasses.is_dataclass(hint):
        return "JSON"
    return getattr(origin, "__name__", "VALUE").upper()


def add_recipe_options(parser, recipe_class) -> None:
    """One option per recipe field; values stay strings here and the recipe coerces and validates them."""
    hints = typing.get_type_hints(recipe_class)
    group = parser.add_argument_group("recipe fields (also as key=value)")
    for f in dataclasses.fields(recipe_class):
        names = [f"--{f.name.replace('_', '-')}"] + [f"--{a}" for a in f.metadata.get("aliases", ())]
        choices = f.metadata.get("choices")
        text = f.metadata.get("help") or f.name
        text += f" ({'|'.join(map(str, choices))})" if choices else ""
        default = recipe_class.DEFAULT_PRESET if f.name == "preset" else \
            f.default if f.default is not dataclasses.MISSING else f.default_factory()
        if dataclasses.is_dataclass(default):
            default = json.dumps(dataclasses.asdict(default))
        if default not in ("", [], {}):
            text += f"; default {default!r}" + ("" if f.name == "preset" else " unless the preset sets it")
        group.add_argument(*names, dest=f.name, metavar=_type_of(hints[f.name]), help=text.replace("%", "%%"))


def add_options(parser, table: dict, title: str) -> None:
    """One flag per Option (booleans as --name / --no-name). Values stay text here and default to None, so that
    only what the user gave reaches options.resolve, which types, checks and fills in the one default."""
    group = parser.add_argument_group(f"{title} (also as key=value)")
    for name, option in table.items():
        flag = f"--{name.replace('_', '-')}"
        text = (option.help + (f" ({'|'.join(map(str, option.choices))})" if option.choices else "")
                + option.shown_default()).replace("%", "%%")
        if option.type is bool:
            group.add_argument(flag, dest=name, action=argparse.BooleanOptionalAction, default=None, help=text)
        else:
            group.add_argument(flag, dest=name, default=None, metavar=option.type.__name__.upper(), help=text)


def given_options(args, table: dict) -> dict:
    """The options of `table` the user gave (not None)."""
    return {name: getattr(args, name) for name in table if getattr(args, name, None) is not None}


def _presets_text(recipe_class) -> str:
    notes = getattr(recipe_class, "PRESET_HELP", {})
    lines = [f"  {name:<24} {notes.get(name, '')}".rstrip() for name in recipe_class.PRESETS]
    return f"presets (default {recipe_class.DEFAULT_PRESET}):\n" + "\n".join(lines)


def _register_task(tasks, name: str) -> None:
    spec = registry.task(name)
    recipe_class = spec.recipe
    presets = _presets_text(recipe_class)
    parser = tasks.add_parser(name, help=spec.help, description=spec.description,
                              epilog=spec.examples + "\n" + presets, formatter_class=FORMATTER)
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", required=True)

    train = verbs.add_parser("train", help="train a model -> run folder OUT/NAME", formatter_class=FORMATTER,
                             description=f"Train a {name} model from a recipe: a preset and any field changed "
                                         "with key=value or --key value. Model selection uses validation pictures "
                                         "only; the run is then evaluated on test. Re-running an interrupted run "
                                         "continues it; a finished one is not trained again.",
                             epilog=spec.examples + "\n" + presets)
    add_recipe_options(train, recipe_class)
    train.add_argument("--quiet", action="store_true", help="no progress bars")
    _common(train)
    train.set_defaults(handler=_train, spec=spec)

    evaluate = verbs.add_parser("evaluate", help="score a run on one side of its split -> metrics JSON + plots",
                                description="Score the run on one side of the split it was trained with "
                                            "(test -> metrics.json, valid -> valid_metrics.json; TTA adds tta_).")
    evaluate.add_argument("run", type=Path, help="run folder")
    evaluate.add_argument("--side", default="test", choices=["test", "valid", "train"], help="split side (default test)")
    evaluate.add_argument("--data", help="where the run's dataset lies now, if it moved (checked against the "
                                          "fingerprint taken at train time)")
    add_options(evaluate, spec.evaluate_options, "evaluation options")
    _common(evaluate)
    evaluate.set_defaults(handler=_evaluate, spec=spec)

    predict = verbs.add_parser("predict", help="apply a run to images, folders or globs -> records",
                               formatter_class=FORMATTER,
                               description="One record per image (schema: docs/inspection.md); an unreadable file "
                                           "gets an error record and the others go on. With --out: "
                                           "OUT/predictions.json, OUT/predictions.csv and OUT/pictures/*.png. "
                                           "Options as key=value or --key value, anywhere on the line.",
                               epilog=f"example:\n  defectlab {name} predict RUN image.jpg folder/ "
                                      + " ".join(f"{o.name}={o.default}" for o in list(spec.predict_options.values())[:1])
                                      + " --out runs/predictions")
    predict.add_argument("run", type=Path, help="run folder")
    predict.add_argument("images", nargs="+", help="image files, folders (searched recursively) or globs")
    predict.add_argument("--out", type=Path, help="output folder (default: print the records as JSON)")
    predict.add_argument("--no-pictures", action="store_true", help="with --out: skip the per-image pictures")
    add_options(predict, spec.predict_options, "prediction options")
    _common(predict)
    predict.set_defaults(handler=_predict, spec=spec)

    if spec.export is not None:
        export = verbs.add_parser("export", help="export to ONNX and check it against the framework",
                                  description="Write RUN/model.onnx and print the largest difference between the "
                                              "framework's and ONNX Runtime's outputs on seeded random pictures, as "
                                              "a share of the largest output (below 1e-3 is parity: another "
                                              "runtime or CPU kernel changes the last digits). "
                                              "Then `predict onnx=1` and `defectlab inspect --onnx` use it.")
        export.add_argument("run", type=Path, help="run folder")
        export.add_argument("--int8", action=argparse.BooleanOptionalAction, default=False,
                            help="also as int8=1: write RUN/model.int8.onnx instead, model.onnx (exported first "
                                 "where missing) quantized to INT8 with ONNX Runtime's static quantization, "
                                 "calibrated on 100 of the run's train pictures as its predictor prepares them; "
                                 "the difference printed is |fp32 - INT8| on those pictures. Then `predict int8=1` "
                                 "and `defectlab inspect TASK.int8=1` use it")
        _common(export)
        export.set_defaults(handler=_export, spec=spec)

    if spec.register_verbs is not None:
        spec.register_verbs(verbs, _common)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="defectlab", description="Metal surface defect inspection: name, locate and flag novel defects.",
        epilog=EXAMPLES, formatter_class=FORMATTER)
    tasks = parser.add_subparsers(dest="task", metavar="TASK", required=True)
    for register in registry.commands():
        register(tasks, _common)
    for name in registry.names():
        _register_task(tasks, name)
    return parser


def _subparser(parser: argparse.ArgumentParser, word: str):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices.get(word)
    return None


def expand_key_values(argv: list[str], parser: argparse.ArgumentParser | None = None) -> list[str]:
    """ultralytics' grammar on every verb: a word `key=value` whose `--key` the command takes becomes `--key value`
    (a boolean: `--key` / `--no-key`); `TASK.OPTION=VALUE` becomes `--predict TASK.OPTION=VALUE` where the command
    takes --predict (inspect, serve). Other words (files whose name holds '=', `--runs TASK=PATH`) stay."""
    parser = parser or build_parser()
    command, depth = parser, 0
    while depth < len(argv) and (sub := _subparser(command, argv[depth])) is not None:
        command, depth = sub, depth + 1
    flags = command._option_string_actions
    words = list(argv[:depth])
    for word in argv[depth:]:
        match = KEY_VALUE.match(word)
        if not match or Path(word).exists() or (words and words[-1] == "--predict"):  # `--predict X=Y` as it is
            words.append(word)
            continue
        key, value = match[1].replace("_", "-"), match[2]
        action = flags.get(f"--{key}")
        if "." in match[1] and "--predict" in flags:
            words.append(f"--predict={word}")  # one value: the words after it stay pictures
        elif isinstance(action, argparse.BooleanOptionalAction):
            words.append(f"--{key}" if parse_bool(value) else f"--no-{key}")
        elif action is not None and action.nargs is None:
            words += [f"--{key}", value]
        else:
            words.append(word)
    return words


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        parser = build_parser()
        argv = expand_key_values(argv, parser)
    except ValueError as error:  # a boolean key=value that is neither true nor false
        print(f"defectlab: error: {error}", file=sys.stderr)
        return 2
    args = parser.parse_args(argv)
    console.setup(verbose=getattr(args, "verbose", False))
    try:
        result = args.handler(args)
    except DataError as error:
        print(f"defectlab: error: {error}", file=sys.stderr)
        return 2
    except (KeyError, FileNotFoundError, ValueError) as error:  # recipe and model errors: one line
        print(f"defectlab: error: {' '.join(str(error).strip(chr(39) + chr(34)).split())}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("defectlab: interrupted", file=sys.stderr)
        return 130
    return int(result or 0)


# -- the generic verbs ---------------------------------------------------------------------------------------
def _train(args) -> int:
    spec = args.spec
    recipe = spec.recipe.from_preset(args.preset, **recipe_values(args, spec.recipe))
    run = spec.train(recipe, progress=not args.quiet)
    print(f"run folder: {run.path}")
    try:
        print(spec.summary(run.evaluate("test")))
    except ValueError as error:  # e.g. a test side without the kinds of picture the metric needs
        print(f"[{spec.name}] trained, not scored on its test side: {error}")
    return 0


def _evaluate(args) -> int:
    spec = args.spec
    run = spec.load(args.run)
    if args.data:
        run.recipe = dataclasses.replace(run.recipe, data=args.data)
    options = resolve(spec.evaluate_options, given_options(args, spec.evaluate_options), f"{spec.name} evaluate: ")
    metrics = run.evaluate(args.side, **options)
    print(spec.summary(metrics))
    return 0


def _export(args) -> int:
    if args.int8:
        path, difference = args.spec.export(args.spec.load(args.run), int8=True)
        print(f"INT8 model: {path}; max |ONNX Runtime fp32 - INT8| on its calibration pictures: {difference:.2e} of "
              "the largest output")
        return 0
    path, difference = args.spec.export(args.spec.load(args.run))
    print(f"ONNX model: {path}; max |{args.spec.name} framework - ONNX Runtime| on random input: {difference:.2e} "
          "of the largest output")
    return 0


def _predict(args) -> int:
    spec = args.spec
    predictor = spec.load(args.run).predictor(**given_options(args, spec.predict_options))
    images = expand_globs(args.images)
    if args.out:
        records = predictor.predict_to(images, args.out, progress=True, draw=not args.no_pictures)
    else:
        records = predictor.predict(images)
    for record in records:
        if "error" in record:
            print(f"defectlab: skipped {record['error']}", file=sys.stderr)
    if args.out:
        print(f"{len(records)} records -> {args.out / 'predictions.json'}, {args.out / 'predictions.csv'}"
              + ("" if args.no_pictures else f", {args.out / 'pictures'}/"))
    else:
        print(json.dumps(records, indent=2))
    return 1 if records and all("error" in r for r in records) else 0


if __name__ == "__main__":
    sys.exit(main())
