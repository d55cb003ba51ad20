"""Few labels and none, on NEU-CLS. Frozen features of every picture are computed once per backbone
(8 flips / turns, plus strongly augmented views for Lite0) into an ignored cache, so each part below replays the
library's own code (classification.semi, classification.cluster, classification.tune) on them in seconds.
Each part writes its JSON (command, commit, split, data fingerprint, versions, hardware, and the `defectlab`
command where one trains the same thing: semi-end-to-end, auto) under scripts/benchmarks/results/fewlabels_parts/; --merge combines them into results/fewlabels.json and draws
results/fewlabels_curve.png.

  python scripts/benchmarks/classification/benchmark_fewlabels.py --part features              # ~35 min on 2 cores, cached
  python scripts/benchmarks/classification/benchmark_fewlabels.py --part semi                  # k = 1 2 5 10 20, 5 draws each
  python scripts/benchmarks/classification/benchmark_fewlabels.py --part semi-end-to-end       # `classification train preset=semi`, k=5
  python scripts/benchmarks/classification/benchmark_fewlabels.py --part clustering
  python scripts/benchmarks/classification/benchmark_fewlabels.py --part ensembles             # 5-fold CV, with and without TTA
  python scripts/benchmarks/classification/benchmark_fewlabels.py --part tuning
  python scripts/benchmarks/classification/benchmark_fewlabels.py --part auto                  # preset=auto on NEU, ~25 min
  python scripts/benchmarks/classification/benchmark_fewlabels.py --merge
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the project root: `scripts.benchmarks`, run as a file

from scripts.benchmarks import commands, results
from shared.datasets.export_arrays import to_arrays
from shared.datasets.index import class_names, read_dataset
from shared.datasets.splits import make_split

WHY = {  # the parts no defectlab command reproduces: they replay the library's code on cached features
    "semi": "the semi recipe's self-training replayed by this script (`command`) on cached frozen features, 5 label "
            "draws per k; `defectlab classification train preset=semi labels_per_class=K seed=DRAW` trains the same "
            "recipe end to end (semi-end-to-end checks k=5)",
    "clustering": "classification.cluster's methods on cached features of every picture, scored against the labels "
                  "by this script (`command`); `defectlab classification cluster` groups pictures but scores nothing",
    "ensembles": "frozen-feature heads scored out of fold on cached features by this script (`command`): no "
                 "defectlab recipe trains an ensemble",
    "tuning": "classification.tune.search replayed by this script (`command`) on cached Lite0 features; `defectlab "
              "classification tune` runs the search on the pictures themselves"}
CACHE = Path("runs/fewlabels/features")
KS = (1, 2, 5, 10, 20)
DRAWS = 5
NEU_CLS = "NEU-Metal-Surface-Defects"


def neu_cls(data: Path):
    root = data / NEU_CLS if (data / NEU_CLS).is_dir() else data
    index, _ = read_dataset(root, progress=False)
    return index


def pictures(index):
    """Every picture once, in the order the cache keeps: (arrays of all pictures at size, kaggle-cls side per
    picture, 5-fold id per picture)."""
    split = make_split(index, "kaggle-cls")
    per_picture = split.groupby(index["picture_id"]).first()
    folds = {f: make_split(index, "kfold", folds=5, fold=f, seed=0).groupby(index["picture_id"]).first()
             for f in range(5)}
    return per_picture, folds


def part_features(args, index) -> dict:
    """Cache: per kind, 8 x N x D weak-view features (+ 8 x N x D strong views for lite0), ids, labels."""
    from classification.augment import SteelAugment
    from classification.features import KINDS, extractor, image_size
    from classification.fit import strong_augment
    from classification.recipe import Augment
    from classification.semi import view_features

    CACHE.mkdir(parents=True, exist_ok=True)
    classes = class_names(index)
    seconds = {}
    for kind in KINDS:
        path = CACHE / f"{kind}.npz"
        if path.is_file():
            continue
        started = time.perf_counter()
        arrays = to_arrays(index, make_split(index, "kaggle-cls").map(lambda _: "all"), size=image_size(kind),
                           classes=classes, progress=args.progress)["all"]
        model = extractor(kind)
        weak = view_features(model, arrays.x, 32, progress=args.progress)
        extra = {}
        if kind == "lite0":  # the semi-supervised part's strong views, as the recipe draws them (seeded)
            strong = SteelAugment(**vars(strong_augment(Augment())), seed=0)
            extra["strong"] = view_features(model, arrays.x, 32, strong=strong, progress=args.progress)
        np.savez(path, weak=weak, y=arrays.y, ids=arrays.picture_ids.astype(str), **extra)
        seconds[kind] = round(time.perf_counter() - started, 1)
        print(f"{kind}: {weak.shape} in {seconds[kind]} s", flush=True)
    return {"cache": str(CACHE), "seconds": seconds}


def load_cache(kind: str) -> dict:
    with np.load(CACHE / f"{kind}.npz", allow_pickle=False) as cached:
        return {k: cached[k] for k in cached.files}


# -- semi-supervised ----------------------------------------------------------------------------------------
def _semi_recipe(**overrides):
    from classification.recipe import ClassifierRecipe

    return ClassifierRecipe.from_preset("semi", **overrides)


def _head(config, n_classes, dim):
    import keras

    from classification.models import create_head
    keras.utils.set_random_seed(config.seed)
    return create_head(dim, n_classes, config.dropout, config.l2)


def _compile(config):
    import keras

    def compile_head(head):
        head.compile(keras.optimizers.Adam(config.head_lr),
                     keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=config.label_smoothing))
    return compile_head


def part_semi(args, index) -> dict:
    """Per k and draw: the semi recipe's head (self-training) and the same head on the k labels alone, both
    replayed on cached features; the frozen floor (logistic regression on the labelled pictures' features,
    standardised over the whole train side)."""
    import keras
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    from classification.data import hide_labels
    from classification.semi import self_train

    cache = load_cache("lite0")
    position = {p: i for i, p in enumerate(cache["ids"])}
    split = make_split(index, "kaggle-cls")
    test = np.array([position[p] for p in sorted(set(index.loc[split == "test", "picture_id"]))])
    y = cache["y"]
    rows = {}
    for k in args.ks:
        per_draw = []
        for draw in range(DRAWS):
            started = time.perf_counter()
            sides = hide_labels(index, split, k, draw)  # the recipe's own draw (labels_per_class=k, seed=draw)
            labelled = np.array([position[p] for p in sorted(set(index.loc[sides == "train", "picture_id"]))])
            pool = np.array([position[p] for p in sorted(set(index.loc[sides == "pool", "picture_id"]))])
            config = _semi_recipe(labels_per_class=k, seed=draw)
            n = int(y.max()) + 1
            weak, strong = cache["weak"], cache["strong"]

            def test_accuracy(head):
                # what `evaluate` scores: the picture as it is
                logits = head.predict(weak[0][test], verbose=0)  # noqa: B023 (called in this iteration)
                return float((logits.argmax(1) == y[test]).mean())

            head = _head(config, n, weak.shape[-1])
            result = self_train(head, weak[:, labelled], y[labelled], weak[:, pool], strong[:, pool], n, config,
                                _compile(config))
            semi = {"test": test_accuracy(head), "pool": float((result.pseudo_labels == y[pool]).mean()),
                    "pseudo_labelled": result.rounds[-1]["pseudo_labelled"],
                    "pseudo_label_accuracy": float((result.pseudo_labels == y[pool])[
                        result.confidence >= config.pseudo_threshold].mean())}
            head = _head(config, n, weak.shape[-1])
            alone = self_train(head, weak[:, labelled], y[labelled], weak[:, pool], strong[:, pool], n,
                               _semi_recipe(labels_per_class=k, seed=draw, pseudo_rounds=0), _compile(config))
            supervised = {"test": test_accuracy(head), "pool": float((alone.pseudo_labels == y[pool]).mean())}
            # the floor: features standardised on every train-side picture (no label needed), then
            # logistic regression on the labelled ones (a scaler fitted on 6 pictures alone scored far lower)
            scaler = StandardScaler().fit(weak[0][np.concatenate([labelled, pool])])
            floor = LogisticRegression(max_iter=3000).fit(scaler.transform(weak[0][labelled]), y[labelled])
            per_draw.append({"draw": draw, "labelled": len(labelled), "pool": len(pool), "semi": semi,
                             "supervised_only": supervised,
                             "frozen_floor": {
                                 "test": float((floor.predict(scaler.transform(weak[0][test])) == y[test]).mean()),
                                 "pool": float((floor.predict(scaler.transform(weak[0][pool])) == y[pool]).mean())},
                             "seconds": round(time.perf_counter() - started, 1)})
            keras.backend.clear_session()
            print(f"k={k} draw {draw}: semi {semi['test']:.3f} (pool {semi['pool']:.3f}), supervised "
                  f"{supervised['test']:.3f}, floor {per_draw[-1]['frozen_floor']['test']:.3f}", flush=True)
        rows[str(k)] = {"per_draw": per_draw, **{
            f"{model}_{where}": _mean_std([d[model][where] for d in per_draw])
            for model in ("semi", "supervised_only", "frozen_floor") for where in ("test", "pool")}}
    return {"recipe": _semi_recipe().to_dict(), "features": "efficientnet_lite0 ImageNet, 224 px, pooled; "
            "8 flips/turns (weak) and 8 strongly augmented views (strong) per picture, computed once",
            "test_pictures": len(test), "draws": DRAWS, "per_k": rows}


def _mean_std(values) -> dict:
    return {"mean": float(np.mean(values)), "std": float(np.std(values, ddof=1)) if len(values) > 1 else 0.0,
            "min": float(np.min(values))}


def part_semi_end_to_end(args, index) -> dict:
    """The same recipe through `defectlab classification train preset=semi labels_per_class=5` (features computed
    by the run itself): checks that the cached replay above is the recipe users get."""
    from classification import task

    recipe = task.Recipe.from_preset("semi", data=str(args.data), labels_per_class=5, seed=0,
                                     out="runs/fewlabels/end-to-end")
    run = task.train(recipe, progress=args.progress)
    metrics = run.evaluate("test")
    training = json.loads((run.path / "training.json").read_text())
    record = json.loads((run.path / "self_training.json").read_text())
    truth = index.drop_duplicates("picture_id").set_index("picture_id")["class_name"]
    pool_right = [truth[p["picture_id"]] == p["pseudo_label"] for p in record["pictures"]]
    return {"defectlab": [commands.train_line("classification", recipe.to_dict())],
            "test_accuracy": metrics["accuracy"], "correct": metrics["correct"], "n": metrics["n"],
            "pool_accuracy": float(np.mean(pool_right)), "rounds": record["rounds"],
            "train_seconds_cpu": training["train_seconds"], "run": str(run.path)}


# -- ensembles ----------------------------------------------------------------------------------------------
ENSEMBLES = {"lite0": ["lite0-s0"], "lite1": ["lite1-s0"], "lite2": ["lite2-s0"],
             "lite0 x3 seeds": ["lite0-s0", "lite0-s1", "lite0-s2"],
             "lite0+lite1+lite2": ["lite0-s0", "lite1-s0", "lite2-s0"],
             "lite0-2 x3 seeds": [f"lite{v}-s{s}" for v in range(3) for s in range(3)]}


def _cv_folds(index, ids) -> np.ndarray:
    """The 5-fold id of each cached picture (the suite's kfold split, seed 0: classification.json's cv5)."""
    fold = np.zeros(len(ids), dtype=int)
    position = {p: i for i, p in enumerate(ids)}
    for f in range(5):
        test = set(index.loc[make_split(index, "kfold", folds=5, fold=f, seed=0) == "test", "picture_id"])
        fold[[position[p] for p in test]] = f
    return fold


def _speed(kind: str, repeats: int = 3) -> float:
    """Images/s of one backbone's frozen features (batch 32, 128 pictures, median of `repeats`)."""
    from classification.features import extractor, image_size

    model = extractor(kind)
    x = np.random.default_rng(0).integers(0, 255, (128, image_size(kind), image_size(kind), 3)).astype("uint8")
    model.predict(x[:32], batch_size=32, verbose=0)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        model.predict(x, batch_size=32, verbose=0)
        times.append(time.perf_counter() - started)
    return 128 / statistics.median(times)


