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

EXAMPLES = """examples:
  defectlab demo                                   synthetic data -> every task trained, evaluated (the main job)
  defectlab evaluate ../shared/data --train-missing   every task on one split -> evaluation.json + report.html
  defectlab data synth runs/synthetic --per-class 60
  defectlab data check ../shared/data              validation report of the real NEU copies
  defectlab data split ../shared/data --split kaggle-cls --out split.csv
  defectlab classification train data=../shared/data
  defectlab detection train data=../shared/data/NEU-DET preset=cpu image_size=224
  defectlab anomaly predict runs/anomaly/texture-knn-kaggle-det-seed0 images/ --out runs/ad-pred

Every task speaks the same verbs: train (recipe fields as key=value or --key value), evaluate RUN, predict RUN
IMAGES... Add --verbose to see the libraries' own log lines.

Datasets: a folder in any of these layouts (detected automatically):
  NEU-DET / Pascal VOC   IMAGES/*.jpg + ANNOTATIONS/*.xml
  YOLO                   images/<side>/, labels/<side>/*.txt, a .yaml with names
  split folders          train|valid|test/<Class>/*.bmp   (Kaggle 'NEU Metal Surface Defects Data')
  class folders          <class>/*.bmp|jpg|png|tif
  both NEU copies        NEU-DET/ and NEU-Metal-Surface-Defects/ side by side (as in ../shared/data)
"""
FORMATTER = argparse.RawDescriptionHelpFormatter
KEY_VALUE = re.compile(r"^([A-Za-z][A-Za-z0-9_-]*)=(.*)$", re.DOTALL)


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


def _add_options(parser, table: dict, title: str) -> None:
    group = parser.add_argument_group(title)
    for name, (kind, default, text) in table.items():
        flag = f"--{name.replace('_', '-')}"
        if kind is bool:
            group.add_argument(flag, dest=name, action="store_true", help=text)
        else:
            shown = f" (default {default})" if default not in ("", None) else ""
            group.add_argument(flag, dest=name, type=kind, default=default, help=text + shown)


def _register_task(tasks, name: str) -> None:
    spec = registry.task(name)
    recipe_class = spec.Recipe
    presets = ", ".join(recipe_class.PRESETS)
    parser = tasks.add_parser(name, help=spec.HELP, description=spec.DESCRIPTION,
                              epilog=spec.EXAMPLES + f"\npresets: {presets}", formatter_class=FORMATTER)
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", required=True)

    train = verbs.add_parser("train", help="train a model -> run folder OUT/NAME", formatter_class=FORMATTER,
                             description=f"Train a {name} model from a recipe: a preset ({presets}) and any "
                                         "field changed with key=value or --key value. Model selection uses "
                                         "validation pictures only; the run is then evaluated on test. "
                                         "Re-running an interrupted run continues it.",
                             epilog=spec.EXAMPLES)
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
                                          "fingerprint taken at train time; detection scores the YOLO view kept "
                                          "in the run folder)")
    _add_options(evaluate, spec.EVALUATE_OPTIONS, "evaluation options")
    _common(evaluate)
    evaluate.set_defaults(handler=_evaluate, spec=spec)

    predict = verbs.add_parser("predict", help="apply a run to images, folders or globs -> records",
                               description="One record per image (schema in the README); an unreadable file "
                                           "gets an error record and the others go on. With --out: "
                                           "OUT/predictions.json, OUT/predictions.csv and OUT/pictures/*.png.")
    predict.add_argument("run", type=Path, help="run folder")
    predict.add_argument("images", nargs="+", help="image files, folders (searched recursively) or globs")
    predict.add_argument("--out", type=Path, help="output folder (default: print the records as JSON)")
    predict.add_argument("--batch-size", type=int, default=32, help="images decoded and scored at a time (default 32)")
    predict.add_argument("--no-pictures", action="store_true", help="with --out: skip the per-image pictures")
    _add_options(predict, spec.PREDICT_OPTIONS, "prediction options")
    _common(predict)
    predict.set_defaults(handler=_predict, spec=spec)

    if hasattr(spec, "export"):
        export = verbs.add_parser("export", help="export to ONNX and check it against the framework",
                                  description="Write RUN/model.onnx and print the largest difference between the "
                                              "framework's and ONNX Runtime's outputs on seeded random pictures, as "
                                              "a share of the largest output (below 1e-3 is parity: another "
                                              "runtime or CPU kernel changes the last digits). "
                                              "Then `predict --onnx` and `defectlab inspect --onnx` use it.")
        export.add_argument("run", type=Path, help="run folder")
        _common(export)
        export.set_defaults(handler=_export, spec=spec)

    if hasattr(spec, "register_verbs"):
        spec.register_verbs(verbs, _common)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="defectlab", description="Metal surface defect inspection: classify, locate and flag novel defects.",
        epilog=EXAMPLES, formatter_class=FORMATTER)
    tasks = parser.add_subparsers(dest="task", metavar="TASK", required=True)
    from . import cli_data, cli_demo, cli_evaluate, cli_inspect

    cli_data.register(tasks, _common)
    cli_demo.register(tasks, _common)
    cli_evaluate.register(tasks, _common)
    cli_inspect.register(tasks, _common)
    from service.cli import register as register_serve  # the service package: Flask, gunicorn

    register_serve(tasks, _common)
    for name in registry.TASKS:
        _register_task(tasks, name)
    return parser


