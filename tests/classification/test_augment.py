import numpy as np

from classification.augment import SteelAugment


def _dihedral(image):
    turns = [np.rot90(image, k) for k in range(4)]
    return turns + [np.flip(t, 1) for t in turns]


def test_geometric_augmentation_only_reorders_pixels():
    layer = SteelAugment(brightness=0, contrast=0, noise=0, blur=0, seed=3)
    images = np.random.default_rng(0).uniform(0, 255, (16, 12, 12, 3)).astype("float32")
    out = np.asarray(layer(images, training=True))
    for original, augmented in zip(images, out):
        assert any(np.allclose(augmented, variant) for variant in _dihedral(original))
    assert not np.allclose(out, images)


def test_identity_at_inference_and_bounded_in_training():
    layer = SteelAugment(seed=1)
    images = np.random.default_rng(0).uniform(0, 255, (8, 10, 10, 3)).astype("float32")
    assert np.array_equal(np.asarray(layer(images, training=False)), images)
    out = np.asarray(layer(images, training=True))
    assert out.min() >= 0 and out.max() <= 255 and not np.allclose(out, images)


def test_blur_smooths_and_keeps_the_mean():
    layer = SteelAugment(flips=False, rot90=False, brightness=0, contrast=0, noise=0, blur=1.5, seed=0)
    images = np.random.default_rng(0).uniform(0, 255, (32, 24, 24, 1)).astype("float32")
    out = np.asarray(layer(images, training=True))
    changed = ~np.isclose(out, images).all(axis=(1, 2, 3))
    assert 0 < changed.sum() < 32  # about half the images
    inner = (slice(None), slice(5, -5), slice(5, -5))
    assert (out[changed][inner].std(axis=(1, 2, 3)) < images[changed][inner].std(axis=(1, 2, 3))).all()
    assert np.allclose(out[changed][inner].mean(), images[changed][inner].mean(), atol=3)
