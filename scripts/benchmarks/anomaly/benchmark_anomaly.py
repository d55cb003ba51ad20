"""Anomaly benchmark on the real NEU data (split kaggle-det: 240 train / 60 test pictures per class).
Parts (each writes scripts/benchmarks/results/anomaly_parts/<part>.json with command, commit, split,
data fingerprint, versions and hardware, and the `defectlab` commands that give its numbers where there are such);
--merge writes scripts/benchmarks/results/anomaly.json.

  python scripts/benchmarks/anomaly/benchmark_anomaly.py --data ../shared/data --part library --preset padim --weights imagenet
  python scripts/benchmarks/anomaly/benchmark_anomaly.py --data ../shared/data --part library --preset padim --weights random
  python scripts/benchmarks/anomaly/benchmark_anomaly.py --data ../shared/data --part library --preset patchcore --weights imagenet
  python scripts/benchmarks/anomaly/benchmark_anomaly.py --data ../shared/data --part classifier --ensemble-with padim-imagenet
  python scripts/benchmarks/anomaly/benchmark_anomaly.py --data ../shared/data --part texture-selection --image-size 224
  python scripts/benchmarks/anomaly/benchmark_anomaly.py --data ../shared/data --part map-selection --image-size 224
  python scripts/benchmarks/anomaly/benchmark_anomaly.py --data ../shared/data --part map-selection --image-size 224 --candidates p234-zero-pad p234-zero-pad-raw
  python scripts/benchmarks/anomaly/benchmark_anomaly.py --data ../shared/data --part map-selection --image-size 224 --contrast
  python scripts/benchmarks/anomaly/benchmark_anomaly.py --data ../shared/data --part map-selection --image-size 224 --resolution
  python scripts/benchmarks/anomaly/benchmark_anomaly.py --data ../shared/data --part map-selection --image-size 224 --blur
  python scripts/benchmarks/anomaly/benchmark_anomaly.py --data ../shared/data --part speed --image-size 224
  python scripts/benchmarks/anomaly/benchmark_anomaly.py --data ../shared/data --part library --preset texture-knn --weights imagenet --image-size 224
  python scripts/benchmarks/anomaly/benchmark_anomaly.py --merge
  python scripts/benchmarks/anomaly/benchmark_anomaly.py --data ../shared/data --figure   # anomaly_heatmaps.png from the headline runs

library: anomaly models through `anomaly.protocols` (leave-one-class-out and one-class, one fit per class), as
`defectlab anomaly protocol --protocol loco|one-class RECIPE data=DATA out=RUNS/NAME` runs them.
texture-selection: the stages of the texture-knn preset, chosen on training pictures only (40 per class held
out as validation for both protocols); test pictures are not read.
classifier: novelty scores from a classifier of the known classes on frozen ImageNet EfficientNet-Lite0
features (Mahalanobis distance with a shared covariance, max-softmax of logistic regression, kNN distance),
the rank average of max-softmax and kNN (added after the single scores were seen: max-softmax was
strong where kNN was weak and the reverse), and the rank average of Mahalanobis with a library part.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from scipy.stats import rankdata
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the project root: `scripts.benchmarks`, run as a file

from scripts.benchmarks import commands, results
from shared.datasets.export_arrays import to_arrays
from shared.datasets.index import class_names, read_dataset
from shared.datasets.splits import make_split
from shared.suite.memory_guard import peak_memory_mb

SPLIT = "kaggle-det (per class 240 train / 60 test pictures)"
WHY = {"classifier": "novelty scores of sklearn models on frozen Lite0 features, fitted by this script (`command`): no "
                     "defectlab recipe trains them",
       "texture-selection": "a validation search over texture-knn's stages by this script (`command`) on training "
                            "pictures; its choice became the texture-knn preset's layers",
       "map-selection": "a validation search over texture-knn's map settings by this script (`command`) on training "
                        "pictures; its choice became the texture-knn preset's map fields",
       "speed": "the run is `defectlab anomaly train` and `defectlab anomaly export`; its images/s are timed by this "
                "script (`command`), which defectlab does not report"}


def library_name(args) -> str:
    return f"{args.preset}-{args.weights}" + (f"-{args.tag}" if args.tag else "")


def part_library(args, index) -> dict:
    from anomaly.protocols import run_protocol
    from anomaly.recipe import AnomalyRecipe

    recipe = AnomalyRecipe.from_preset(args.preset, weights=args.weights, seed=args.seed, image_size=args.image_size,
                                       coreset_ratio=args.coreset_ratio, coreset_sampler=args.coreset_sampler)
    out = args.runs / library_name(args)
    result = {"model": args.preset, "weights": args.weights, "config": recipe.to_dict()}
    for protocol in args.protocols:
        started = time.perf_counter()
        outcome = run_protocol(args.data, protocol, recipe, out, progress=True)  # also writes OUT/<protocol>.json
        outcome.pop("recipe", None)  # the same recipe as "config" above
        outcome["seconds"] = round(time.perf_counter() - started, 1)
        result[protocol.replace("-", "_")] = outcome
    result["defectlab"] = [commands.line("anomaly", "protocol", "--protocol", protocol,
                                         *commands.recipe_words("anomaly", recipe.to_dict()), f"data={args.data}",
                                         f"out={out}") for protocol in args.protocols]
    per_class = [v for p in ("loco", "one_class") if p in result for v in result[p]["per_class"].values()]
    result["fit_seconds_median"] = statistics.median(v["fit_seconds"] for v in per_class)
    result["infer_images_per_second_cpu"] = statistics.median(v["infer_images_per_second_cpu"] for v in per_class)
    result["peak_memory_mb"] = max(v["peak_memory_mb"] for v in per_class)
    result["runs"] = str(out)
    return result


def lite0_features(index, split, size: int = 224) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Pooled 1280-d ImageNet EfficientNet-Lite0 features of every picture: (features, labels, sides, ids)."""
    import torch

    from backbones import create_lite, normalize

    model = create_lite("efficientnet_lite0", imagenet=True).eval()  # timm tf_efficientnet_lite0, no classifier
    arrays = to_arrays(index, split, size=size)
    feats, labels, sides, ids = [], [], [], []
    with torch.no_grad():
        for side in ("train", "test"):
            part = arrays[side]
            for start in range(0, len(part.x), 64):
                # (x / 255 - 0.5) / 0.5, channels-last strides kept: bit-identical to the committed features
                # (backbones.to_tensor makes the tensor contiguous, which moves them by ~1e-5)
                x = normalize(torch.from_numpy(part.x[start:start + 64]).permute(0, 3, 1, 2).float() / 255,
                              "efficientnet_lite0")
                feats.append(model(x).numpy())
            labels += list(part.y)
            sides += [side] * len(part.y)
            ids += list(part.picture_ids)
    return np.concatenate(feats), np.array(labels), np.array(sides), np.array(ids)


