"""How the anomaly model should square a non-square picture, chosen on validation pictures, per level.

NEU-DET, kaggle-det, training side only (no test picture is read). Per class, 30 pictures held out (seeded) as
queries, 100 others fitted. Leave one class out: for each class in turn, the default texture-knn model is fitted on
the other five classes' fit pictures; the queries of those five are normal, the held-out class's abnormal, their
boxes the masks. Each query is cut to a wide (200 x 120) and a tall (120 x 200) crop; an abnormal crop is placed
around its largest box's centre (kept only where a box remains in it), a normal one at a seeded offset. The square
originals are measured too (every handling gives them the same input).

Candidates, each at the model's 224-px square input:
- letterbox: the longer side scaled to 224, the rest filled by mirroring (the suite's handling so far);
- resize: stretched to 224 x 224;
- tile: the shorter side scaled to 224, square tiles along the longer one (overlapping evenly), image score the
  largest tile's, map the tiles' maps averaged where they overlap.
Every map is brought back to the crop's own pixels (the fill left out) and judged against its mask.

Rule, fixed before the run: image level, the highest mean image AUROC over the six held-out classes (wide and tall
crops pooled); map level, the highest mean of (pixel AUROC + PRO) / 2. Ties within 0.005 keep letterbox.

  python scripts/benchmarks/anomaly/benchmark_aspect.py --data ../shared/data/NEU-DET
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the project root: `scripts.benchmarks`, run as a file

from scripts.benchmarks import results

HANDLINGS = ("letterbox", "resize", "tile")
SHAPES = {"wide": (200, 120), "tall": (120, 200)}  # (width, height) of the crops
QUERIES, FIT = 30, 100  # per class
SIZE = 224
TIE = 0.005
WHY = ("the crops, the handlings and the choice are this script's (`command`): no defectlab command cuts pictures; "
       "the models are the texture-knn preset fitted in-process")


def crop_box(row, width: int, height: int, rng, abnormal: bool) -> tuple[int, int] | None:
    """(left, top) of a width x height crop of the picture: around the largest box's centre (abnormal; None when
    no box would remain in it), else at a seeded offset."""
    W, H = int(row.width), int(row.height)
    if not abnormal:
        return int(rng.integers(0, W - width + 1)), int(rng.integers(0, H - height + 1))
    boxes = [b for b in row.boxes if b["xmax"] > b["xmin"] and b["ymax"] > b["ymin"]]
    if not boxes:
        return None
    big = max(boxes, key=lambda b: (b["xmax"] - b["xmin"]) * (b["ymax"] - b["ymin"]))
    cx, cy = (big["xmin"] + big["xmax"]) / 2, (big["ymin"] + big["ymax"]) / 2
    left = int(np.clip(round(cx - width / 2), 0, W - width))
    top = int(np.clip(round(cy - height / 2), 0, H - height))
    return left, top


def squares(image: np.ndarray, handling: str) -> tuple[list[np.ndarray], callable]:
    """The square inputs of a picture and the function taking their maps back to the picture's pixels."""
    from PIL import Image

    from shared.datasets.images import from_letterbox, to_square

    h, w = image.shape[:2]
    if handling != "tile":  # one square; the map back over the picture's own pixels
        square, placement = to_square(image, SIZE, handling)
        return [square], lambda maps: from_letterbox(maps[0], placement)
    from anomaly.aspect import tiles

    cut, (nw, nh), starts = tiles(image, SIZE)

    def back(maps):
        total, seen = np.zeros((nh, nw), np.float32), np.zeros((nh, nw), np.float32)
        for s, m in zip(starts, maps):
            where = np.s_[:, s:s + SIZE] if nw >= nh else np.s_[s:s + SIZE]
            total[where] += m
            seen[where] += 1
        return np.asarray(Image.fromarray(total / seen, mode="F").resize((w, h), Image.BILINEAR))

    return cut, back


def judge(model, queries: list[dict], handling: str) -> dict:
    """Image scores and maps of the query crops under one handling, scored against labels and masks."""
    from sklearn.metrics import roc_auc_score

    from anomaly import models
    from anomaly.metrics import box_hits, pro

    inputs, owners, backs = [], [], []
    for k, q in enumerate(queries):
        tiles, back = squares(q["image"], handling)
        inputs += tiles
        owners += [k] * len(tiles)
        backs.append(back)
    owners = np.array(owners)
    scores, maps = [], []
    for start in range(0, len(inputs), 32):
        s, m = models.score(model, [np.stack(inputs[start:start + 32])])
        scores.append(s)
        maps.append(m)
    scores, maps = np.concatenate(scores), np.concatenate(maps)
    image_scores = np.array([scores[owners == k].max() for k in range(len(queries))])
    labels = np.array([q["label"] for q in queries])
    out = {"image_auroc": float(roc_auc_score(labels, image_scores))}
    pixels, truths, hits, per_shape = [], [], [], {}
    for k, q in enumerate(queries):
        heat = backs[k](maps[owners == k])
        pixels.append(heat.ravel())
        truths.append((q["mask"] & (q["label"] == 1)).ravel())
        if q["label"] == 1:
            hits.append(bool(box_hits(heat[None], q["mask"][None])[0]))
        per_shape.setdefault(q["shape"], []).append((heat, q["mask"] & (q["label"] == 1)))
    out["pixel_auroc"] = float(roc_auc_score(np.concatenate(truths), np.concatenate(pixels)))
    # PRO on maps of one size at a time (anomalib stacks them), then weighted by the pictures of each shape
    pros = {shape: pro(np.stack([h for h, _ in v]), np.stack([m for _, m in v])) for shape, v in per_shape.items()}
    counts = {shape: len(v) for shape, v in per_shape.items()}
    out["pro"] = float(sum(pros[s] * counts[s] for s in pros) / sum(counts.values()))
    out["pro_by_shape"] = pros
    out["box_hit_rate"] = float(np.mean(hits)) if hits else None
    out["map_level"] = (out["pixel_auroc"] + out["pro"]) / 2
    return out


