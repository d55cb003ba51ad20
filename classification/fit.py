"""The two fitting stages and their pieces, shared by training (classification.train), the auto preset's scoring
(classification.select) and the few-label code (semi, cluster)."""
from __future__ import annotations

from dataclasses import replace

import keras
import numpy as np


def loss(config):
    return keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=config.label_smoothing)


def class_weights(y: np.ndarray, n: int, rule: str) -> np.ndarray:
    """Per-class loss weights: ones, or 'balanced' (N / (K * count), scikit-learn's rule)."""
    if rule != "balanced":
        return np.ones(n, "float32")
    counts = np.bincount(y, minlength=n).astype("float32")
    return np.where(counts > 0, len(y) / (n * np.maximum(counts, 1)), 0.0).astype("float32")


def strong_augment(augment):
    """FixMatch's strong views: the steel augmentation at twice its photometric strength, blur always on."""
    return replace(augment, brightness=2 * augment.brightness, contrast=2 * augment.contrast,
                   noise=2 * augment.noise, blur=max(augment.blur, 1.5))


def _freeze_batchnorm(model: keras.Model) -> None:
    for layer in model._flatten_layers(include_self=False):
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = False


def fit_head(config, backbone, head, x, y, valid, class_weight=None, progress: bool = False, callbacks=()) -> None:
    """Stage 1: the head on the backbone's pooled features, computed once (y one-hot; valid (x, y) or None).
    verbose=0 everywhere: Keras' bars go to stdout; progress draws defectlab's (classification.progress)."""
    from .models import pooler
    from .progress import bars

    pooled = pooler(backbone)
    features = pooled.predict(x, batch_size=config.batch_size, verbose=0, callbacks=bars("features", progress))
    valid_data = (pooled.predict(valid[0], batch_size=config.batch_size, verbose=0,
                                 callbacks=bars("features (valid)", progress)), valid[1]) if valid else None
    head.compile(keras.optimizers.Adam(config.head_lr), loss(config), metrics=["accuracy"])
    head.fit(features, y, validation_data=valid_data, epochs=config.head_epochs, batch_size=config.batch_size,
             callbacks=[*callbacks, *bars("head", progress)], class_weight=class_weight, verbose=0)


def fit_whole(config, model, backbone, x, y, valid, class_weight=None, progress: bool = False, callbacks=()) -> None:
    """Stage 2: the whole network with augmentation; BatchNorm stays frozen on a pretrained backbone. Its epochs
    are long (the whole network on every picture), so the bar shows their batches too."""
    from .progress import bars

    backbone.trainable = True
    if config.weights not in ("none", "", None):
        _freeze_batchnorm(backbone)
    optimizer = keras.optimizers.AdamW(config.finetune_lr, weight_decay=config.weight_decay) \
        if config.weight_decay else keras.optimizers.Adam(config.finetune_lr)
    model.compile(optimizer, loss(config), metrics=["accuracy"])
    model.fit(x, y, validation_data=valid, epochs=config.finetune_epochs, batch_size=config.batch_size,
              callbacks=[*callbacks, *bars("fine-tune", progress, batches=True)], class_weight=class_weight,
              verbose=0)
