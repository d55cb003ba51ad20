"""Unsupervised grouping of unlabelled pictures (`defectlab classification cluster`): frozen ImageNet features
(classification.features) -> standardised, PCA, L2-normalised vectors -> clusters, with the number of clusters
chosen by silhouette when it is not given. Optionally the grouping is refined without labels: a classifier head
self-trained (classification.semi) from the pictures nearest each cluster's mean re-assigns every picture.

Writes into OUT only (never beside the pictures): assignments.csv, clusters.json, sheets/cluster_<i>.png (contact
sheets) and map.png (t-SNE). scikit-learn, matplotlib and Keras load inside the functions, so the CLI can read
METHODS while building its parser without loading any of them.
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

METHODS = ("ward", "kmeans", "spectral", "gmm")
SEED_SHARE = 0.3      # self-training: the share of each cluster, nearest its mean, taken as labelled seeds
SHEET_PICTURES = 36   # thumbnails per contact sheet (6 x 6)


def preprocess(features: np.ndarray, seed: int = 0) -> np.ndarray:
    """N x D features -> N x d unit vectors. Standardising stops a few large-valued channels from dominating, PCA
    drops the noisy tail, and unit length makes Euclidean distance cosine-like (NEU, Lite0 features, k-means:
    NMI 0.82 raw -> 0.87, fewlabels.json)."""
    from sklearn.decomposition import PCA
    from sklearn.preprocessing import StandardScaler, normalize

    x = StandardScaler().fit_transform(np.asarray(features, dtype=np.float64))
    components = min(64, len(x) - 1, x.shape[1])
    return normalize(PCA(n_components=components, random_state=seed).fit_transform(x))


def _model(method: str, n_clusters: int, n: int, seed: int):
    from sklearn.cluster import AgglomerativeClustering, KMeans, SpectralClustering
    from sklearn.mixture import GaussianMixture

    if method == "ward":
        return AgglomerativeClustering(n_clusters, linkage="ward")
    if method == "kmeans":
        return KMeans(n_clusters, n_init=10, random_state=seed)
    if method == "spectral":   # a cluster needs about n_neighbors members to stand apart in the graph
        return SpectralClustering(n_clusters, affinity="nearest_neighbors", n_neighbors=min(10, n - 1),
                                  random_state=seed)
    if method == "gmm":
        return GaussianMixture(n_clusters, covariance_type="diag", n_init=3, random_state=seed)
    raise ValueError(f"unknown clustering method {method!r}; choose one of {', '.join(METHODS)}")


def by_size(labels: np.ndarray) -> np.ndarray:
    """Renumber so cluster 0 is the largest, 1 the next, ...; ties go to the cluster seen first. The algorithms'
    own numbering is arbitrary, so this makes the output stable. A cluster left empty (a GMM component) vanishes."""
    labels = np.asarray(labels)
    ids, first, counts = np.unique(labels, return_index=True, return_counts=True)
    rank = {old: new for new, old in enumerate(ids[np.lexsort((first, -counts))])}   # largest first
    return np.array([rank[label] for label in labels], dtype=int)


def assign(z: np.ndarray, n_clusters: int, method: str = "ward", seed: int = 0) -> np.ndarray:
    """N cluster ids (0 the largest) of the preprocessed vectors z."""
    if not 1 <= n_clusters <= len(z):
        raise ValueError(f"cannot make {n_clusters} clusters of {len(z)} pictures")
    return by_size(_model(method, n_clusters, len(z), seed).fit_predict(z))


def estimate_clusters(z: np.ndarray, method: str = "ward", seed: int = 0,
                      k_range=range(2, 13)) -> tuple[int, dict[int, float]]:
    """(best k, {k: silhouette}): each k's clustering scored by its mean silhouette (how much closer a picture is
    to its own cluster than to the next one); the best k scores highest. k runs only up to N - 1, where the
    silhouette is defined."""
    from sklearn.metrics import silhouette_score

    scores = {}
    for k in (k for k in k_range if 2 <= k <= len(z) - 1):
        labels = assign(z, k, method, seed)
        if len(np.unique(labels)) > 1:   # a GMM may leave components empty
            scores[k] = float(silhouette_score(z, labels))
    if not scores:
        raise ValueError(f"cannot estimate the number of clusters of {len(z)} pictures (need at least 3)")
    return max(scores, key=scores.get), scores


def distances(z: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Euclidean distance of each vector to its cluster's mean."""
    means = np.stack([z[labels == c].mean(0) for c in range(labels.max() + 1)])
    return np.linalg.norm(z - means[labels], axis=1)


