"""Tune the classifier's stage-1 fields (the head on frozen features: head_lr, head_epochs, l2, dropout,
label_smoothing) with Optuna's TPE sampler, scored by the mean validation log-loss over k folds of the train
side (accuracy saturates near 100% on NEU, the loss still orders recipes; test is never read). Features are
computed once, so a trial costs seconds. Fine-tuning fields are not searched: a trial would cost a full training.
Writes OUT/study.json (every trial: parameters, fold losses and accuracies), OUT/best_recipe.json and
OUT/search.png. With a storage URL the study lives in a database and several processes add trials to it
(classification.tune_shared)."""
from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

# field -> (low, high, log scale) for floats, (choices) for the rest
SPACE = {"head_lr": (3e-4, 3e-2, True), "l2": (1e-6, 1e-2, True), "dropout": (0.0, 0.5, False),
         "label_smoothing": (0.0, 0.2, False), "head_epochs": (10, 80, False)}


def fold_ids(index, split, folds: int, seed: int):
    """pandas Series picture_id -> fold number, for the train and valid sides (grouped like the suite's kfold)."""
    from shared.datasets.splits import make_split

    rows = index[split.isin(["train", "valid"]).to_numpy()].reset_index(drop=True)
    ids = np.zeros(len(rows), dtype=int)
    for fold in range(folds):
        ids[(make_split(rows, "kfold", folds=folds, fold=fold, seed=seed) == "test").to_numpy()] = fold
    return rows.assign(fold=ids).drop_duplicates("picture_id").set_index("picture_id")["fold"]


def head_scores(recipe, features: np.ndarray, y: np.ndarray, folds: np.ndarray, weights=None, views=None,
                score=None) -> dict:
    """Train the recipe's head on k-1 folds of frozen features, score the k-th; per-fold log-loss and accuracy.
    Probabilities of every picture (out of fold) come back too: ensembles and the auto preset reuse them; with
    `views` (V x N x D features of flipped / turned pictures) also their mean over the views (TTA). `score`:
    the folds to hold out in turn (default every fold)."""
    import keras

    from .models import create_head

    n = int(y.max()) + 1
    losses, accuracies = [], []
    out_of_fold = np.zeros((len(y), n), "float32")
    tta = np.zeros((len(y), n), "float32") if views is not None else None
    for fold in np.unique(folds) if score is None else score:
        train, valid = folds != fold, folds == fold
        keras.utils.set_random_seed(recipe.seed)
        head = create_head(features.shape[-1], n, recipe.dropout, recipe.l2)
        head.compile(keras.optimizers.Adam(recipe.head_lr),
                     keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=recipe.label_smoothing))
        head.fit(features[train], np.eye(n, dtype="float32")[y[train]], epochs=recipe.head_epochs,
                 batch_size=recipe.batch_size, verbose=0,
                 class_weight=None if weights is None else {i: float(w) for i, w in enumerate(weights)})
        probabilities = keras.ops.convert_to_numpy(keras.ops.softmax(head.predict(features[valid], verbose=0)))
        out_of_fold[valid] = probabilities
        if views is not None:
            tta[valid] = np.mean([keras.ops.convert_to_numpy(keras.ops.softmax(head.predict(v[valid], verbose=0)))
                                  for v in views], axis=0)
        losses.append(float(-np.mean(np.log(probabilities[np.arange(valid.sum()), y[valid]] + 1e-7))))
        accuracies.append(float((probabilities.argmax(1) == y[valid]).mean()))
        keras.backend.clear_session()
    return {"log_loss": float(np.mean(losses)), "accuracy": float(np.mean(accuracies)), "fold_log_loss": losses,
            "fold_accuracy": accuracies, "probabilities": out_of_fold, "tta_probabilities": tta}


def defaults(recipe) -> dict:
    """The recipe's own values of the searched fields: the study's first trial."""
    return {name: getattr(recipe, name) for name in SPACE}


