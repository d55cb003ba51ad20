"""Anomaly-model recipes: one dataclass with the recommended defaults, plus named presets (data)."""
from __future__ import annotations

from dataclasses import dataclass

from shared.datasets.images import ASPECTS
from shared.datasets.splits import VALID_PICKS
from shared.suite.recipe import SPLIT_NAMES, Recipe, option

from .aspect import SCORE_ASPECTS
from .zoo import MODELS  # the registry's names (no ML framework imported)

MAP_CONTRAST = "median"  # the default of new runs (anomaly_parts/map-selection-contrast.json)
FITTED_FILE = "fitted.json"  # in a run: sha1 of every picture the model was fitted on
PROTOCOLS = ("loco", "one-class")  # NEU protocols: leave-one-class-out, one-class


@dataclass
class AnomalyRecipe(Recipe):
    TASK = "anomaly"
    DEFAULT_PRESET = "texture-knn"

    data: str = option("", "anomaly folders (normal/train, normal/test, abnormal, masks) or any labelled dataset "
                           "with normal_classes (its split's train pictures of those classes are fitted)")
    split: str = option("kaggle-det", "named split for a labelled dataset (see `defectlab data split --help`)",
                        choices=SPLIT_NAMES)
    normal_classes: list = option(help="labelled dataset: classes that are normal, e.g. crazing,inclusion (empty: "
                                       "all of them, i.e. the detector of defect kinds not in the data)",
                                  factory=list)
    valid_fraction: float = option(0.1, "share of the normal training pictures held out (seeded) to choose the "
                                        "threshold; they are not fitted")
    valid_pick: str = option("random", "which normal training pictures set the threshold: random (seeded) or last "
                                       "(the last by the number in their file names: pictures in acquisition order "
                                       "have look-alike neighbours, so a random pick sets the threshold too low)",
                             choices=VALID_PICKS)
    out: str = option("runs/anomaly", "parent folder of run folders: the run lands in OUT/NAME")
    model: str = option("texture-knn", "anomaly model", choices=MODELS)
    backbone: str = option("tf_efficientnet_lite0", "timm backbone (bundled ImageNet weights: tf_efficientnet_lite0|1|2)")
    weights: str = option("imagenet", "backbone initialisation", choices=("imagenet", "random"))
    layers: list = option(help="backbone blocks the model reads, e.g. blocks.3,blocks.4,blocks.5",
                          factory=lambda: ["blocks.3", "blocks.4", "blocks.5"])  # chosen on validation
    coreset_ratio: float = option(0.01, "patchcore: share of patch features kept in the memory bank")
    coreset_sampler: str = option("random", "patchcore: how the memory bank is drawn: random (seconds) or anomalib's "
                                            "greedy k-center coreset (about 45 min for 762 pictures at 224 px on 2 "
                                            "cores)", choices=("random", "greedy"))
    map_layers: list = option(help="texture-knn: blocks whose local features feed the anomaly map's patch kNN",
                              factory=lambda: ["blocks.2", "blocks.3", "blocks.4"])  # chosen on validation
    map_kind: str = option("pool-zero-pad", "texture-knn map features: 3x3 means counting the zeros beyond the "
                                            "border (PatchCore's), of the picture only, or means and log std",
                           choices=("pool-zero-pad", "pool", "local-texture"))
    map_standardize: bool = option(False, "texture-knn: z-score each map feature channel on the normal patches "
                                         "(false: PatchCore's raw distances)")
    map_calibration: str = option("none", "texture-knn: map distances as z-scores per location "
                                  "(shrunk: spread floored at the median) or raw", choices=("none", "per-location", "per-location-shrunk"))  # chosen on validation
    map_stride: int = option(8, "texture-knn: pixels between the map's patches (8: a 28 x 28 grid at 224 px; 16: "
                                "14 x 14, a quarter of the kNN's work at one bank size)",
                             choices=(8, 16))  # chosen on validation (map-selection-resolution)
    bank_size: int = option(2500, "texture-knn: normal patches (drawn at random) the map compares with (the kNN's "
                                  "work grows with it and with the map's patches)")  # with map_stride: same work
    map_fusion: float = option(2.0, "texture-knn: weight of the image score added to the map (0: patch distances "
                                    "only)")  # chosen on validation (map-selection-resolution; 4.0 before it)
    map_blur: float = option(8.0, "texture-knn: sigma in pixels of the Gaussian blur of the map (0: none)")  # chosen
    # on validation (map-selection-blur)
    map_contrast: str = option(MAP_CONTRAST, "texture-knn: each map less its own median (median: the picture's level "
                                             "comes from the fused image score alone) or as it is (none)",
                               choices=("none", "median"))  # chosen on validation (map-selection-contrast)
    num_neighbors: int = option(1, "texture-knn: nearest normal images averaged; patchcore: re-weighting neighbours")
    n_features: int = option(100, "padim: random feature subset")
    threshold_quantile: float = option(0.95, "quantile of held-out normal scores used as the threshold "
                                             "(about 5% false alarms on normal pictures)")
    map_aspect: str = option("letterbox", "how a non-square picture becomes the square the map (and the fit) "
                                          "uses: letterbox (aspect kept, mirrored fill) or resize (stretched)",
                             choices=ASPECTS)  # chosen on validation: scripts/benchmarks/results/anomaly_aspect.json
    score_aspect: str = option("tile", "how a non-square picture is scored: as the map's square (letterbox, "
                                       "resize) or by square tiles along its longer side, the largest tile's score "
                                       "(tile); square pictures score the same either way",
                               choices=SCORE_ASPECTS)  # chosen on validation: anomaly_aspect.json

    @classmethod
    def migrate(cls, values: dict) -> dict:
        """Runs made before `map_aspect`, `score_aspect`, `map_contrast`, `map_stride` and `map_blur` existed
        letterboxed every picture and drew maps as they are, unblurred, on the stride-16 grid: they keep doing so."""
        values = super().migrate(values)
        values.setdefault("map_aspect", "letterbox")
        values.setdefault("score_aspect", "letterbox")
        values.setdefault("map_contrast", "none")
        values.setdefault("map_fusion", 2.0)
        values.setdefault("map_stride", 16)
        values.setdefault("bank_size", 10000)
        values.setdefault("map_blur", 0.0)
        return values

    def run_name(self) -> str:
        return self.name or f"{self.preset}-{self.weights}-seed{self.seed}"

    def check(self) -> None:
        if not 0 < self.threshold_quantile <= 1:
            raise ValueError(f"anomaly recipe: threshold_quantile must be in (0, 1], got {self.threshold_quantile}")
        if not 0 <= self.map_blur < float("inf"):  # NaN fails too
            raise ValueError(f"anomaly recipe: map_blur is a sigma in pixels, 0 or more, got {self.map_blur}")
        if self.bank_size < 1:
            raise ValueError(f"anomaly recipe: bank_size must be at least 1, got {self.bank_size}")
        if not 0 < self.coreset_ratio <= 1:
            raise ValueError(f"anomaly recipe: coreset_ratio must be in (0, 1], got {self.coreset_ratio}")


