"""Texture-statistics kNN: a plain torch model in anomalib's style for stochastic textures such as steel.

Image score: an image is described by the per-channel mean and log standard deviation of chosen backbone stages
(the statistics a texture is made of, independent of where a defect sits); descriptors are standardised on the
normal set and the score is the mean distance to the k nearest normal descriptors.

Anomaly map (where the defect is): a patch-level kNN in PatchCore's manner. Each location's features of
`map_layers` (3x3 means that count the zeros beyond the border, brought to the grid of `map_stride` pixels) are compared with
a random bank of normal patches; the image score, in units of the normal pictures' leave-one-out scores, is added
with weight `map_fusion`, so a normal picture's map stays low everywhere. Options measured beside it: channels
z-scored on the normal patches, and each location's distance turned into a z-score against the same location on
normal pictures held apart from the bank ('per-location'; 'shrunk' floors each location's spread at the median),
and `contrast`: each map less its own median before the image score is added, so that a picture foreign all over
is not high all over; `map_blur`: a Gaussian blur of the map (sigma in pixels of the input) before the contrast.
Stages, pooling, standardisation, calibration and weight were chosen on validation pictures
(scripts/benchmarks/anomaly/anomaly_map_selection.py).
"""
from __future__ import annotations

import functools

import timm
import torch
import torch.nn.functional as F
from anomalib.data import InferenceBatch
from torch import nn


