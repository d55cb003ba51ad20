"""Pictures drawn from the run's data (metrics, history, predictions and the pictures scored): never from a live
model."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.metrics import ConfusionMatrixDisplay


def confusion_png(metrics: dict, path: Path) -> Path:
    matrix = np.array(metrics["confusion_matrix"])
    fig, ax = plt.subplots(figsize=(7, 6))
    ConfusionMatrixDisplay(matrix, display_labels=metrics["classes"]).plot(ax=ax, colorbar=False, xticks_rotation=45)
    ax.set_title(f"{metrics['split_side']} accuracy {metrics['accuracy']:.2%} ({metrics['correct']}/{metrics['n']})")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def history_png(history: pd.DataFrame, path: Path) -> Path:
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    history = history.reset_index(drop=True)
    for metric, ax in zip(("loss", "accuracy"), axes):
        for column, style in ((metric, "-"), (f"val_{metric}", "--")):
            if column in history:
                ax.plot(history.index + 1, history[column], style, label=column)
        for boundary in history.index[history["stage"].ne(history["stage"].shift())][1:]:
            ax.axvline(boundary + 0.5, color="gray", lw=0.8)
        ax.set_xlabel("epoch (stages: " + " | ".join(history["stage"].unique()) + ")")
        ax.set_title(metric)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def prediction_grid_png(predictions: pd.DataFrame, images: np.ndarray, path: Path, columns: int = 12,
                        max_images: int = 96) -> Path:
    """Each image (row i of `images`, the pictures already decoded for scoring) captioned 'Prediction (True)';
    mistakes in red with a red frame. Mistakes come first."""
    predictions = predictions.reset_index(drop=True).assign(row=np.arange(len(predictions)))
    shown = pd.concat([predictions[~predictions["correct"]], predictions[predictions["correct"]]]).head(max_images)
    rows = int(np.ceil(len(shown) / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(columns * 1.5, rows * 1.7), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, row in zip(axes.flat, shown.itertuples()):
        ax.imshow(images[row.row].mean(-1), cmap="gray", vmin=0, vmax=255)
        color = "black" if row.correct else "red"
        ax.set_title(f"{row.predicted}\n({row.true})", fontsize=6.5, color=color)
        if not row.correct:
            ax.axis("on")
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_edgecolor("red")
                spine.set_linewidth(2.5)
    fig.suptitle(f"Prediction (True): {int((~predictions['correct']).sum())} mistakes of {len(predictions)}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
