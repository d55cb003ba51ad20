"""A tuning study shared through a database (`defectlab classification tune --storage URL`): two worker processes
on one study, on SQLite and on a throwaway PostgreSQL cluster (the `database` fixture), add their trials to it;
the report reads the best recipe back from the database alone. The workers tune on tiny cached features with
a numpy head standing in for the Keras one (its cost is TensorFlow's: tests/classification/test_fewlabels.py
tunes the real head), so what is tested is the sharing: one study, every trial counted once, one default."""
import itertools
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
TRIALS = 3  # per worker

# argv: URL STUDY TRIALS OUT CACHE.npz READY_FOLDER WORKER_NUMBER
WORKER = r'''
import sys, time
from pathlib import Path

import numpy as np

from classification import tune
from classification.recipe import ClassifierRecipe
from classification.tune_shared import open_study

url, name, trials, out, cache, ready, me = sys.argv[1:8]


def head_scores(recipe, features, y, folds, weights=None, views=None, score=None):
    """Nearest class mean, sharpened by head_lr: a head whose loss the searched fields move."""
    time.sleep(0.2)  # trials of both workers overlap in time
    losses, accuracies = [], []
    for fold in np.unique(folds):
        train, valid = folds != fold, folds == fold
        means = np.stack([features[train & (y == c)].mean(0) for c in np.unique(y)])
        logits = -recipe.head_lr * 100 * ((features[valid, None] - means) ** 2).sum(-1)
        p = np.exp(logits - logits.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        losses.append(float(-np.log(p[np.arange(valid.sum()), y[valid]] + 1e-7).mean()))
        accuracies.append(float((p.argmax(1) == y[valid]).mean()))
    return {"log_loss": float(np.mean(losses)), "accuracy": float(np.mean(accuracies)), "fold_log_loss": losses,
            "fold_accuracy": accuracies, "probabilities": None, "tta_probabilities": None}


tune.head_scores = head_scores
data = np.load(cache)
recipe = ClassifierRecipe.from_preset("lite0-frozen", data="tiny", folds=2, head_epochs=20)
context = {"folds": 2, "recipe": recipe.to_dict(), "classes": ["a", "b", "c"], "pictures": len(data["y"]),
           "data": {"data_fingerprint": "tiny-features"}}
shared = open_study(url, name, recipe, context)
Path(ready, me).touch()
for _ in range(600):  # both workers hold the study before either runs a trial
    if len(list(Path(ready).iterdir())) == 2:
        break
    time.sleep(0.05)
tune.tune_features(recipe, data["features"], data["y"], data["folds"], int(trials), out, context, False, None,
                   shared)
print("created" if shared.created else "joined")
'''


@pytest.fixture
def cache(tmp_path) -> Path:
    """Features of 36 pictures in 3 classes (8 numbers each), split in 2 folds."""
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 12)
    path = tmp_path / "features.npz"
    np.savez(path, features=(rng.normal(size=(36, 8)) + 1.5 * y[:, None]).astype("float32"), y=y,
             folds=np.arange(36) % 2)
    return path


