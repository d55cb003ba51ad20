"""Anomaly pictures drawn from run data: ROC from the metrics, heatmap overlays from the scored test images."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from PIL import Image

from shared.suite.figures import save

from .metrics import peak


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


def outline(ax, mask: np.ndarray, shape) -> None:
    """The true mask's outline (white) over a picture of `shape`."""
    if mask is None or not mask.any():
        return
    if mask.shape != tuple(shape[:2]):
        mask = np.asarray(Image.fromarray(mask.astype(np.uint8) * 255).resize(shape[1::-1], Image.NEAREST)) > 127
    ax.contour(mask, levels=[0.5], colors="white", linewidths=1.0)


def mark_peak(ax, heatmap: np.ndarray, shape) -> None:
    """A cross where the map is highest, in the picture's pixels."""
    x, y = peak(heatmap)
    ax.plot((x + 0.5) * shape[1] / heatmap.shape[1], (y + 0.5) * shape[0] / heatmap.shape[0], "x", color="white",
            markersize=7, markeredgewidth=2)


def extremes_png(pictures: list, scores: np.ndarray, labels: np.ndarray, maps: np.ndarray | None, masks,
                 folder: Path, count: int = 8) -> list[Path]:
    """From the evaluation's arrays in memory: the top- and lowest-scored test pictures with their heatmaps, and
    abnormal pictures (spread over the score range) beside their heatmaps, true masks / boxes outlined in white,
    the map's peak crossed."""
    if maps is None or not len(scores):
        return []
    order = np.argsort(scores)
    abnormal = order[labels[order] == 1]
    spread = abnormal[np.unique(np.linspace(0, len(abnormal) - 1, min(count, len(abnormal))).astype(int))] \
        if len(abnormal) else abnormal
    written = []
    for name, picks in (("top_scored", order[::-1][:count]), ("lowest_scored", order[:count])):
        fig, axes = plt.subplots(1, len(picks), figsize=(2 * len(picks), 2.4), squeeze=False)
        for ax, i in zip(axes[0], picks):
            image = pictures[i]
            ax.imshow(overlay(image, maps[i]))
            outline(ax, None if masks is None else masks[i], image.shape)
            ax.set_title(f"{scores[i]:.2f} {'abn' if labels[i] else 'normal'}", fontsize=8,
                         color="red" if labels[i] else "black")
            ax.axis("off")
        fig.suptitle(f"{name.replace('_', ' ')} test images (score, truth; true boxes white)")
        written.append(save(fig, folder / f"{name}.png"))
    if len(spread):
        fig, axes = plt.subplots(2, len(spread), figsize=(2 * len(spread), 4.4), squeeze=False)
        for k, i in enumerate(spread[::-1]):
            image = pictures[i]
            for row, shown in ((0, image), (1, overlay(image, maps[i]))):
                axes[row][k].imshow(shown)
                outline(axes[row][k], None if masks is None else masks[i], image.shape)
                axes[row][k].axis("off")
            mark_peak(axes[1][k], maps[i], image.shape)
            axes[0][k].set_title(f"score {scores[i]:.2f}", fontsize=8)
        fig.suptitle("abnormal test pictures: true boxes (white) beside the heatmap and its peak (x)")
        written.append(save(fig, folder / "abnormal_heatmaps.png"))
    return written


def loco_roc_png(result: dict, path: Path) -> Path:
    """One ROC curve per held-out class of a leave-one-class-out result."""
    fig, ax = plt.subplots(figsize=(5, 5))
    for name, row in result["per_class"].items():
        ax.plot(row["roc"]["fpr"], row["roc"]["tpr"], label=f"{name} {row['image_auroc']:.3f}")
    ax.plot([0, 1], [0, 1], ":", color="gray")
    ax.set(xlabel="false positive rate", ylabel="true positive rate",
           title=f"held-out class ROC (mean AUROC {result['mean_auroc']:.3f})")
    ax.legend(loc="lower right", fontsize=7)
    return save(fig, path)


def loco_heatmaps_png(result: dict, boxes: dict, path: Path) -> Path:
    """Per held-out class: its top-scored picture, the heatmap over it, its peak (x) and the true boxes (white)."""
    from matplotlib.patches import Rectangle

    names = list(result["per_class"])
    fig, axes = plt.subplots(1, len(names), figsize=(2.3 * len(names), 2.7), squeeze=False)
    for ax, name in zip(axes[0], names):
        ax.axis("off")
        saved = np.load(Path(result["per_class"][name]["run"]) / "scores.npz")
        if not saved["maps"].size:
            continue
        abnormal = np.flatnonzero(saved["labels"] == 1)
        k = abnormal[np.argmax(saved["scores"][abnormal])]
        picture = str(saved["paths"][k])
        image = np.asarray(Image.open(picture).convert("RGB"))
        heat = saved["maps"][k]
        ax.imshow(overlay(image, heat))
        mark_peak(ax, heat, image.shape)
        for box in boxes.get(picture, []):
            ax.add_patch(Rectangle((box["xmin"], box["ymin"]), box["xmax"] - box["xmin"], box["ymax"] - box["ymin"],
                                   fill=False, edgecolor="white", linewidth=1.2))
        ax.set_title(f"{name}\nscore {saved['scores'][k]:.2f}", fontsize=7)
    return save(fig, path)


def loco_gallery_png(result: dict, boxes: dict, path: Path, per_class: int = 2) -> Path:
    """Per held-out class (columns of pairs): abnormal test pictures at evenly spread score ranks, each picture with
    its true boxes (white) beside its heatmap with the same boxes and the map's peak (x); drawn from each
    protocol run's scores.npz."""
    from matplotlib.patches import Rectangle

    names = list(result["per_class"])
    fig, axes = plt.subplots(per_class * 2, len(names), figsize=(2.2 * len(names), 2.3 * per_class * 2), squeeze=False)
    for column, name in enumerate(names):
        saved = np.load(Path(result["per_class"][name]["run"]) / "scores.npz")
        abnormal = np.flatnonzero(saved["labels"] == 1)
        ranked = abnormal[np.argsort(saved["scores"][abnormal])[::-1]]
        picks = ranked[np.linspace(0, len(ranked) - 1, per_class + 2).astype(int)[1:-1]] if len(ranked) else []
        for k, i in enumerate(picks):
            picture = str(saved["paths"][i])
            image = np.asarray(Image.open(picture).convert("RGB"))
            for row, shown in ((2 * k, image), (2 * k + 1, overlay(image, saved["maps"][i]))):
                ax = axes[row][column]
                ax.imshow(shown)
                for box in boxes.get(picture, []):
                    ax.add_patch(Rectangle((box["xmin"], box["ymin"]), box["xmax"] - box["xmin"],
                                           box["ymax"] - box["ymin"], fill=False, edgecolor="white", linewidth=1.0))
            mark_peak(axes[2 * k + 1][column], saved["maps"][i], image.shape)
            axes[2 * k][column].set_title(f"{name}\nscore {saved['scores'][i]:.1f}", fontsize=7)
        for row in axes[:, column]:
            row.axis("off")
    fig.suptitle("held-out class pictures (leave-one-class-out): true boxes (white) beside the heatmap, peak (x)",
                 fontsize=9)
    return save(fig, path)
