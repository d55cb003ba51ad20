"""Steel-texture augmentation as one Keras layer (keras.ops only: runs on every backend)."""
from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="defectlab")
class SteelAugment(keras.layers.Layer):
    """Per image: random horizontal/vertical flips, 90-degree turns (square images), brightness shift,
    contrast change and Gaussian noise. Identity at inference. Works on 0..255 float images."""

    def __init__(self, flips=True, rot90=True, brightness=0.08, contrast=0.1, noise=3.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.flips, self.rot90 = flips, rot90
        self.brightness, self.contrast, self.noise = brightness, contrast, noise
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
        if self.noise:
            sigma = ops.abs(self._uniform(batch, self.noise))
            x = x + sigma * keras.random.normal(ops.shape(x), seed=self.generator)
        return ops.clip(x, 0.0, 255.0)

    def get_config(self):
        return {**super().get_config(), "flips": self.flips, "rot90": self.rot90, "brightness": self.brightness,
                "contrast": self.contrast, "noise": self.noise, "seed": self.seed}
