"""`defectlab data ...`: synthesize, check, split and export datasets."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..datasets.exports import FOLDERS, TARGETS, YOLO
from ..datasets.splits import SPLIT_NAMES
from ..datasets.synthetic import MIN_SIDE
from .errors import DataError

SPLIT_HELP = """split names (all deterministic; twins and both NEU copies of a picture stay on one side):
  kaggle-cls  per class: first 12 NEU-CLS names (lexicographic) test, next 12 valid, rest train (NEU 1656/72/72)
  kaggle-det  per class: first 80%% of pictures by number train, rest test (NEU 1-240 / 241-300 = 1440/360)
  kfold       seeded stratified group k-fold: --fold is test, the other folds train
  holdout     seeded stratified group hold-out of --test-fraction
  source      the split the files came with (split folders, or NEU-DET's source_split.csv)
--valid-fraction carves a validation part out of train (stratified, seeded) for model selection when the
split has none of its own."""


def add_split_options(parser: argparse.ArgumentParser, default: str | None = None) -> None:
    group = parser.add_argument_group("split")
    group.add_argument("--split", default=default, required=default is None,
                       choices=SPLIT_NAMES, help="split name (see below)")
    group.add_argument("--folds", type=int, default=5, help="number of folds for kfold (default 5)")
    group.add_argument("--fold", type=int, default=0, help="which fold is test for kfold (default 0)")
    group.add_argument("--seed", type=int, default=0, help="seed for kfold / holdout / valid carving (default 0)")
    group.add_argument("--test-fraction", type=float, default=0.2, help="test share for holdout (default 0.2)")
    group.add_argument("--valid-fraction", type=float, default=0.0,
                       help="share of train moved to valid when the split has no valid part, e.g. 0.1 (default 0)")


def split_from_args(index, args):
    from ..datasets.splits import make_split

    return make_split(index, args.split, folds=args.folds, fold=args.fold, seed=args.seed,
                      test_fraction=args.test_fraction, valid_fraction=args.valid_fraction)


def register(tasks, common) -> None:
    data = tasks.add_parser("data", help="synthesize, check, split and export datasets",
                            description="Work with datasets on disk: the NEU data layer every task shares.")
    verbs = data.add_subparsers(dest="verb", metavar="VERB", required=True)
    fmt = argparse.RawDescriptionHelpFormatter

    synth = verbs.add_parser("synth", help="write seeded synthetic NEU-like data", formatter_class=fmt,
                             description="Draw six defect kinds on steel-like textures, with boxes, in NEU's "
                                         "on-disk layouts: OUT/NEU-DET (VOC) and OUT/NEU-Metal-Surface-Defects.",
                             epilog="example:\n  defectlab data synth runs/synthetic --per-class 60 --seed 0")
    synth.add_argument("out", type=Path, help="folder to write (must be empty or absent)")
    synth.add_argument("--per-class", type=int, default=60, help="pictures per class (default 60, min 25)")
    synth.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    synth.add_argument("--size", type=side_of, default=200,
                       help=f"square image size in pixels (default 200, at least {MIN_SIDE})")
    synth.add_argument("--shape", type=shape_of, metavar="WxH",
                       help="non-square pictures instead, e.g. 320x120: each cut from the square of its longer "
                            "side around its largest defect, the boxes clipped to it")
    synth.add_argument("--layout", nargs="+", default=["neu-det", "neu-cls"], choices=["neu-det", "neu-cls", "folders"],
                       help="layouts to write (default: neu-det neu-cls)")
    synth.add_argument("--force", action="store_true", help="replace OUT if defectlab wrote it before")
    common(synth)
    synth.set_defaults(handler=run_synth)

    check = verbs.add_parser("check", help="validate a dataset and report every quirk, counted", formatter_class=fmt,
                             description="Read a dataset, validate every image and annotation, and report counts "
                                         "of each kind of finding (text; JSON with --json). Never modifies the data.",
                             epilog="example:\n  defectlab data check ../shared/data --json runs/check.json")
    check.add_argument("path", type=Path, help="dataset folder (layout detected automatically)")
    check.add_argument("--json", type=Path, metavar="FILE", help="also write the full report as JSON to FILE")
    check.add_argument("--examples", type=int, default=5, help="example lines shown per finding kind (default 5)")
    check.add_argument("--strict", action="store_true", help="exit 1 when any error-level finding exists")
    common(check)
    check.set_defaults(handler=run_check)

    split = verbs.add_parser("split", help="assign every picture to train / valid / test", formatter_class=fmt,
                             description="Apply a named split and print its sizes; --out writes one row per image.",
                             epilog=SPLIT_HELP + "\n\nexample:\n  defectlab data split ../shared/data --split kfold "
                                                 "--fold 2 --out runs/fold2.csv")
    split.add_argument("path", type=Path, help="dataset folder")
    add_split_options(split)
    split.add_argument("--out", type=Path, metavar="CSV", help="write image_id, picture_id, class, path, split")
    common(split)
    split.set_defaults(handler=run_split)

    export = verbs.add_parser("export", help="export a split for YOLO, anomalib or numpy", formatter_class=fmt,
                              description="Write a task view of a dataset and split. Copies files; the source is "
                                          "never touched.",
                              epilog="targets:\n" + "".join(f"  {name:<8} {text}\n" for name, text in TARGETS.items())
                                     + "\n" + SPLIT_HELP + "\n\nexample:\n  defectlab data export ../shared/data "
                                                            "--to yolo --split kaggle-det --out runs/yolo-data")
    export.add_argument("path", type=Path, help="dataset folder")
    export.add_argument("--to", required=True, choices=list(TARGETS), help="export target")
    export.add_argument("--out", type=Path, required=True, help="folder to write")
    add_split_options(export)
    export.add_argument("--normal-classes", help=f"{FOLDERS}: comma-separated classes treated as normal")
    export.add_argument("--size", type=int, help="arrays: resize to SIZE x SIZE (needed when sizes differ)")
    export.add_argument("--force", action="store_true", help="replace OUT if defectlab wrote it before")
    common(export)
    export.set_defaults(handler=run_export)


def side_of(word: str) -> int:
    if not word.isdigit() or int(word) < MIN_SIDE:
        raise argparse.ArgumentTypeError(f"{word}: want a side of at least {MIN_SIDE} pixels (the defects are drawn "
                                         "in pixels)")
    return int(word)


def shape_of(word: str) -> tuple[int, int]:
    """'320x120' -> (320, 120): width x height in pixels."""
    try:
        width, height = (int(v) for v in word.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{word}: want WIDTHxHEIGHT in pixels, e.g. 320x120") from None
    if min(width, height) < 32 or max(width, height) < MIN_SIDE:
        raise argparse.ArgumentTypeError(f"{word}: want each side at least 32 pixels and the longer one at least "
                                         f"{MIN_SIDE} (the pictures are cut from a square of the longer side)")
    return width, height


def run_synth(args) -> int:
    from ..datasets.synthetic import synthesize
    from .outputs import prepare_output

    if args.per_class < 25 and "neu-cls" in args.layout:
        raise DataError(None, "--per-class must be at least 25 for the neu-cls layout (12 test + 12 valid per class)")
    out = prepare_output(args.out, "synthetic", force=args.force)
    synthesize(out, per_class=args.per_class, seed=args.seed, size=args.size, layouts=tuple(args.layout),
               shape=args.shape)
    pictures = f"{args.shape[0]} x {args.shape[1]}" if args.shape else f"{args.size} x {args.size}"
    print(f"wrote {args.per_class * 6} synthetic {pictures} pictures per layout ({', '.join(args.layout)}) to {out}")
    return 0


def run_check(args) -> int:
    from ..datasets.index import read_dataset

    index, report = read_dataset(args.path)
    print(report.to_text(args.examples))
    if args.json:
        from .provenance import data_fingerprint

        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(report.to_json(data_fingerprint=data_fingerprint(index)) + "\n")
        print(f"report written to {args.json}")
    return 1 if args.strict and report.n_errors else 0


def run_split(args) -> int:
    from ..datasets.index import read_dataset
    from ..datasets.splits import leaking_groups, split_sizes

    index, _ = read_dataset(args.path)
    split = split_from_args(index, args)
    print(f"{args.split}: " + ", ".join(f"{side} {n}" for side, n in split_sizes(split, index).items())
          + " pictures")
    leaks = leaking_groups(index, split)
    print("twins on both sides: " + (", ".join(leaks) if leaks else "none"))
    if args.out:
        table = index[["image_id", "picture_id", "class_name", "path"]].assign(split=split)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(args.out, index=False)
        print(f"wrote {len(table)} rows to {args.out}")
    return 0


def run_export(args) -> int:
    from ..datasets.index import read_dataset
    from .outputs import prepare_output

    index, _ = read_dataset(args.path)
    split = split_from_args(index, args)
    out = prepare_output(args.out, f"export-{args.to}", inputs=[args.path], force=args.force)
    if args.to == YOLO:
        from ..datasets.export_yolo import to_yolo_dataset

        result = to_yolo_dataset(index, split, out, val_side="valid" if (split == "valid").any() else "test")
        print(f"YOLO dataset: {result.data_yaml}; images {result.images}; {result.boxes} boxes; "
              f"changes {dict(result.changes) or 'none'}")
    elif args.to == FOLDERS:
        from ..datasets.export_anomaly import to_anomaly_folders

        if not args.normal_classes:
            raise DataError(None, f"--to {FOLDERS} needs --normal-classes, e.g. --normal-classes crazing,inclusion")
        result = to_anomaly_folders(index, split, out, [c.strip() for c in args.normal_classes.split(",")])
        print(f"{FOLDERS} folders in {result.root}: normal train {result.normal_train}, normal test "
              f"{result.normal_test}, abnormal {result.abnormal}, masks {result.masks}")
    else:
        import numpy as np

        from ..datasets.export_arrays import to_arrays

        arrays = to_arrays(index, split, size=args.size, progress=True)
        payload = {"classes": np.array(arrays["classes"])}
        for side in ("train", "valid", "test"):
            if side in arrays:
                payload[f"x_{side}"], payload[f"y_{side}"], payload[f"ids_{side}"], _ = arrays[side]
        np.savez_compressed(out / "arrays.npz", **payload)
        print(f"arrays: {out / 'arrays.npz'}; " + ", ".join(f"{s} {arrays[s][0].shape}" for s in
                                                              ("train", "valid", "test") if s in arrays))
    (out / "export.json").write_text(json.dumps({"source": str(Path(args.path).resolve()), "to": args.to,
                                                 "split": args.split}, indent=2) + "\n")
    return 0