PRESETS = {
    # per-channel mean / log-std of three middle stages, nearest normal image (the recommended default)
    "texture-knn": {},
    "patchcore": {"model": "patchcore", "layers": ["blocks.2", "blocks.4"], "num_neighbors": 9},
    "padim": {"model": "padim", "layers": ["blocks.1", "blocks.2", "blocks.4"]},
    "dfm": {"model": "dfm", "layers": ["blocks.4"]},
    # the main job (`defectlab demo`): texture-knn at 192 px, every class normal (the suite's detector of unseen
    # kinds); leave-one-class-out on the synthetic default takes about 100 s on 2 cores
    "demo": {"image_size": 192},
    # seconds; tests (leave-scratches-out on NEU-like data)
    "smoke": {"model": "patchcore", "layers": ["blocks.2", "blocks.4"], "num_neighbors": 9,
              "image_size": 64, "coreset_ratio": 0.02, "batch_size": 16,
              "normal_classes": ["crazing", "inclusion", "patches", "pitted_surface", "rolled-in_scale"]},
}
AnomalyRecipe.PRESETS = PRESETS

# one line per preset for `defectlab anomaly train --help`
AnomalyRecipe.PRESET_HELP = {
    "texture-knn": "default: per-channel mean / log-std of three middle stages, nearest normal image",
    "patchcore": "anomalib's PatchCore, random memory bank of 1% of the patches",
    "padim": "anomalib's PaDiM",
    "dfm": "anomalib's DFM",
    "demo": "the main job (`defectlab demo`): texture-knn at 192 px, every class normal",
    "smoke": "seconds; tests",
}
