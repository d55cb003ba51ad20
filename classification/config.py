"""Training recipes: one dataclass whose defaults are the recommended recipe, plus named presets."""
from __future__ import annotations

from dataclasses import dataclass, field

from shared.config_file import JsonConfig


@dataclass
class Augment:
    """Augmentation that suits steel textures: flips, 90-degree turns, small photometric changes, defocus."""
    flips: bool = True
    rot90: bool = True
    brightness: float = 0.08   # max shift as a fraction of the 0..255 range
    contrast: float = 0.1      # max relative contrast change
    noise: float = 3.0         # max std of added Gaussian noise, in gray levels
    blur: float = 1.5          # std (pixels) of the strongest defocus blur; 0 turns blur off


@dataclass
class ClassifierConfig(JsonConfig):
    preset: str = "lite0-finetune"
    data: str = ""                  # dataset folder (any layout shared.read_dataset knows)
    split: str = "kaggle-cls"
    folds: int = 5
    fold: int = 0
    seed: int = 0
    valid_fraction: float = 0.0     # carve valid from train; kfold/holdout without valid use 0.1
    model: str = "efficientnet_lite0"
    weights: str = "imagenet"       # 'imagenet' (bundled or local file), 'none', or a path
    image_size: int = 224
    batch_size: int = 32
    head_epochs: int = 40           # stage 1: classifier on frozen, cached features
    head_lr: float = 3e-3
    finetune_epochs: int = 6        # stage 2: whole network unfrozen (BatchNorm stays frozen)
    finetune_lr: float = 1e-4
    weight_decay: float = 1e-4
    l2: float = 1e-4                # L2 on the classifier (and every conv of the baseline CNN)
    dropout: float = 0.2
    label_smoothing: float = 0.1
    patience: int = 3               # early stopping on validation loss
    early_stop_from: int = 0        # epochs before early stopping may act (a from-scratch net starts noisy)
    augment: Augment = field(default_factory=Augment)
    out: str = "runs/classification"
    name: str = ""

    def run_name(self) -> str:
        fold = f"-fold{self.fold}" if self.split == "kfold" else ""
        return self.name or f"{self.preset}-{self.split}{fold}-seed{self.seed}"

    @classmethod
    def from_dict(cls, values: dict) -> "ClassifierConfig":
        return super().from_dict({**values, "augment": Augment(**values.get("augment", {}))})


PRESETS = {
    # the headline recipe: ImageNet EfficientNet-Lite0, two-stage fine-tuning
    "lite0-finetune": {},
    # the frozen-feature floor: stage 1 only
    "lite0-frozen": {"finetune_epochs": 0},
    # the reference baseline: a small CNN from scratch with L2 and augmentation
    "baseline": {"model": "baseline-cnn", "weights": "none", "image_size": 128, "head_epochs": 0,
                 "finetune_epochs": 30, "finetune_lr": 1e-3, "weight_decay": 0.0, "l2": 5e-4,
                 "patience": 6, "early_stop_from": 10, "label_smoothing": 0.0},
    # seconds-long recipe for the demo and tests on synthetic data
    "smoke": {"image_size": 96, "head_epochs": 5, "finetune_epochs": 1, "batch_size": 16},
}


def make_config(preset: str = "lite0-finetune", **overrides) -> ClassifierConfig:
    if preset not in PRESETS:
        raise KeyError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    values = {**PRESETS[preset], **{k: v for k, v in overrides.items() if v is not None}}
    if isinstance(values.get("augment"), dict):
        values["augment"] = Augment(**values["augment"])
    return ClassifierConfig(preset=preset, **values)
