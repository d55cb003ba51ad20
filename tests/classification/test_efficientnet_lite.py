"""The Keras EfficientNet-Lite port against a torch reference holding the same ImageNet weights."""
import numpy as np
import pytest
from PIL import Image

from classification.efficientnet_lite import build_efficientnet_lite, load_imagenet_weights, read_torch_state
from shared.pretrained import lite_weights_file, timm_lite_key

EGYPTIAN_CAT = 285


@pytest.fixture(scope="module")
def state():
    return read_torch_state(lite_weights_file("efficientnet_lite0"))


@pytest.fixture(scope="module")
def keras_lite0(state):
    return load_imagenet_weights(build_efficientnet_lite("efficientnet_lite0", (224, 224, 3)), state=state)


@pytest.fixture(scope="module")
def timm_lite0():
    import timm
    import torch

    model = timm.create_model("tf_efficientnet_lite0", pretrained=False).eval()
    raw = torch.load(lite_weights_file("efficientnet_lite0"), map_location="cpu", weights_only=True)
    missing, unexpected = model.load_state_dict({timm_lite_key(k): v for k, v in raw.items()}, strict=True)
    assert not missing and not unexpected
    return model


def _timm_logits(model, images: np.ndarray) -> np.ndarray:
    import torch

    x = torch.from_numpy((images / 255.0 - 0.5) / 0.5).permute(0, 3, 1, 2).float()
    with torch.no_grad():
        return model(x).numpy()


def test_logits_match_the_torch_reference(keras_lite0, timm_lite0):
    images = np.random.default_rng(0).uniform(0, 255, (2, 224, 224, 3)).astype("float32")
    ours = np.asarray(keras_lite0(images, training=False))
    reference = _timm_logits(timm_lite0, images)
    assert np.abs(ours - reference).max() <= 1e-3 * max(1.0, np.abs(reference).max())  # of the logits' scale


def test_a_natural_photo_gets_its_imagenet_class(keras_lite0, timm_lite0):
    from skimage import data

    cat = np.asarray(Image.fromarray(data.chelsea()).resize((224, 224), Image.BILINEAR), dtype="float32")[None]
    assert int(np.argmax(np.asarray(keras_lite0(cat, training=False)))) == EGYPTIAN_CAT
    assert int(np.argmax(_timm_logits(timm_lite0, cat))) == EGYPTIAN_CAT


def test_key_map_covers_every_weight(state):
    import timm

    wanted = set(timm.create_model("tf_efficientnet_lite0", pretrained=False).state_dict())
    mapped = {timm_lite_key(k) for k in state}
    assert mapped == {k for k in wanted if not k.endswith("num_batches_tracked")}
