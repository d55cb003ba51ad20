"""Pooled ImageNet features of pictures (EfficientNet-Lite0, the bundled weights): what `defectlab labels
suggest` measures diversity on, with no trained model needed."""
from __future__ import annotations

import numpy as np

from shared.datasets.images import decode_input, resize_rgb
from shared.pretrained import lite_cfg

from .lite import create_lite, to_tensor


def embed(paths: list, name: str = "efficientnet_lite0", batch_size: int = 32) -> np.ndarray:
    """N x 1280 float32 features of picture files (or arrays), each resized to the backbone's input size."""
    import torch

    net, size = create_lite(name).eval(), lite_cfg(name)["input_size"]
    parts = [np.zeros((0, net.num_features), np.float32)]
    with torch.inference_mode():
        for start in range(0, len(paths), batch_size):
            batch = np.stack([resize_rgb(decode_input(p), size) for p in paths[start:start + batch_size]])
            parts.append(net(to_tensor(batch, name)).numpy().astype(np.float32))
    return np.concatenate(parts)
