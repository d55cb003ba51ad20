"""Model registry and one factory (timm style): create_classifier(name, ...) -> (model, backbone, head)."""
from __future__ import annotations

from pathlib import Path

import keras
from keras import layers, regularizers

from .augment import SteelAugment
from .efficientnet_lite import VARIANTS as LITE_VARIANTS
from .efficientnet_lite import build_efficientnet_lite, load_imagenet_weights

# keras.applications backbones: name -> (module holding preprocess_input, weights file name in ~/.keras/models)
KERAS_APPLICATIONS = {
    "EfficientNetB0": ("efficientnet", "efficientnetb0_notop.h5"),
    "EfficientNetV2B0": ("efficientnet_v2", "efficientnetv2-b0_notop.h5"),
    "MobileNetV3Small": ("mobilenet_v3", "weights_mobilenet_v3_small_224_1.0_float_no_top_v2.h5"),
    "ResNet50": ("resnet50", "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"),
}


def model_names() -> list[str]:
    return ["baseline-cnn", *LITE_VARIANTS, *(f"keras:{n}" for n in KERAS_APPLICATIONS)]


def _baseline_cnn(image_size: int, l2: float) -> keras.Model:
    """The reference baseline: four conv blocks from scratch, L2 on every kernel."""
    inputs = keras.Input((image_size, image_size, 3))
    x = layers.Rescaling(1 / 255.0)(inputs)
    for i, channels in enumerate((32, 64, 128, 256)):
        for j in range(2):
            x = layers.Conv2D(channels, 3, padding="same", use_bias=False,
                              kernel_regularizer=regularizers.L2(l2), name=f"conv{i}_{j}")(x)
            x = layers.BatchNormalization(name=f"bn{i}_{j}")(x)
            x = layers.ReLU()(x)
        x = layers.MaxPooling2D()(x)
    return keras.Model(inputs, x, name="baseline_cnn")


def _lite(name: str, image_size: int, weights: str) -> keras.Model:
    model = build_efficientnet_lite(name, (image_size, image_size, 3), include_top=False)
    if weights == "imagenet":
        load_imagenet_weights(model, name)
    elif weights not in ("none", "", None):
        model.load_weights(weights)
    return model


@keras.saving.register_keras_serializable(package="defectlab")
class KerasAppPreprocess(layers.Layer):
    """The preprocess_input of a keras.applications module, as a saveable layer."""

    def __init__(self, module: str, **kwargs):
        super().__init__(**kwargs)
        self.module = module

    def call(self, x):
        return getattr(keras.applications, self.module).preprocess_input(x)

    def get_config(self):
        return {**super().get_config(), "module": self.module}


def _keras_application(name: str, image_size: int, weights: str) -> keras.Model:
    if name not in KERAS_APPLICATIONS:
        raise KeyError(f"unknown keras application {name!r}; known: {', '.join(KERAS_APPLICATIONS)}")
    module, file_name = KERAS_APPLICATIONS[name]
    if weights == "imagenet":
        cached = Path(keras.config.keras_home() if hasattr(keras.config, "keras_home") else
                      Path.home() / ".keras") / "models" / file_name
        if not cached.is_file():
            raise FileNotFoundError(f"ImageNet weights for keras:{name} are not on this machine and cannot be "
                                    f"downloaded offline: put {file_name} in {cached.parent} or pass "
                                    f"--weights FILE (or use efficientnet_lite0, whose weights are bundled)")
        weights = str(cached)
    inputs = keras.Input((image_size, image_size, 3))
    base = getattr(keras.applications, name)(include_top=False, input_shape=(image_size, image_size, 3),
                                             weights=None if weights in ("none", "", None) else weights)
    return keras.Model(inputs, base(KerasAppPreprocess(module)(inputs)), name=name)


def create_backbone(name: str, image_size: int, weights: str = "imagenet", l2: float = 0.0) -> keras.Model:
    """A feature extractor: 0..255 RGB images -> feature map."""
    if name == "baseline-cnn":
        return _baseline_cnn(image_size, l2)
    if name in LITE_VARIANTS:
        return _lite(name, image_size, weights)
    if name.startswith("keras:"):
        return _keras_application(name.split(":", 1)[1], image_size, weights)
    raise KeyError(f"unknown model {name!r}; choose one of {', '.join(model_names())}")


def pooler(backbone: keras.Model, name: str | None = None) -> keras.Model:
    """Pictures -> the backbone's features averaged over locations (what the head reads)."""
    return keras.Sequential([backbone, layers.GlobalAveragePooling2D()], name=name)


def create_head(channels: int, num_classes: int, dropout: float, l2: float, name: str = "head") -> keras.Model:
    """Pooled features -> logits."""
    features = keras.Input((channels,), name="features")
    x = layers.Dropout(dropout, name="head_dropout")(features) if dropout else features
    logits = layers.Dense(num_classes, kernel_regularizer=regularizers.L2(l2) if l2 else None, name="logits")(x)
    return keras.Model(features, logits, name=name)


@keras.saving.register_keras_serializable(package="defectlab")
class LogProbability(layers.Layer):
    """Probabilities -> their log, so an ensemble's mean probability leaves the model as logits (softmax of the
    output gives the mean back)."""

    def call(self, x):
        return keras.ops.log(x + 1e-7)


def create_ensemble(members: list[tuple[str, keras.Model, keras.Model]], image_size: int) -> keras.Model:
    """One model averaging the probabilities of (name, backbone, head) members, all fed image_size pictures."""
    inputs = keras.Input((image_size, image_size, 3), name="image")
    probabilities = []
    for i, (name, backbone, head) in enumerate(members):
        pooled = layers.GlobalAveragePooling2D(name=f"pool_{i}")(backbone(inputs))
        probabilities.append(layers.Softmax(name=f"softmax_{i}")(head(pooled)))
    mean = layers.Average(name="mean")(probabilities) if len(probabilities) > 1 else probabilities[0]
    return keras.Model(inputs, LogProbability(name="logits")(mean), name="ensemble")


def create_classifier(name: str, num_classes: int, image_size: int, weights: str = "imagenet", l2: float = 1e-4,
                      dropout: float = 0.2, augment=None, seed: int = 0):
    """(classifier, backbone, head). The classifier maps 0..255 RGB images to logits, augmenting in training."""
    backbone = create_backbone(name, image_size, weights, l2)
    head = create_head(backbone.output.shape[-1], num_classes, dropout, l2)
    inputs = keras.Input((image_size, image_size, 3), name="image")
    x = SteelAugment(**vars(augment), seed=seed, name="augment")(inputs) if augment else inputs
    pooled = layers.GlobalAveragePooling2D(name="pool")(backbone(x))
    return keras.Model(inputs, head(pooled), name="classifier"), backbone, head