def novelty_scores(train_x, train_y, test_x) -> dict[str, np.ndarray]:
    from sklearn.covariance import LedoitWolf
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import NearestNeighbors
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(train_x)
    train_x, test_x = scaler.transform(train_x), scaler.transform(test_x)
    classes = np.unique(train_y)
    means = np.stack([train_x[train_y == c].mean(0) for c in classes])
    centered = train_x - means[np.searchsorted(classes, train_y)]
    precision = LedoitWolf().fit(centered).precision_
    diffs = test_x[:, None, :] - means[None]
    mahalanobis = np.einsum("nkd,de,nke->nk", diffs, precision, diffs).min(1)
    softmax = LogisticRegression(max_iter=3000).fit(train_x, train_y).predict_proba(test_x).max(1)
    distances, _ = NearestNeighbors(n_neighbors=5).fit(train_x).kneighbors(test_x)
    return {"mahalanobis": mahalanobis, "max_softmax": -softmax, "knn5": distances.mean(1)}


def _library_scores(runs: Path, protocol: str, name: str) -> dict[str, float] | None:
    """{picture_id: score} of a library run's test pictures (scores.npz stores paths as text: no unpickling)."""
    path = runs / protocol / name / "run" / "scores.npz"
    if not path.is_file():
        return None
    data = np.load(path)
    return {Path(p).stem: float(s) for p, s in zip(data["paths"], data["scores"])}


