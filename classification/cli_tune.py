"""`defectlab classification tune`: parsing only; the work is classification.tune.tune."""
from __future__ import annotations

EPILOG = """examples:
  defectlab classification tune data=../shared/data --trials 40
  defectlab classification tune data=my_images/ split=holdout class_weight=balanced --trials 20

Writes OUT/NAME-tune/: study.json (every trial: its fields, per-fold validation log-loss and accuracy; the
default recipe is trial 0), best_recipe.json (the recipe with the best fields; the train command that uses them
is printed) and search.png. Test pictures are never read: the folds are made from the train and valid sides
of the split."""


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
    tune.add_argument("--quiet", action="store_true", help="no progress lines")
    common(tune)
    tune.set_defaults(handler=run_tune)


def run_tune(args) -> int:
    from shared.suite.recipe import recipe_values

    from .recipe import ClassifierRecipe
    from .tune import tune

    recipe = ClassifierRecipe.from_preset(args.preset, **recipe_values(args, ClassifierRecipe))
    out = recipe.run_dir().with_name(recipe.run_dir().name + "-tune")
    study = tune(recipe, args.trials, out, progress=not args.quiet)
    default, best = study["default"], study["best"]
    print(f"default recipe: validation log-loss {default['log_loss']:.4f}, accuracy {default['accuracy']:.2%}")
    print(f"best (trial {best['number']}): log-loss {best['log_loss']:.4f}, accuracy {best['accuracy']:.2%}, "
          + "(fields below)")
    print(f"study: {out / 'study.json'}, plot: {out / 'search.png'}, recipe: {out / 'best_recipe.json'}")
    fields = " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in best["params"].items())
    print(f"train it: defectlab classification train data={recipe.data} split={recipe.split} {fields}")
    return 0
