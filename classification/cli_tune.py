"""`defectlab classification tune`: parsing only; the work is classification.tune.tune."""
from __future__ import annotations

EPILOG = """examples:
  defectlab classification tune data=../shared/data --trials 40
  defectlab classification tune data=my_images/ split=holdout class_weight=balanced --trials 20
  defectlab classification tune data=../shared/data --trials 20 --storage sqlite:///tune.db    # in 2 shells at once
  defectlab classification tune data=/data/neu --trials 20 --study neu-head --storage postgresql+psycopg://USER@HOST/DB
  defectlab classification tune --storage sqlite:///tune.db --study neu-head --report        # the study read back

Writes OUT/NAME-tune/: study.json (every trial: its fields, per-fold validation log-loss and accuracy; the
default recipe is trial 0), best_recipe.json (the recipe with the best fields; the train command that uses them
is printed) and search.png. Test pictures are never read: the folds are made from the train and valid sides
of the split.

--storage URL keeps the study in a database (a SQLAlchemy URL, Optuna's RDB storage): every `tune` process
given the same URL and study name adds its --trials trials to that one study, on one machine or many; the first
creates it (its recipe's own values as the first trial), the others join it if they tune the same recipe on the
same pictures. Each process writes the files of the whole study when its trials are done, into OUT/STUDY;
--report writes them from the database alone, running no trial and reading no data."""


def register_tune(verbs, common) -> None:
    from shared.suite.cli import add_recipe_options

    from .recipe import ClassifierRecipe

    tune = verbs.add_parser("tune", help="search the head's recipe fields on validation folds (Optuna)",
                            description="Search head_lr, head_epochs, l2, dropout and label_smoothing with Optuna's "
                                        "TPE sampler, scored by the mean validation log-loss over `folds` folds of "
                                        "the train side, on frozen features computed once.",
                            epilog=EPILOG, formatter_class=__import__("argparse").RawDescriptionHelpFormatter)
    add_recipe_options(tune, ClassifierRecipe)
    tune.add_argument("--trials", type=int, default=30, help="Optuna trials, the default recipe first (default 30)")
    tune.add_argument("--storage", default="", metavar="URL",
                      help="share the study through this database (SQLAlchemy URL: sqlite:///tune.db, "
                           "postgresql+psycopg://user@host/db): every process given it adds its trials")
    tune.add_argument("--study", default="", metavar="NAME",
                      help="the shared study's name (default: the run name + '-tune', e.g. "
                           "lite0-finetune-kaggle-cls-seed0-tune); its files go to OUT/NAME")
    tune.add_argument("--report", action="store_true",
                      help="with --storage: write the study's files from the database (study.json, "
                           "best_recipe.json, search.png) and print the best recipe; no trial is run")
    tune.add_argument("--quiet", action="store_true", help="no progress lines")
    common(tune)
    tune.set_defaults(handler=run_tune)


def run_tune(args) -> int:
    from shared.suite.recipe import recipe_values

    from .recipe import ClassifierRecipe
    from .tune import tune

    if args.report and not args.storage:
        raise ValueError("--report reads a shared study: give its --storage URL (and --study NAME)")
    recipe = ClassifierRecipe.from_preset(args.preset, **recipe_values(args, ClassifierRecipe))
    name = args.study or recipe.run_name() + "-tune"
    out = recipe.run_dir().with_name(name)
    if args.report:
        from .tune_shared import load, report

        shared = load(args.storage, name)
        study = report(shared.study, out, shared.storage)
    else:
        join = None
        if args.storage:
            from .tune_shared import open_study

            def join(recipe, context):
                return open_study(args.storage, name, recipe, context)
        study = tune(recipe, args.trials, out, progress=not args.quiet, join=join)
    default, best = study["default"], study["best"]
    if args.storage:
        counts = ", ".join(f"{n} {state}" for state, n in study["states"].items())
        print(f"study {name!r} in {study['storage']}: {counts}")
    if default is not None:
        print(f"default recipe (trial {default['number']}): validation log-loss {default['log_loss']:.4f}, "
              f"accuracy {default['accuracy']:.2%}")
    print(f"best (trial {best['number']}): log-loss {best['log_loss']:.4f}, accuracy {best['accuracy']:.2%}, "
          + "(fields below)")
    print(f"study: {out / 'study.json'}, plot: {out / 'search.png'}, recipe: {out / 'best_recipe.json'}")
    fields = " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in best["params"].items())
    tuned = study["recipe"]
    print(f"train it: defectlab classification train data={tuned['data']} split={tuned['split']} {fields}")
    return 0
