"""train(recipe) -> AnomalyRun: fit on the normal pictures, choose the threshold on held-out normal pictures.
The model and the data view stay alive, so `run.evaluate()` scores the test pictures without reading back."""
from __future__ import annotations

import sys
import time

import numpy as np

from shared.datasets.images import file_sha1
from shared.suite.console import silenced
from shared.suite.memory_guard import capped_mmap_threshold, peak_memory_mb

from . import models
from .data import load_data
from .recipe import FITTED_FILE, AnomalyRecipe
from .run import AnomalyRun, batches, load


def train(recipe: AnomalyRecipe, progress: bool = True, index=None) -> AnomalyRun:
    """`index`: a labelled dataset's index already read (protocols fit one model per class on it). A finished run
    of the same recipe at OUT/NAME is loaded, not fitted again; another recipe there is refused unless overwrite."""
    finished = AnomalyRun.existing(recipe, load)
    if finished is not None:
        return finished
    data = load_data(recipe, progress=progress, index=index)  # fails before anything is written
    run = AnomalyRun(recipe.run_dir(), recipe, ["normal", "anomalous"], data.info, data=data)
    run.save_description()
    started = time.perf_counter()
    model = models.create_model(recipe)
    if progress:
        print(f"[anomaly] fitting {recipe.model} on {len(data.part('fit'))} normal pictures", file=sys.stderr)
    # capped: PatchCore's coreset otherwise grows memory until the process dies; anomalib draws a bar of its own
    with capped_mmap_threshold(), silenced():
        models.fit(model, batches(data.pixels("fit"), recipe.batch_size), recipe.coreset_ratio, recipe.backbone,
                   recipe.coreset_sampler, recipe.seed)
    fit_seconds = time.perf_counter() - started
    run.model = model
    valid_scores, _ = run.score_part(data, "valid")
    run.threshold = float(np.quantile(valid_scores, recipe.threshold_quantile)) if len(valid_scores) else float("inf")
    models.save_model(model, run.path / AnomalyRun.MODEL_FILE)
    run.write_json("threshold.json", {
        "threshold": run.threshold, "quantile": recipe.threshold_quantile, "normal_valid_images": len(valid_scores),
        "normal_valid_scores": np.round(valid_scores, 5).tolist()})
    # what the model memorised, by content: calibrate refuses these pictures (each matches itself, scoring low)
    run.write_json(FITTED_FILE, {"sha1": sorted({file_sha1(p) for p in data.part("fit").path})})
    run.timings = {"fit_seconds": round(fit_seconds, 1), "fit_images": len(data.part("fit")),
                   "peak_memory_mb": peak_memory_mb()}
    run.write_json("training.json", run.timings)
    return run
