"""The detection run: evaluate on a side of its split (ultralytics' validator on the YOLO view written at train
time), predict, export. `load(path)` rebuilds the network from model.yaml and loads model.pt, a state_dict of
tensors, with torch's safe loader: opening a run folder never unpickles code."""
from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from shared.suite.errors import DataError
from shared.suite.run import Run

from . import plots
from .offline import ultralytics_module
from .options import PREDICT_OPTIONS
from .predict import VALIDATOR_BORDER, DetectorPredictor
from .recipe import DetectorRecipe

YOLO_SPLIT = {"test": "test", "valid": "val", "train": "train"}


def metrics_from_validator(result, names: dict) -> dict:
    box = result.box
    present = [int(i) for i in box.ap_class_index]
    recall_grid, precision = result.curves_results[0][0], result.curves_results[0][1]
    keep = np.linspace(0, len(recall_grid) - 1, 101).astype(int)
    return {
        "map50": float(box.map50), "map50_95": float(box.map), "precision": float(box.mp), "recall": float(box.mr),
        "classes": [names[i] for i in sorted(names)],
        "per_class_ap50": {names[c]: float(box.ap50[k]) for k, c in enumerate(present)},
        "per_class_ap50_95": {names[c]: float(box.ap[k]) for k, c in enumerate(present)},
        "pr_curve": {"recall": recall_grid[keep].round(4).tolist(),
                     "precision": {names[c]: precision[k][keep].round(4).tolist() for k, c in enumerate(present)}},
        "confusion_matrix": result.confusion_matrix.matrix.astype(int).tolist(),
        "confusion_labels": [names[i] for i in sorted(names)] + ["background"],
    }


@dataclass
class DetectorRun(Run):
    TASK = "detection"
    MODEL_FILE = "model.pt"
    PREDICT_OPTIONS = PREDICT_OPTIONS

    def data_yaml(self) -> Path:
        """The run's YOLO view of its split; rebuilt from recipe.data when it was left behind (a run folder copied
        without its data), provided that data has the fingerprint the run was trained on."""
        path = self.path / "data" / "data.yaml"
        if not path.is_file():
            if not self.recipe.data or not Path(self.recipe.data).exists():
                raise DataError(path, "the run's YOLO data view is missing and its dataset "
                                      f"{self.recipe.data or '(none)'} is not here; pass the dataset with --data")
            from .data import prepare_data

            data = prepare_data(self.recipe, self.path / "data")
            self.check_same_data(data.info(self.recipe)["data_fingerprint"])
        return path

    def evaluate(self, side: str = "test", tta: bool = False, coco: bool = False) -> dict:
        """mAP50, mAP50-95, per-class AP, precision, recall, PR curves and the confusion matrix on one side;
        `tta` adds ultralytics' test-time augmentation (flips and scales); `coco` the same side scored by
        pycocotools too (`pycocotools`: map50, map50_95, per_class_ap50; detection.coco). Writes
        [tta_][side_]metrics.json."""
        recipe = self.recipe
        result = self.model.val(data=str(self.data_yaml()), split=YOLO_SPLIT[side], imgsz=recipe.image_size,
                                batch=recipe.batch_size, device=recipe.device or None, plots=True,
                                project=str(self.path), name=f"val_{'tta_' if tta else ''}{side}", exist_ok=True,
                                verbose=False, workers=recipe.workers, augment=tta)
        metrics = {"image_size": recipe.image_size, **metrics_from_validator(result, self.model.names)}
        if coco:
            metrics["pycocotools"] = self.coco_metrics(side, tta)
        metrics = self.write_metrics(metrics, side, tta)
        plots.pr_curve_png(metrics, self.plots_dir() / self.file("pr_curve.png", side, tta).name)
        plots.confusion_png(metrics, self.plots_dir() / self.file("confusion.png", side, tta).name)
        return metrics

    def coco_metrics(self, side: str = "test", tta: bool = False) -> dict:
        """pycocotools' mAP of the boxes the validator sees (confidence down to 0.001, its grey frame; COCO keeps the
        100 most confident a picture), on the pictures and truth of the run's YOLO view."""
        from .coco import coco_map, truth_and_sizes

        pictures, truth, sizes = truth_and_sizes(self.data_yaml(), YOLO_SPLIT[side], self.classes)
        found = self.predictor(conf=0.001, border=VALIDATOR_BORDER, tta=tta).predict(pictures)
        return coco_map(truth, [r.get("boxes", []) for r in found], sizes, self.classes)

    @property
    def stride(self) -> int:
        """The network's largest stride: the unit of the predictor's grey frame."""
        return int(self.model.model.stride.max())

    def build_predictor(self, conf: float, border: float, onnx: bool, batch_size: int, tta: bool,
                        fuse_with: str | list, fusion: str, fusion_iou: float,
                        int8: bool = False) -> DetectorPredictor:
        """Boxes of this run's model, or, with `fuse_with` (other run folders: a list or comma-separated), of the
        runs' models fused by `fusion` at `fusion_iou` (detection.fusion.FUSIONS). onnx: model.onnx under ONNX
        Runtime; int8: its INT8 quantized model.int8.onnx (`defectlab detection export RUN int8=1`)."""
        from .fusion import FUSIONS

        if fusion not in FUSIONS:
            raise ValueError(f"fusion: unknown {fusion!r}; choose one of {', '.join(FUSIONS)}")
        if not 0 < fusion_iou <= 1:
            raise ValueError(f"fusion_iou: must be in (0, 1], got {fusion_iou}")
        partners = []
        for path in fuse_with.split(",") if isinstance(fuse_with, str) else fuse_with:
            if str(path).strip():
                partner = load(str(path).strip())
                if partner.classes != self.classes:
                    raise DataError(partner.path, f"its classes {partner.classes} differ from {self.path.name}'s "
                                                  f"{self.classes}: their boxes cannot be fused")
                partners.append(partner.predictor(conf=conf, border=border, onnx=onnx, batch_size=batch_size, tta=tta,
                                                  int8=int8))
        model, path = self.model, None
        if onnx or int8:
            from shared.suite.quantize import INT8_FILE

            path = self.path / (INT8_FILE if int8 else "model.onnx")
            if not path.is_file():
                raise DataError(path, f"no ONNX model yet; run `defectlab detection export {self.path}"
                                      f"{' int8=1' if int8 else ''}` first")
            model = ultralytics_module().YOLO(str(path), task="detect")
        return DetectorPredictor(model, self.classes, self.recipe.image_size, self.stride, conf, border, batch_size,
                                 str(path) if path else None, tta, partners, fusion, fusion_iou)