def measure(data: Path, seed: int = 0, classes=None) -> dict:
    from anomaly import models
    from anomaly.recipe import AnomalyRecipe
    from shared.datasets.export_anomaly import box_mask
    from shared.datasets.images import load_image
    from shared.datasets.index import read_dataset
    from shared.datasets.splits import make_split

    index, _ = read_dataset(data, progress=False)
    rows = index.assign(side=make_split(index, "kaggle-det"))
    rows = rows[(rows.source == "voc") & (rows.side == "train")].sort_values("picture_id").reset_index(drop=True)
    rng = np.random.default_rng(seed)
    names = sorted(rows.class_name.unique())
    query_rows, fit_rows = {}, {}
    for c in names:
        picked = rng.permutation(np.flatnonzero(rows.class_name.to_numpy() == c))
        query_rows[c], fit_rows[c] = picked[:QUERIES], picked[QUERIES:QUERIES + FIT]
    recipe = AnomalyRecipe.from_preset("texture-knn")
    per_class, started = {}, time.perf_counter()
    for held_out in classes or names:
        model = models.create_model(recipe)
        fit = np.concatenate([fit_rows[c] for c in names if c != held_out])
        images = np.stack([load_image(rows.path[i], 3, SIZE) for i in fit])
        models.fit(model, (images[s:s + 32] for s in range(0, len(images), 32)))
        queries = []
        for c in names:
            for i in query_rows[c]:
                row, abnormal = rows.iloc[i], c == held_out
                image = load_image(row.path, 3)
                mask = np.asarray(box_mask(row.boxes if abnormal else [], int(row.width), int(row.height))) > 127
                queries.append({"image": image, "mask": mask, "label": int(abnormal), "shape": "square"})
                for shape, (w, h) in SHAPES.items():
                    at = crop_box(row, w, h, rng, abnormal)
                    if at is None:
                        continue
                    left, top = at
                    cut = {"image": image[top:top + h, left:left + w], "mask": mask[top:top + h, left:left + w],
                           "label": int(abnormal), "shape": shape}
                    if abnormal and not cut["mask"].any():
                        continue
                    queries.append(cut)
        crops = [q for q in queries if q["shape"] != "square"]
        square = [q for q in queries if q["shape"] == "square"]
        per_class[held_out] = {"crops": {h: judge(model, crops, h) for h in HANDLINGS},
                               "square": judge(model, square, "letterbox"),
                               "queries": {"crops": len(crops), "abnormal_crops": sum(q["label"] for q in crops),
                                           "square": len(square)}}
        shown = ", ".join(f"{h} {v['image_auroc']:.3f}/{v['pixel_auroc']:.3f}/{v['pro']:.3f}"
                          for h, v in per_class[held_out]["crops"].items())
        print(f"[aspect] {held_out} (image AUROC / pixel AUROC / PRO on crops): {shown}; square "
              f"{per_class[held_out]['square']['image_auroc']:.3f}/{per_class[held_out]['square']['pixel_auroc']:.3f}"
              f"/{per_class[held_out]['square']['pro']:.3f} ({time.perf_counter() - started:.0f} s)", flush=True)
    metrics = ("image_auroc", "pixel_auroc", "pro", "box_hit_rate", "map_level")
    mean = {h: {m: statistics.mean(v["crops"][h][m] for v in per_class.values()) for m in metrics}
            for h in HANDLINGS}
    mean["square"] = {m: statistics.mean(v["square"][m] for v in per_class.values()) for m in metrics}

    def best(metric):
        top = max(HANDLINGS, key=lambda h: mean[h][metric])
        return "letterbox" if mean[top][metric] - mean["letterbox"][metric] < TIE else top

    chosen = {"image": best("image_auroc"), "map": best("map_level")}
    print(f"[aspect] chosen on validation: image level {chosen['image']}, map level {chosen['map']}", flush=True)
    return {"chosen": chosen, "mean": mean, "per_class": per_class,
            "rule": "image level: highest mean image AUROC on the crops; map level: highest mean (pixel AUROC + PRO)"
                    f" / 2; within {TIE} of letterbox keeps letterbox",
            "queries": f"{QUERIES} per class held out of the kaggle-det training side, {FIT} per class fitted "
                       "(seeded); crops wide 200x120 and tall 120x200",
            "model": f"texture-knn preset at {SIZE} px (the default model)", "seconds": time.perf_counter() - started,
            "defectlab": None, "why": WHY}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=results.ROOT.parent / "shared" / "data" / "NEU-DET")
    parser.add_argument("--classes", nargs="+", help="held-out classes (default all six; a part, for a look)")
    parser.add_argument("--out", type=Path, default=results.RESULTS / "anomaly_aspect.json")
    args = parser.parse_args(argv)
    from shared.datasets.index import read_dataset
    from shared.suite import console
    from shared.suite.provenance import script_command

    console.setup()
    result = measure(args.data, classes=args.classes)
    index, _ = read_dataset(args.data, progress=False)
    path = results.write(args.out, result, split="kaggle-det training side only (validation queries)", index=index,
                         command=script_command(__file__, argv))
    print(f"[aspect] wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