def part_ensembles(args, index) -> dict:
    """Frozen-feature heads (the lite0-frozen recipe's stage 1 on each backbone, 3 seeds) scored out of fold on
    the suite's 5 folds, alone and averaged (mean probability), with and without 8-way TTA."""
    import os

    from classification.recipe import ClassifierRecipe
    from classification.tune import head_scores

    members, y, folds = {}, None, None
    for kind in ("lite0", "lite1", "lite2"):
        cache = load_cache(kind)
        y, folds = cache["y"], _cv_folds(index, cache["ids"])
        for seed in range(3):
            recipe = ClassifierRecipe.from_preset("lite0-frozen", seed=seed)
            started = time.perf_counter()
            scores = head_scores(recipe, cache["weak"][0], y, folds, views=cache["weak"])
            members[f"{kind}-s{seed}"] = scores
            print(f"{kind} seed {seed}: cv accuracy {scores['accuracy']:.4f} "
                  f"({time.perf_counter() - started:.0f} s)", flush=True)
    speeds = {kind: round(_speed(kind), 1) for kind in ("lite0", "lite1", "lite2")}
    rows = {}
    for name, parts in ENSEMBLES.items():
        backbones = sorted({p.split("-")[0] for p in parts})
        speed = 1 / sum(1 / speeds[b] for b in backbones)  # heads cost nothing beside their backbones
        row = {"members": parts, "backbones": backbones}
        for tta, key in ((False, "probabilities"), (True, "tta_probabilities")):
            mean = np.mean([members[p][key] for p in parts], axis=0)
            per_fold = [float((mean[folds == f].argmax(1) == y[folds == f]).mean()) for f in range(5)]
            row["tta" if tta else "plain"] = {"mean_accuracy": float(np.mean(per_fold)), "per_fold": per_fold,
                                              "mistakes": int((mean.argmax(1) != y).sum()),
                                              "images_per_second": round(speed / (8 if tta else 1), 1)}
        rows[name] = row
        print(f"{name}: {row['plain']['mean_accuracy']:.4f} / TTA {row['tta']['mean_accuracy']:.4f}", flush=True)
    return {"recipe": "lite0-frozen stage 1 (head_epochs 40, fixed: no early stopping inside the folds) on each "
            "backbone's frozen pooled features", "cv": "kfold 5 folds seed 0 (classification.json cv5's folds)",
            "speed_setup": f"frozen features, batch 32, 128 pictures, median of 3, {os.cpu_count()} CPU cores; "
                           "an ensemble's speed is 1 / sum(1 / speed) over its distinct backbones; TTA is 8x the work",
            "backbone_images_per_second": speeds, "ensembles": rows,
            "members": {k: {"accuracy": v["accuracy"], "fold_accuracy": v["fold_accuracy"]}
                        for k, v in members.items()}}


