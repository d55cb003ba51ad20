"""The classification task as the suite's registry sees it (shared.suite.registry): names, recipe, options,
and the verbs, which import Keras only when called."""
from __future__ import annotations

from shared.suite.registry import lazy
from shared.suite.spec import Metric, TaskSpec

from .options import EVALUATE_OPTIONS, PREDICT_OPTIONS
from .recipe import ClassifierRecipe as Recipe

TASK = "classification"
HELP = "name the defect in a surface image (Keras 3 transfer learning)"
DESCRIPTION = ("Train, evaluate and apply a defect classifier. A run folder holds config.json, data.json, "
               "model.keras, metrics.json, history.csv and plots/.")
EXAMPLES = """examples:
  defectlab classification train data=../shared/data                       headline recipe, kaggle-cls split
  defectlab classification train data=../shared/data preset=baseline       the reference small CNN
  defectlab classification train data=my_images/ split=holdout             any class-folder dataset
  defectlab classification evaluate runs/classification/lite0-finetune-kaggle-cls-seed0 --tta
  defectlab classification predict RUN image.bmp more_images/ --out runs/cls-pred
  defectlab classification explain RUN image.bmp --out runs/gradcam        Grad-CAM heatmaps
  defectlab classification export RUN                                      ONNX, checked against Keras
  defectlab classification train data=my_images/ preset=auto               frozen, ensemble or fine-tuned: the
                                                                           best on validation folds of your data
  defectlab classification train data=my_images/ preset=semi               few labels + an unlabelled/ folder
  defectlab classification tune data=../shared/data --trials 40            Optuna over the head's fields
  defectlab classification cluster my_images/ --out runs/clusters          group unlabelled images by look
"""
# The classifier's vote in the `novel` rule: it must still name a known class, and is unsure of a novel one.
# Measured on NEU leave-one-class-out: scripts/benchmarks/results/novelty.json.
NOVEL_BELOW = 0.9

RECORD_SCHEMA = {"type": "object", "properties": {
    "class": {"type": "string"}, "confidence": {"type": "number"}, "energy": {"type": "number"},
    "probabilities": {"type": "object", "additionalProperties": {"type": "number"}}}}

METRICS_SCHEMA = {"type": "object", "required": ["accuracy", "correct", "n", "classes", "per_class",
                                                 "confusion_matrix", "mistakes"],
                  "properties": {"accuracy": {"$ref": "#/$defs/unit"}, "correct": {"type": "integer"},
                                 "n": {"type": "integer"}, "classes": {"type": "array", "items": {"type": "string"}},
                                 "per_class": {"type": "object", "additionalProperties": {
                                     "type": "object", "required": ["precision", "recall", "f1", "support"]}},
                                 "confusion_matrix": {"$ref": "#/$defs/matrix"}, "mistakes": {"type": "array"}}}

train = lazy("classification.train:train")   # (recipe, progress=True) -> Run
load = lazy("classification.run:load")      # (path) -> Run, safe loaders only
export = lazy("classification.export:export_checked")  # (run) -> (model.onnx, max |Keras - ONNX Runtime| / max |Keras|)


def summary(metrics: dict) -> str:
    lines = [(f"{metrics['split_side']}{' (TTA)' if metrics.get('tta') else ''} accuracy {metrics['accuracy']:.2%} "
             f"({metrics['correct']}/{metrics['n']})")]
    lines += [f"  {name:<16} precision {row['precision']:.3f}  recall {row['recall']:.3f}  f1 {row['f1']:.3f}"
              for name, row in metrics["per_class"].items()]
    lines += [f"  mistake: {m['path']}: predicted {m['predicted']}, true {m['true']}" for m in metrics["mistakes"]]
    return "\n".join(lines)


def evaluation(run, pictures: list[dict], out, progress: bool = False) -> dict:
    """The suite evaluation's part: test-side metrics, confusion matrix, the "Prediction (True)" grid with mistakes
    framed, and Grad-CAM of up to six test pictures (mistakes first)."""
    import pandas as pd

    from .gradcam import gradcam_grid_png

    metrics = run.evaluate("test", progress=progress)
    predictions = pd.read_csv(run.file("predictions.csv"))
    picks = pd.concat([predictions[~predictions["correct"]], predictions[predictions["correct"]]]).head(6)
    plots = run.plots_dir()
    figures = {"confusion matrix (test)": plots / "confusion.png",
               "Prediction (True), mistakes framed in red": plots / "predictions.png"}
    if run.model.name != "ensemble":  # Grad-CAM follows one backbone
        figures["Grad-CAM examples"] = gradcam_grid_png(run, list(picks["path"]), plots / "gradcam_examples.png",
                                                        list(picks["true"]))
    return {"metrics": metrics, "figures": figures}


def report_table(metrics: dict) -> dict:
    return {"columns": ["class", "precision", "recall", "F1", "support"],
            "rows": [[name, row["precision"], row["recall"], row["f1"], row["support"]]
                     for name, row in metrics["per_class"].items()]}


def report_note(section: dict) -> str:
    recipe = section["recipe"]
    return f"{recipe['preset']}, {recipe.get('model')}, {recipe['image_size']} px"


def references(split: str) -> list[dict]:
    """The original project's TensorFlow CNN, from its README: 69 of the 72 kaggle-cls test pictures."""
    return [{"what": "the original project's TensorFlow CNN (its README)", "split": "kaggle-cls",
             "number": "69/72 = 95.83%"}]


def columns(part: dict, truth=None) -> dict:
    row = {"class": part["class"], "confidence": round(part["confidence"], 4)}
    if truth is not None:
        row["class_correct"] = part["class"] == truth
    return row


def novelty(part: dict) -> bool:
    return part["confidence"] < NOVEL_BELOW


def register_verbs(verbs, common) -> None:
    from .cli import register_cluster, register_explain
    from .cli_tune import register_tune

    register_explain(verbs, common)
    register_cluster(verbs, common)
    register_tune(verbs, common)


SPEC = TaskSpec(
    name=TASK, title="Classification", help=HELP, description=DESCRIPTION, examples=EXAMPLES, recipe=Recipe,
    train=train, load=load, export=export, summary=summary, evaluation=evaluation,
    predict_options=PREDICT_OPTIONS, evaluate_options=EVALUATE_OPTIONS, aliases=("classify",),
    headline=(Metric("accuracy", "accuracy", "classification accuracy", "pct", "test side", target=0.90),),
    record_schema=RECORD_SCHEMA, metrics_schema=METRICS_SCHEMA, report_table=report_table, report_note=report_note,
    references=references, columns=columns, answer_column="class", novelty=novelty,
    novelty_text=f"classification.confidence < {NOVEL_BELOW}", novelty_score="energy", register_verbs=register_verbs)
