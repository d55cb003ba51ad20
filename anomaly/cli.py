"""`defectlab anomaly ...`: parses arguments and calls the package's verbs (torch and anomalib load lazily)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from shared.errors import one_line_errors

EPILOG = """examples:
  defectlab data export ../shared/data --to anomaly --split kaggle-det --normal-classes crazing,inclusion --out runs/ad-data
  defectlab anomaly train --data runs/ad-data                         texture-statistics kNN, ImageNet Lite0
  defectlab anomaly train --data runs/ad-data --preset patchcore      anomalib PatchCore (slow coreset on a CPU)
  defectlab anomaly train --data runs/ad-data --preset padim --weights random
  defectlab anomaly protocol --data ../shared/data --protocol loco    leave-one-class-out on NEU, per class + mean
  defectlab anomaly predict RUN images/ --out runs/ad-pred            scores, is_anomalous, heatmap overlays

dataset layout (any images; all resized to --image-size): normal/train/ (fit), normal/test/ and abnormal/
(scored), masks/ (optional pixel masks named like their abnormal image). The threshold is the
--threshold-quantile of scores on 10% of normal/train held out from fitting, stored with the model.
presets: texture-knn (default), patchcore, padim, dfm, smoke (patchcore, seconds)."""


def register(tasks) -> None:
    fmt = argparse.RawDescriptionHelpFormatter
    parser = tasks.add_parser("anomaly", help="flag novel defect patterns no model was trained on (anomalib)",
                              description="Fit anomaly detectors on normal pictures and score new ones.",
                              epilog=EPILOG, formatter_class=fmt)
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", required=True)

    def model_options(p):
        p.add_argument("--preset", default="texture-knn", help="texture-knn | patchcore | padim | dfm | smoke (default texture-knn)")
        p.add_argument("--weights", choices=["imagenet", "random"], help="backbone initialisation (default imagenet)")
        p.add_argument("--image-size", type=int, help="resize every image to this square size (default 224)")
        p.add_argument("--seed", type=int, help="seed (default 0)")
        p.add_argument("--threshold-quantile", type=float, help="quantile of normal validation scores (default 0.95)")

    train = verbs.add_parser("train", help="fit on a normal/abnormal folder dataset -> run folder",
                             epilog=EPILOG, formatter_class=fmt)
    train.add_argument("--data", required=True, help="anomaly folder dataset (see layout below)")
    model_options(train)
    train.add_argument("--out", default="runs/anomaly", help="parent of run folders (default runs/anomaly)")
    train.add_argument("--name", help="run folder name")
    train.set_defaults(handler=run_train)

    protocol = verbs.add_parser("protocol", help="NEU leave-one-class-out or one-class, one model per class",
                                epilog=EPILOG, formatter_class=fmt)
    protocol.add_argument("--data", required=True, help="NEU dataset folder (e.g. ../shared/data)")
    protocol.add_argument("--protocol", choices=["loco", "one-class"], default="loco", help="protocol (default loco)")
    protocol.add_argument("--classes", nargs="+", help="only these classes (default all)")
    model_options(protocol)
    protocol.add_argument("--out", default="runs/anomaly-protocols", help="output folder")
    protocol.set_defaults(handler=run_protocol)

    evaluate = verbs.add_parser("evaluate", help="image AUROC, F1 at threshold, pixel metrics with masks")
    evaluate.add_argument("run", type=Path, help="run folder")
    evaluate.set_defaults(handler=run_evaluate)

    predict = verbs.add_parser("predict", help="score images -> predictions.json + heatmap overlays")
    predict.add_argument("run", type=Path, help="run folder")
    predict.add_argument("images", nargs="+", help="image files and/or folders")
    predict.add_argument("--out", type=Path, default=Path("runs/anomaly-predictions"), help="output folder")
    predict.set_defaults(handler=run_predict)


def _config(args, **extra):
    from .config import make_config

    return make_config(args.preset, weights=args.weights, image_size=args.image_size, seed=args.seed,
                       threshold_quantile=args.threshold_quantile, **extra)



@one_line_errors
def run_train(args) -> int:
    from .train import train

    run = train(_config(args, data=args.data, out=args.out, name=args.name))
    metrics = json.loads((run / "metrics.json").read_text())
    print(f"run folder: {run}\nimage AUROC {metrics['image_auroc']:.3f}, F1 at threshold {metrics['f1_at_threshold']:.3f}")
    return 0


@one_line_errors
def run_protocol(args) -> int:
    from .protocols import run_protocol as protocol

    result = protocol(args.data, args.protocol, _config(args), args.out, classes=args.classes, progress=True)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / f"{args.protocol}.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"{args.protocol}: mean image AUROC {result['mean_auroc']:.3f}")
    return 0


@one_line_errors
def run_evaluate(args) -> int:
    from .evaluate import evaluate

    metrics = evaluate(args.run)
    print(f"image AUROC {metrics['image_auroc']:.3f}, F1 at threshold {metrics['f1_at_threshold']:.3f}"
          + (f", pixel AUROC {metrics['pixel_auroc']:.3f}" if "pixel_auroc" in metrics else ""))
    return 0


@one_line_errors
def run_predict(args) -> int:
    from .predict import load

    records = load(args.run).predict(args.images, heatmap_dir=args.out / "heatmaps")
    for record in records:
        if "error" in record:
            print(f"defectlab: skipped {record['error']}", file=sys.stderr)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "predictions.json").write_text(json.dumps(records, indent=2) + "\n")
    flagged = sum(r.get("is_anomalous", False) for r in records)
    print(f"{flagged} of {len(records)} images anomalous -> {args.out / 'predictions.json'}, {args.out / 'heatmaps'}/")
    return 1 if all("error" in r for r in records) else 0