def test_two_workers_share_one_study_and_the_report_reads_the_best_back(database, cache, tmp_path, capsys):
    import optuna

    from shared.suite.cli import main

    ready = tmp_path / "ready"
    ready.mkdir()
    workers = [subprocess.Popen([sys.executable, "-c", WORKER, database, "shared-head", str(TRIALS),
                                 str(tmp_path / f"worker{n}"), str(cache), str(ready), str(n)],
                                cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for n in range(2)]
    outputs = [worker.communicate(timeout=120) for worker in workers]
    for worker, (out, err) in zip(workers, outputs):
        assert worker.returncode == 0, err[-2000:]
    assert sorted(out.strip().splitlines()[-1] for out, _ in outputs) == ["created", "joined"]

    study = optuna.load_study(study_name="shared-head", storage=database)
    trials = study.get_trials(deepcopy=False)
    assert len(trials) == 2 * TRIALS and all(t.state.name == "COMPLETE" for t in trials)
    assert sorted(t.number for t in trials) == list(range(2 * TRIALS))  # no trial number twice
    defaults = [t for t in trials if t.user_attrs.get("default")]
    assert len(defaults) == 1 and defaults[0].params["head_epochs"] == 20  # the recipe's own values, queued once
    spans = sorted((t.datetime_start, t.datetime_complete) for t in trials)
    assert any(later[0] < earlier[1] for earlier, later in itertools.pairwise(spans))  # the two ran at the same time

    out = tmp_path / "report"
    assert main(["classification", "tune", "--storage", database, "--study", "shared-head", "--report",
                 f"out={out}"]) == 0
    printed = capsys.readouterr().out
    written = json.loads((out / "shared-head" / "study.json").read_text())
    best = json.loads((out / "shared-head" / "best_recipe.json").read_text())
    assert len(written["trials"]) == 2 * TRIALS and written["states"] == {"complete": 2 * TRIALS}
    assert written["best"]["number"] == study.best_trial.number and written["best"]["log_loss"] == study.best_value
    assert {k: best[k] for k in study.best_params} == study.best_params and best["folds"] == 2
    assert written["default"]["number"] == defaults[0].number and written["study"] == "shared-head"
    assert (out / "shared-head" / "search.png").stat().st_size > 1000
    assert f"best (trial {study.best_trial.number})" in printed and "train it: defectlab classification" in printed


def test_a_worker_of_another_recipe_is_refused(tmp_path):
    from classification.recipe import ClassifierRecipe
    from classification.tune_shared import open_study

    url = f"sqlite:///{tmp_path / 'tune.db'}"

    def context(recipe, fingerprint="same"):
        return {"folds": recipe.folds, "recipe": recipe.to_dict(), "classes": ["a", "b"], "pictures": 10,
                "data": {"data_fingerprint": fingerprint}}

    first = ClassifierRecipe.from_preset("lite0-frozen", data="here", folds=2)
    assert open_study(url, "head", first, context(first)).created
    elsewhere = ClassifierRecipe.from_preset("lite0-frozen", data="/mnt/there", folds=2, head_lr=0.01, out="o")
    assert not open_study(url, "head", elsewhere, context(elsewhere)).created  # path, place, searched fields: same
    other = ClassifierRecipe.from_preset("lite0-frozen", data="here", folds=3)
    with pytest.raises(ValueError, match=r"tunes another recipe: folds 2 \(here 3\)"):
        open_study(url, "head", other, context(other))
    with pytest.raises(ValueError, match="other pictures"):
        open_study(url, "head", first, context(first, "changed"))


def test_the_default_trial_belongs_to_the_creator_alone(tmp_path):
    """A joiner asking for a trial gets a new one, never the creator's default (on SQLite a queued trial could be
    taken by both)."""
    import optuna

    from classification.recipe import ClassifierRecipe
    from classification.tune import defaults
    from classification.tune_shared import open_study

    url = f"sqlite:///{tmp_path / 'tune.db'}"
    recipe = ClassifierRecipe.from_preset("lite0-frozen", data="here", folds=2)
    context = {"folds": 2, "recipe": recipe.to_dict(), "classes": ["a", "b"], "pictures": 10,
               "data": {"data_fingerprint": "same"}}
    creator = open_study(url, "head", recipe, context)
    joiner = open_study(url, "head", recipe, context)
    assert (creator.first is not None, joiner.first) == (True, None)
    taken = joiner.study.ask()
    frozen = {t.number: t for t in creator.study.get_trials()}
    assert taken.number != creator.first.number and "fixed_params" not in frozen[taken.number].system_attrs
    assert frozen[creator.first.number].system_attrs["fixed_params"] == defaults(recipe)
    creator.study.tell(creator.first, 0.5)
    (done,) = creator.study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    assert done.user_attrs["default"] and done.value == 0.5


def test_the_report_of_a_missing_study_is_one_line(tmp_path, capsys):
    from shared.suite.cli import main

    url = f"sqlite:///{tmp_path / 'none.db'}"
    assert main(["classification", "tune", "--storage", url, "--report", f"out={tmp_path}"]) == 2
    assert "no study database at" in capsys.readouterr().err
    assert main(["classification", "tune", "--report", f"out={tmp_path}"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "--storage" in error

