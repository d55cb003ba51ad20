"""Load a run's detector and locate defects: image, list or folder -> records with boxes."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from shared.errors import DataError
from shared.images import expand_image_inputs, probe_image

from .config import DetectorConfig
from .offline import ultralytics_module


class Predictor:
    def __init__(self, model, imgsz: int, conf: float = 0.25):
        self.model, self.imgsz, self.conf = model, imgsz, conf
        self.classes = [model.names[i] for i in sorted(model.names)]

    def predict(self, images, batch_size: int = 16) -> list[dict]:
        """One record per input: {'image', 'boxes': [{'class', 'confidence', 'xmin', 'ymin', 'xmax', 'ymax'}]}
        or {'image', 'error'} for a file that cannot be read; the rest goes on."""
        records, readable = [], []
        for path in expand_image_inputs(images):
            problem = probe_image(path).problem if path.is_file() else "missing"
            if problem:
                detail = "no such file" if problem == "missing" else problem.replace("_", " ")
                records.append({"image": str(path), "error": str(DataError(path, detail))})
            else:
                readable.append(len(records))
                records.append({"image": str(path)})
        for start in range(0, len(readable), batch_size):
            chunk = readable[start:start + batch_size]
            results = self.model.predict([records[i]["image"] for i in chunk], imgsz=self.imgsz, conf=self.conf,
                                         verbose=False)
            for slot, result in zip(chunk, results):
                boxes = result.boxes
                records[slot]["boxes"] = [
                    {"class": self.classes[int(c)], "confidence": float(s),
                     **dict(zip(("xmin", "ymin", "xmax", "ymax"), np.round(xyxy, 2).tolist()))}
                    for xyxy, s, c in zip(boxes.xyxy.cpu().numpy(), boxes.conf.cpu().numpy(), boxes.cls.cpu().numpy())]
        return records


def load(run: str | Path, conf: float = 0.25, weights: str | None = None) -> Predictor:
    run = Path(run)
    path = Path(weights) if weights else run / "model.pt"
    if not path.is_file():
        raise DataError(path, "no such model file: not a finished detection run folder")
    config = DetectorConfig.load(run / "config.json")
    return Predictor(ultralytics_module().YOLO(str(path), task="detect"), config.imgsz, conf)


def write_records(records: list[dict], out_dir: Path, classes: list[str], truth: dict | None = None) -> dict:
    """predictions.json, predictions.csv (one row per box) and annotated/<image>.png under out_dir."""
    import pandas as pd

    from .plots import draw_boxes

    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "predictions.json").write_text(json.dumps(records, indent=2) + "\n")
    rows = [{"image": r["image"], **b} for r in records for b in r.get("boxes", [])]
    pd.DataFrame(rows, columns=["image", "class", "confidence", "xmin", "ymin", "xmax", "ymax"]) \
        .to_csv(out_dir / "predictions.csv", index=False)
    for record in records:
        if "boxes" in record:
            stem = Path(record["image"]).stem
            draw_boxes(record["image"], record["boxes"], (truth or {}).get(stem), classes,
                       out_dir / "annotated" / f"{stem}.png")
    return {"json": out_dir / "predictions.json", "csv": out_dir / "predictions.csv"}
