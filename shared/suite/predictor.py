"""One input contract and one record writer for every task's predictor.

`Predictor.predict(images)` takes a path, a folder, an in-memory array, or a list of any of them (any size,
gray or RGB), decodes each picture once, hands batches of uint8 H x W x 3 arrays to the task's
`predict_arrays`, and returns one record per input in order. A record always has `image` (the path, or
`array[i]`) and `width` / `height`; an input that cannot be read gets `error` (one line naming it) instead of
results, and the rest goes on. Keys starting with '_' carry arrays (e.g. a score map) for in-process users
and are left out of JSON / CSV.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ..datasets.images import decode_input, expand_image_inputs
from .errors import DataError

DRIFT_FILE = "drift.json"


def input_name(item, number: int) -> str:
    return f"array[{number}]" if isinstance(item, np.ndarray) else str(item)


class Predictor:
    """Subclasses implement `predict_arrays(images: list[np.ndarray]) -> list[dict]` (one result dict per
    picture) and may implement `draw(record, image) -> PIL.Image` and `csv_rows(record) -> list[dict]`."""

    task: str = ""
    batch_size: int = 32
    calibrated: dict | None = None  # the user's calibration in force (shared.suite.calibration), if any
    watcher = None  # its calibration.Watch: recent scores against the calibration's

    def watch(self) -> dict | None:
        """The drift summary of the scores seen so far against the calibration in force (None without one)."""
        return None if self.watcher is None else self.watcher.summary()

    def predict_arrays(self, images: list[np.ndarray]) -> list[dict]:
        raise NotImplementedError

    def draw(self, record: dict, image: np.ndarray):
        return None

    def csv_rows(self, record: dict) -> list[dict]:
        """Flat rows for a CSV: nested dicts become `<key>_<name>` columns."""
        row = {}
        for key, value in record.items():
            if key.startswith("_"):
                continue
            if isinstance(value, dict):
                row.update({f"{key}_{k}": v for k, v in value.items()})
            elif not isinstance(value, list):
                row[key] = value
        return [row]

    def view(self, **changes) -> Predictor:
        """A copy with some options changed, for one request or one call; this predictor stays as it is (the
        models are shared, not copied)."""
        import copy

        twin = copy.copy(self)
        for name, value in changes.items():
            if not hasattr(self, name):
                raise ValueError(f"{self.task} predictor: no option {name!r}")
            setattr(twin, name, value)
        return twin

    # -- the generic loop ----------------------------------------------------------------------------------
    def iter_pairs(self, images, progress: bool = False) -> Iterator[tuple[dict, np.ndarray | None]]:
        """(record, decoded picture or None) in input order, batch by batch: memory is bounded by batch_size."""
        items = expand_image_inputs(images)
        bar = tqdm(total=len(items), desc=f"[{self.task}] predicting", unit="img", disable=not progress or None)
        for start in range(0, len(items), self.batch_size):
            pairs = []
            for number, item in enumerate(items[start:start + self.batch_size], start=start):
                record = {"image": input_name(item, number)}
                try:
                    image = decode_input(item)
                except DataError as error:
                    pairs.append(({**record, "error": str(error)}, None))
                else:
                    pairs.append(({**record, "width": int(image.shape[1]), "height": int(image.shape[0])}, image))
            ready = [(record, image) for record, image in pairs if image is not None]
            if ready:
                for (record, _), result in zip(ready, self.predict_arrays([image for _, image in ready])):
                    record.update(result)
            bar.update(len(pairs))
            yield from pairs
        bar.close()

    def predict(self, images, progress: bool = False, keep_arrays: bool = False) -> list[dict]:
        """One record per input (see the module doc); `keep_arrays` keeps the '_' keys."""
        return [record if keep_arrays else public(record) for record, _ in self.iter_pairs(images, progress)]

    def predict_to(self, images, out: str | Path, progress: bool = False, draw: bool = True) -> list[dict]:
        """predict + OUT/predictions.json, OUT/predictions.csv and one OUT/pictures/<stem>.png per picture,
        streaming: each picture is drawn and dropped before the next batch is decoded."""
        out = Path(out)
        records = []
        for number, (record, image) in enumerate(self.iter_pairs(images, progress)):
            picture = self.draw(record, image) if draw and image is not None else None
            if picture is not None:
                target = out / "pictures" / f"{picture_stem(record, number)}.png"
                target.parent.mkdir(parents=True, exist_ok=True)
                picture.save(target)
                record["picture"] = str(target)
            records.append(public(record))
        write_records(records, out, self.csv_rows)
        write_drift({self.task: self.watch()}, out)
        return records


def picture_stem(record: dict, number: int) -> str:
    name = record["image"]
    return f"array_{number}" if name.startswith("array[") else Path(name).stem


def public(record: dict) -> dict:
    return {k: v for k, v in record.items() if not k.startswith("_")}


def write_records(records: Iterable[dict], out: str | Path, csv_rows=None) -> dict[str, Path]:
    """OUT/predictions.json (the records) and OUT/predictions.csv (flat rows) — the one writer of every task."""
    import pandas as pd

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    records = [public(r) for r in records]
    (out / "predictions.json").write_text(json.dumps(records, indent=2, default=_plain) + "\n")
    flatten = csv_rows or Predictor().csv_rows
    pd.DataFrame([row for r in records for row in flatten(r)]).to_csv(out / "predictions.csv", index=False)
    return {"json": out / "predictions.json", "csv": out / "predictions.csv"}


def write_drift(summaries: dict, out: str | Path) -> Path | None:
    """OUT/drift.json beside the records: {task: drift summary} of the tasks that run under a calibration (none:
    no file)."""
    summaries = {task: found for task, found in summaries.items() if found is not None}
    if not summaries:
        return None
    path = Path(out) / DRIFT_FILE
    path.write_text(json.dumps(summaries, indent=2, default=_plain) + "\n")
    return path


def _plain(value):
    from .provenance import plain

    return plain(value)
