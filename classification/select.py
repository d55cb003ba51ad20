"""`select` (preset auto): before training, score candidate recipes on `select_folds` validation folds of the
user's own train and valid pictures (test is never read), then train the winner on the train side (valid for
early stopping), as any recipe trains.
Candidates: 'frozen' (the head on frozen features of recipe.model), 'ensemble' (frozen heads on Lite0, Lite1 and
Lite2 at the recipe's image size, probabilities averaged), 'finetune' (the two-stage recipe). Rule, fixed before any number was seen: the
highest mean fold accuracy; a tie goes to the cheaper recipe (the order above)."""
from __future__ import annotations

import time
from dataclasses import replace

import keras
import numpy as np

from .recipe import SELECT_CANDIDATES as CANDIDATES

ENSEMBLE_MODELS = ("efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2")


def candidates(recipe) -> list[str]:
    names = [c.strip() for c in recipe.select.split(",") if c.strip()]  # checked by ClassifierRecipe.check
    if "ensemble" in names and recipe.weights != "imagenet":
        raise ValueError("select: the ensemble candidate uses the bundled ImageNet Lite0-2 weights; "
                         "set weights=imagenet or drop it from select")
    return [c for c in CANDIDATES if c in names]


def _finetune_scores(config, x, y, folds, weights, progress: bool = False) -> np.ndarray:
    """Out-of-fold probabilities of the two-stage recipe, fixed epochs (the held-out fold is never looked at)."""
    from .fit import fit_head, fit_whole
    from .models import create_classifier

    n = int(y.max()) + 1
    one_hot = np.eye(n, dtype="float32")[y]
    out = np.zeros((len(y), n), "float32")
    for fold in np.unique(folds):
        train, valid = folds != fold, folds == fold
        keras.utils.set_random_seed(config.seed)
        model, backbone, head = create_classifier(config.model, n, config.image_size, config.weights, config.l2,
                                                  config.dropout, config.augment, config.seed)
        fit_head(config, backbone, head, x[train], one_hot[train], None, weights, progress)
        fit_whole(config, model, backbone, x[train], one_hot[train], None, weights, progress)
        out[valid] = keras.ops.convert_to_numpy(keras.ops.softmax(model.predict(x[valid], verbose=0)))
        keras.backend.clear_session()
    return out


def choose(config, data, progress: bool = True) -> dict:
    """Score every candidate on the folds; returns the record selection.json keeps (winner included)."""
    from .fit import class_weights
    from .models import create_backbone, pooler
    from .progress import bars
    from .tune import fold_ids, head_scores

    names = candidates(config)
    x, y, pictures = data.labelled()
    folds = fold_ids(data.index, data.split, config.select_folds, config.seed).reindex(pictures).to_numpy()
    weights = class_weights(y, len(data.classes), config.class_weight)
    fit_weights = {i: float(w) for i, w in enumerate(weights)} if config.class_weight != "none" else None
    frozen = replace(config, finetune_epochs=0)
    probabilities, seconds = {}, {}

    def heads(model_names):
        out = {}
        for name in model_names:
            # every member sees the recipe's image size (Lite is fully convolutional): a Resizing layer in front
            # of a nested backbone gave other features inside a saved graph than outside it here
            backbone = create_backbone(name, config.image_size, config.weights)
            features = pooler(backbone).predict(x, batch_size=config.batch_size, verbose=0,
                                                callbacks=bars(f"features ({name})", progress))
            out[name] = head_scores(frozen, features, y, folds, weights if fit_weights else None)["probabilities"]
        return out

    started = time.perf_counter()
    members = heads([config.model] if "frozen" in names else [])
    if "frozen" in names:
        probabilities["frozen"], seconds["frozen"] = members[config.model], time.perf_counter() - started
    if "ensemble" in names:
        started = time.perf_counter()
        members.update(heads([m for m in ENSEMBLE_MODELS if m not in members]))
        probabilities["ensemble"] = np.mean([members[m] for m in ENSEMBLE_MODELS], axis=0)
        seconds["ensemble"] = time.perf_counter() - started
    if "finetune" in names:
        started = time.perf_counter()
        probabilities["finetune"] = _finetune_scores(config, x, y, folds, fit_weights, progress)
        seconds["finetune"] = time.perf_counter() - started
    scores = {}
    for name in names:
        per_fold = [float((probabilities[name][folds == f].argmax(1) == y[folds == f]).mean())
                    for f in np.unique(folds)]
        scores[name] = {"accuracy": float(np.mean(per_fold)), "fold_accuracy": per_fold,
                        "mistakes": int((probabilities[name].argmax(1) != y).sum()),
                        "seconds": round(seconds[name], 1)}
        if progress:
            print(f"[classification] select: {name} {scores[name]['accuracy']:.2%} on {len(per_fold)} folds")
    winner = max(names, key=lambda c: (scores[c]["accuracy"], -CANDIDATES.index(c)))
    return {"rule": "highest mean fold accuracy; ties go to the cheaper candidate (frozen, ensemble, finetune)",
            "folds": len(np.unique(folds)), "pictures": len(y), "class_weight": config.class_weight,
            "candidates": scores, "winner": winner}


def winner_recipe(config, winner: str):
    """The fields the winner trains with (the ensemble trains heads only, as in its scoring)."""
    return replace(config, finetune_epochs=0) if winner in ("frozen", "ensemble") else config


def train_ensemble(config, data, class_weight=None, progress: bool = False) -> keras.Model:
    """Heads on frozen Lite0-2 features of the train side (early stopping on valid when there is one) -> one
    model averaging their probabilities."""
    from .fit import fit_head
    from .models import create_backbone, create_ensemble, create_head

    one_hot = np.eye(len(data.classes), dtype="float32")
    train = data.side("train")
    valid = (data.side("valid").x, one_hot[data.side("valid").y]) if data.has_valid() else None
    members = []
    for name in ENSEMBLE_MODELS:
        keras.utils.set_random_seed(config.seed)
        backbone = create_backbone(name, config.image_size, config.weights)
        head = create_head(backbone.output.shape[-1], len(data.classes), config.dropout, config.l2,
                           name=f"head_{name}")
        stop = [keras.callbacks.EarlyStopping("val_loss", patience=config.patience, restore_best_weights=True)]
        fit_head(config, backbone, head, train.x, one_hot[train.y], valid, class_weight, progress,
                 stop if valid else ())
        members.append((name, backbone, head))
    return create_ensemble(members, config.image_size)
