"""The anomaly threshold a user calibrates on recent known-good pictures of the line: scored with the run's predictor,
thresholded as a conformal order statistic (shared.suite.calibration), written to RUN/calibrations/NAME.json. The
run's threshold.json stays as trained. `apply` puts a calibration in force (predict option calibration=NAME) and
watches the scores that follow against the calibration's."""
from __future__ import annotations

import hashlib
import time
from pathlib import Path

from shared.datasets.images import expand_globs, expand_image_inputs
from shared.suite import calibration, registry
from shared.suite.errors import DataError

from .recipe import FITTED_FILE, AnomalyRecipe

MAKE = "`defectlab anomaly calibrate RUN PICTURES --false-alarm-rate 0.01 --name NAME`"
NOT_SCORING = ("batch_size", "heatmap", "calibration")  # predict options that leave the scores as they are


def model_digest(run) -> str:
    return hashlib.sha256((run.path / run.MODEL_FILE).read_bytes()).hexdigest()


def calibrate(run_path, pictures, alpha: float, confidence: float | None = None, name: str = "",
              force: bool = False, options: dict | None = None, progress: bool = False) -> dict:
    """Score the known-good pictures (files, folders, globs) with the run's predictor (`options`: its predict
    options, e.g. onnx=1, as inspect will run it), set the threshold for a false-alarm rate alpha (expected, or with
    probability >= confidence), write RUN/calibrations/NAME.json and return it. Too few pictures: a one-line
    DataError saying how many are needed, before anything is scored."""
    pictures = [str(p) for p in ([pictures] if isinstance(pictures, (str, Path)) else pictures)]
    where = pictures[0] if len(pictures) == 1 else f"{pictures[0]} (+{len(pictures) - 1})"
    options = {k: v for k, v in (options or {}).items() if v is not None}
    if "calibration" in options:
        raise ValueError("calibrate scores with the run's model alone; leave calibration= out")
    items = expand_image_inputs(expand_globs(pictures))
    if len(items) < calibration.required_pictures(alpha, confidence):
        raise DataError(where, calibration.refusal(len(items), alpha, confidence))
    name = name or calibration.default_name(pictures)
    run = registry.load_run(AnomalyRecipe.TASK, run_path)  # through the registry: anomaly.run imports this module
    target = calibration.path_of(run.path, name)
    if target.exists() and not force:  # before the scoring, not after
        raise DataError(target, "a calibration of this name exists; choose another --name or pass --force")
    fitted = memorised(run, items)
    if fitted:
        raise DataError(where, f"{len(fitted)} of the {len(items)} pictures were fitted by the model (e.g. "
                               f"{fitted[0].name}): each matches itself in the model's memory and scores low, so the "
                               "threshold would come out too low; calibrate on known-good pictures it did not fit")
    predictor = run.predictor(**options)
    records = predictor.predict(items, progress=progress)
    scored = [(Path(r["image"]), r["score"]) for r in records if "score" in r]
    unreadable = [r["error"] for r in records if "error" in r]
    try:
        found = calibration.conformal_threshold([s for _, s in scored], alpha, confidence)
    except ValueError as error:
        more = f" ({len(unreadable)} of the {len(items)} could not be read)" if unreadable else ""
        raise DataError(where, f"{error}{more}") from None
    scores = sorted(s for _, s in scored)
    payload = {
        **found.to_dict(), "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "pictures": [str(Path(p).resolve()) for p in pictures],
        "pictures_fingerprint": calibration.fingerprint(p for p, _ in scored), "unreadable": unreadable,
        "training_threshold": float(run.threshold), "model_sha256": model_digest(run),
        "scored_with": {k: v for k, v in predictor_options(run, options).items() if k not in NOT_SCORING},
        "score_summary": calibration.summary(scores), "scores": scores}
    path = calibration.write(run.path, name, payload, force=force)
    return {"path": str(path), **payload, "name": name}


def memorised(run, items) -> list[Path]:
    """The picture files among items that the run was fitted on (by content; runs trained before it was
    recorded: none known)."""
    import json

    from shared.datasets.images import file_sha1

    path = run.path / FITTED_FILE
    if not path.exists():
        return []
    fitted = set(json.loads(path.read_text())["sha1"])
    return [p for p in items if isinstance(p, Path) and p.is_file() and file_sha1(p) in fitted]


def predictor_options(run, options: dict) -> dict:
    from shared.suite.options import resolve

    return resolve(run.PREDICT_OPTIONS, options, "anomaly predict: ")


def apply(predictor, run, name: str, options: dict):
    """The calibration NAME of the run in force on `predictor` (built with the resolved predict `options`): its
    threshold, its name in every record, and a watch of the scores that follow. A calibration made for another
    model file is refused; one scored another way (e.g. PyTorch against ONNX Runtime) is used with a warning."""
    import sys

    found = calibration.read(run.path, name, MAKE)
    where = calibration.path_of(run.path, name)
    if found.get("model_sha256") != model_digest(run):
        raise DataError(where, f"made for another {run.MODEL_FILE} than this run's; calibrate again with {MAKE}")
    scoring = {k: v for k, v in options.items() if k not in NOT_SCORING}
    differs = {k: v for k, v in found.get("scored_with", {}).items() if k in scoring and scoring[k] != v}
    if differs:
        now = ", ".join(f"{k}={scoring[k]}" for k in differs)
        then = ", ".join(f"{k}={v}" for k, v in differs.items())
        print(f"defectlab: warning: {where}: calibrated with {then}, running with {now}; the guarantee is for the "
              "scores it was calibrated on", file=sys.stderr)
    predictor.threshold = float(found["threshold"])
    predictor.calibration = name
    predictor.calibrated = {k: found.get(k) for k in (
        "name", "threshold", "alpha", "confidence", "form", "n", "k", "guarantee", "created_at", "pictures",
        "pictures_fingerprint", "training_threshold")}
    predictor.watcher = calibration.Watch(found["scores"], found["threshold"], found["alpha"], name)
    return predictor