# -- tuning ---------------------------------------------------------------------------------------------------
def part_tuning(args, index) -> dict:
    """classification.tune.search on the kaggle-cls train + valid pictures (5 folds of them), Lite0 frozen
    features; then the default and the best fields each train the head on all of them, scored on test once."""
    from classification.recipe import ClassifierRecipe
    from classification.tune import fold_ids, head_scores, search, search_png

    cache = load_cache("lite0")
    split = make_split(index, "kaggle-cls")
    per_picture = split.groupby(index["picture_id"]).first().reindex(cache["ids"]).to_numpy()
    train = np.isin(per_picture, ["train", "valid"])
    recipe = ClassifierRecipe.from_preset("lite0-frozen")
    folds = fold_ids(index, split, 5, 0).reindex(cache["ids"][train]).to_numpy()
    features, y = cache["weak"][0], cache["y"]
    study = search(recipe, features[train], y[train], folds, args.trials, seed=0, progress=True)
    test_scores = {}
    for name, values in (("default", study["default"]["params"]), ("best", study["best"]["params"])):
        # one "fold" for the test side: train on every train + valid picture, score the 72 test pictures once
        scores = head_scores(replace(recipe, **values), features, y, np.where(train, 1, 0), score=[0])
        test_scores[name] = {"test_accuracy": scores["fold_accuracy"][0], "test_log_loss": scores["fold_log_loss"][0]}
    search_png(study, results.RESULTS / "fewlabels_tuning.png")
    return {"base_recipe": "lite0-frozen", "study": study, "test": test_scores,
            "figure": "scripts/benchmarks/results/fewlabels_tuning.png"}