def part_classifier(args, index) -> dict:
    split = make_split(index, "kaggle-det")
    started = time.perf_counter()
    feats, labels, sides, ids = lite0_features(index, split)
    names = class_names(index)
    result = {"features": "frozen ImageNet EfficientNet-Lite0, 224 px, pooled 1280-d, standardized",
              "feature_seconds": round(time.perf_counter() - started, 1), "loco": {}, "one_class": {}}
    library = args.runs / args.ensemble_with
    for held, name in enumerate(names):
        train = (sides == "train") & (labels != held)
        test = sides == "test"
        truth = (labels[test] == held).astype(int)
        scores = novelty_scores(feats[train], labels[train], feats[test])
        scores["ensemble_softmax_knn5"] = rankdata(scores["max_softmax"]) + rankdata(scores["knn5"])
        aurocs = {k: float(roc_auc_score(truth, v)) for k, v in scores.items()}
        partner = _library_scores(library, "loco", name)
        if partner:
            other = np.array([partner[i] for i in ids[test]])
            ensemble = rankdata(scores["mahalanobis"]) + rankdata(other)
            aurocs[f"ensemble_mahalanobis_{args.ensemble_with}"] = float(roc_auc_score(truth, ensemble))
            aurocs[args.ensemble_with] = float(roc_auc_score(truth, other))
        result["loco"][name] = aurocs
        one = (sides == "train") & (labels == held)
        from sklearn.neighbors import NearestNeighbors

        d, _ = NearestNeighbors(n_neighbors=1).fit(feats[one]).kneighbors(feats[test])
        result["one_class"][name] = {"knn1": float(roc_auc_score((labels[test] != held).astype(int), d[:, 0]))}
    for protocol in ("loco", "one_class"):
        methods = sorted({m for v in result[protocol].values() for m in v})
        result[f"{protocol}_mean_auroc"] = {m: statistics.mean(v[m] for v in result[protocol].values() if m in v)
                                            for m in methods}
    result["peak_memory_mb"] = peak_memory_mb()
    return result


HEADLINE = "library-texture-knn-imagenet-blur"  # named before its test run: map-selection-blur's choice
TEXTURE_CANDIDATES = {"blocks.2": [2], "blocks.3": [3], "blocks.4": [4], "blocks.5": [5], "blocks.3+4": [3, 4],
                      "blocks.2+3+4": [2, 3, 4], "blocks.3+4+5": [3, 4, 5], "blocks.4+5+6": [4, 5, 6]}


def part_texture_selection(args, index) -> dict:
    import torch
    from sklearn.neighbors import NearestNeighbors
    from sklearn.preprocessing import StandardScaler

    from anomaly.models import create_model, to_input
    from anomaly.recipe import AnomalyRecipe

    train = to_arrays(index, make_split(index, "kaggle-det"), size=args.image_size)["train"]
    labels = np.asarray(train.y)
    recipe = AnomalyRecipe.from_preset("texture-knn", layers=[f"blocks.{i}" for i in range(1, 7)], seed=args.seed)
    model = create_model(recipe)
    stages = []
    with torch.no_grad():
        for start in range(0, len(train.x), 32):
            outputs = model.feature_extractor(to_input(train.x[start:start + 32], recipe.backbone))
            stages.append([model.describe([f]).numpy() for f in outputs])
    per_stage = {i + 1: np.concatenate([b[i] for b in stages]) for i in range(6)}
    rng = np.random.default_rng(args.seed)
    valid = np.zeros(len(labels), bool)
    for c in np.unique(labels):
        valid[rng.choice(np.flatnonzero(labels == c), 40, replace=False)] = True

    def knn1(fit, query):
        scaler = StandardScaler().fit(fit)
        return NearestNeighbors(n_neighbors=1).fit(scaler.transform(fit)).kneighbors(scaler.transform(query))[0][:, 0]

    result = {"validation": "40 training pictures per class held out; kNN-1 on standardised descriptors",
              "candidates": {}}
    for name, ids in TEXTURE_CANDIDATES.items():
        x = np.concatenate([per_stage[i] for i in ids], 1)
        fit, query, y_fit, y_query = x[~valid], x[valid], labels[~valid], labels[valid]
        classes = np.unique(labels)
        loco = [roc_auc_score(y_query == c, knn1(fit[y_fit != c], query)) for c in classes]
        one = [roc_auc_score(y_query != c, knn1(fit[y_fit == c], query)) for c in classes]
        result["candidates"][name] = {"loco_mean_auroc": float(np.mean(loco)), "one_class_mean_auroc": float(np.mean(one))}
    scores = {k: (v["loco_mean_auroc"] + v["one_class_mean_auroc"]) / 2 for k, v in result["candidates"].items()}
    result["chosen"] = max(scores, key=scores.get)
    result["preset_layers"] = AnomalyRecipe.from_preset("texture-knn").layers
    result["preset_matches_choice"] = result["preset_layers"] == [f"blocks.{i}" for i in TEXTURE_CANDIDATES[result["chosen"]]]
    return result


