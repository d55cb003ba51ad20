"""The anomaly models by name, timm-like: `register` adds a builder (recipe -> unfitted torch module) under a name,
and MODELS, the one list of names, is the registry's order (the default first). No ML framework is imported here:
each builder imports its model when called, so the recipe and the CLI read the names for free."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Entry:
    """build(recipe) -> an unfitted model; memory: how its memory is built once the training batches are seen
    ('fit': the model's own fit(); 'coreset': PatchCore's memory bank drawn from the patch features)."""

    build: Callable
    memory: str = "fit"


REGISTRY: dict[str, Entry] = {}


def register(name: str, memory: str = "fit"):
    def add(build: Callable) -> Callable:
        REGISTRY[name] = Entry(build, memory)
        return build

    return add


@register("texture-knn")
def _texture_knn(config):
    from .texture_knn import TextureKnnModel

    return TextureKnnModel(backbone=config.backbone, layers=list(config.layers), num_neighbors=config.num_neighbors,
                           map_layers=list(config.map_layers), map_kind=config.map_kind,
                           standardize=config.map_standardize, bank_size=config.bank_size,
                           map_fusion=config.map_fusion, calibration=config.map_calibration, seed=config.seed,
                           contrast=config.map_contrast, map_stride=config.map_stride,
                           map_blur=config.map_blur)


@register("patchcore", memory="coreset")
def _patchcore(config):
    from anomalib.models.image.patchcore.torch_model import PatchcoreModel

    return PatchcoreModel(backbone=config.backbone, layers=list(config.layers), pre_trained=False,
                          num_neighbors=config.num_neighbors)


@register("padim")
def _padim(config):
    from anomalib.models.image.padim.torch_model import PadimModel

    return PadimModel(backbone=config.backbone, layers=list(config.layers), pre_trained=False,
                      n_features=config.n_features)


@register("dfm")
def _dfm(config):
    from anomalib.models.image.dfm.torch_model import DFMModel

    return DFMModel(backbone=config.backbone, layer=config.layers[-1], pre_trained=False, score_type="fre")


MODELS = tuple(REGISTRY)


def entry(name: str) -> Entry:
    if name not in REGISTRY:
        raise KeyError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    return REGISTRY[name]
