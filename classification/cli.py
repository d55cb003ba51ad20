"""The classification verbs beyond train / evaluate / predict: `explain` (Grad-CAM) and `cluster` (unsupervised
grouping). Parsing only; the work is classification.gradcam.explain and classification.cluster.cluster."""
from __future__ import annotations

import argparse
from pathlib import Path

# classification.features.KINDS spelled out: building the parser must load no framework (tests/test_layout.py),
# and features.py imports Keras; tests/classification/test_cluster.py keeps the two equal
FEATURE_KINDS = ("lite0", "lite1", "lite2", "texture")
CLUSTER_EPILOG = """examples:
  defectlab classification cluster my_images/                 texture features, ward, k chosen by silhouette
  defectlab classification cluster my_images/ --clusters 6 --method kmeans --out runs/clusters-k6
  defectlab classification cluster "scans/**/*.png" --features lite0    quoted globs are expanded here
  defectlab classification cluster my_images/ --self-train    refine the clusters without labels (slower)

written to --out (nothing is written beside your pictures):
  assignments.csv         image, cluster, distance to the cluster's mean; by cluster, the most typical first
  clusters.json           config, n_clusters, silhouette per k (when estimated), sizes, unreadable files
  sheets/cluster_<i>.png  up to 36 thumbnails of cluster i, the most typical first: look here to name a cluster
  map.png                 t-SNE map of the pictures coloured by cluster (near on the map = similar features)

Clusters are numbered by size (0 the largest). Features ('texture': channel statistics of EfficientNet-Lite0, suits
steel textures; 'lite0|1|2': the backbone's pooled output) come from the bundled ImageNet weights: nothing is
downloaded. --self-train takes the 30% of each cluster nearest its mean as labelled seeds, self-trains a
classifier head from them and the other pictures (as `classification train preset=semi` does) and re-assigns every
picture by it."""


def register_explain(verbs, common) -> None:
    explain = verbs.add_parser("explain", help="Grad-CAM heatmaps for images",
                               description="Draw where in each image the predicted (or --class) class comes from.")
    explain.add_argument("run", type=Path, help="run folder")
    explain.add_argument("images", nargs="+", help="image files and/or folders")
    explain.add_argument("--out", type=Path, default=Path("runs/gradcam"), help="folder for PNGs (default runs/gradcam)")
    explain.add_argument("--class", dest="class_name", help="explain this class instead of the predicted one")
    common(explain)
    explain.set_defaults(handler=run_explain)


def run_explain(args) -> int:
    import sys

    from .gradcam import explain
    from .run import load

    for record in explain(load(args.run), args.images, args.out, args.class_name):
        if "error" in record:
            print(f"defectlab: skipped {record['error']}", file=sys.stderr)
        else:
            print(f"{record['image']}: {record['class']} ({record['confidence']:.1%}) -> {record['picture']}")
    return 0


def _cluster_count(text: str) -> int | None:
    if text == "auto":
        return None
    if not text.isdigit() or int(text) < 2:
        raise argparse.ArgumentTypeError(f"expected a whole number of 2 or more, or auto; got {text!r}")
    return int(text)


def register_cluster(verbs, common) -> None:
    from .cluster import METHODS  # numpy only: the learning libraries load when the command runs

    cluster = verbs.add_parser("cluster", help="group unlabelled images by look (no labels needed)",
                               description="Group the pictures of folders, files or globs into clusters of similar "
                                           "look with frozen ImageNet features: a first sorting of an unlabelled "
                                           "collection. An unreadable file is reported and skipped.",
                               epilog=CLUSTER_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    cluster.add_argument("images", nargs="+", help="image files, folders (searched recursively) or globs")
    cluster.add_argument("--clusters", type=_cluster_count, default=None, metavar="K|auto",
                         help="number of clusters, or auto: the k of 2..12 with the best silhouette (default auto)")
    cluster.add_argument("--features", choices=FEATURE_KINDS, default="texture",
                         help="frozen features to cluster (default texture)")
    cluster.add_argument("--method", choices=METHODS, default="ward",
                         help="ward (agglomerative), kmeans, spectral (nearest-neighbour graph) or gmm "
                              "(diagonal Gaussian mixture) (default ward)")
    cluster.add_argument("--out", type=Path, default=Path("runs/clusters"),
                         help="output folder (default runs/clusters)")
    cluster.add_argument("--seed", type=int, default=0, help="seed of every random choice (default 0)")
    cluster.add_argument("--self-train", action="store_true",
                         help="refine the clusters with a head self-trained from each cluster's most typical "
                              "pictures (slower)")
    cluster.add_argument("--batch-size", type=int, default=32, help="pictures per feature batch (default 32)")
    cluster.add_argument("--quiet", action="store_true", help="no progress bars")
    common(cluster)
    cluster.set_defaults(handler=run_cluster)


def run_cluster(args) -> int:
    from .cluster import cluster

    result = cluster(args.images, args.out, args.clusters, args.features, args.method, args.seed, args.self_train,
                     args.batch_size, progress=not args.quiet)
    how = "estimated by silhouette" if result["estimated"] else "as asked"
    final = result["silhouette_final"]
    print(f"{len(result['images'])} pictures -> {result['n_clusters']} clusters ({how}; {args.features} features, "
          f"{args.method})" + (f", silhouette {final:.3f}" if final is not None else ""))
    if "self_training" in result:
        print(f"  self-training re-assigned {result['self_training']['changed']} pictures")
    for number, size in enumerate(result["sizes"]):
        print(f"  cluster {number}: {size} pictures")
    if result["errors"]:
        print(f"  {len(result['errors'])} files skipped (listed in clusters.json)")
    files = result["files"]
    print(f"assignments: {files['assignments']}\nsummary: {files['clusters']}\n"
          f"contact sheets: {Path(files['assignments']).parent / 'sheets'}/\nmap: {files['map']}")
    return 0