def part_speed(args, index) -> dict:
    """The default model's scoring speed on this CPU: fitted on every class's training pictures (the suite's
    detector of unseen kinds), exported to ONNX (parity checked), then the 360 kaggle-det test pictures, decoded
    and letterboxed beforehand, scored in batches; median of 3 passes per mode."""
    import os

    from anomaly.export import OnnxAnomalyModel, export_checked
    from anomaly.models import score
    from anomaly.recipe import AnomalyRecipe
    from anomaly.run import batches
    from anomaly.train import train

    recipe = AnomalyRecipe.from_preset("texture-knn", data=str(args.data), image_size=args.image_size,
                                       seed=args.seed, out=str(args.runs), name="speed")
    run = train(recipe, progress=True, index=index)
    path, difference = export_checked(run)
    images = run.dataset().pixels("test")
    speeds = {}
    for mode, model in (("pytorch", run.model), ("onnxruntime", OnnxAnomalyModel(path))):
        for size in (16, 32):
            seconds = []
            for _ in range(3):
                started = time.perf_counter()
                score(model, batches(images, size), recipe.backbone)
                seconds.append(time.perf_counter() - started)
            speeds[f"{mode}_batch{size}"] = round(len(images) / statistics.median(seconds), 1)
    made = [commands.train_line("anomaly", recipe.to_dict()), commands.line("anomaly", "export", run.path)]
    return {"recipe": recipe.to_dict(), "fit_seconds": run.timings["fit_seconds"], "fit_images": run.timings["fit_images"],
            "onnx_parity_max_relative_difference": difference, "images": len(images),
            "image_size": args.image_size, "images_per_second": speeds,
            "infer_images_per_second_cpu": max(v for k, v in speeds.items() if k.startswith("onnxruntime")),
            "peak_memory_mb": peak_memory_mb(), "load_average": os.getloadavg(), "defectlab": made,
            "why": WHY["speed"]}


def part_map_selection(args, index) -> dict:
    from scripts.benchmarks.anomaly.anomaly_map_selection import run

    previous = results.parts_dir("anomaly") / "map-selection.json"
    if args.blur:  # round 5 beside round 4
        fourth = previous.with_name("map-selection-resolution.json")
        return run(index, image_size=args.image_size, seed=args.seed, blur=True,
                   previous=json.loads(fourth.read_text()) if fourth.is_file() else None)
    if args.resolution:  # round 4 beside round 3
        third = previous.with_name("map-selection-contrast.json")
        return run(index, image_size=args.image_size, seed=args.seed, resolution=True,
                   previous=json.loads(third.read_text()) if third.is_file() else None)
    if args.contrast:  # round 3 beside the earlier rounds: its own part
        return run(index, image_size=args.image_size, seed=args.seed, contrast=True,
                   previous=json.loads(previous.read_text()) if previous.is_file() else None)
    return run(index, image_size=args.image_size, seed=args.seed, candidates=args.candidates or None,
               previous=json.loads(previous.read_text()) if args.candidates and previous.is_file() else None)


def later_round(part: dict | None, before: int) -> dict | None:
    """A later map-selection round as anomaly.json keeps it: its rule and choice, the round before's choice, and
    each candidate's means (per-class rows left in the part)."""
    return part and {
        **{k: part[k] for k in ("validation", "rule", "chosen", f"round_{before}_choice", "rounds", "command",
                                "git_commit")},
        "candidates": {k: {m: v for m, v in row.items() if m != "per_class"} for k, row in part["candidates"].items()}}


LOCALIZATION = (("mean_pixel_auroc", "pixel_auroc"), ("mean_pro", "pixel_pro"), ("mean_box_hit_rate", "box_hit_rate"))


def _protocol_row(result: dict) -> dict:
    """Image AUROC per class and mean, and the localization metrics per class and mean (None where the part was
    measured before they existed, or the model draws no map)."""
    per_class = result["per_class"]
    row = {"mean_auroc": result["mean_auroc"], "per_class_auroc": result["per_class_auroc"]}
    for mean_key, metric in LOCALIZATION:
        values = [v.get(metric) for v in per_class.values()]
        row[mean_key] = result.get(mean_key, None if any(v is None for v in values) else statistics.mean(values))
        row[f"per_class_{metric}"] = {k: v.get(metric) for k, v in per_class.items()}
    return row


