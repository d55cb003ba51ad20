"""Texture-statistics kNN: a plain torch model in anomalib's style for stochastic textures such as steel.

An image is described by the per-channel mean and log standard deviation of chosen backbone stages (the
statistics a texture is made of, independent of where a defect sits); descriptors are standardised on the
normal set and an image's score is its mean distance to the k nearest normal descriptors. The anomaly map is
the per-location squared z-score of the stage features against the normal locations (diagonal Gaussian),
averaged over channels and stages.
"""
from __future__ import annotations

import timm
import torch
import torch.nn.functional as F
from anomalib.data import InferenceBatch
from torch import nn


class StageFeatures(nn.Module):
    """Outputs of named blocks of a timm model (e.g. 'blocks.3'); runs only as far as the deepest one.
    `.feature_extractor` is the timm model, as in anomalib's extractor, so the same weight loader fits."""

    def __init__(self, backbone: str, layers: list[str]):
        super().__init__()
        self.feature_extractor = timm.create_model(backbone, pretrained=False, num_classes=0)
        self.layers = list(layers)
        self.stage_ids = [int(name.split(".")[1]) for name in self.layers]
        if any(not name.startswith("blocks.") for name in self.layers):
            raise ValueError(f"texture-knn layers are 'blocks.<i>' names of {backbone}, got {self.layers}")

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        net = self.feature_extractor
        x = net.bn1(net.conv_stem(x))
        outputs = []
        for i, block in enumerate(net.blocks[: max(self.stage_ids) + 1]):
            x = block(x)
            if i in self.stage_ids:
                outputs.append(x)
        return outputs


class TextureKnnModel(nn.Module):
    def __init__(self, backbone: str = "tf_efficientnet_lite0", layers=("blocks.3", "blocks.4", "blocks.5"),
                 num_neighbors: int = 1):
        super().__init__()
        self.feature_extractor = StageFeatures(backbone, list(layers))
        self.num_neighbors = num_neighbors
        self._descriptors: list[torch.Tensor] = []
        self._location_sums: list[list[torch.Tensor]] = []
        self.register_buffer("memory_bank", torch.empty(0))
        self.register_buffer("center", torch.empty(0))
        self.register_buffer("scale", torch.empty(0))
        # one entry per stage, empty until fit(): a saved state_dict then names every tensor it holds
        self.location_mean = nn.ParameterList([nn.Parameter(torch.empty(0), requires_grad=False) for _ in layers])
        self.location_std = nn.ParameterList([nn.Parameter(torch.empty(0), requires_grad=False) for _ in layers])

    @staticmethod
    def describe(stages: list[torch.Tensor]) -> torch.Tensor:
        """N x D texture descriptor: per channel mean and log std over locations, for every stage."""
        parts = []
        for f in stages:
            flat = f.flatten(2)
            parts += [flat.mean(2), torch.log(flat.std(2) + 1e-6)]
        return torch.cat(parts, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor | InferenceBatch:
        self.feature_extractor.eval()
        stages = self.feature_extractor(x)
        descriptor = self.describe(stages)
        if self.training:  # collect normal statistics
            self._descriptors.append(descriptor)
            sums = [(f.sum((0, 2, 3)), (f ** 2).sum((0, 2, 3)), f.numel() // f.shape[1]) for f in stages]
            self._location_sums.append(sums)
            return descriptor
        if self.memory_bank.numel() == 0:
            raise RuntimeError("texture-knn model is not fitted: call fit() after the training batches")
        z = (descriptor - self.center) / self.scale
        distances = torch.cdist(z, self.memory_bank)
        k = min(self.num_neighbors, len(self.memory_bank))
        score = distances.topk(k, largest=False).values.mean(1)
        return InferenceBatch(pred_score=score, anomaly_map=self.anomaly_map(stages, x.shape[-2:]))

    def anomaly_map(self, stages: list[torch.Tensor], size) -> torch.Tensor:
        maps = []
        for f, mean, std in zip(stages, self.location_mean, self.location_std):
            z2 = ((f - mean.view(1, -1, 1, 1)) / std.view(1, -1, 1, 1)) ** 2
            maps.append(F.interpolate(z2.mean(1, keepdim=True), size=size, mode="bilinear", align_corners=False))
        return torch.stack(maps).mean(0)

    def fit(self) -> None:
        if not self._descriptors:
            raise ValueError("no normal images were seen: texture-knn needs normal training images")
        descriptors = torch.cat(self._descriptors)
        self.center = descriptors.mean(0)
        self.scale = descriptors.std(0).clamp_min(1e-6) if len(descriptors) > 1 else torch.ones_like(self.center)
        self.memory_bank = (descriptors - self.center) / self.scale
        self.location_mean, self.location_std = nn.ParameterList(), nn.ParameterList()
        for stage in range(len(self._location_sums[0])):
            total = sum(s[stage][0] for s in self._location_sums)
            squares = sum(s[stage][1] for s in self._location_sums)
            count = sum(s[stage][2] for s in self._location_sums)
            mean = total / count
            std = (squares / count - mean ** 2).clamp_min(1e-8).sqrt()
            self.location_mean.append(nn.Parameter(mean, requires_grad=False))
            self.location_std.append(nn.Parameter(std, requires_grad=False))
        self._descriptors, self._location_sums = [], []
