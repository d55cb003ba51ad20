"""TensorFlow and PyTorch in one process, each import order, through each entry point (issue 124205)."""
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from shared.suite.framework_guard import PTH_NAME

OPTIMIZER = "import torch; torch.optim.Adam(torch.nn.Linear(2, 2).parameters()); print('ok')"
SCRIPTS = {
    "package-then-tf-then-torch": "import classification; import tensorflow; import torch, torchvision; " + OPTIMIZER,
    "package-then-torch-then-tf": "import detection; import torch, torchvision; import tensorflow; " + OPTIMIZER,
    "shared-guard-then-tf-then-torch": "import shared.suite.framework_guard as g; g.install(); import keras; "
                                       "import torchvision; " + OPTIMIZER,
}


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600,
                          env={"PATH": "/usr/bin:/bin", "TF_CPP_MIN_LOG_LEVEL": "3"})


@pytest.mark.parametrize("name", SCRIPTS)
def test_both_frameworks_in_one_process(name):
    done = _run(SCRIPTS[name])
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), (done.returncode, done.stderr[-2000:])


def test_plain_user_code_is_safe_in_the_suite_environment():
    if not (Path(sysconfig.get_paths()["purelib"]) / PTH_NAME).is_file():
        pytest.skip(f"{PTH_NAME} not installed in this environment (make venv installs it)")
    done = _run("import tensorflow; import torch, torchvision; " + OPTIMIZER)
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])


def test_unsafe_order_is_a_clear_error_not_a_crash():
    code = ("import shared.suite.framework_guard as g; g.remove(); import tensorflow\n"
            "try:\n    g.require_torch_safe()\nexcept g.FrameworkOrderError as e:\n    print('refused:', e)")
    done = subprocess.run([sys.executable, "-S", "-c", f"import sys; sys.path[:0] = {sys.path!r}\n" + code],
                          capture_output=True, text=True, timeout=600, env={"TF_CPP_MIN_LOG_LEVEL": "3"})
    assert done.returncode == 0 and "refused: tensorflow was imported before triton" in done.stdout, done.stderr[-2000:]
