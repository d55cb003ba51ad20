"""NEU protocols on the shared index, read once: leave-one-class-out (fit on the other five classes' training
pictures, score all six classes' test pictures; the held-out class is novel) and one-class (fit on one class,
the other five are anomalous). Split kaggle-det: 240 train / 60 test pictures per class. The result is
written with provenance to OUT/<protocol>.json."""
from __future__ import annotations

import dataclasses
import statistics
from pathlib import Path

from shared.datasets.index import class_names, read_dataset
from shared.suite.provenance import write_result

from .recipe import PROTOCOLS, AnomalyRecipe
from .train import train


def _mean(values) -> float | None:
    """Mean of a per-class metric, None when any class lacks it (no masks, or a model without maps)."""
    values = list(values)
    return None if any(v is None for v in values) else statistics.mean(values)


def run_protocol(data: str | Path, protocol: str, recipe: AnomalyRecipe, out: str | Path, classes=None,
                 progress: bool = False) -> dict:
    """Fit one model per class under `protocol`; per-class metrics and the mean image AUROC."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}")
    index, _ = read_dataset(data, progress=False)
    names = class_names(index)
    results = {}
    for name in classes or names:
        normal = [c for c in names if c != name] if protocol == "loco" else [name]
        # the protocol's own folder: a finished run of this recipe is reused, one of another recipe replaced
        run_recipe = dataclasses.replace(recipe, data=str(data), normal_classes=normal,
                                         out=str(Path(out) / protocol / name), name="run", overwrite=True)
        run = train(run_recipe, progress=progress, index=index)
        metrics = run.evaluate("test")
        results[name] = {"image_auroc": metrics["image_auroc"], "f1_at_threshold": metrics["f1_at_threshold"],
                         "pixel_auroc": metrics.get("pixel_auroc"), "pixel_pro": metrics.get("pixel_pro"),
                         "box_hit_rate": metrics.get("box_hit_rate"),
                         "fit_seconds": run.timings["fit_seconds"],
                         "infer_images_per_second_cpu": metrics["infer_images_per_second_cpu"],
                         "peak_memory_mb": max(run.timings["peak_memory_mb"], metrics["peak_memory_mb"]),
                         "roc": metrics["roc"], "run": str(run.path)}
        if progress:
            where = "" if metrics.get("pixel_auroc") is None else \
                f", pixel AUROC {metrics['pixel_auroc']:.3f}, box hit rate {metrics['box_hit_rate']:.3f}"
            print(f"[{protocol}] {name}: image AUROC {metrics['image_auroc']:.3f}{where}")
    result = {"protocol": protocol, "recipe": recipe.to_dict(),
              "per_class_auroc": {k: v["image_auroc"] for k, v in results.items()},
              "mean_auroc": statistics.mean(v["image_auroc"] for v in results.values()),
              **{f"mean_{key}": _mean(v[metric] for v in results.values())
                 for key, metric in (("pixel_auroc", "pixel_auroc"), ("pro", "pixel_pro"),
                                     ("box_hit_rate", "box_hit_rate"))},
              "per_class": results}
    write_result(Path(out) / f"{protocol}.json", result, split=recipe.split, index=index)
    return result