# -- clustering -----------------------------------------------------------------------------------------------
def part_clustering(args, index) -> dict:
    """classification.cluster's preprocessing and methods on the cached features of all 1800 pictures, 6 clusters
    and the estimated number; labels only score (NMI, ARI). Then --self-train's refine on the command's defaults."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    from classification.cluster import METHODS, assign, estimate_clusters, preprocess, refine
    from classification.features import KINDS, extractor, image_size

    def score(y, labels):
        return {"nmi": float(normalized_mutual_info_score(y, labels)), "ari": float(adjusted_rand_score(y, labels))}

    per_features, estimated, z_of = {}, {}, {}
    for kind in KINDS:
        cache = load_cache(kind)
        y, x = cache["y"], cache["weak"][0]
        z_of[kind] = z = preprocess(x, seed=0)
        per_features[kind] = {}
        for method in METHODS:
            started = time.perf_counter()
            per_features[kind][method] = {**score(y, assign(z, 6, method, seed=0)),
                                          "seconds": round(time.perf_counter() - started, 2)}
        k, silhouettes = estimate_clusters(z, "ward", seed=0)
        estimated[kind] = {"method": "ward", "k": int(k), "silhouette": silhouettes,
                           **score(y, assign(z, k, "ward", seed=0))}
        print(kind, {m: round(v["nmi"], 3) for m, v in per_features[kind].items()}, "estimated k", k, flush=True)
    lite0 = load_cache("lite0")
    raw = KMeans(6, n_init=10, random_state=0).fit_predict(lite0["weak"][0])
    # --self-train on the command's defaults (texture features, ward, 6 clusters): needs the pictures themselves
    kind = "texture"
    cache = load_cache(kind)
    arrays = to_arrays(index, make_split(index, "kaggle-cls").map(lambda _: "all"), size=image_size(kind),
                       classes=class_names(index))["all"]
    assert list(arrays.picture_ids.astype(str)) == list(cache["ids"])
    started = time.perf_counter()
    start_labels = assign(z_of[kind], 6, "ward", seed=0)
    refined, record = refine(extractor(kind), arrays.x, cache["weak"], z_of[kind], start_labels, seed=0)
    self_trained = {"features": kind, "method": "ward", "k": 6, "before": score(cache["y"], start_labels),
                    "after": score(cache["y"], refined), "record": record,
                    "seconds": round(time.perf_counter() - started, 1)}
    print("self-train", self_trained["before"], "->", self_trained["after"], flush=True)
    return {"pictures": len(lite0["y"]), "classes": 6, "methods": list(METHODS),
            "preprocessing": "StandardScaler -> PCA(64) -> L2 normalisation (classification.cluster.preprocess)",
            "per_features": per_features, "estimated_k": estimated, "self_trained": self_trained,
            "floor_kmeans_raw_lite0": score(lite0["y"], raw),
            "note": "feature kinds, methods and the preprocessing were compared on these same 1800 labelled pictures "
                    "(clustering has no held-out side); the command's defaults (texture, ward) were picked after "
                    "seeing an exploratory run of this table"}


# -- the auto preset -------------------------------------------------------------------------------------------
def part_auto(args, index) -> dict:
    """`defectlab classification train preset=auto` on NEU (kaggle-cls): what it chose on 3 folds of the train
    and valid pictures, and its test accuracy beside the headline fine-tune's (classification.json)."""
    from classification import task

    recipe = task.Recipe.from_preset("auto", data=str(args.data), out="runs/fewlabels/auto")
    run = task.train(recipe, progress=args.progress)
    metrics = run.evaluate("test")
    headline = json.loads((results.RESULTS / "classification.json").read_text())["kaggle_cls"]
    return {"defectlab": [commands.train_line("classification", recipe.to_dict())],
            "selection": json.loads((run.path / "selection.json").read_text()),
            "test_accuracy": metrics["accuracy"], "correct": metrics["correct"], "n": metrics["n"],
            "mistakes": metrics["mistakes"], "training": json.loads((run.path / "training.json").read_text()),
            "headline_finetune_test_accuracy": headline["test_accuracy"],
            "loses_nothing": metrics["accuracy"] >= headline["test_accuracy"]}


