"""Steel-texture augmentation as one Keras layer (keras.ops only: runs on every backend)."""
from __future__ import annotations

import keras
import numpy as np
from keras import ops


@keras.saving.register_keras_serializable(package="defectlab")
class SteelAugment(keras.layers.Layer):
    """Per image: random horizontal/vertical flips, 90-degree turns (square images), brightness shift,
    contrast change, defocus blur and Gaussian noise. Identity at inference. Works on 0..255 float images.
    Blur: a random share t in [0, 1] of the way from the image to its Gaussian blur of std `blur` pixels,
    applied to half of the images."""

    def __init__(self, flips=True, rot90=True, brightness=0.08, contrast=0.1, noise=3.0, blur=0.0, seed=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.flips, self.rot90 = flips, rot90
        self.brightness, self.contrast, self.noise, self.blur = brightness, contrast, noise, blur
        self.seed = seed
        self.generator = keras.random.SeedGenerator(seed)

    def _coin(self, batch):
        return ops.reshape(keras.random.uniform((batch,), seed=self.generator) < 0.5, (batch, 1, 1, 1))

    def _uniform(self, batch, limit):
        return keras.random.uniform((batch, 1, 1, 1), -limit, limit, seed=self.generator)

    def call(self, images, training=None):
        if not training:
            return images
        x = ops.cast(images, "float32")
        batch = ops.shape(x)[0]
        if self.flips:
            x = ops.where(self._coin(batch), ops.flip(x, axis=2), x)
            x = ops.where(self._coin(batch), ops.flip(x, axis=1), x)
        if self.rot90 and x.shape[1] is not None and x.shape[1] == x.shape[2]:
            x = ops.where(self._coin(batch), ops.transpose(x, (0, 2, 1, 3)), x)
        if self.contrast:
            mean = ops.mean(x, axis=(1, 2, 3), keepdims=True)
            x = (x - mean) * (1.0 + self._uniform(batch, self.contrast)) + mean
        if self.brightness:
            x = x + 255.0 * self._uniform(batch, self.brightness)
        if self.blur:
            blurred = ops.depthwise_conv(x, self._blur_kernel(x.shape[-1]), strides=1, padding="same")
            share = ops.where(self._coin(batch), ops.abs(self._uniform(batch, 1.0)), 0.0)
            x = x + share * (blurred - x)
        if self.noise:
            sigma = ops.abs(self._uniform(batch, self.noise))
            x = x + sigma * keras.random.normal(ops.shape(x), seed=self.generator)
        return ops.clip(x, 0.0, 255.0)

    def _blur_kernel(self, channels):
        radius = max(1, round(3 * self.blur))
        taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / self.blur) ** 2)
        kernel = np.outer(taps, taps) / np.outer(taps, taps).sum()
        return ops.convert_to_tensor(np.repeat(kernel[:, :, None, None], channels, axis=2).astype("float32"))

    def get_config(self):
        return {**super().get_config(), "flips": self.flips, "rot90": self.rot90, "brightness": self.brightness,
                "contrast": self.contrast, "noise": self.noise, "blur": self.blur, "seed": self.seed}