def recipe_fields() -> set[str]:
    return {f.name for name in registry.TASKS for f in dataclasses.fields(registry.task(name).Recipe)}


def expand_key_values(argv: list[str]) -> list[str]:
    """`key=value` words whose key is a recipe field become `--key value` (ultralytics' grammar); other words
    (e.g. `--runs detection=PATH`, files whose name holds '=') stay."""
    fields, words = recipe_fields(), []
    for word in argv:
        match = KEY_VALUE.match(word)
        if match and match[1].replace("-", "_") in fields and not Path(word).exists():
            words += [f"--{match[1].replace('_', '-')}", match[2]]
        else:
            words.append(word)
    return words


def main(argv: list[str] | None = None) -> int:
    argv = expand_key_values(list(sys.argv[1:] if argv is None else argv))
    args = build_parser().parse_args(argv)
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
def _recipe_values(args, recipe_class) -> dict:
    return {f.name: getattr(args, f.name) for f in dataclasses.fields(recipe_class)
            if getattr(args, f.name, None) is not None and f.name != "preset"}


def _train(args) -> int:
    spec = args.spec
    recipe = spec.Recipe.from_preset(args.preset, **_recipe_values(args, spec.Recipe))
    run = spec.train(recipe, progress=not args.quiet)
    print(f"run folder: {run.path}")
    try:
        print(spec.summary(run.evaluate("test")))
    except ValueError as error:  # e.g. an anomaly detector of every class has no abnormal test pictures
        print(f"[{spec.TASK}] trained, not scored on its test side: {error}")
    return 0


def _options(args, table: dict) -> dict:
    return {name: getattr(args, name) for name in table}


def _evaluate(args) -> int:
    spec = args.spec
    run = spec.load(args.run)
    if args.data:
        run.recipe = dataclasses.replace(run.recipe, data=args.data)
    metrics = run.evaluate(args.side, **_options(args, spec.EVALUATE_OPTIONS))
    print(spec.summary(metrics))
    return 0


def _export(args) -> int:
    path, difference = args.spec.export(args.spec.load(args.run))
    print(f"ONNX model: {path}; max |{args.spec.TASK} framework - ONNX Runtime| on random input: {difference:.2e} "
          "of the largest output")
    return 0


def _predict(args) -> int:
    spec = args.spec
    predictor = spec.load(args.run).predictor(**_options(args, spec.PREDICT_OPTIONS))
    predictor.batch_size = args.batch_size
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
