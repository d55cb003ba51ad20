"""One tuning study shared by several processes and machines through Optuna's RDB storage, named by a SQLAlchemy
URL (sqlite:///tune.db on one machine; postgresql+psycopg://user@host/db across machines). The first process
creates the study, records in it the recipe and data it tunes (one user attribute of the study, `tuning`, written
at once) and queues the
recipe's own values as its first trial; the others load it (Optuna's load_if_exists) once they have checked
that they tune the same recipe on the same pictures; every process then adds its own trials, each with its own
unseeded TPE sampler that reads every process's finished trials from the database. `report` writes study.json,
best_recipe.json and search.png from the database alone: no data, no features, no trial run."""
from __future__ import annotations

import random
import time
from dataclasses import dataclass
from pathlib import Path

OPEN_TRIES = 5
RECIPE_WAIT_S = 30.0  # a process that loads a study just created waits this long for its creator's records


@dataclass
class SharedStudy:
    study: object    # optuna.Study
    storage: str     # the URL as study.json shows it: without its password
    created: bool    # this process created it
    first: object = None  # the creator's: its trial of the recipe's own values, running already (optuna.Trial)

    def report(self, out: Path | str) -> dict:
        return report(self.study, out, self.storage)


def shown_url(url: str) -> str:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        raise ValueError(f"--storage {url!r} is not a SQLAlchemy URL; e.g. sqlite:///tune.db or "
                         "postgresql+psycopg://user@host/dbname") from None


def storage_for(url: str):
    """Optuna's RDB storage. SQLite: writers wait up to a minute for the file's lock instead of failing at once
    (processes on one file take turns)."""
    import optuna

    engine = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}
    return optuna.storages.RDBStorage(url, engine_kwargs=engine)


def retried(url: str, attempt):
    """attempt(), tried again after a short random pause when the database refuses it: processes that open a new
    database together race to create Optuna's tables, and the losers' CREATE fails once."""
    from sqlalchemy.exc import DBAPIError

    for tries in range(1, OPEN_TRIES + 1):
        try:
            return attempt()
        except DBAPIError as error:
            if tries == OPEN_TRIES:
                reason = str(error.orig or error).strip().splitlines()[0]
                raise ValueError(f"cannot open the study storage {shown_url(url)}: {reason}") from None
            time.sleep(0.2 * tries + random.random() * 0.5)
        except ImportError as error:  # no driver for the URL's dialect
            raise ValueError(f"cannot open the study storage {shown_url(url)}: {error}") from None


def sampler():
    """Unseeded: processes seeded alike would draw the same first trials."""
    import optuna

    return optuna.samplers.TPESampler(constant_liar=True)


def open_study(url: str, name: str, recipe, context: dict) -> SharedStudy:
    """The study `name` in the storage at `url`, created with the recipe's values as its first trial, or loaded
    when it exists: refused (ValueError) when it tunes another recipe or other pictures."""
    import optuna

    from .tune import defaults

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    shown = shown_url(url)

    def attempt():
        storage = storage_for(url)
        try:
            return optuna.create_study(storage=storage, study_name=name, direction="minimize",
                                       sampler=sampler()), True
        except optuna.exceptions.DuplicatedStudyError:
            return optuna.load_study(study_name=name, storage=storage, sampler=sampler()), False

    study, created = retried(url, attempt)
    first = None
    if created:
        study.set_user_attr("sampler", f"optuna {optuna.__version__} TPESampler(constant_liar=True), one per "
                                       "process, unseeded")
        study.set_user_attr("tuning", context)
        first = default_trial(study, defaults(recipe))
    else:
        same_recipe(study, context, shown)
    return SharedStudy(study, shown, created, first)


def default_trial(study, params: dict):
    """The trial of the recipe's own values, added as running and so the creator's alone: a queued (waiting)
    trial can be taken by two processes at once on SQLite, which cannot lock the row, and the second one's
    result is then refused ('Cannot tell a COMPLETE trial')."""
    import optuna
    from optuna.trial import TrialState, create_trial

    study.add_trial(create_trial(state=TrialState.RUNNING, system_attrs={"fixed_params": params},
                                 user_attrs={"default": True}))
    mine = [t for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)) if t.user_attrs.get("default")]
    return optuna.trial.Trial(study, mine[-1]._trial_id)  # optuna names a trial's id nowhere public


def same_recipe(study, context: dict, shown: str) -> None:
    """A process may join a study only to tune the same recipe (the searched fields, the run's name and place and
    the data folder's path aside) on the same pictures (the data fingerprint)."""
    from shared.suite.recipe import PLACE_FIELDS

    from .tune import SPACE

    waited = 0.0
    while "tuning" not in study.user_attrs and waited < RECIPE_WAIT_S:  # its creator writes it right after
        time.sleep(0.2)
        waited += 0.2
    tuning = study.user_attrs.get("tuning")
    if tuning is None:
        raise ValueError(f"study {study.study_name!r} in {shown} was not made by `defectlab classification tune` "
                         "(it records no recipe); give another --study")
    mine, theirs = context["recipe"], tuning["recipe"]
    ignored = {*PLACE_FIELDS, *SPACE, "data"}
    differences = [f"{key} {theirs.get(key)!r} (here {mine.get(key)!r})" for key in sorted(set(mine) | set(theirs))
                   if key not in ignored and mine.get(key) != theirs.get(key)]
    if tuning["data"]["data_fingerprint"] != context["data"]["data_fingerprint"]:
        differences.append(f"other pictures (data fingerprint {tuning['data']['data_fingerprint']}, here "
                           f"{context['data']['data_fingerprint']})")
    if differences:
        raise ValueError(f"study {study.study_name!r} in {shown} tunes another recipe: {'; '.join(differences)}. "
                         "Give the same recipe, or another --study")


def load(url: str, name: str) -> SharedStudy:
    """An existing study, for the report (its name is listed when it is not in the storage)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    shown = shown_url(url)
    from sqlalchemy.engine import make_url

    parts = make_url(url)
    if parts.get_backend_name() == "sqlite" and parts.database not in (None, "", ":memory:") \
            and not Path(parts.database).is_file():  # opening it would make an empty database
        raise ValueError(f"no study database at {parts.database} ({shown})")
    storage = retried(url, lambda: storage_for(url))
    names = optuna.get_all_study_names(storage)
    if name not in names:
        raise ValueError(f"no study {name!r} in {shown}; it holds "
                         f"{', '.join(repr(n) for n in names) if names else 'none'} (--study NAME picks one)")
    return SharedStudy(optuna.load_study(study_name=name, storage=storage), shown, False)


def report(study, out: Path | str, shown: str) -> dict:
    """study.json, best_recipe.json and search.png in OUT from the study's finished trials (every process's)."""
    from .tune import summary, write_study

    tuning = study.user_attrs.get("tuning")
    if tuning is None:
        raise ValueError(f"study {study.study_name!r} in {shown} was not made by `defectlab classification tune` "
                         "(it records no recipe)")
    return write_study({**summary(study, tuning["folds"]), **tuning, "storage": shown, "study": study.study_name},
                       out)