# -- reading the pictures ------------------------------------------------------------------------------------------
def read_pictures(inputs, size: int, skip: Path | None = None, progress: bool = False) -> tuple[list[str], np.ndarray,
                                                                                               list[dict]]:
    """Paths, folders (recursive) and globs -> (names, N x size x size x 3 uint8, errors). Each picture is decoded
    once by the suite's predictor decoder and resized square (as load_image does); a file that cannot be read gets
    a one-line `defectlab: skipped PATH: problem` on stderr and an error entry, and the rest go on. Files under
    `skip` (the output folder) are left out, so a second run inside the picture folder does not cluster its own
    contact sheets, and a file named twice (a folder and a glob) counts once: a duplicate would sit at distance 0
    from itself and pull the silhouette towards many tiny clusters."""
    from tqdm.auto import tqdm

    from shared.datasets.images import decode_input, expand_globs, expand_image_inputs, resize_rgb
    from shared.suite.errors import DataError

    words = [str(word) for word in ([inputs] if isinstance(inputs, (str, Path)) else inputs)]
    skip = skip.resolve() if skip is not None else None
    unique = {}   # resolved path -> the path as named, first naming kept
    for item in expand_image_inputs(expand_globs(words)):
        if skip is None or skip not in item.resolve().parents:
            unique.setdefault(item.resolve(), item)
    items = list(unique.values())
    names, pictures, errors = [], np.empty((len(items), size, size, 3), np.uint8), []
    for item in tqdm(items, desc="[classification] reading", unit="img", disable=not progress or None):
        try:
            pictures[len(names)] = resize_rgb(decode_input(item), size)
        except DataError as error:
            print(f"defectlab: skipped {error}", file=sys.stderr)
            errors.append({"image": str(item), "error": str(error)})
        else:
            names.append(str(item))
    return names, pictures[:len(names)], errors


# -- self-training -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SelfTrainConfig:
    """What classification.semi.self_train reads (plus the head's learning rate): the semi preset's values with
    three rounds."""
    head_lr: float = 3e-3
    pseudo_rounds: int = 3
    pseudo_steps: int = 300
    pseudo_threshold: float = 0.9
    pseudo_weight: float = 1.0


def refine(extractor, pictures: np.ndarray, weak: np.ndarray, z: np.ndarray, labels: np.ndarray, seed: int = 0,
           batch_size: int = 32, progress: bool = False, config: SelfTrainConfig | None = None
           ) -> tuple[np.ndarray, dict]:
    """Re-assign every picture with a head self-trained from the clusters: the SEED_SHARE of each cluster nearest
    its mean are its labelled pictures (the surest members), the rest the unlabelled pool. weak: 8 x N x D features
    of the 8 flips / turns. New labels = argmax of the head's mean probability over the weak views."""
    import keras

    from .augment import SteelAugment
    from .fit import strong_augment
    from .models import create_head
    from .recipe import Augment
    from .semi import pool_probabilities, self_train, view_features

    keras.utils.set_random_seed(seed)
    k, gap = int(labels.max()) + 1, distances(z, labels)
    seeds = np.zeros(len(labels), bool)
    for c in range(k):
        members = np.flatnonzero(labels == c)
        seeds[members[np.argsort(gap[members])[:max(1, round(SEED_SHARE * len(members)))]]] = True
    config = config or SelfTrainConfig()
    strong = SteelAugment(**vars(strong_augment(Augment())), seed=seed)   # the classifier's FixMatch strong views
    strong_views = view_features(extractor, pictures[~seeds], batch_size, strong=strong, progress=progress)
    head = create_head(weak.shape[-1], k, dropout=0.2, l2=1e-4)

    def compile_head(h):
        h.compile(keras.optimizers.Adam(config.head_lr), keras.losses.CategoricalCrossentropy(from_logits=True))

    result = self_train(head, weak[:, seeds], labels[seeds], weak[:, ~seeds], strong_views, k, config, compile_head,
                        progress=progress)
    guess = pool_probabilities(head, weak).argmax(1)
    return guess, {"seed_share": SEED_SHARE, "seeds": int(seeds.sum()), "pool": int((~seeds).sum()),
                   "threshold": config.pseudo_threshold, "rounds": result.rounds,
                   "changed": int((guess != labels).sum())}


