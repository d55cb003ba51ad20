"""Few labels plus many unlabelled pictures: self-training of the classifier's head in FixMatch's spirit, on frozen
backbone features. Each picture is seen in its 8 flips / 90-degree turns (weak views); pseudo-labels come from the
mean of the head's probabilities over them (a confident, augmentation-consistent guess) and are learnt on strongly
augmented views (the steel augmentation, stronger, on top of each turn), so the head must keep its answer under
photometric change, blur and noise. Rounds: fit on the labels -> pseudo-label what clears the threshold -> refit on
both. Features are computed once, so a round costs seconds; the labels of the unlabelled pool are never read."""
from __future__ import annotations

from dataclasses import dataclass, field

import keras
import numpy as np

from .predict import dihedral_views
from .progress import bar, bars


def view_features(pooler, images: np.ndarray, batch_size: int = 32, strong=None, progress: bool = False) -> np.ndarray:
    """8 x N x C pooled features of the 8 flips / turns (view 0: the picture as it is); `strong` (a SteelAugment
    layer) augments each view first."""
    views, shown = [], bar("features" + (" (strong)" if strong is not None else ""), 8, "view", progress)
    for x in dihedral_views(images):
        if strong is not None:
            x = np.concatenate([keras.ops.convert_to_numpy(strong(x[i:i + 256].astype("float32"), training=True))
                                for i in range(0, len(x), 256)])
        views.append(pooler.predict(x, batch_size=batch_size, verbose=0,
                                    callbacks=bars(f"view {len(views) + 1}/8", progress, leave=False)))
        if shown is not None:
            shown.update()
    if shown is not None:
        shown.close()
    return np.stack(views)


@dataclass
class SelfTraining:
    """What the rounds did: per round, the pseudo-labelled share of the pool and its class counts."""
    rounds: list[dict] = field(default_factory=list)
    pseudo_labels: np.ndarray | None = None   # final pool guesses (argmax of the mean over weak views)
    confidence: np.ndarray | None = None


def _fit(head, x, y, sample_weight, config, steps: int, progress: bool = False) -> None:
    """`steps` batches of 128 in one epoch, whatever the pool size (6 labels or 1700 pseudo-labels get the same
    budget): the rows are repeated and shuffled to fill them. One long epoch, not hundreds of one-batch epochs:
    Keras' per-epoch overhead made 6 labels cost minutes. So the bar (progress) counts its batches."""
    batch = 128
    rng = np.random.default_rng([getattr(config, "seed", 0), len(x)])
    order = rng.permutation(np.resize(np.arange(len(x)), max(steps * batch, len(x))))
    head.fit(x[order], y[order], sample_weight=sample_weight[order], epochs=1, batch_size=batch, shuffle=False,
             verbose=0, callbacks=bars("self-training", progress, batches=True))


def pool_probabilities(head, weak: np.ndarray) -> np.ndarray:
    """M x K: mean of softmax over the weak views."""
    return np.mean([keras.ops.convert_to_numpy(keras.ops.softmax(head.predict(v, verbose=0, batch_size=1024)))
                    for v in weak], axis=0)


def self_train(head, labelled: np.ndarray, y: np.ndarray, weak: np.ndarray, strong: np.ndarray, n_classes: int,
               config, compile_head, class_weight: np.ndarray | None = None, progress: bool = False) -> SelfTraining:
    """labelled: 8 x N x C features of the labelled pictures, y their class ids; weak / strong: 8 x M x C of the
    unlabelled pool. compile_head(head) resets the optimizer. Trains `head` in place."""
    one_hot = np.eye(n_classes, dtype="float32")
    x_lab = labelled.reshape(-1, labelled.shape[-1])
    y_lab = np.tile(one_hot[y], (labelled.shape[0], 1))
    w_lab = np.tile(class_weight[y] if class_weight is not None else np.ones(len(y), "float32"), labelled.shape[0])
    result = SelfTraining()
    compile_head(head)
    _fit(head, x_lab, y_lab, w_lab, config, config.pseudo_steps, progress)
    for round_ in range(config.pseudo_rounds):
        probabilities = pool_probabilities(head, weak)
        confidence, guess = probabilities.max(1), probabilities.argmax(1)
        keep = confidence >= config.pseudo_threshold
        result.rounds.append({"round": round_ + 1, "pseudo_labelled": int(keep.sum()), "pool": len(keep),
                              "per_class": np.bincount(guess[keep], minlength=n_classes).tolist()})
        if progress:
            print(f"[classification] self-training round {round_ + 1}/{config.pseudo_rounds}: "
                  f"{keep.sum()}/{len(keep)} unlabelled pictures pseudo-labelled")
        x_pool = strong[:, keep].reshape(-1, strong.shape[-1])
        y_pool = np.tile(one_hot[guess[keep]], (strong.shape[0], 1))
        w_pool = np.full(len(x_pool), config.pseudo_weight, "float32")
        compile_head(head)
        _fit(head, np.concatenate([x_lab, x_pool]), np.concatenate([y_lab, y_pool]),
             np.concatenate([w_lab, w_pool]), config, config.pseudo_steps, progress)
    probabilities = pool_probabilities(head, weak)
    result.pseudo_labels, result.confidence = probabilities.argmax(1), probabilities.max(1)
    return result