def patch_features(stages: list[torch.Tensor], grid: tuple[int, int], kind: str = "pool-zero-pad") -> torch.Tensor:
    """N x C x H x W local features on `grid` (stride 8: 28 x 28 at 224 px): 3x3 means with the zeros beyond
    the border counted ('pool-zero-pad', PatchCore's aggregation: border patches stay unlike inner ones, so they
    are matched with border patches of the bank), 3x3 means of the picture only ('pool'), or 3x3 means and log
    standard deviations ('local-texture'); finer stages are averaged down, coarser ones interpolated up."""
    parts = []
    for f in stages:
        mean = F.avg_pool2d(f, 3, 1, 1, count_include_pad=kind == "pool-zero-pad")
        if kind == "local-texture":
            var = F.avg_pool2d(f * f, 3, 1, 1, count_include_pad=False) - mean * mean
            mean = torch.cat([mean, 0.5 * torch.log(var.clamp_min(1e-6))], 1)
        if mean.shape[-2] > grid[0]:
            mean = F.avg_pool2d(mean, mean.shape[-2] // grid[0])
        if tuple(mean.shape[-2:]) != tuple(grid):
            mean = F.interpolate(mean, size=tuple(grid), mode="bilinear", align_corners=False)
        parts.append(mean)
    return torch.cat(parts, 1)


@functools.lru_cache(maxsize=8)
def blur_matrix(n: int, sigma: float) -> torch.Tensor:
    """n x n matrix B with x @ B = x blurred along its last axis by a Gaussian of sigma pixels (scipy.ndimage's
    kernel, truncated at 4 sigma; edges mirrored about the border pixel). Made with numpy: a constant of an exported
    model, not a part of its graph."""
    import numpy as np

    n = int(n)
    radius = int(4 * sigma + 0.5)
    offsets = np.arange(-radius, radius + 1)
    weights = np.exp(-0.5 * (offsets / sigma) ** 2)
    out = np.repeat(np.arange(n)[:, None], len(offsets), axis=1)
    period = max(2 * (n - 1), 1)  # mirrored as often as the kernel reaches past an edge
    source = np.abs(out + offsets) % period
    source = np.where(source > n - 1, period - source, source) if n > 1 else np.zeros_like(source)
    matrix = np.zeros((n, n))
    np.add.at(matrix, (source.ravel(), out.ravel()), np.tile(weights / weights.sum(), n))
    return torch.from_numpy(matrix.astype(np.float32))


def gaussian_blur(maps: torch.Tensor, sigma: float) -> torch.Tensor:
    """N x 1 x H x W maps blurred with a Gaussian of sigma pixels (0: as they are), as two products with constant
    matrices: the mirrored edges are in the matrices, so the export holds no padding (about 1% of the model's time
    in ONNX Runtime at sigma 8, 224 px)."""
    if sigma <= 0:
        return maps
    rows, columns = blur_matrix(int(maps.shape[-2]), float(sigma)), blur_matrix(int(maps.shape[-1]), float(sigma))
    return rows.T.to(maps) @ maps @ columns.to(maps)


def nearest(queries: torch.Tensor, bank: torch.Tensor, k: int = 1) -> torch.Tensor:
    """Mean Euclidean distance of each row of `queries` to its k nearest rows of `bank`, as one matrix product
    (|b|^2 - 2ab, one Gemm under ONNX, then |a|^2 added to the k smallest only: the same graph under PyTorch
    and ONNX, and no pass over the whole distance matrix but the product and the selection)."""
    partial = torch.addmm((bank * bank).sum(1)[None], queries, bank.T, beta=1.0, alpha=-2.0)
    k = min(k, len(bank))
    smallest = partial.min(1, keepdim=True).values if k == 1 else partial.topk(k, dim=1, largest=False).values
    return (smallest + (queries * queries).sum(1, keepdim=True)).clamp_min(0).sqrt().mean(1)


class StageFeatures(nn.Module):
    """Outputs of named blocks of a timm model (e.g. 'blocks.3'); runs only as far as the deepest one.
    `.feature_extractor` is the timm model, as in anomalib's extractor, so the same weight loader fits."""

    def __init__(self, backbone: str, layers: list[str]):
        super().__init__()
        self.feature_extractor = timm.create_model(backbone, pretrained=False, num_classes=0)
        self.layers = list(layers)
        if any(not name.startswith("blocks.") for name in self.layers):
            raise ValueError(f"texture-knn layers are 'blocks.<i>' names of {backbone}, got {self.layers}")
        self.stage_ids = [int(name.split(".")[1]) for name in self.layers]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        net = self.feature_extractor
        x = net.bn1(net.conv_stem(x))
        outputs = {}
        for i, block in enumerate(net.blocks[: max(self.stage_ids) + 1]):
            x = block(x)
            if i in self.stage_ids:
                outputs[i] = x
        return [outputs[i] for i in self.stage_ids]


class TextureKnnModel(nn.Module):
    def __init__(self, backbone: str = "tf_efficientnet_lite0", layers=("blocks.3", "blocks.4", "blocks.5"),
                 num_neighbors: int = 1, map_layers=("blocks.2", "blocks.3", "blocks.4"), map_kind: str = "pool-zero-pad",
                 standardize: bool = False,
                 bank_size: int = 10000, map_fusion: float = 2.0, calibration: str = "none",
                 calibration_images: int = 100, seed: int = 0, contrast: str = "none", map_stride: int = 16,
                 map_blur: float = 0.0):
        super().__init__()
        self.layers, self.map_layers = list(layers), list(map_layers)
        self.feature_extractor = StageFeatures(backbone, sorted(set(self.layers) | set(self.map_layers),
                                                                key=lambda n: int(n.split(".")[1])))
        self.num_neighbors, self.map_kind, self.bank_size = num_neighbors, map_kind, bank_size
        self.standardize = standardize
        self.map_fusion, self.calibration, self.calibration_images = map_fusion, calibration, calibration_images
        self.seed, self.contrast, self.map_stride, self.map_blur = seed, contrast, map_stride, map_blur
        self._descriptors: list[torch.Tensor] = []
        self._patches: list[torch.Tensor] = []
        # fitted memories start empty; a saved state_dict names every tensor (loading gives them their shapes)
        for name in ("memory_bank", "center", "scale", "score_center", "score_scale", "patch_bank", "patch_mean",
                     "patch_std", "location_mean", "location_std"):
            self.register_buffer(name, torch.empty(0))

    @staticmethod
    def describe(stages: list[torch.Tensor]) -> torch.Tensor:
        """N x D texture descriptor: per channel mean and log std over locations, for every stage."""
        parts = []
        for f in stages:
            flat = f.flatten(2)
            parts += [flat.mean(2), torch.log(flat.std(2) + 1e-6)]
        return torch.cat(parts, 1)

    def _split(self, outputs: list[torch.Tensor], size) -> tuple[list[torch.Tensor], torch.Tensor]:
        named = dict(zip(self.feature_extractor.layers, outputs))
        grid = (int(size[0]) // self.map_stride, int(size[1]) // self.map_stride)
        return [named[n] for n in self.layers], patch_features([named[n] for n in self.map_layers], grid, self.map_kind)

    def forward(self, x: torch.Tensor) -> torch.Tensor | InferenceBatch:
        self.feature_extractor.eval()
        stages, patches = self._split(self.feature_extractor(x), x.shape[-2:])
        descriptor = self.describe(stages)
        if self.training:  # collect normal statistics
            self._descriptors.append(descriptor)
            self._patches.append(patches)
            return descriptor
        if self.memory_bank.numel() == 0:
            raise RuntimeError("texture-knn model is not fitted: call fit() after the training batches")
        score = nearest((descriptor - self.center) / self.scale, self.memory_bank, self.num_neighbors)
        return InferenceBatch(pred_score=score, anomaly_map=self.anomaly_map(patches, score, x.shape[-2:]))

    def patch_distances(self, patches: torch.Tensor) -> torch.Tensor:
        """N x 1 x H x W distance of every location to its nearest normal patch."""
        n, c, h, w = patches.shape
        z = (patches.permute(0, 2, 3, 1).reshape(-1, c) - self.patch_mean) / self.patch_std
        return nearest(z, self.patch_bank).reshape(n, 1, h, w)

    def anomaly_map(self, patches: torch.Tensor, score: torch.Tensor, size) -> torch.Tensor:
        z = (self.patch_distances(patches) - self.location_mean) / self.location_std
        z = gaussian_blur(F.interpolate(z, size=size, mode="bilinear", align_corners=False), self.map_blur)
        if self.contrast == "median":  # topk, not median: it exports to ONNX (the lower median on an even count)
            flat = z.flatten(1)
            z = z - flat.topk(flat.shape[1] // 2 + 1, dim=1).values[:, -1].view(-1, 1, 1, 1)
        return z + self.map_fusion * ((score - self.score_center) / self.score_scale).view(-1, 1, 1, 1)

    def fit(self) -> None:
        if not self._descriptors:
            raise ValueError("no normal images were seen: texture-knn needs normal training images")
        descriptors, patches = torch.cat(self._descriptors), torch.cat(self._patches)
        self._descriptors, self._patches = [], []
        self.center = descriptors.mean(0)
        self.scale = descriptors.std(0).clamp_min(1e-6) if len(descriptors) > 1 else torch.ones_like(self.center)
        self.memory_bank = (descriptors - self.center) / self.scale
        # image scores of normal pictures, leave-one-out: the units the map adds the image score in
        if len(descriptors) > 2:
            own = torch.cdist(self.memory_bank, self.memory_bank) + torch.eye(len(descriptors)) * 1e9
            loo = own.topk(min(self.num_neighbors, len(descriptors) - 1), dim=1, largest=False).values.mean(1)
            self.score_center, self.score_scale = loo.mean(), loo.std().clamp_min(1e-6)
        else:
            self.score_center, self.score_scale = torch.tensor(0.0), torch.tensor(1.0)
        # patch bank from some pictures, per-location calibration from others (seeded)
        generator = torch.Generator().manual_seed(self.seed)
        order = torch.randperm(len(patches), generator=generator)
        n_calib = min(self.calibration_images, len(patches) // 2) if self.calibration != "none" else 0
        calib, rest = patches[order[:n_calib]], patches[order[n_calib:]]
        c = patches.shape[1]
        flat = rest.permute(0, 2, 3, 1).reshape(-1, c)
        self.patch_mean, self.patch_std = flat.mean(0), flat.std(0).clamp_min(1e-6)
        if not self.standardize:  # PatchCore's raw feature distances
            self.patch_mean, self.patch_std = torch.zeros_like(self.patch_mean), torch.ones_like(self.patch_std)
        pick = torch.randperm(len(flat), generator=generator)[: self.bank_size]
        self.patch_bank = (flat[pick] - self.patch_mean) / self.patch_std
        if n_calib >= 2 and self.calibration != "none":
            distances = torch.cat([self.patch_distances(calib[i:i + 16]) for i in range(0, n_calib, 16)])
            self.location_mean = distances.mean(0, keepdim=True)
            std = distances.std(0, keepdim=True)
            floor = float(std.median()) if self.calibration == "per-location-shrunk" else 0.0
            self.location_std = std.clamp_min(floor + 1e-6)
        else:  # no calibration, or too few pictures for it: raw distances
            self.location_mean, self.location_std = torch.zeros(1, 1, 1, 1), torch.ones(1, 1, 1, 1)
