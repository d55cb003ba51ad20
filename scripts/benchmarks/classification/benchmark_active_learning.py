"""Simulated labelling on NEU-DET's kaggle-det split: the 1,440 train pictures are the unlabelled pool, the 360
test pictures score. Start from 1 labelled picture per class (the same draw for both strategies), add labels in
rounds of 6 chosen by `defectlab labels suggest`'s ranking (shared.suite.suggest.rank: the classifier's margin on
the pool, then k-center greedy on the backbone features from the labelled ones) or by stratified random choice (one
more per class), 5 seeds each, up to 120 labels. Each round retrains the few-label classifier: the `semi` recipe's
self-training (classification.semi) replayed on frozen ImageNet Lite0 features of the picture as it is, computed
once into an ignored cache (one view, not the recipe's 8 turns and strong views: light enough for a shared 2-core
machine). labels_to_99: the first label count whose 5-seed mean test accuracy is >= 0.99 and stays so the next
round (null if never).

  python scripts/benchmarks/classification/benchmark_active_learning.py                 # features (once), then the rounds
  python scripts/benchmarks/classification/benchmark_active_learning.py --plot-only     # the PNG from the JSON
  python scripts/benchmarks/classification/benchmark_active_learning.py --end-to-end 0  # seed 0's last round for real

--end-to-end SEED replays the active curve of SEED, lays its last round out as a dataset a person would have
labelled (train/<class>/: the labelled pictures, train/unlabelled/: the rest of the pool, test/<class>/: the 360
test pictures; links, nothing copied) and trains the real `semi` recipe on it with `defectlab classification
train` (its 8 turns and strong views, its own validation part carved from the labelled pictures), then adds the
run's test accuracy beside the simulated one under `end_to_end`.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the project root: `scripts.benchmarks`, run as a file

from scripts.benchmarks import results
from shared.datasets.index import class_names, read_dataset
from shared.datasets.splits import make_split

CACHE = Path("runs/active_learning/lite0.npz")
PROGRESS = CACHE.parent / "curves.json"  # each finished curve, so that a stopped run resumes
NAME = "active_learning"
WHY = ("a simulation: this script (`command`) replays `defectlab labels suggest`'s ranking and the semi recipe's "
       "self-training on cached features, round after round, with the true labels standing in for a person; "
       "`defectlab labels suggest POOL --budget 6 --runs classification=RUN --labelled DATASET` makes one such round "
       "on real pictures")


def cache(data: Path, index, split) -> dict:
    """ids, class ids, kaggle-det side and N x 1280 Lite0 features of every picture (one view, as it is)."""
    if CACHE.is_file():
        with np.load(CACHE, allow_pickle=False) as cached:
            return {k: cached[k] for k in cached.files}
    from classification.features import extract, image_size
    from shared.datasets.images import load_image

    pictures = index.assign(side=split).drop_duplicates("picture_id").sort_values("picture_id")
    classes = class_names(index)
    size = image_size("lite0")
    images = np.stack([load_image(p, 3, size) for p in pictures["path"]])
    started = time.perf_counter()
    x = extract("lite0", images, progress=True)
    found = {"ids": pictures["picture_id"].to_numpy(str), "y": pictures["class_name"].map(classes.index).to_numpy(),
             "side": pictures["side"].to_numpy(str), "x": x, "seconds": np.array(time.perf_counter() - started)}
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    np.savez(CACHE, **found)
    return found


def semi(x_lab, y_lab, x_pool, n_classes: int, seed: int):
    """The semi recipe's head, self-trained on the pool; returns (head, pool probabilities)."""
    import keras

    from classification.models import create_head
    from classification.recipe import ClassifierRecipe
    from classification.semi import pool_probabilities, self_train

    config = ClassifierRecipe.from_preset("semi", seed=seed)
    keras.utils.set_random_seed(seed)
    head = create_head(x_lab.shape[-1], n_classes, config.dropout, config.l2)

    def compile_head(model):
        model.compile(keras.optimizers.Adam(config.head_lr),
                      keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=config.label_smoothing))

    self_train(head, x_lab[None], y_lab, x_pool[None], x_pool[None], n_classes, config, compile_head)
    return head, pool_probabilities(head, x_pool[None]), config


