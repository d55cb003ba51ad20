"""From a recipe to the anomaly model's data view, read once. Two sources:

- anomaly folders (normal/train, normal/test, abnormal, masks; `defectlab data export --to anomaly` writes them);
- any labelled dataset the data layer reads, with `normal_classes`: on the recipe's split, train pictures of
  the normal classes are fitted, test pictures of every class are scored (the others' are abnormal) and their
  boxes are the masks. Nothing is copied to disk.

Each part (fit, valid = held-out normals for the threshold, test) is decoded the first time it is used."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from shared.datasets.anomaly_folders import read_anomaly_folders
from shared.datasets.export_anomaly import box_mask
from shared.datasets.images import content, file_sha1, from_letterbox, load_image, to_square
from shared.datasets.index import BOXED_SOURCES, UNLABELLED, class_names, read_dataset
from shared.datasets.splits import make_split
from shared.suite.errors import DataError
from shared.suite.provenance import data_fingerprint

COLUMNS = ["path", "role", "label", "mask", "boxes", "width", "height"]  # role train | test; label 1 = abnormal


def split_normal(table: pd.DataFrame, fraction: float, seed: int, pick: str = "random"
                 ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Normal training rows -> (fit rows, threshold-validation rows): a seeded draw, or (pick 'last') the last
    pictures by the number in their file names, per name without its digits (crazing_17.jpg: 'crazing_.jpg')."""
    normal = table[table.role == "train"].reset_index(drop=True)
    n_valid = max(1, round(fraction * len(normal))) if len(normal) > 1 else 0
    is_valid = np.zeros(len(normal), bool)
    if pick == "last" and n_valid:
        names = normal["path"].map(lambda p: Path(p).name)
        stem = names.str.replace(r"\d+", "", regex=True)
        number = names.str.extract(r"(\d+)(?!.*\d)", expand=False).fillna(-1).astype(int)
        for _, group in normal.assign(stem=stem, number=number, name=names).groupby("stem"):
            order = group.sort_values(["number", "name"]).index
            is_valid[order[len(order) - round(fraction * len(order)):]] = True
    else:
        is_valid[np.random.default_rng(seed).permutation(len(normal))[:n_valid]] = True
    return normal[~is_valid], normal[is_valid]


def read_mask(row, size: int) -> np.ndarray:
    """Boolean size x size mask of a test row (its content stretched to the square, as `content_maps` brings
    maps): its mask file, or its boxes, or none (normal)."""
    if isinstance(row.mask, str):
        image = Image.open(row.mask).convert("L")
    elif isinstance(row.boxes, list) and row.boxes and row.label == 1:
        image = box_mask(row.boxes, row.width, row.height)
    else:
        return np.zeros((size, size), bool)
    return np.asarray(image.resize((size, size), Image.NEAREST)) > 127


@dataclass
class AnomalyData:
    table: pd.DataFrame
    parts: dict[str, pd.DataFrame]        # fit, valid, test
    info: dict                            # split, sizes, data fingerprint, dataset
    image_size: int
    aspect: str = "letterbox"             # how non-square pictures become squares (to_square): map_aspect
    images: dict[str, np.ndarray] = field(default_factory=dict)
    placements: dict[str, list] = field(default_factory=dict)

    def part(self, name: str) -> pd.DataFrame:
        return self.parts[name]

    def pixels(self, name: str) -> np.ndarray:
        """uint8 N x S x S x 3 of one part, made square as the recipe's `aspect` says, decoded on first use."""
        if name not in self.images:
            size = self.image_size
            boxed = [to_square(load_image(p, 3), size, self.aspect) for p in self.parts[name].path]
            self.images[name] = np.stack([b[0] for b in boxed]) if boxed else np.zeros((0, size, size, 3), np.uint8)
            self.placements[name] = [b[1] for b in boxed]
        return self.images[name]

    def originals(self, name: str) -> list[np.ndarray | None]:
        """Each non-square picture of a part decoded again at its own size (None for square ones): what a score
        handling other than the map's squares starts from (anomaly.aspect)."""
        self.pixels(name)
        return [load_image(path, 3) if p.original[0] != p.original[1] else None
                for path, p in zip(self.parts[name].path, self.placements[name])]

    def contents(self, name: str) -> list[np.ndarray]:
        """Each picture of a part without its letterbox fill (at the letterboxed scale), from memory."""
        return [content(image, p) for image, p in zip(self.pixels(name), self.placements[name])]

    def content_maps(self, name: str, maps: np.ndarray) -> np.ndarray:
        """Maps over the letterboxed squares -> each picture's content stretched to S x S, the frame its mask is
        read in (the mirrored fill is not judged)."""
        self.pixels(name)
        size = (self.image_size, self.image_size)
        return np.stack([from_letterbox(m, p, size) for m, p in zip(maps, self.placements[name])]) if len(maps) \
            else maps

    def masks(self, size: int) -> tuple[np.ndarray, np.ndarray]:
        """(which test rows have a known mask: every normal one and abnormal ones with a mask, every row's mask,
        empty where none is known)."""
        test = self.parts["test"]
        known = (test["mask"].notna() | test["boxes"].map(lambda b: isinstance(b, list) and bool(b)) |
                 (test.label == 0)).to_numpy()
        return known, np.stack([read_mask(r, size) for r in test.itertuples()]) if len(test) \
            else np.zeros((0, size, size), bool)


