"""Keep ultralytics offline and inside folders the suite controls. Call configure() before the first
`import ultralytics` (every module of this package does, through ultralytics_module()).

ultralytics otherwise reaches for the network at import (online check), for Arial.ttf in every train
and val, for analytics, for pip auto-installs and for the GPU AMP check, and writes settings under the
home folder."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

_configured = False


def config_dir() -> Path:
    """Where ultralytics keeps settings and fonts: $DEFECTLAB_HOME/ultralytics (default ~/.cache/defectlab)."""
    home = Path(os.environ.get("DEFECTLAB_HOME", Path.home() / ".cache" / "defectlab")).expanduser()
    return home / "ultralytics"


def _place_fonts(folder: Path) -> None:
    import matplotlib

    source = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    for name in ("Arial.ttf", "Arial.Unicode.ttf"):
        target = folder / name
        if not target.is_file():
            shutil.copyfile(source, target)


def configure() -> None:
    global _configured
    if _configured:
        return
    folder = config_dir()
    (folder / "Ultralytics").mkdir(parents=True, exist_ok=True)
    _place_fonts(folder / "Ultralytics")  # ultralytics looks for fonts in YOLO_CONFIG_DIR/Ultralytics
    os.environ["YOLO_CONFIG_DIR"] = str(folder)
    os.environ["YOLO_OFFLINE"] = "1"
    os.environ["YOLO_AUTOINSTALL"] = "False"
    from shared.suite.framework_guard import require_torch_safe

    require_torch_safe()
    from ultralytics.engine import trainer
    from ultralytics.utils import SETTINGS, WEIGHTS_DIR

    SETTINGS.update({"sync": False, "clearml": False, "comet": False, "dvc": False, "mlflow": False,
                     "raytune": False, "tensorboard": False, "wandb": False, "vscode_msg": False, "openvino_msg": False,
                     "weights_dir": str(folder / "weights"),
                     "datasets_dir": str(folder / "datasets"), "runs_dir": str(folder / "runs")})
    original_check_amp = trainer.check_amp

    def check_amp_offline(model):
        """The stock check downloads yolo26n.pt; without it, trust AMP on a GPU. Never on a CPU: autocast there
        computes in bfloat16, about 10x slower on a CPU without bfloat16 units (the stock check says no too)."""
        if next(model.parameters()).device.type != "cuda":
            return False
        return original_check_amp(model) if (WEIGHTS_DIR / "yolo26n.pt").is_file() else True

    trainer.check_amp = check_amp_offline
    use_every_core()
    _configured = True


def cpu_threads() -> int:
    """The threads torch gets: OMP_NUM_THREADS when set, else every core this process may use (its affinity, not
    the host's core count: a container limited to 2 of 64 cores gets 2)."""
    asked = os.environ.get("OMP_NUM_THREADS", "")
    return int(asked) if asked.isdigit() and int(asked) > 0 else len(os.sched_getaffinity(0))


def use_every_core() -> None:
    """ultralytics' select_device() sets torch to NUM_THREADS = min(8, host cores - 1) threads on a CPU (one on a
    2-core machine, eight in a container given two cores of a large host) for training, validation and prediction
    alike, for the whole process; give it `cpu_threads()` instead."""
    from ultralytics.utils import torch_utils

    torch_utils.NUM_THREADS = cpu_threads()


def ultralytics_module():
    configure()
    import ultralytics

    return ultralytics
