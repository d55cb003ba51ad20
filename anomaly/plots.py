"""Anomaly pictures drawn from run data: ROC from the metrics, heatmap overlays from the scored test images."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402



def roc_png(metrics: dict, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot(metrics["roc"]["fpr"], metrics["roc"]["tpr"], label=f"image AUROC {metrics['image_auroc']:.3f}")
    ax.plot([0, 1], [0, 1], ":", color="gray")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC (test images)")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def overlay(image: np.ndarray, heatmap: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    span = heatmap.max() - heatmap.min()
    normed = (heatmap - heatmap.min()) / span if span > 0 else np.zeros_like(heatmap)
    normed = np.asarray(Image.fromarray((normed * 255).astype(np.uint8)).resize(image.shape[1::-1], Image.BILINEAR)) / 255
    return ((1 - alpha) * image + alpha * plt.get_cmap("jet")(normed)[..., :3] * 255).astype(np.uint8)


def extremes_png(images: np.ndarray, scores: np.ndarray, labels: np.ndarray, maps: np.ndarray | None,
                 folder: Path, count: int = 8) -> list[Path]:
    """Top- and lowest-scored test images with their heatmaps (from the evaluation's arrays in memory)."""
    if maps is None or not len(scores):
        return []
    order = np.argsort(scores)
    written = []
    for name, picks in (("top_scored", order[::-1][:count]), ("lowest_scored", order[:count])):
        fig, axes = plt.subplots(1, len(picks), figsize=(2 * len(picks), 2.4), squeeze=False)
        for ax, i in zip(axes[0], picks):
            ax.imshow(overlay(images[i], maps[i]))
            ax.set_title(f"{scores[i]:.2f} {'abn' if labels[i] else 'normal'}", fontsize=8,
                         color="red" if labels[i] else "black")
            ax.axis("off")
        fig.suptitle(f"{name.replace('_', ' ')} test images (score, truth)")
        fig.tight_layout()
        fig.savefig(folder / f"{name}.png", dpi=100)
        plt.close(fig)
        written.append(folder / f"{name}.png")
    return written
