"""Classifier recipes: one dataclass whose defaults are the recommended recipe, plus named presets (data)."""
from __future__ import annotations

from dataclasses import dataclass

from shared.datasets.splits import VALID_PICKS
from shared.pretrained import LITE_CFGS
from shared.suite.recipe import Recipe, option


@dataclass
class Augment:
    """Augmentation that suits steel textures: flips, 90-degree turns, small photometric changes, defocus."""
    flips: bool = True
    rot90: bool = True
    brightness: float = 0.08   # max shift as a fraction of the 0..255 range
    contrast: float = 0.1      # max relative contrast change
    noise: float = 3.0         # max std of added Gaussian noise, in gray levels
    blur: float = 1.5          # std (pixels) of the strongest defocus blur; 0 turns blur off


SELECT_CANDIDATES = ("frozen", "ensemble", "finetune")  # select's candidates, cheapest first (classification.select)


@dataclass
class ClassifierRecipe(Recipe):
    TASK = "classification"
    DEFAULT_PRESET = "lite0-finetune"

    out: str = option("runs/classification", "parent folder of run folders: the run lands in OUT/NAME")
    classes: list = option(help="train on these classes only, e.g. crazing,inclusion (empty: every class); the "
                                "split is made on the whole dataset first, so each kept picture stays on its side",
                           factory=list)
    valid_pick: str = option("random", "how the validation part is carved from train: random (seeded) or last "
                                       "(each class's last pictures by number, like the newest pictures of a line)",
                             choices=VALID_PICKS)
    model: str = option("efficientnet_lite0", "efficientnet_lite0|1|2, baseline-cnn or keras:<Application>")
    weights: str = option("imagenet", "'imagenet' (bundled for Lite), 'none', or a weights file")
    head_epochs: int = option(40, "stage 1: epochs of the classifier on frozen, cached features")
    head_lr: float = option(3e-3, "stage 1 learning rate")
    finetune_epochs: int = option(6, "stage 2: epochs of the whole network (BatchNorm stays frozen)")
    finetune_lr: float = option(1e-4, "stage 2 learning rate")
    weight_decay: float = option(1e-4, "AdamW weight decay in stage 2 (0: Adam)")
    l2: float = option(1e-4, "L2 on the classifier (and every conv of the baseline CNN)")
    dropout: float = option(0.2, "dropout before the classifier")
    label_smoothing: float = option(0.1, "label smoothing of the cross-entropy")
    patience: int = option(3, "early stopping: epochs without a better validation loss")
    early_stop_from: int = option(0, "epochs before early stopping may act (a from-scratch net starts noisy)")
    labels_per_class: int = option(0, "keep k labelled train pictures per class (a seeded draw) and hide the labels "
                                      "of the other train and valid pictures: how few labels are simulated; 0 keeps "
                                      "every label")
    pseudo_rounds: int = option(0, "self-training rounds on the unlabelled pictures (an unlabelled/ folder, or what "
                                   "labels_per_class hides); 0 turns it off (preset semi: 5). Stage 1 then runs "
                                   "pseudo_steps per round instead of head_epochs")
    pseudo_threshold: float = option(0.9, "pseudo-label an unlabelled picture when the head's mean probability "
                                          "over its 8 flips / turns reaches this")
    pseudo_weight: float = option(1.0, "loss weight of a pseudo-labelled view, relative to a labelled one")
    pseudo_steps: int = option(300, "optimizer steps (batches of 128 views) of each self-training fit")
    class_weight: str = option("none", "'balanced' weighs each class by the inverse of its train count "
                                       "(imbalanced folders)", choices=("none", "balanced"))
    select: str = option("", "before training, choose among these recipes on validation folds of the train "
                             "side: comma list of frozen, ensemble (frozen Lite0-2 heads averaged), finetune "
                             "(preset auto: all three)")
    select_folds: int = option(3, "select: folds of the train and valid pictures the candidates are scored on")
    augment: Augment = option(help="steel augmentation as JSON, e.g. '{\"blur\": 0}'", factory=Augment)
    image_size: int = option(224, "input size in pixels (default: the backbone's own, from its cfg: Lite0 224, "
                                  "Lite1 240, Lite2 260)", aliases=("imgsz",))

    def check(self) -> None:
        """Rules across the few-label fields, checked when the recipe is built (before any folder is written)."""
        if self.labels_per_class < 0:
            raise ValueError(f"classification recipe: labels_per_class must be 0 (every label) or more, got "
                             f"{self.labels_per_class}")
        if self.pseudo_rounds and not self.head_epochs:
            raise ValueError("classification recipe: pseudo_rounds needs stage 1 (head_epochs > 0): self-training "
                             "is how stage 1 learns from the unlabelled pictures")
        if not 0 < self.pseudo_threshold <= 1:
            raise ValueError(f"classification recipe: pseudo_threshold must be in (0, 1], got {self.pseudo_threshold}")
        if self.select:
            names = [c.strip() for c in self.select.split(",") if c.strip()]
            wrong = [c for c in names if c not in SELECT_CANDIDATES]
            if wrong or not names:
                raise ValueError(f"classification recipe: select={self.select!r}: give a comma list of "
                                 f"{', '.join(SELECT_CANDIDATES)}")
            if self.select_folds < 2:
                raise ValueError(f"classification recipe: select_folds must be 2 or more, got {self.select_folds}")

    @classmethod
    def derived_defaults(cls, values: dict) -> dict:
        model = values.get("model", cls.model)
        return {"image_size": LITE_CFGS[model]["input_size"]} if model in LITE_CFGS else {}