PART_FUNCTIONS = {"features": part_features, "semi": part_semi, "semi-end-to-end": part_semi_end_to_end,
                  "ensembles": part_ensembles, "tuning": part_tuning, "auto": part_auto,
                  "clustering": part_clustering}
SPLITS = {"semi": "kaggle-cls (train+valid: k labelled per class, the rest unlabelled; test: 72)",
          "semi-end-to-end": "kaggle-cls", "features": "every NEU-CLS picture",
          "ensembles": "kfold 5 folds seed 0", "auto": "kaggle-cls (selection: 3 folds of train+valid)",
          "clustering": "every NEU-CLS picture (labels only score)", "tuning": "kaggle-cls (search: 5 folds of train+valid; test once)"}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=results.ROOT.parent / "shared" / "data")
    parser.add_argument("--part", choices=sorted(PART_FUNCTIONS))
    parser.add_argument("--ks", type=int, nargs="+", default=list(KS), help="semi: labels per class")
    parser.add_argument("--trials", type=int, default=40, help="tuning: Optuna trials")
    parser.add_argument("--progress", action="store_true")
    parser.add_argument("--merge", action="store_true")
    args = parser.parse_args(argv)
    from shared.suite import console
    from shared.suite.provenance import script_command

    console.setup()  # framework guard, quiet TensorFlow: before any ML import
    if args.merge:
        print(f"wrote {merge()}")
        return 0
    index = neu_cls(args.data)
    started = time.perf_counter()
    payload = PART_FUNCTIONS[args.part](args, index)
    payload["part_seconds"] = round(time.perf_counter() - started, 1)
    if args.part in WHY:
        payload.update(defectlab=None, why=WHY[args.part])
    if args.part != "features":
        path = results.write_part("fewlabels", args.part, payload, split=SPLITS[args.part], index=index,
                                  command=script_command(__file__, argv))
        print(f"wrote {path}")
    return 0


