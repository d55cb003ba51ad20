"""`defectlab classification ...`: parses arguments and calls the package's verbs (imported lazily, so
`--help` never loads TensorFlow)."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from shared.errors import one_line_errors

EPILOG = """examples:
  defectlab classification train --data ../shared/data                      headline recipe, kaggle-cls split
  defectlab classification train --data ../shared/data --preset baseline    the reference small CNN
  defectlab classification train --data my_images/ --split holdout          any class-folder dataset
  defectlab classification evaluate runs/classification/lite0-finetune-kaggle-cls-seed0
  defectlab classification predict RUN image.bmp more_images/ --out predictions.json
  defectlab classification explain RUN image.bmp --out runs/gradcam

presets: lite0-finetune (ImageNet EfficientNet-Lite0, two stages), lite0-frozen (features + classifier only),
         baseline (small CNN from scratch, L2), smoke (seconds; for tests and the demo)"""


def register(tasks) -> None:
    fmt = argparse.RawDescriptionHelpFormatter
    parser = tasks.add_parser("classification", help="name the defect in a surface image (Keras 3 transfer learning)",
                              description="Train, evaluate and apply a defect classifier. A run folder holds "
                                          "config.json, model.keras, metrics.json, history.csv and plots/.",
                              epilog=EPILOG, formatter_class=fmt)
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", required=True)

    train = verbs.add_parser("train", help="train a classifier -> run folder", epilog=EPILOG, formatter_class=fmt,
                             description="Train on a dataset folder (NEU copies or any class folders); early stopping "
                                         "on validation data, never on test. Re-running continues an interrupted run.")
    train.add_argument("--data", required=True, help="dataset folder")
    train.add_argument("--preset", default="lite0-finetune", help="recipe (default lite0-finetune; see below)")
    train.add_argument("--split", default="kaggle-cls", choices=["kaggle-cls", "kaggle-det", "kfold", "holdout", "source"],
                       help="named split (default kaggle-cls); see `defectlab data split --help`")
    train.add_argument("--fold", type=int, help="kfold: which fold is test (default 0)")
    train.add_argument("--folds", type=int, help="kfold: number of folds (default 5)")
    train.add_argument("--seed", type=int, help="random seed for splits, initialisation and augmentation (default 0)")
    train.add_argument("--valid-fraction", type=float, help="carve this share of train as validation (default: the "
                                                             "split's own valid, else 0.1)")
    train.add_argument("--model", help="efficientnet_lite0|1|2, baseline-cnn or keras:<Application>")
    train.add_argument("--weights", help="'imagenet' (bundled for Lite), 'none', or a weights file")
    train.add_argument("--image-size", type=int, help="input size in pixels (default 224; baseline 128)")
    train.add_argument("--batch-size", type=int, help="batch size (default 32)")
    train.add_argument("--head-epochs", type=int, help="stage 1 epochs on frozen features (default 40)")
    train.add_argument("--finetune-epochs", type=int, help="stage 2 epochs, whole network (default 6)")
    train.add_argument("--out", default="runs/classification", help="parent of run folders (default runs/classification)")
    train.add_argument("--name", help="run folder name (default <preset>-<split>-seed<seed>)")
    train.add_argument("--quiet", action="store_true", help="no progress bars")
    train.set_defaults(handler=run_train)

    evaluate = verbs.add_parser("evaluate", help="score a run on a split side -> metrics.json",
                                description="Accuracy, per-class precision/recall/F1, confusion matrix (PNG + CSV), "
                                            "prediction grid and the list of mistakes.")
    evaluate.add_argument("run", type=Path, help="run folder")
    evaluate.add_argument("--side", default="test", choices=["test", "valid", "train"], help="split side (default test)")
    evaluate.add_argument("--data", help="dataset folder (default: the one the run was trained on)")
    evaluate.add_argument("--tta", action="store_true", help="average over the 8 flips / 90-degree turns")
    evaluate.set_defaults(handler=run_evaluate)

    predict = verbs.add_parser("predict", help="classify images, lists or folders -> JSON/CSV records",
                               description="One record per image: class, confidence and every class probability. "
                                           "An unreadable file gets an error record; the others go on.")
    predict.add_argument("run", type=Path, help="run folder")
    predict.add_argument("images", nargs="+", help="image files and/or folders")
    predict.add_argument("--out", type=Path, help="write records to this .json or .csv (default: print JSON)")
    predict.add_argument("--batch-size", type=int, default=32, help="images per batch (default 32)")
    predict.add_argument("--tta", action="store_true", help="average over the 8 flips / 90-degree turns")
    predict.set_defaults(handler=run_predict)

    explain = verbs.add_parser("explain", help="Grad-CAM heatmaps for images",
                               description="Draw where in each image the predicted (or --class) class comes from.")
    explain.add_argument("run", type=Path, help="run folder")
    explain.add_argument("images", nargs="+", help="image files and/or folders")
    explain.add_argument("--out", type=Path, default=Path("runs/gradcam"), help="folder for PNGs (default runs/gradcam)")
    explain.add_argument("--class", dest="class_name", help="explain this class instead of the predicted one")
    explain.set_defaults(handler=run_explain)



@one_line_errors
def run_train(args) -> int:
    from .config import make_config
    from .train import train

    config = make_config(args.preset, data=args.data, split=args.split, fold=args.fold, folds=args.folds,
                         seed=args.seed, valid_fraction=args.valid_fraction, model=args.model, weights=args.weights,
                         image_size=args.image_size, batch_size=args.batch_size, head_epochs=args.head_epochs,
                         finetune_epochs=args.finetune_epochs, out=args.out, name=args.name)
    run = train(config, progress=not args.quiet)
    metrics = json.loads((run / "metrics.json").read_text())
    print(f"run folder: {run}\ntest accuracy {metrics['accuracy']:.2%} ({metrics['correct']}/{metrics['n']})")
    return 0


@one_line_errors
def run_evaluate(args) -> int:
    from .evaluate import evaluate

    metrics = evaluate(args.run, args.side, data=args.data, progress=True, tta=args.tta)
    print(f"{args.side} accuracy {metrics['accuracy']:.2%} ({metrics['correct']}/{metrics['n']})")
    for name, row in metrics["per_class"].items():
        print(f"  {name:<16} precision {row['precision']:.3f}  recall {row['recall']:.3f}  f1 {row['f1']:.3f}")
    for mistake in metrics["mistakes"]:
        print(f"  mistake: {mistake['path']}: predicted {mistake['predicted']}, true {mistake['true']}")
    return 0


def _records_out(records, out: Path | None) -> None:
    import pandas as pd

    if out is None:
        print(json.dumps(records, indent=2))
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".csv":
        flat = [{k: v for k, v in r.items() if k != "probabilities"} | {f"p_{c}": p for c, p in
                                                                        r.get("probabilities", {}).items()} for r in records]
        pd.DataFrame(flat).to_csv(out, index=False)
    else:
        out.write_text(json.dumps(records, indent=2) + "\n")
    print(f"wrote {len(records)} records to {out}")


@one_line_errors
def run_predict(args) -> int:
    import sys

    from .predict import load

    records = load(args.run).predict(args.images, batch_size=args.batch_size, tta=args.tta)
    for record in records:
        if "error" in record:
            print(f"defectlab: skipped {record['error']}", file=sys.stderr)
    _records_out(records, args.out)
    return 1 if all("error" in r for r in records) else 0


@one_line_errors
def run_explain(args) -> int:
    import sys

    from shared.errors import DataError
    from shared.images import expand_image_inputs

    from .gradcam import gradcam, overlay_png
    from .predict import load

    predictor = load(args.run)
    for item in expand_image_inputs(args.images):
        try:
            result = gradcam(predictor, item, args.class_name)
        except DataError as error:
            print(f"defectlab: skipped {error}", file=sys.stderr)
            continue
        path = overlay_png(result, args.out / f"{Path(item).stem}_gradcam.png")
        print(f"{item}: {result['class']} ({result['confidence']:.1%}) -> {path}")
    return 0