def load_data(recipe, progress: bool = False, index: pd.DataFrame | None = None) -> AnomalyData:
    """The data view of recipe.data; `index` (already read, e.g. by a protocol fitting one model per class)
    saves reading a labelled dataset again."""
    if not recipe.data:
        raise DataError(None, "no dataset given: pass data=PATH (anomaly folders, or a labelled dataset with "
                              "normal_classes=...)")
    root = Path(recipe.data)
    if (root / "normal").is_dir():
        table, _ = read_anomaly_folders(root)
        table = table.assign(boxes=None)[COLUMNS]
        info = {"split": f"anomaly folders {root}", "data_fingerprint": _folder_fingerprint(table)}
    else:
        table, info = _from_labelled(recipe, progress, index)
    fit, valid = split_normal(table, recipe.valid_fraction, recipe.data_seed(), recipe.valid_pick)
    test = table[table.role == "test"].reset_index(drop=True)
    info = {**info, "dataset": str(recipe.data),
            "sizes": {"fit": len(fit), "valid": len(valid), "test_normal": int((test.label == 0).sum()),
                      "test_abnormal": int((test.label == 1).sum())}}
    return AnomalyData(table, {"fit": fit, "valid": valid, "test": test}, info, recipe.image_size,
                       recipe.map_aspect)


def _from_labelled(recipe, progress: bool, index: pd.DataFrame | None) -> tuple[pd.DataFrame, dict]:
    """The rows the anomaly-folder export would write, in the order it reads them back (file name order)."""
    if index is None:
        index, _ = read_dataset(recipe.data, progress=progress)
    # none named: every kind is normal, pictures without a class (UNLABELLED) included, as before they had none
    unlabelled = [UNLABELLED] if (index["class_name"] == UNLABELLED).any() else []
    normal = list(recipe.normal_classes) or class_names(index) + unlabelled
    unknown = set(normal) - set(index["class_name"])
    if unknown:
        raise DataError(recipe.data, f"normal classes not in the dataset: {', '.join(sorted(unknown))}")
    split = make_split(index, recipe.split, folds=recipe.folds, fold=recipe.fold, seed=recipe.data_seed())
    rows = index.assign(side=split).sort_values("source", key=lambda s: ~s.isin(BOXED_SOURCES))
    rows = rows.drop_duplicates("picture_id")
    rows = rows.assign(file=[f"{p.replace('/', '__')}{Path(q).suffix}" for p, q in zip(rows.picture_id, rows.path)])
    is_normal = rows["class_name"].isin(normal)
    parts = [(rows[is_normal & (rows.side == "train")], "train", 0), (rows[is_normal & (rows.side == "test")], "test", 0),
             (rows[~is_normal & (rows.side == "test")], "test", 1)]
    if parts[0][0].empty:
        raise DataError(recipe.data, f"no normal pictures ({', '.join(normal)}) on the train side of {recipe.split}")
    table = pd.concat([group.sort_values("file").assign(role=role, label=label) for group, role, label in parts],
                      ignore_index=True).assign(mask=None)
    info = {"split": recipe.split_name(), "normal_classes": normal, "data_fingerprint": data_fingerprint(index)}
    return table[COLUMNS], info


def _folder_fingerprint(table: pd.DataFrame) -> str:
    """sha256 over (role, label, file hash) of every picture (and mask): same folders, same fingerprint."""
    digest = hashlib.sha256()
    for row in table.sort_values(["role", "label", "path"]).itertuples():
        mask = file_sha1(row.mask) if isinstance(row.mask, str) else ""
        digest.update(f"{row.role}|{row.label}|{file_sha1(row.path)}|{mask}\n".encode())
    return digest.hexdigest()[:16]
