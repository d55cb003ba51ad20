"""Where the detector fails: its weakest classes (crazing and rolled-in scale on NEU-DET) beside the others, on the
test side of its split. For every class: what the true boxes look like (size, shape, how many a picture holds) and
what became of each true box under the predictions a user gets (confidence >= 0.25, the run's TTA choice):
  found       a box of its class with IoU >= 0.5
  loose       only boxes of its class with IoU 0.1-0.5: drawn, but split or merged differently from the annotation
  wrong class a box of another class with IoU >= 0.5 and none of its own
  missed      nothing of any class overlaps it by IoU >= 0.1
Writes results/detection_weak_classes.json and a picture of typical misses (true boxes white, predicted in colour).

  python scripts/benchmarks/detection/analyze_detection.py --data ../shared/data/NEU-DET \
      --run runs/gpu/lite2-unfrozen-t6min-320px-seed0-gpu5 --tta

The headline pair (two runs fused, detection predict's --fuse-with), on the bare picture:

  python scripts/benchmarks/detection/analyze_detection.py --data ../shared/data/NEU-DET --run runs/cpu/lite2-unfrozen-t6300s-320px-seed1 \
      --fuse-with runs/cpu/lite2-unfrozen-t6300s-320px-seed2-split1 --tta --border 0
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the project root: `scripts.benchmarks`, run as a file

from scripts.benchmarks import commands, results

WHY = ("the box fates and shapes are this script's analysis (`command`) of the boxes `defectlab detection predict` "
       "gives (its conf, border, tta, fuse_with and fusion options); defectlab has no verb for them")
WEAK = ("crazing", "rolled-in_scale")


BOX = ("xmin", "ymin", "xmax", "ymax")


def fates(truths: list[dict], predictions: list[dict]) -> list[str]:
    """The fate of each true box (module docstring), from its IoU with the boxes of its class and of the others."""
    import torch
    from ultralytics.utils.metrics import box_iou

    if not truths:
        return []
    overlap = box_iou(torch.tensor([[t[k] for k in BOX] for t in truths], dtype=torch.float32),
                      torch.tensor([[p[k] for k in BOX] for p in predictions], dtype=torch.float32).reshape(-1, 4))
    out = []
    for truth, row in zip(truths, overlap.numpy()):
        same = np.array([p["class"] == truth["name"] for p in predictions], bool)
        own, other = row[same].max(initial=0.0), row[~same].max(initial=0.0)
        out.append("found" if own >= 0.5 else "wrong class" if other >= 0.5 else "loose" if own >= 0.1
                   else "missed" if other < 0.1 else "wrong class")
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--run", type=Path, required=True, help="detection run folder")
    parser.add_argument("--tta", action="store_true", help="ultralytics TTA (as the headline variant)")
    parser.add_argument("--conf", type=float, default=0.25)
    parser.add_argument("--border", type=float, default=0.5, help="grey frame in strides (0: the bare picture)")
    parser.add_argument("--fuse-with", default="", help="other run folders, comma-separated, fused with --run")
    parser.add_argument("--fusion", default="wbf-max", help="how the runs' boxes merge (detection predict --fusion)")
    parser.add_argument("--out", type=Path, default=results.RESULTS / "detection_weak_classes.json")
    args = parser.parse_args(argv)
    from shared.suite import console

    console.setup()
    from PIL import Image

    from detection import task
    from detection.plots import draw_boxes
    from shared.datasets.boxes import clean_boxes
    from shared.datasets.images import load_image
    from shared.datasets.index import read_dataset
    from shared.datasets.splits import make_split
    from shared.suite.provenance import script_command

    run = task.load(args.run)
    index, _ = read_dataset(args.data, progress=False)
    r = run.recipe
    split = make_split(index, r.split, folds=r.folds, fold=r.fold, seed=r.data_seed(), valid_fraction=r.valid_fraction)
    test = index[split == "test"]
    images = [load_image(p) for p in test["path"]]
    predictor = run.predictor(conf=args.conf, border=args.border, tta=args.tta, fuse_with=args.fuse_with,
                              fusion=args.fusion)  # the boxes a user gets from `detection predict`
    stats, misses = {}, []
    for row, record in zip(test.itertuples(), predictor.predict(images, progress=True)):
        predictions = record["boxes"]
        truths, _ = clean_boxes(row.boxes, row.width, row.height)
        found = fates(truths, predictions)
        misses.append((sum(f != "found" for f, t in zip(found, truths) if t["name"] in WEAK), row, predictions))
        for t, f in zip(truths, found):
            s = stats.setdefault(t["name"], {"boxes": 0, "fates": {}, "width": [], "height": [], "pictures": set()})
            s["boxes"] += 1
            s["fates"][f] = s["fates"].get(f, 0) + 1
            s["width"].append((t["xmax"] - t["xmin"]) / row.width)
            s["height"].append((t["ymax"] - t["ymin"]) / row.height)
            s["pictures"].add(row.picture_id)
    per_class = {}
    for name, s in sorted(stats.items()):
        w, h = np.array(s["width"]), np.array(s["height"])
        per_class[name] = {
            "true_boxes": s["boxes"], "boxes_per_picture": round(s["boxes"] / len(s["pictures"]), 2),
            "median_width": round(float(np.median(w)), 3), "median_height": round(float(np.median(h)), 3),
            "share_spanning_half_the_picture": round(float(np.mean((w > 0.5) | (h > 0.5))), 3),
            "median_elongation": round(float(np.median(np.maximum(w, h) / np.maximum(np.minimum(w, h), 1e-6))), 2),
            "fates": {k: round(v / s["boxes"], 3) for k, v in sorted(s["fates"].items())},
        }
        print(name, per_class[name])
    misses.sort(key=lambda m: -m[0])
    chosen = [m for m in misses if m[1].class_name == "crazing"][:4] + \
             [m for m in misses if m[1].class_name == "rolled-in_scale"][:4]
    size = 300
    canvas = Image.new("RGB", (4 * size, 2 * size), "white")
    for k, (_, row, predictions) in enumerate(chosen):
        tile = draw_boxes(load_image(row.path, 3), predictions, list(row.boxes), run.classes)
        canvas.paste(tile.resize((size, size)), ((k % 4) * size, (k // 4) * size))
    picture = args.out.with_suffix(".png")
    payload = {"run": str(args.run), "fuse_with": args.fuse_with, "fusion": args.fusion if args.fuse_with else None,
               "border": args.border, "tta": args.tta, "confidence": args.conf, "per_class": per_class,
               "picture": picture.name, "picture_rows": "top: crazing, bottom: rolled-in scale; the test pictures "
               "of the class with the most true boxes not found; true boxes white, predicted in colour",
               "defectlab": [commands.train_line("detection", task.load(path).recipe.to_dict())
                             for path in [args.run, *filter(None, args.fuse_with.split(","))]], "why": WHY}
    path = results.write(args.out, payload, split=f"{r.split_name()} (test side)", index=index,
                         command=script_command(__file__, argv))
    print(f"wrote {path}")
    canvas.save(picture)  # after the JSON, whose commit would read -dirty from a tracked picture just rewritten
    return 0


if __name__ == "__main__":
    sys.exit(main())
