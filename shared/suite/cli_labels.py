"""`defectlab labels`: grow a dataset. export: a model's answers as pre-annotations for a labelling tool;
import: the corrected labels back into a VOC dataset; suggest: the unlabelled pictures most worth labelling."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..datasets.labeltools import FORMATS, HELP
from .errors import DataError
from .pool import FEATURES

FORMATS_HELP = "formats:\n" + "\n".join(f"  {name:<13} {text}" for name, text in HELP.items())
LOOP = """the loop (docs/labels.md):
  defectlab inspect pool/ --out runs/pool                          every model's answer for each picture
  defectlab labels suggest pool/ --results runs/pool --budget 24 --out runs/next   the pictures to label first
  defectlab labels export runs/next --to label-studio --out runs/to-label          their answers, to correct
  ... correct them in the tool, export its JSON ...
  defectlab labels import export.json --from label-studio --into data/grown        into a VOC dataset, checked
"""


def _classes(text: str | None) -> list[str] | None:
    return [c.strip() for c in text.split(",") if c.strip()] if text else None


def register(tasks, common) -> None:
    fmt = argparse.RawDescriptionHelpFormatter
    labels = tasks.add_parser("labels", help="pre-annotations out to a labelling tool, corrected labels back in, "
                                             "and the pictures most worth labelling first", formatter_class=fmt,
                              description="Grow a dataset with a labelling tool (Label Studio, CVAT, or any tool "
                                          "that reads COCO, YOLO or Pascal VOC).", epilog=LOOP + "\n" + FORMATS_HELP)
    verbs = labels.add_subparsers(dest="verb", metavar="VERB", required=True)

    export = verbs.add_parser(
        "export", help="a model's classes and boxes as pre-annotations for a labelling tool", formatter_class=fmt,
        description="Write the class and boxes of each inspected picture as pre-annotations in a tool's format, "
                    "with the model's confidence where the format has a place for it. RESULTS is the output of "
                    "`defectlab inspect --out` or `defectlab TASK predict --out` (the folder or its predictions.json), "
                    "or a results database that `inspect --db` filled (a .db file or a URL). The pictures are "
                    "referenced where they lie, never changed; only YOLO places them (hard links, else copies) in "
                    "OUT/images/, where its format looks for them.",
        epilog="examples:\n  defectlab labels export runs/inspected --to label-studio --out runs/to-label\n"
               "  defectlab labels export results.db --to cvat --out runs/cvat --min-confidence 0.3\n\n" + FORMATS_HELP)
    export.add_argument("results", metavar="RESULTS", help="predictions.json, the folder holding it, or a database")
    export.add_argument("--to", required=True, choices=list(FORMATS), help="the labelling tool's format")
    export.add_argument("--out", required=True, type=Path, help="folder to write (new, or one it wrote, with --force)")
    export.add_argument("--classes", metavar="A,B,...", help="classes to declare first, in this order (default: the "
                                                              "classes the answers use, sorted)")
    export.add_argument("--min-confidence", type=float, default=0.0, help="leave out boxes below this (default 0)")
    export.add_argument("--force", action="store_true", help="replace OUT when defectlab wrote it")
    common(export)
    export.set_defaults(handler=run_export)

    into = verbs.add_parser(
        "import", help="corrected labels from a labelling tool into a VOC dataset, checked", formatter_class=fmt,
        description="Read a tool's labels (FOLDER: the export, a folder of them, or for YOLO its dataset folder) "
                    "and write each picture into DATASET as IMAGES/<picture id>.<suffix> + ANNOTATIONS/<id>.xml, "
                    "the NEU-DET layout every task reads. Picture ids are the data layer's (both NEU copies of a "
                    "picture keep one id, so twins stay on one side of every split). Boxes partly outside the "
                    "picture are clipped; a label file the dataset cannot take (malformed, a box wholly outside the "
                    "picture or without area, an unknown class) is refused with one line naming it and the rest "
                    "go on; repeats and conflicts are reported; nothing in DATASET is replaced without --force. The "
                    "written files are then read back with the checks of `defectlab data check`.",
        epilog="examples:\n  defectlab labels import project-1.json --from label-studio --into data/grown\n"
               "  defectlab labels import cvat-export/ --from cvat --into data/grown --images pool/\n"
               "  defectlab labels import runs/to-label --from yolo --into data/grown --classes crazing,patches\n\n"
               "exit status: 0 all taken, 1 some refused (the rest written), 2 nothing readable\n\n" + FORMATS_HELP)
    into.add_argument("folder", type=Path, metavar="FOLDER", help="the tool's export: a file or a folder")
    into.add_argument("--from", dest="source", required=True, choices=list(FORMATS), help="its format")
    into.add_argument("--into", dest="dataset", required=True, type=Path, help="VOC dataset folder (created if new)")
    into.add_argument("--images", type=Path, help="where the pictures lie, when the labels name them relative to "
                                                  "another place (tools often keep only the file name)")
    into.add_argument("--classes", metavar="A,B,...", help="classes allowed beside the dataset's own (a new dataset: "
                                                           "default those the label files declare)")
    into.add_argument("--predictions", action="store_true",
                      help="Label Studio: a task nobody annotated takes its pre-annotation as its labels")
    into.add_argument("--force", action="store_true", help="replace a dataset picture or labels of the same id")
    common(into)
    into.set_defaults(handler=run_import)

    suggest = verbs.add_parser(
        "suggest", help="rank unlabelled pictures: the models' doubt, novelty, diversity", formatter_class=fmt,
        description="Rank the pictures of POOL for labelling. Doubt: each model's uncertainty (1 - the margin "
                    "between its two most probable classes, or their entropy; 1 - its least sure box's confidence) "
                    "and novelty (a score over its threshold), each as its rank over the pool, averaged. Diversity: "
                    "of the 3 x budget most doubtful, k-center greedy on backbone features picks each next picture "
                    "farthest from the labelled and already chosen ones. Writes OUT/suggested.csv (rank, picture, "
                    "reason), OUT/contact_sheet.png and OUT/predictions.json (the chosen pictures' records, for "
                    "`labels export`).",
        epilog="examples:\n  defectlab labels suggest pool/ --budget 24 --runs TASK=RUN ... --out runs/next\n"
               "  defectlab labels suggest --results runs/pool --budget 24 --labelled data/grown --out runs/next\n"
               "  defectlab labels suggest pool/ --budget 12 --features none --results runs/pool   doubt only\n"
               "Without --runs or --results the default run of each task under --runs-root is used where it exists.")
    suggest.add_argument("pool", nargs="*", help="unlabelled pictures: files, folders or globs (default: the pictures "
                                                 "of --results)")
    suggest.add_argument("--budget", type=int, required=True, help="how many pictures to suggest")
    from .cli_inspect import add_run_options

    add_run_options(suggest, "use")
    suggest.add_argument("--results", help="an inspect output (predictions.json or its folder) instead of running "
                                           "the models")
    suggest.add_argument("--labelled", type=Path, help="a dataset labelled already: its pictures are the first "
                                                       "centres of the diversity step and never suggested again")
    suggest.add_argument("--features", default="lite0", choices=[*FEATURES, "none"],
                         help="backbone features for diversity: lite0 (ImageNet EfficientNet-Lite0, bundled) or none")
    suggest.add_argument("--uncertainty", default="margin", choices=["margin", "entropy"],
                         help="how class probabilities count (default margin)")
    suggest.add_argument("--shortlist", type=float, default=3.0, help="diversity picks among this many x budget of "
                                                                      "the most doubtful (default 3)")
    suggest.add_argument("--onnx", action="store_true", help="run the models with ONNX Runtime")
    suggest.add_argument("--out", type=Path, help="output folder (default: print the ranking)")
    suggest.add_argument("--force", action="store_true", help="replace OUT when defectlab wrote it")
    common(suggest)
    suggest.set_defaults(handler=run_suggest)


def run_export(args) -> int:
    from ..datasets import labeltools
    from ..datasets.images import probe_image
    from ..datasets.labeltools.common import common_root
    from .labels import results_pictures
    from .outputs import prepare_output

    pictures, errors = results_pictures(args.results, args.min_confidence)
    ready = []
    for picture in pictures:
        if not picture.width or not picture.height:
            probe = probe_image(picture.image)
            if probe.problem:
                print(f"defectlab: skipped {picture.image}: {probe.detail}", file=sys.stderr)
                continue
            picture.width, picture.height = probe.width, probe.height
        ready.append(picture)
    if not ready:
        raise DataError(args.results, "no picture with an answer to export")
    root = common_root(ready)
    out = prepare_output(args.out, f"labels-{args.to}", inputs=[root], force=args.force)
    files = labeltools.write(ready, out, args.to, _classes(args.classes))
    classed, boxes = sum(p.class_name is not None for p in ready), sum(len(p.boxes) for p in ready)
    where = "linked or copied into images/" if args.to == "yolo" else f"referenced under {root}"
    print(f"{len(ready)} pictures ({classed} with a class, {boxes} boxes) -> {args.to}: "
          + ", ".join(str(f) for f in files[:3]) + (f" and {len(files) - 3} more" if len(files) > 3 else "")
          + f"; pictures {where}" + (f"; {errors} unreadable records left out" if errors else ""))
    return 0


def run_import(args) -> int:
    from ..datasets import labeltools
    from ..datasets.labeltools.into import into_dataset

    found = labeltools.read(args.folder, args.source, args.images, args.predictions)
    if not found.pictures and found.problems:
        for line in found.problems:
            print(f"defectlab: refused {line}", file=sys.stderr)
        return 2
    done = into_dataset(found, args.dataset, _classes(args.classes), args.force)
    for line in done.refused:
        print(f"defectlab: refused {line}", file=sys.stderr)
    for line in found.skipped + done.notes:
        print(f"note: {line}")
    for line in done.findings:
        print(f"check: {line}")
    print(f"{len(done.written)} pictures written into {done.dataset}, {len(done.unchanged)} unchanged, "
          f"{len(done.refused)} refused, {len(found.skipped)} not labelled yet")
    return 1 if done.refused else 0


def run_suggest(args) -> int:
    from .pool import suggest

    return suggest(args)