PROVENANCE = ("command", "git_commit", "split", "data_fingerprint", "versions", "hardware", "created_at")


def merge() -> Path:
    """fewlabels.json from the parts present (a missing part is listed, not invented) + the curve figure."""
    return results.merge("fewlabels", combine, __file__, split="NEU-CLS (each part's split in `parts`)")


def reproduced(part: dict) -> dict:
    """A section's `defectlab` commands, or the script's command and why none gives its numbers."""
    keys = ("defectlab", "why", "command") if part.get("defectlab") is None else ("defectlab",)
    return {key: part[key] for key in keys if key in part}


def combine(parts: dict) -> dict:
    result = {"parts": {name: {k: part.get(k) for k in PROVENANCE} for name, part in parts.items()},
              "missing_parts": sorted(set(PART_FUNCTIONS) - {"features"} - set(parts))}
    strip = set(PROVENANCE)
    semi = parts.get("semi")
    if semi:
        result["semi_supervised"] = {
            "recipe": semi["recipe"], "features": semi["features"], "test_pictures": semi["test_pictures"],
            "per_k": {k: {"mean": row["semi_test"]["mean"], "std": row["semi_test"]["std"],
                          "per_draw": [d["semi"]["test"] for d in row["per_draw"]],
                          "pool_mean": row["semi_pool"]["mean"],
                          "supervised_only": row["supervised_only_test"], "supervised_only_pool":
                              row["supervised_only_pool"], "frozen_floor": row["frozen_floor_test"],
                          "draws": row["per_draw"]} for k, row in semi["per_k"].items()},
            "targets": {"k5_mean_at_least": 0.97, "k10_mean_at_least": 0.99}, **reproduced(semi)}
        per_k = result["semi_supervised"]["per_k"]
        result["semi_supervised"]["targets_met"] = bool(
            "5" in per_k and per_k["5"]["mean"] >= 0.97 and "10" in per_k and per_k["10"]["mean"] >= 0.99)
        if "semi-end-to-end" in parts:
            result["semi_supervised"]["end_to_end"] = {k: v for k, v in parts["semi-end-to-end"].items()
                                                       if k not in strip}
        curve_png(result["semi_supervised"], results.RESULTS / "fewlabels_curve.png")
        result["semi_supervised"]["figure"] = "scripts/benchmarks/results/fewlabels_curve.png"
    for key, name in (("clustering", "clustering"), ("ensembles", "ensembles"), ("tuning", "tuning"),
                      ("auto", "auto")):
        if name in parts:
            result[key] = {**{k: v for k, v in parts[name].items() if k not in strip}, **reproduced(parts[name])}
    if "clustering" in result:
        result["clustering"]["target_nmi_at_least"] = 0.85
    return result


