"""Frozen ImageNet features of pictures, for the work that needs no trained classifier: clustering, ensembles of
frozen heads, tuning. Kinds: 'lite0' | 'lite1' | 'lite2' (the backbone's pooled 1280-channel output at its own
input size) and 'texture' (per-channel mean and log standard deviation of Lite0's stages 3-5 at 224 px: the
statistics the anomaly detector describes a texture with, here from the Keras copy of the same weights)."""
from __future__ import annotations

import keras
import numpy as np
from keras import ops

from shared.pretrained import LITE_CFGS

KINDS = ("lite0", "lite1", "lite2", "texture")
# the last block of stages 3, 4 and 5 of EfficientNet-Lite0 (timm's blocks.3-5)
TEXTURE_LAYERS = ("block7_add", "block10_add", "block14_add")


def image_size(kind: str) -> int:
    if kind not in KINDS:
        raise KeyError(f"unknown feature kind {kind!r}; choose one of {', '.join(KINDS)}")
    return LITE_CFGS["efficientnet_lite0" if kind == "texture" else f"efficientnet_{kind}"]["input_size"]


@keras.saving.register_keras_serializable(package="defectlab")
class TextureStatistics(keras.layers.Layer):
    """N x H x W x C -> N x 2C: per-channel mean and log standard deviation over locations."""

    def call(self, x):
        mean = ops.mean(x, axis=(1, 2))
        std = ops.sqrt(ops.maximum(ops.mean(ops.square(x), axis=(1, 2)) - ops.square(mean), 0.0))
        return ops.concatenate([mean, ops.log(std + 1e-6)], axis=-1)


def extractor(kind: str) -> keras.Model:
    """A frozen model: 0..255 RGB pictures at image_size(kind) -> N x D features."""
    from .models import create_backbone, pooler

    size = image_size(kind)
    if kind == "texture":
        backbone = create_backbone("efficientnet_lite0", size)
        stats = [TextureStatistics(name=f"stats_{n}")(backbone.get_layer(n).output) for n in TEXTURE_LAYERS]
        return keras.Model(backbone.input, keras.layers.Concatenate()(stats), name="texture_statistics")
    return pooler(create_backbone(f"efficientnet_{kind}", size), name=f"pooled_{kind}")


def extract(kind: str, images: np.ndarray, batch_size: int = 32, progress: bool = False) -> np.ndarray:
    """N x D float32 features of uint8 N x S x S x 3 pictures (already at image_size(kind))."""
    from .progress import bars

    return extractor(kind).predict(images, batch_size=batch_size, verbose=0,
                                   callbacks=bars("features", progress)).astype("float32")
