"""Detection pictures drawn from metrics.json data, and boxes drawn on images."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from PIL import Image, ImageDraw

from shared.suite.figures import save

COLORS = [(230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48), (145, 30, 180),
          (70, 240, 240), (240, 50, 230)]


def pr_curve_png(metrics: dict, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(6.5, 5))
    recall = metrics["pr_curve"]["recall"]
    for name, precision in metrics["pr_curve"]["precision"].items():
        ax.plot(recall, precision, label=f"{name} AP50 {metrics['per_class_ap50'][name]:.3f}")
    ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02),
           title=f"{metrics['split_side']}: mAP50 {metrics['map50']:.3f}, mAP50-95 {metrics['map50_95']:.3f}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def confusion_png(metrics: dict, path: Path) -> Path:
    matrix = np.array(metrics["confusion_matrix"])  # rows: predicted, columns: true (ultralytics convention)
    labels = metrics["confusion_labels"]
    fig, ax = plt.subplots(figsize=(7, 6))
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    for (i, j), value in np.ndenumerate(matrix):
        if value:
            ax.text(j, i, str(value), ha="center", va="center", fontsize=8)
    ax.set(xlabel="true", ylabel="predicted", title="detection confusion matrix (IoU 0.45)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def draw_boxes(image: np.ndarray, predicted: list[dict], truth: list[dict] | None, classes: list[str]) -> Image.Image:
    """Predicted boxes in class colours with confidence; true boxes (if given) as thin white outlines."""
    image = Image.fromarray(image)
    scale = max(1, 400 // max(image.size))
    image = image.resize((image.width * scale, image.height * scale), Image.NEAREST)
    draw = ImageDraw.Draw(image)
    for box in truth or []:
        draw.rectangle([box[k] * scale for k in ("xmin", "ymin", "xmax", "ymax")], outline=(255, 255, 255), width=1)
    for box in predicted:
        color = COLORS[classes.index(box["class"]) % len(COLORS)] if box["class"] in classes else COLORS[-1]
        xy = [box[k] * scale for k in ("xmin", "ymin", "xmax", "ymax")]
        draw.rectangle(xy, outline=color, width=2)
        draw.text((xy[0] + 2, xy[1] + 1), f"{box['class']} {box['confidence']:.2f}", fill=color)
    return image


def ap_bars_png(metrics: dict, path: Path) -> Path:
    names = list(metrics["per_class_ap50"])
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.bar(names, [metrics["per_class_ap50"][n] for n in names], color="#4c72b0", label="AP50")
    ax.bar(names, [metrics["per_class_ap50_95"][n] for n in names], color="#dd8452", width=0.5, label="AP50-95")
    ax.set(ylim=(0, 1), ylabel="AP", title=f"mAP50 {metrics['map50']:.3f}, mAP50-95 {metrics['map50_95']:.3f}")
    ax.tick_params(axis="x", labelsize=7, rotation=20)
    ax.legend(fontsize=7)
    return save(fig, path)


def boxes_grid_png(run, pictures: list[dict], path: Path, count: int = 8) -> Path:
    """`count` test pictures spread over the classes, each with true and predicted boxes, in one image."""
    from shared.datasets.images import load_image

    by_class = {}
    for picture in pictures:
        by_class.setdefault(picture["class"], []).append(picture)
    chosen = [p for group in zip(*by_class.values()) for p in group][:count] or pictures[:count]
    records = run.predictor().predict([p["path"] for p in chosen])
    tiles = [draw_boxes(load_image(p["path"], 3), r.get("boxes", []), p["boxes"], run.classes)
             for p, r in zip(chosen, records)]
    size = 300
    columns = min(4, len(tiles))
    rows = -(-len(tiles) // columns)
    canvas = Image.new("RGB", (columns * size, rows * size), "white")
    for k, tile in enumerate(tiles):
        canvas.paste(tile.resize((size, size)), ((k % columns) * size, (k // columns) * size))
    canvas.save(path)
    return path