# -- the command ---------------------------------------------------------------------------------------------------
def cluster(inputs, out, n_clusters: int | None = None, features: str = "texture", method: str = "ward",
            seed: int = 0, self_train: bool = False, batch_size: int = 32, progress: bool = True) -> dict:
    """Cluster the pictures of `inputs` (paths, folders searched recursively, globs) and write OUT/assignments.csv,
    OUT/clusters.json, OUT/sheets/cluster_<i>.png and OUT/map.png. n_clusters None: chosen by silhouette over 2..12.
    Returns the clusters.json dict, except that "images" is the list of clustered pictures (clusters.json holds
    their count), plus "labels" (N cluster ids in that order)."""
    import pandas as pd
    from sklearn.metrics import silhouette_score

    from .features import extractor as make_extractor
    from .features import image_size
    from .semi import view_features

    if method not in METHODS:
        raise ValueError(f"unknown clustering method {method!r}; choose one of {', '.join(METHODS)}")
    if n_clusters is not None and n_clusters < 2:
        raise ValueError(f"the number of clusters must be 2 or more (or auto), not {n_clusters}")
    out = Path(out)
    names, pictures, errors = read_pictures(inputs, image_size(features), skip=out, progress=progress)
    if len(names) < max(3, (n_clusters or 0) + 1):
        raise ValueError(f"{len(names)} readable pictures: clustering needs at least "
                         f"{max(3, (n_clusters or 0) + 1)}" + (f" ({len(errors)} could not be read)" if errors else ""))
    extractor = make_extractor(features)
    if self_train:   # the 8 flips / turns; view 0 is the picture itself, so it gives the plain features too
        weak = view_features(extractor, pictures, batch_size, progress=progress)
        vectors = weak[0]
    else:
        from .progress import bars

        vectors = extractor.predict(pictures, batch_size=batch_size, verbose=0, callbacks=bars("features", progress))
    z = preprocess(vectors, seed)
    estimated = {}
    if n_clusters is None:
        n_clusters, estimated = estimate_clusters(z, method, seed)
    labels = assign(z, n_clusters, method, seed)
    refined = {}
    if self_train:
        labels, refined = refine(extractor, pictures, weak, z, labels, seed, batch_size, progress)
        labels = by_size(labels)
    gap, k = distances(z, labels), int(labels.max()) + 1
    record = {"schema": 1, "config": {"features": features, "method": method, "seed": seed, "self_train": self_train},
              "n_clusters": k, "estimated": bool(estimated)}
    if estimated:
        record["silhouette"] = {str(n): round(v, 4) for n, v in estimated.items()}
    if refined:
        record["self_training"] = refined
    record.update(silhouette_final=round(float(silhouette_score(z, labels)), 4) if 2 <= k <= len(z) - 1 else None,
                  sizes=np.bincount(labels, minlength=k).tolist(), errors=errors, images=len(names))

    out.mkdir(parents=True, exist_ok=True)
    for stale in (out / "sheets").glob("cluster_*.png"):   # a previous run here may have made more clusters
        stale.unlink()
    table = pd.DataFrame({"image": names, "cluster": labels, "distance": gap.round(6)})
    table.sort_values(["cluster", "distance"], kind="stable").to_csv(out / "assignments.csv", index=False)
    files = {"assignments": out / "assignments.csv", "clusters": out / "clusters.json", "map": out / "map.png",
             "sheets": [contact_sheet(pictures, names, labels, gap, c, out / "sheets" / f"cluster_{c}.png")
                        for c in range(k)]}
    tsne_map(z, labels, files["map"], seed)
    record["files"] = {key: [str(p) for p in v] if isinstance(v, list) else str(v) for key, v in files.items()}
    (out / "clusters.json").write_text(json.dumps(record, indent=2) + "\n")
    return {**record, "images": names, "labels": labels}


# -- pictures ------------------------------------------------------------------------------------------------------
def contact_sheet(pictures: np.ndarray, names: list[str], labels: np.ndarray, gap: np.ndarray, c: int,
                  path: Path) -> Path:
    """Up to SHEET_PICTURES thumbnails of cluster c, nearest its mean first (the most typical members)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    members = np.flatnonzero(labels == c)
    shown = members[np.argsort(gap[members], kind="stable")][:SHEET_PICTURES]
    columns = min(6, len(shown))
    rows = int(np.ceil(len(shown) / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(columns * 1.6, rows * 1.8 + 0.5), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, i in zip(axes.flat, shown):
        ax.imshow(pictures[i])
        ax.set_title(Path(names[i]).name, fontsize=6)
    fig.suptitle(f"cluster {c} ({len(members)} pictures)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def tsne_map(z: np.ndarray, labels: np.ndarray, path: Path, seed: int = 0) -> Path:
    """The vectors laid out in 2-D by t-SNE (neighbours stay neighbours; distances between far groups mean
    little), coloured by cluster."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.manifold import TSNE
    from threadpoolctl import threadpool_limits

    # one thread: t-SNE's thousand short OpenMP regions wait on each other on a busy machine (measured on the
    # 2-core box under load: 72 pictures 7-32 s with 2 threads, 0.1 s with one; 1800 pictures 9 s with one)
    with threadpool_limits(1):
        xy = TSNE(n_components=2, perplexity=min(30, len(z) - 1), init="pca", random_state=seed).fit_transform(z)
    fig, ax = plt.subplots(figsize=(7, 6))
    colours = plt.get_cmap("tab10" if labels.max() < 10 else "tab20")
    for c in range(int(labels.max()) + 1):
        ax.scatter(*xy[labels == c].T, s=14, color=colours(c % colours.N),
                   label=f"cluster {c} ({int((labels == c).sum())})")
    ax.set_title(f"t-SNE of {len(z)} pictures, {int(labels.max()) + 1} clusters")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.legend(fontsize=7, markerscale=1.2, loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
