"""One factory over the model registry (anomaly.zoo): anomalib's plain torch models (PatchCore, PaDiM, DFM) and our
texture-statistics kNN (anomaly.texture_knn) on timm backbones, with the bundled ImageNet EfficientNet-Lite
weights (the `backbones` package) or a random initialisation to measure what ImageNet features bring.
Models are saved as a state_dict (tensors only) and rebuilt from the recipe: loading never unpickles code."""
from __future__ import annotations

from pathlib import Path

from shared.suite.errors import DataError
from shared.suite.framework_guard import require_torch_safe

require_torch_safe()
import torch

from backbones import load_imagenet, to_tensor

from . import zoo


def _build(config) -> torch.nn.Module:
    """The registry's model for config.model (anomaly.zoo), marked with its name so that fit() finds its entry."""
    model = zoo.entry(config.model).build(config)
    model.zoo_name = config.model
    return model


def _timm_extractor(model) -> torch.nn.Module:
    return model.feature_extractor.feature_extractor


def create_model(config) -> torch.nn.Module:
    """A fresh, unfitted model for config (seeded)."""
    torch.manual_seed(config.seed)
    model = _build(config)
    if config.weights == "imagenet":
        if not config.backbone.startswith("tf_efficientnet_lite"):
            raise ValueError(f"bundled ImageNet weights exist for tf_efficientnet_lite0..2 only, not {config.backbone}; "
                             "use weights=random")
        load_imagenet(_timm_extractor(model), config.backbone)
    elif config.weights != "random":
        raise ValueError(f"weights must be 'imagenet' or 'random', got {config.weights!r}")
    return model.eval()


def to_input(images, backbone: str = "tf_efficientnet_lite0") -> torch.Tensor:
    """uint8 N x S x S x 3 -> the backbone's normalised float N x 3 x S x S."""
    return to_tensor(images, backbone)


def fit(model: torch.nn.Module, batches, coreset_ratio: float = 0.01, backbone: str = "tf_efficientnet_lite0",
        sampler: str = "random", seed: int = 0):
    """Collect training embeddings batch by batch, then build the model's memory (coreset, Gaussians, PCA)."""
    model.train()
    with torch.no_grad():
        for images in batches:
            model(to_input(images, backbone))
    if zoo.entry(model.zoo_name).memory == "coreset":
        subsample(model, coreset_ratio, sampler, seed)
    else:
        model.fit()
    return model.eval()


def subsample(model, ratio: float, sampler: str, seed: int = 0) -> None:
    """PatchCore's memory bank: anomalib's greedy k-center coreset, or a seeded random draw of the same size
    (the greedy search is O(patches x bank) distance updates: 45 min for 762 pictures here)."""
    if sampler == "greedy":
        model.subsample_embedding(sampling_ratio=ratio)
        return
    embedding = torch.vstack(model.embedding_store)
    model.embedding_store.clear()
    count = max(1, int(len(embedding) * ratio))
    pick = torch.randperm(len(embedding), generator=torch.Generator().manual_seed(seed))[:count]
    model.memory_bank = embedding[pick].contiguous()


def score(model: torch.nn.Module, batches, backbone: str = "tf_efficientnet_lite0") -> tuple:
    """(image scores N, anomaly maps N x S x S) for batches of uint8 images."""
    scores, maps = [], []
    model.eval()
    with torch.no_grad():
        for images in batches:
            out = model(to_input(images, backbone))
            scores.append(out.pred_score.reshape(-1).cpu())
            if out.anomaly_map is not None:
                maps.append(out.anomaly_map.reshape(len(images), *out.anomaly_map.shape[-2:]).cpu())
    return torch.cat(scores).numpy(), (torch.cat(maps).numpy() if maps else None)


def save_model(model: torch.nn.Module, path: str | Path) -> Path:
    """Tensors only (state_dict): a run folder can be opened without trusting its author."""
    torch.save({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}, path)
    return Path(path)


def load_model(config, path: str | Path) -> torch.nn.Module:
    """Rebuild the recipe's model (random backbone: every weight comes from the file) and load the state_dict
    with torch's safe loader; a file that holds anything but tensors is refused, not executed."""
    import pickle

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, AttributeError, EOFError) as error:
        raise DataError(path, "not a plain weights file (a pickled object or damaged data is refused: loading it "
                              f"could run code); re-train the run with `defectlab anomaly train` ({type(error).__name__})") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise DataError(path, "not a state_dict of tensors; re-train the run with `defectlab anomaly train`")
    from dataclasses import replace

    model = _build(replace(config, weights="random"))
    expected = set(model.state_dict())
    if set(state) != expected:  # e.g. a texture-knn run saved before its anomaly map became a patch kNN
        missing, extra = sorted(expected - set(state)), sorted(set(state) - expected)
        raise DataError(path, f"its tensors do not match the {config.model} model of this defectlab version "
                              f"(missing {', '.join(missing[:3]) or 'none'}; unexpected {', '.join(extra[:3]) or 'none'}); "
                              "re-train the run with `defectlab anomaly train`")
    _fit_shapes(model, state)
    model.load_state_dict(state, strict=True)
    return model.eval()


def _fit_shapes(model: torch.nn.Module, state: dict) -> None:
    """Fitted memories (memory bank, Gaussians, PCA, texture statistics) start empty: give them the saved shapes."""
    for key, value in state.items():
        owner, _, name = key.rpartition(".")
        module = model.get_submodule(owner) if owner else model
        current = module._buffers.get(name, module._parameters.get(name))
        if current is None or current.shape == value.shape:
            continue
        if name in module._buffers:
            module._buffers[name] = torch.empty_like(value)
        else:
            module._parameters[name] = torch.nn.Parameter(torch.empty_like(value), requires_grad=False)