REPRODUCED = ("defectlab", "why", "command")  # beside each entry: the commands, and what they leave to a script


def reproduced(part: dict | None) -> dict:
    return {key: part[key] for key in REPRODUCED if key in part} if part else {}


def merge() -> Path:
    return results.merge("anomaly", combine, __file__, split=SPLIT)


def combine(parts: dict) -> dict:
    library = {k: v for k, v in parts.items() if k.startswith("library-")}
    if not library:
        sys.exit("no library parts to merge")
    if HEADLINE in library:  # fixed in advance: the package's texture preset, its stages chosen on validation
        best, selected_by = library[HEADLINE], ("texture-knn with ImageNet weights, named before its test run; its "
                                                "image stages chosen on validation (texture_selection), its map's "
                                                "stages, calibration and fusion weight too (map_selection)")
    else:
        best = max(library.values(), key=lambda v: v["loco"]["mean_auroc"])
        selected_by = "highest test LOCO mean among the library parts (no validated choice present)"
    clf, speed, selection = parts.get("classifier"), parts.get("speed"), parts.get("map-selection")
    name = f"{best['model']} ({best['weights']} backbone)"
    result = {
        "selected_by": selected_by, "headline_part": HEADLINE if HEADLINE in library else None,
        "texture_selection": parts.get("texture-selection"),
        "map_selection": selection and {
            **{k: selection[k] for k in ("validation", "rule", "chosen", "bank_size", "image_size", "command",
                                         "git_commit")},
            "candidates": {k: {m: v for m, v in row.items() if m != "per_class"}
                           for k, row in selection["candidates"].items()}, **reproduced(selection)},
        **{f"map_selection_{tag}": later_round(parts.get(f"map-selection-{tag}"), before)
           for tag, before in (("contrast", 2), ("resolution", 3), ("blur", 4))},
        "loco": {"model": name, **_protocol_row(best["loco"])},
        "one_class": {"model": name, **_protocol_row(best["one_class"])},
        "models": {k: {**{f"loco_{m}": v for m, v in _protocol_row(part["loco"]).items()},
                       **({f"one_class_{m}": v for m, v in _protocol_row(part["one_class"]).items()}
                          if "one_class" in part else {}),  # a LOCO-only part
                       "image_size": part["config"]["image_size"], "fit_seconds_median": part["fit_seconds_median"],
                       "infer_images_per_second_cpu": part["infer_images_per_second_cpu"],
                       "peak_memory_mb": part["peak_memory_mb"], "command": part["command"],
                       "git_commit": part["git_commit"], **({"note": part["note"]} if "note" in part else {}),
                       **reproduced(part)}
                   for k, part in library.items()},
        "classifier_novelty": clf and {**{k: clf[k] for k in ("features", "loco", "one_class", "loco_mean_auroc",
                                                              "one_class_mean_auroc", "command", "git_commit")},
                                       **reproduced(clf)},
        "speed": speed and {**{k: speed[k] for k in ("images_per_second", "image_size", "images", "fit_seconds",
                                                     "fit_images", "onnx_parity_max_relative_difference",
                                                     "peak_memory_mb", "load_average", "command", "git_commit")},
                            **reproduced(speed)},
        # the default model's scoring speed: ONNX Runtime on this CPU (speed part), else its protocol runs' PyTorch
        "infer_images_per_second_cpu": speed["infer_images_per_second_cpu"] if speed else best["infer_images_per_second_cpu"],
        "peak_memory_mb": max(v["peak_memory_mb"] for v in library.values()),
        "targets": {"loco_mean_auroc": 0.90, "one_class_mean_auroc": 0.98, "loco_mean_pixel_auroc": 0.85,
                    "loco_mean_box_hit_rate": 0.85, "infer_images_per_second_cpu": 50, "loco_mean_pro": 0.70,
                    "one_class_mean_pixel_auroc": 0.75},
    }
    result["targets_met"] = {
        "loco_mean_auroc": result["loco"]["mean_auroc"] >= 0.90,
        "one_class_mean_auroc": result["one_class"]["mean_auroc"] >= 0.98,
        "loco_mean_pixel_auroc": round(result["loco"]["mean_pixel_auroc"] or 0, 6) >= 0.85,
        "loco_mean_box_hit_rate": round(result["loco"]["mean_box_hit_rate"] or 0, 6) >= 0.85,  # 306/360 is 0.85
        "infer_images_per_second_cpu": result["infer_images_per_second_cpu"] >= 50,
        "loco_mean_pro": (result["loco"]["mean_pro"] or 0) >= 0.70,
        "one_class_mean_pixel_auroc": (result["one_class"]["mean_pixel_auroc"] or 0) >= 0.75}
    result.update({key: best[key] for key in ("defectlab", "why") if key in best})  # the headline's
    return result