def search(recipe, features: np.ndarray, y: np.ndarray, folds: np.ndarray, trials: int, seed: int = 0,
           progress: bool = True, weights=None, study=None, first=None) -> dict:
    """Run `trials` trials of an Optuna study over SPACE and summarise every finished trial of it. Without
    `study` a new in-memory one whose trial 0 is the recipe's own values, so the search can only report a loss at
    most the default's; a shared study (tune_shared.open_study) is given with, in the process that created it,
    `first`: the trial of the recipe's own values, running already, evaluated here before the others."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if study is None:
        study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=seed))
        study.set_user_attr("sampler", f"optuna {optuna.__version__} TPESampler(seed={seed})")
        study.enqueue_trial(defaults(recipe), user_attrs={"default": True})
    losses = []

    def objective(trial):
        values = {}
        for name, bounds in SPACE.items():
            if isinstance(bounds[0], int) and isinstance(bounds[1], int):
                values[name] = trial.suggest_int(name, bounds[0], bounds[1])
            else:
                values[name] = trial.suggest_float(name, bounds[0], bounds[1], log=bounds[2])
        started = time.perf_counter()
        scores = head_scores(replace(recipe, **values), features, y, folds, weights)
        for key in ("accuracy", "fold_log_loss", "fold_accuracy"):
            trial.set_user_attr(key, scores[key])
        trial.set_user_attr("seconds", round(time.perf_counter() - started, 1))
        losses.append(scores["log_loss"])
        if progress:
            print(f"[classification] trial {len(losses)}/{trials} (study trial {trial.number}): log-loss "
                  f"{scores['log_loss']:.4f} accuracy {scores['accuracy']:.4f} (best here {min(losses):.4f})",
                  flush=True)
        return scores["log_loss"]

    rest = trials
    if first is not None:
        from optuna.trial import TrialState

        value = None
        try:
            if trials > 0:
                value = objective(first)
                rest -= 1
        finally:  # closed whatever happened: a trial left running would stay so in the study for good
            study.tell(first, value) if value is not None else study.tell(first, state=TrialState.FAIL)
    study.optimize(objective, n_trials=rest)
    return summary(study, len(np.unique(folds)))


def summary(study, folds: int) -> dict:
    """study.json's body from the study itself (memory or database): every finished trial in trial order, the
    default (the queued first trial) and the best; trials still running or failed are only counted."""
    from optuna.trial import TrialState

    trials = sorted(study.get_trials(deepcopy=False), key=lambda t: t.number)
    finished = [t for t in trials if t.state == TrialState.COMPLETE]
    if not finished:
        raise ValueError(f"study {study.study_name!r} has no finished trial yet: {len(trials)} trial(s) running or "
                         "failed")
    records = [{"number": t.number, "params": {name: t.params[name] for name in SPACE}, "log_loss": t.value,
                **{key: t.user_attrs.get(key) for key in ("accuracy", "fold_log_loss", "fold_accuracy", "seconds")}}
               for t in finished]
    states = {}
    for trial in trials:
        states[trial.state.name.lower()] = states.get(trial.state.name.lower(), 0) + 1
    return {"sampler": study.user_attrs.get("sampler"),
            "objective": "mean validation log-loss over the folds (lower is better)",
            "space": {k: list(v) for k, v in SPACE.items()}, "folds": folds, "trials": records, "states": states,
            "default": next((r for r, t in zip(records, finished) if t.user_attrs.get("default")), None),
            "best": min(records, key=lambda r: r["log_loss"])}


def search_png(study: dict, path: Path) -> Path:
    """Each trial's validation log-loss and the best so far (drawn from study.json's data)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    losses = np.array([t["log_loss"] for t in study["trials"]])
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.scatter(np.arange(len(losses)), losses, s=14, label="trial")
    ax.plot(np.minimum.accumulate(losses), color="C1", label="best so far")
    if study["default"] is not None:
        at = [t["number"] for t in study["trials"]].index(study["default"]["number"])
        ax.scatter([at], losses[at:at + 1], color="C3", zorder=3, label=f"recipe default (trial {at})")
    ax.set(xlabel="trial", ylabel=f"validation log-loss ({study['folds']} folds)", yscale="log",
           title="classification tune: Optuna TPE over the head's fields")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def tune(recipe, trials: int = 30, out: Path | str = "runs/tuning", progress: bool = True, join=None) -> dict:
    """Read and split recipe.data, compute frozen features of the train and valid sides once, search, write
    OUT/study.json, OUT/best_recipe.json and OUT/search.png. `join(recipe, context)`: a shared study to add the
    trials to (tune_shared.open_study with its storage URL and name; the caller opens it, so that this module does
    not depend on the storage)."""

    from .data import load_data
    from .models import create_backbone, pooler
    from .progress import bars

    data = load_data(recipe, progress=progress)
    images, y, pictures = data.labelled()
    folds = fold_ids(data.index, data.split, recipe.folds, recipe.seed).reindex(pictures).to_numpy()
    context = {"folds": len(np.unique(folds)), "recipe": recipe.to_dict(), "classes": data.classes,
               "pictures": len(y), "data": data.info(recipe)}
    shared = None
    if join is not None:  # a study of another recipe is refused before the features are computed
        shared = join(recipe, context)
    features = pooler(create_backbone(recipe.model, recipe.image_size, recipe.weights)).predict(
        images, batch_size=recipe.batch_size, verbose=0, callbacks=bars("features", progress))
    from .fit import class_weights

    weights = class_weights(y, len(data.classes), recipe.class_weight) if recipe.class_weight != "none" else None
    return tune_features(recipe, features, y, folds, trials, out, context, progress, weights, shared)


def tune_features(recipe, features: np.ndarray, y: np.ndarray, folds: np.ndarray, trials: int, out: Path | str,
                  context: dict, progress: bool = True, weights=None, shared=None) -> dict:
    """`trials` trials on features computed already, then OUT's files. `shared`: a study opened by
    tune_shared.open_study (its files then describe every finished trial of it, from every process)."""
    if shared is None:
        study = search(recipe, features, y, folds, trials, recipe.seed, progress, weights)
        return write_study({**study, **context}, out)
    search(recipe, features, y, folds, trials, recipe.seed, progress, weights, study=shared.study, first=shared.first)
    return shared.report(out)


def write_study(study: dict, out: Path | str) -> dict:
    """OUT/study.json, OUT/best_recipe.json (study["recipe"] with the best trial's fields) and OUT/search.png."""
    from .recipe import ClassifierRecipe

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "study.json").write_text(json.dumps(study, indent=2) + "\n")
    recipe = ClassifierRecipe.from_dict({**study["recipe"], **study["best"]["params"]})
    recipe.save(out / "best_recipe.json")
    search_png(study, out / "search.png")
    return study
