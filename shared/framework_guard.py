"""Keep TensorFlow and PyTorch safe in one process.

TensorFlow >= 2.20 followed by triton (which torchvision and torch optimizers load) segfaults
(tensorflow issue 124205). Loading triton before TensorFlow avoids it. `install()` puts an import hook
in place that loads triton just before the first `import tensorflow`, whatever imports it. Every
defectlab package calls it on import; `make venv` also writes a .pth file so that it runs at interpreter
start-up in the suite's environment, before any user code. No ML framework is imported here.
"""
from __future__ import annotations

import importlib.abc
import importlib.util
import sys
import sysconfig
from pathlib import Path

PTH_NAME = "defectlab_framework_guard.pth"
PTH_LINE = ('import importlib.util as _u; _u.find_spec("shared") is not None and '
            '__import__("shared.framework_guard").framework_guard.install()\n')


class FrameworkOrderError(ImportError):
    pass


class _TritonBeforeTensorflow(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "tensorflow":
            remove()
            _load_triton()
        return None  # let the normal finders import the module


def _load_triton() -> None:
    if "triton" not in sys.modules and importlib.util.find_spec("triton") is not None:
        import triton  # noqa: F401  (the point of this module)


def install() -> None:
    """Idempotent; a no-op once TensorFlow is loaded (then require_torch_safe() reports the hazard)."""
    if "tensorflow" not in sys.modules and not any(isinstance(f, _TritonBeforeTensorflow) for f in sys.meta_path):
        sys.meta_path.insert(0, _TritonBeforeTensorflow())


def remove() -> None:
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _TritonBeforeTensorflow)]


def require_torch_safe() -> None:
    """Call before importing torch/torchvision: raises a clear error instead of letting the process crash."""
    install()
    if "tensorflow" in sys.modules and "triton" not in sys.modules and importlib.util.find_spec("triton"):
        raise FrameworkOrderError(
            "tensorflow was imported before triton, so loading torch now would crash the process "
            "(tensorflow issue 124205); import defectlab (or `import triton`) before tensorflow")


def install_pth(site_packages: str | None = None) -> Path:
    """Write the start-up hook into this environment's site-packages."""
    target = Path(site_packages or sysconfig.get_paths()["purelib"]) / PTH_NAME
    target.write_text(PTH_LINE)
    return target


if __name__ == "__main__":
    print(f"wrote {install_pth()}")
