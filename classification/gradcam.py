"""Grad-CAM heatmaps for any image: where in the picture the predicted (or a chosen) class comes from.
Gradients are backend-specific, so this module holds the only per-backend code of the package."""
from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
from PIL import Image

from shared.datasets.images import decode_input, expand_image_inputs, load_image, resize_rgb, to_rgb
from shared.suite.errors import DataError
from shared.suite.figures import save
from shared.suite.predictor import input_name, picture_stem


def _parts(model: keras.Model):
    """The trained classifier's backbone and pooled head, to run the forward pass in two halves."""
    if model.name == "ensemble":
        raise ValueError("Grad-CAM needs a single-backbone classifier; this run is an ensemble of three "
                         "(preset auto chose it): train preset=lite0-finetune to explain its answers")
    backbone = next(layer for layer in model.layers if isinstance(layer, keras.Model) and layer.name != "head")
    pool, head = model.get_layer("pool"), model.get_layer("head")
    return backbone, lambda features: head(pool(features), training=False)


def _gradients(model: keras.Model, x: np.ndarray, class_index: int | None):
    backbone, classify = _parts(model)
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        features = backbone(x, training=False)
        with tf.GradientTape() as tape:
            tape.watch(features)
            logits = classify(features)
            target = class_index if class_index is not None else int(tf.argmax(logits[0]))
            score = logits[:, target]
        return np.asarray(features), np.asarray(tape.gradient(score, features)), np.asarray(logits), target
    if backend == "torch":
        import torch

        features = backbone(x, training=False).detach().requires_grad_(True)
        logits = classify(features)
        target = class_index if class_index is not None else int(torch.argmax(logits[0]))
        gradient = torch.autograd.grad(logits[:, target].sum(), features)[0]
        return (features.detach().cpu().numpy(), gradient.cpu().numpy(), logits.detach().cpu().numpy(), target)
    raise NotImplementedError(f"Grad-CAM supports the tensorflow and torch backends, not {backend}")


def explain(run, images, out: str | Path, class_name: str | None = None) -> list[dict]:
    """Grad-CAM of every image (paths, folders, arrays) -> OUT/<stem>_gradcam.png; one record per input, an
    unreadable one gets an error record and the rest go on."""
    predictor, records = run.predictor(), []
    for number, item in enumerate(expand_image_inputs(images)):
        record = {"image": input_name(item, number)}
        try:
            result = gradcam(predictor, decode_input(item), class_name)
        except DataError as error:
            records.append({**record, "error": str(error)})
            continue
        path = overlay_png(result, Path(out) / f"{picture_stem(record, number)}_gradcam.png")
        records.append({**record, "class": result["class"], "confidence": result["confidence"], "picture": str(path)})
    return records


def gradcam(predictor, image, class_name: str | None = None) -> dict:
    """{'heatmap': HxW in 0..1 at the model's input size, 'class', 'confidence', 'image': uint8 input}."""
    x = resize_rgb(to_rgb(image) if isinstance(image, np.ndarray) else load_image(image, 3), predictor.image_size)
    x = x.astype("float32")
    index = predictor.classes.index(class_name) if class_name else None
    features, gradient, logits, target = _gradients(predictor.model, x[None], index)
    weights = gradient[0].mean(axis=(0, 1))
    cam = np.maximum((features[0] * weights).sum(-1), 0)
    cam = cam / cam.max() if cam.max() > 0 else cam
    heatmap = np.asarray(Image.fromarray((cam * 255).astype(np.uint8)).resize(x.shape[:2], Image.BILINEAR)) / 255.0
    probabilities = np.exp(logits[0] - logits[0].max())
    probabilities /= probabilities.sum()
    return {"heatmap": heatmap, "class": predictor.classes[target], "confidence": float(probabilities[target]),
            "image": x.astype(np.uint8)}


def overlay_png(result: dict, path: str | Path, alpha: float = 0.45) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colored = plt.get_cmap("jet")(result["heatmap"])[..., :3] * 255
    blended = (1 - alpha) * result["image"] + alpha * colored
    fig, axes = plt.subplots(1, 2, figsize=(6, 3.2))
    axes[0].imshow(result["image"])
    axes[1].imshow(blended.astype(np.uint8))
    for ax in axes:
        ax.axis("off")
    fig.suptitle(f"Grad-CAM: {result['class']} ({result['confidence']:.1%})", fontsize=10)
    return save(fig, path)


def gradcam_grid_png(run, paths: list, path: str | Path, truth: list[str] | None = None) -> Path:
    """Grad-CAM of a few pictures in one figure: each picture over its heatmap, captioned 'Prediction (True)'."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    predictor = run.predictor()
    fig, axes = plt.subplots(1, max(1, len(paths)), figsize=(2.2 * max(1, len(paths)), 2.6), squeeze=False)
    for ax, item, true in zip(axes[0], paths, truth or [None] * len(paths)):
        result = gradcam(predictor, load_image(item, 3))
        colored = plt.get_cmap("jet")(result["heatmap"])[..., :3] * 255
        ax.imshow((0.55 * result["image"] + 0.45 * colored).astype(np.uint8))
        wrong = true is not None and true != result["class"]
        ax.set_title(f"{result['class']} {result['confidence']:.0%}" + (f"\n({true})" if true else ""), fontsize=7,
                     color="red" if wrong else "black")
        ax.axis("off")
    fig.suptitle("Grad-CAM: where the predicted class comes from", fontsize=9)
    return save(fig, path)
