"""A cheap task for the watch tests: a picture's mean brightness, and `dark` or `light` by it. A picture's first
pixel holds its number (red + 256 * green), so that a test can count which pictures were inspected: with
$WATCH_TASK_LOG set, each number inspected is appended there ($WATCH_TASK_DELAY: seconds each batch takes).

As a script: the task registered, then `defectlab` with the arguments (a watch in a process a test can kill)."""
from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
from PIL import Image

from shared.suite import registry
from shared.suite.predictor import Predictor
from shared.suite.recipe import Recipe
from shared.suite.spec import TaskSpec

NAME = "shade"


@dataclass
class ShadeRecipe(Recipe):
    TASK: ClassVar[str] = NAME
    PRESETS: ClassVar[dict] = {"mean": {}}
    DEFAULT_PRESET: ClassVar[str] = "mean"


class ShadePredictor(Predictor):
    task = NAME

    def predict_arrays(self, images):
        time.sleep(float(os.environ.get("WATCH_TASK_DELAY", "0")))
        out = [{"brightness": round(float(image.mean()), 3), "shade": "dark" if image.mean() < 128 else "light",
                "number": number_of(image)} for image in images]
        if os.environ.get("WATCH_TASK_LOG"):
            with open(os.environ["WATCH_TASK_LOG"], "a") as log:
                log.write("".join(f"{r['number']}\n" for r in out))
        return out


class ShadeRun:
    def __init__(self, path):
        self.path = Path(path)

    def predictor(self, **options):
        return ShadePredictor()


def train(recipe, progress: bool = False):
    raise NotImplementedError("the shade task has nothing to train")


SPEC = TaskSpec(
    name=NAME, title="Shade", help="dark or light by mean brightness (a test task)", description="A test task.",
    examples="", recipe=ShadeRecipe, train=train, load=ShadeRun, summary=lambda metrics: "",
    evaluation=lambda *args, **kwargs: {}, headline=(),
    record_schema={"type": "object", "properties": {"brightness": {"type": "number"}, "shade": {"type": "string"},
                                                    "number": {"type": "integer"}}},
    columns=lambda part, truth=None: dict(part), answer_column="shade")


def make_run(folder: Path) -> Path:
    """A run folder of the task (what find_runs and the runs key read)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "data.json").write_text('{"classes": ["dark", "light"]}')
    (folder / "config.json").write_text('{"preset": "mean"}')
    return folder


def number_of(image: np.ndarray) -> int:
    return int(image[0, 0, 0]) + 256 * int(image[0, 0, 1])


def picture_bytes(number: int, light: bool = False, size: int = 8, noise: bool = False) -> bytes:
    """A PNG: its number in the first pixel, the rest dark or light (noise: random, so that half the file is
    half a picture that does not decode)."""
    import io

    rng = np.random.default_rng(number)
    pixels = (rng.integers(0, 256, (size, size, 3)) if noise else
              np.full((size, size, 3), 200 if light else 40)).astype(np.uint8)
    pixels[0, 0] = (number % 256, number // 256, 0)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


if __name__ == "__main__":
    from shared.suite.cli import main

    registry.register(SPEC)
    sys.exit(main(sys.argv[1:]))