def next_labels(strategy: str, pool: np.ndarray, probabilities, features, labelled, y, rng, step: int) -> list[int]:
    if strategy == "active":
        from shared.suite import suggest

        signal = suggest.margin(probabilities, [str(c) for c in range(probabilities.shape[1])])
        picks = suggest.rank([signal], step, features[pool], features[labelled])
        return [int(pool[p.index]) for p in picks]
    chosen = []  # stratified random: one more per class (the classes in turn when step is not their count)
    classes = np.unique(y)
    for k in range(step):
        left = [i for i in pool if y[i] == classes[k % len(classes)] and i not in chosen]
        chosen.append(int(rng.choice(left)))
    return chosen


def run(found: dict, strategy: str, seed: int, step: int, cap: int) -> tuple[list[dict], list[int]]:
    """The curve of one strategy and seed, and the rows of the pictures labelled at its last round."""
    import keras

    x, y = found["x"], found["y"]
    train, test = np.flatnonzero(found["side"] == "train"), np.flatnonzero(found["side"] == "test")
    rng = np.random.default_rng(seed)
    labelled = [int(rng.choice(train[y[train] == c])) for c in np.unique(y)]  # 1 per class, the same draw for both
    curve = []
    while True:
        started = time.perf_counter()
        pool = np.setdiff1d(train, labelled)
        head, probabilities, _ = semi(x[labelled], y[labelled], x[pool], int(y.max()) + 1, seed)
        accuracy = float((head.predict(x[test], verbose=0).argmax(1) == y[test]).mean())
        curve.append({"labels": len(labelled), "test_accuracy": accuracy,
                      "seconds": round(time.perf_counter() - started, 1)})
        print(f"{strategy} seed {seed}: {len(labelled)} labels -> test {accuracy:.4f}", flush=True)
        keras.backend.clear_session()
        if len(labelled) + step > cap:
            return curve, labelled
        labelled += next_labels(strategy, pool, probabilities, x, np.array(labelled), y, rng, step)


def labels_to(threshold: float, curves: list[list[dict]]) -> int | None:
    """The first label count where the mean over seeds is >= threshold and stays so the next round."""
    mean = np.mean([[p["test_accuracy"] for p in c] for c in curves], axis=0)
    labels = [p["labels"] for p in curves[0]]
    for k in range(len(mean) - 1):
        if mean[k] >= threshold and mean[k + 1] >= threshold:
            return labels[k]
    return None