def gallery(data: Path) -> Path:
    """anomaly_heatmaps.png from the headline part's leave-one-class-out runs (their scores.npz must still be on
    this machine) and the true boxes of the index."""
    from anomaly.plots import loco_gallery_png

    part = json.loads((results.parts_dir("anomaly") / f"{HEADLINE}.json").read_text())
    index, _ = read_dataset(data, progress=False)
    boxes = {row.path: row.boxes for row in index.itertuples() if isinstance(row.boxes, list) and row.boxes}
    return loco_gallery_png(part["loco"], boxes, results.RESULTS / "anomaly_heatmaps.png")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=results.ROOT.parent / "shared" / "data")
    parser.add_argument("--part", choices=["library", "classifier", "texture-selection", "map-selection", "speed"])
    parser.add_argument("--preset", default="patchcore")
    parser.add_argument("--weights", default="imagenet", choices=["imagenet", "random"])
    parser.add_argument("--image-size", type=int, default=160)
    parser.add_argument("--coreset-ratio", type=float, default=0.005)
    parser.add_argument("--coreset-sampler", default="random", choices=["random", "greedy"])
    parser.add_argument("--protocols", nargs="+", default=["loco", "one-class"], choices=["loco", "one-class"],
                        help="library: protocols to run (a part with LOCO only has no one-class row)")
    parser.add_argument("--candidates", nargs="*", help="map-selection: run only these (the earlier part's rows kept)")
    parser.add_argument("--contrast", action="store_true",
                        help="map-selection: round 3 (each map less its own median, fusion weights, PRO), written "
                             "as the part map-selection-contrast")
    parser.add_argument("--blur", action="store_true",
                        help="map-selection: round 5 (the map's Gaussian blur, queries taken last by number), written "
                             "as the part map-selection-blur")
    parser.add_argument("--resolution", action="store_true",
                        help="map-selection: round 4 (the map's grid at round 3's cost, each map on its own spread), "
                             "written as the part map-selection-resolution")
    parser.add_argument("--tag", default="", help="appended to a library part's name (two settings of one preset)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--runs", type=Path, default=Path("runs/benchmark-anomaly"))
    parser.add_argument("--ensemble-with", default="padim-imagenet",
                        help="library run (under --runs) whose LOCO scores join the Mahalanobis score")
    parser.add_argument("--merge", action="store_true")
    parser.add_argument("--figure", action="store_true", help="draw anomaly_heatmaps.png from the headline's runs")
    args = parser.parse_args(argv)
    from shared.suite import console

    console.setup()  # framework guard and a quiet console before any ML import
    if args.merge:
        print(f"wrote {merge()}")
        return 0
    if args.figure:
        print(f"wrote {gallery(args.data)}")
        return 0
    index, _ = read_dataset(args.data, progress=False)
    payload = {"library": part_library, "classifier": part_classifier,
               "texture-selection": part_texture_selection, "map-selection": part_map_selection,
               "speed": part_speed}[args.part](args, index)
    if args.part in WHY and args.part != "speed":
        payload.update(defectlab=None, why=WHY[args.part])
    from shared.suite.provenance import script_command

    name = f"library-{library_name(args)}" if args.part == "library" else args.part
    if args.part == "map-selection":
        name += "-blur" if args.blur else "-resolution" if args.resolution else "-contrast" if args.contrast else ""
    results.write_part("anomaly", name, payload, split=SPLIT, index=index, command=script_command(__file__, argv))
    summary = {k: payload.get(k) for k in ("loco_mean_auroc", "one_class_mean_auroc", "peak_memory_mb")}
    summary.update({p: payload[p]["mean_auroc"] for p in ("loco", "one_class") if p in payload and "mean_auroc" in payload[p]})
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