def curve_png(semi: dict, path: Path) -> Path:
    """Test accuracy against labels per class (mean and range over the draws), drawn from fewlabels.json."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ks = sorted(semi["per_k"], key=int)
    x = [int(k) for k in ks]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for label, pick, style in (("self-training (preset semi)", lambda r: [d["semi"]["test"] for d in r["draws"]], "o-"),
                               ("same head, labels only", lambda r: [d["supervised_only"]["test"] for d in r["draws"]], "s--"),
                               ("frozen floor (logistic regression)", lambda r: [d["frozen_floor"]["test"] for d in r["draws"]], "^:")):
        values = [pick(semi["per_k"][k]) for k in ks]
        mean = [np.mean(v) for v in values]
        line, = ax.plot(x, mean, style, label=label)
        ax.fill_between(x, [min(v) for v in values], [max(v) for v in values], color=line.get_color(), alpha=0.12)
    ax.plot(x, [semi["per_k"][k]["pool_mean"] for k in ks], "o-", color="C0", alpha=0.4,
            label="self-training, on the unlabelled pool")
    ax.set(xscale="log", xticks=x, xticklabels=[str(k) for k in x], xlabel="labelled pictures per class",
           ylabel=f"accuracy ({semi['test_pictures']} kaggle-cls test pictures)", ylim=(0.35, 1.005),
           title="NEU-CLS with few labels (mean of 5 draws, band: min-max)")
    ax.axhline(1.0, color="grey", lw=0.5)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


if __name__ == "__main__":
    sys.exit(main())