PRESETS = {
    # the headline recipe: ImageNet EfficientNet-Lite0, two-stage fine-tuning
    "lite0-finetune": {},
    # the frozen-feature floor: stage 1 only
    "lite0-frozen": {"finetune_epochs": 0},
    # the reference baseline: a small CNN from scratch with L2 and augmentation
    "baseline": {"model": "baseline-cnn", "weights": "none", "image_size": 128, "head_epochs": 0,
                 "finetune_epochs": 30, "finetune_lr": 1e-3, "weight_decay": 0.0, "l2": 5e-4,
                 "patience": 6, "early_stop_from": 10, "label_smoothing": 0.0},
    # few labels + unlabelled pictures: self-training of the head on frozen features (classification.semi).
    # No label smoothing: it caps every confidence near 0.92, just above the 0.9 threshold (measured: with 0.1
    # a third as many pictures cleared it); no fine-tuning by default (add finetune_epochs=6 for stage 2 on the
    # labels plus the confident pseudo-labels)
    "semi": {"pseudo_rounds": 5, "finetune_epochs": 0, "label_smoothing": 0.0},
    # for your own data: frozen, ensemble or fine-tuned, whichever wins on 3 validation folds of it (ties: the
    # cheaper), classes weighted by their inverse frequency
    "auto": {"select": "frozen,ensemble,finetune", "class_weight": "balanced"},
    # the main job (`defectlab demo`): frozen ImageNet features and a trained head, ~20 s on 2 cores
    "demo": {"head_epochs": 60, "finetune_epochs": 0, "batch_size": 32},
    # seconds-long recipe for tests on synthetic data
    "smoke": {"image_size": 96, "head_epochs": 5, "finetune_epochs": 1, "batch_size": 16},
}

ClassifierRecipe.PRESETS = PRESETS

# one line per preset for `defectlab classification train --help`
ClassifierRecipe.PRESET_HELP = {
    "lite0-finetune": "default: ImageNet EfficientNet-Lite0, head on frozen features, then the whole network fine-tuned",
    "lite0-frozen": "stage 1 only: a head on frozen ImageNet features",
    "baseline": "a small CNN from scratch with L2 and augmentation (the reference)",
    "semi": "few labels + unlabelled pictures: self-training of the head on frozen features",
    "auto": "for your own data: frozen, ensemble or fine-tuned, whichever wins on 3 validation folds",
    "demo": "the main job (`defectlab demo`): frozen ImageNet features and a trained head, ~20 s on 2 cores",
    "smoke": "seconds; tests",
}