def architecture(net) -> dict:
    """The network's architecture as plain YAML data, scale resolved (no file-name guessing when rebuilt)."""
    cfg = {k: v for k, v in dict(net.yaml).items() if k not in ("yaml_file", "scale", "scales", "ch")}
    if net.yaml.get("scales"):
        cfg["depth_multiple"], cfg["width_multiple"], cfg["max_channels"] = net.yaml["scales"][net.yaml["scale"]]
    return cfg


def save_model(net, run_dir: Path) -> None:
    """model.yaml (architecture) + model.pt (float32 tensors only)."""
    (run_dir / "model.yaml").write_text(yaml.safe_dump(architecture(net), sort_keys=False))
    import torch

    torch.save({k: v.detach().float().cpu() for k, v in net.state_dict().items()}, run_dir / "model.pt")


def read_weights(file: Path) -> dict:
    """A run's model.pt: a state_dict of tensors, read with torch's safe loader (pickled objects are refused)."""
    import torch

    try:
        state = torch.load(file, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, AttributeError, EOFError) as error:
        raise DataError(file, "not a plain weights file (pickled objects are refused: loading them could run code); "
                              f"re-run `defectlab detection train` for this run ({type(error).__name__})") from None
    if not isinstance(state, dict) or "model.0.conv.weight" not in state and not any(k.startswith("model.0.") for k in state):
        raise DataError(file, "not a detector state_dict; re-run `defectlab detection train`")
    return state


def build_yolo(run_dir: Path, classes: list[str]):
    """An ultralytics YOLO object from model.yaml + model.pt (safe loader)."""
    cfg = yaml.safe_load((run_dir / "model.yaml").read_text())
    if any("LiteFeatures" in str(layer) for layer in cfg.get("backbone", [])):
        from .lite_backbone import register

        register()
    state = read_weights(run_dir / "model.pt")
    yolo = ultralytics_module().YOLO(str(run_dir / "model.yaml"), task="detect")
    try:
        yolo.model.load_state_dict(state, strict=True)
    except RuntimeError as error:
        raise DataError(run_dir / "model.pt", f"weights do not fit model.yaml ({str(error).splitlines()[0]})") from None
    yolo.model.names = dict(enumerate(classes))
    yolo.model.float().eval()
    return yolo


def load(path: str | Path) -> DetectorRun:
    path = Path(path).resolve()
    recipe, classes, info = DetectorRun.read_description(path, DetectorRecipe)
    return DetectorRun(path, recipe, classes, info, model=build_yolo(path, classes))