def curve_png(result: dict, path: Path) -> Path:
    """Mean test accuracy against labels (band: min-max over the seeds), per strategy, from the JSON."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for strategy, style in (("active", "o-"), ("random", "s--")):
        curves = result["curves"][strategy]
        labels = [p["labels"] for p in curves[0]["curve"]]
        values = np.array([[p["test_accuracy"] for p in c["curve"]] for c in curves])
        line, = ax.plot(labels, values.mean(0), style, ms=3,
                        label=f"{strategy} (labels to 99%: {result['labels_to_99'][strategy]})")
        ax.fill_between(labels, values.min(0), values.max(0), color=line.get_color(), alpha=0.12)
    ax.axhline(0.99, color="grey", lw=0.6, ls=":")
    ax.set(xlabel="labelled pictures", ylabel=f"accuracy ({result['test_pictures']} kaggle-det test pictures)",
           ylim=(max(0.3, ax.get_ylim()[0]), 1.005),
           title=f"NEU-DET: labels chosen by suggest vs stratified random ({len(result['seeds'])} seeds)")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def end_to_end(found: dict, index, seed: int, step: int, cap: int, folder: Path) -> dict:
    """Seed `seed`'s last active round trained by the real recipe, as a user runs it."""
    import subprocess

    from shared.suite.provenance import provenance

    started = time.perf_counter()
    curve, labelled = run(found, "active", seed, step, cap)
    classes = class_names(index)
    paths = index.drop_duplicates("picture_id").set_index("picture_id")["path"]
    dataset = folder / "dataset"
    if dataset.exists():
        import shutil

        shutil.rmtree(dataset)  # links only: made anew, so that a replay that picked otherwise is not mixed in
    train = np.flatnonzero(found["side"] == "train")
    rows = {"train": labelled, "unlabelled": np.setdiff1d(train, labelled),
            "test": np.flatnonzero(found["side"] == "test")}
    for part, chosen in rows.items():
        for row in chosen:
            picture = str(found["ids"][row])
            side, name = ("train", "unlabelled") if part == "unlabelled" else (part, classes[int(found["y"][row])])
            link = dataset / side / name / Path(paths[picture]).name
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(Path(paths[picture]).resolve())
    command = ["defectlab", "classification", "train", "preset=semi", f"data={dataset}", "split=source",
               f"seed={seed}", f"out={folder}", f"name=semi-seed{seed}"]
    subprocess.run(command, check=True)
    metrics = json.loads((folder / f"semi-seed{seed}" / "metrics.json").read_text())
    return {"seed": seed, "labels": len(labelled), "simulated_test_accuracy": curve[-1]["test_accuracy"],
            "recipe_test_accuracy": metrics["accuracy"], "test_pictures": len(rows["test"]),
            "replayed_curve": [p["test_accuracy"] for p in curve], "defectlab": " ".join(command),
            "seconds": round(time.perf_counter() - started, 1),
            "note": "the recipe keeps its own validation part out of the labelled pictures and trains on 8 turns "
                    "and strong views; the simulation trains on all labelled pictures, one view",
            **{k: v for k, v in provenance(split="kaggle-det", index=index).items() if k != "schema_version"}}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=results.ROOT.parent / "shared" / "data" / "NEU-DET")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(5)))
    parser.add_argument("--step", type=int, default=6, help="labels added per round")
    parser.add_argument("--cap", type=int, default=120, help="most labels")
    parser.add_argument("--plot-only", action="store_true")
    parser.add_argument("--end-to-end", type=int, metavar="SEED",
                        help="train the real semi recipe on SEED's last active round; added to the JSON")
    args = parser.parse_args(argv)
    target = results.RESULTS / f"{NAME}.json"
    if args.plot_only:
        print(f"wrote {curve_png(json.loads(target.read_text()), results.RESULTS / f'{NAME}_curve.png')}")
        return 0
    from shared.suite import console
    from shared.suite.provenance import script_command

    console.setup()  # framework guard, quiet TensorFlow: before any ML import
    index, _ = read_dataset(args.data, progress=False)
    split = make_split(index, "kaggle-det")
    found = cache(args.data, index, split)
    if args.end_to_end is not None:
        result = json.loads(target.read_text())
        result["end_to_end"] = end_to_end(found, index, args.end_to_end, args.step, args.cap, CACHE.parent)
        result["end_to_end"]["command"] = script_command(__file__, argv)
        stored = next(c["curve"] for c in result["curves"]["active"] if c["seed"] == args.end_to_end)
        result["end_to_end"]["replay_matches"] = bool(np.allclose(
            result["end_to_end"]["replayed_curve"], [p["test_accuracy"] for p in stored], atol=2 / 360))
        results.rewrite(target, result)
        print(f"wrote {target}: end to end {result['end_to_end']['recipe_test_accuracy']:.4f} "
              f"(simulated {result['end_to_end']['simulated_test_accuracy']:.4f})")
        return 0
    done = json.loads(PROGRESS.read_text()) if PROGRESS.is_file() else {}  # an interrupted run goes on
    curves = {}
    for strategy in ("active", "random"):
        for seed in args.seeds:
            key = f"{strategy}-{seed}-{args.step}-{args.cap}"
            if key not in done:
                done[key] = run(found, strategy, seed, args.step, args.cap)[0]
                PROGRESS.write_text(json.dumps(done))
            curves.setdefault(strategy, []).append({"seed": seed, "curve": done[key]})
    result = {"defectlab": None, "why": WHY, "pool_pictures": int((found["side"] == "train").sum()),
              "test_pictures": int((found["side"] == "test").sum()), "seeds": args.seeds, "step": args.step,
              "cap": args.cap, "start": "1 labelled picture per class, the same draw for both strategies",
              "classifier": "classification.semi self-training (preset semi) on frozen ImageNet Lite0 features, "
                            "224 px, one view",
              "active": "shared.suite.suggest.rank: margin of the classifier on the pool, k-center greedy on the "
                        "same features among the 3 x 6 most doubtful, labelled pictures as first centres",
              "random": "stratified random: one more picture of each class per round",
              "labels_to_99": {s: labels_to(0.99, [c["curve"] for c in curves[s]]) for s in curves},
              "mean_curve": {s: [{"labels": p["labels"], "test_accuracy": round(float(np.mean(
                  [c["curve"][k]["test_accuracy"] for c in curves[s]])), 4)} for k, p in enumerate(curves[s][0]["curve"])]
                  for s in curves},
              "curves": curves, "feature_seconds": float(found["seconds"]),
              "rounds_seconds": round(sum(p["seconds"] for c in done.values() for p in c), 1),
              "figure": f"scripts/benchmarks/results/{NAME}_curve.png"}
    path = results.write(target, result, split="kaggle-det", index=index, command=script_command(__file__, argv))
    curve_png(result, results.RESULTS / f"{NAME}_curve.png")
    print(f"wrote {path}: labels to 99% {result['labels_to_99']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
