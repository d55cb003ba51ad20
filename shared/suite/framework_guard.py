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
            '__import__("shared.suite.framework_guard").suite.framework_guard.install()\n')


class FrameworkOrderError(ImportError):
    pass


_settings = {"quiet_tensorflow": False}


class _TritonBeforeTensorflow(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        remove()
        _load_triton()
        if not _settings["quiet_tensorflow"]:
            return None  # let the normal finders import the module
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            spec.loader = _SilencedLoader(spec.loader)
        return spec


class _SilencedLoader(importlib.abc.Loader):
    """Runs TensorFlow's import with file descriptor 2 on /dev/null: its C++ start-up lines (absl, oneDNN,
    cudart) ignore TF_CPP_MIN_LOG_LEVEL in TF 2.21 and are all printed while `import tensorflow` runs."""

    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        import os

        sys.stderr.flush()
        saved, null = os.dup(2), os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, 2)
            self.loader.exec_module(module)
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            os.close(null)

    def __getattr__(self, name):
        return getattr(self.loader, name)


def _load_triton() -> None:
    if "triton" not in sys.modules and importlib.util.find_spec("triton") is not None:
        import triton  # noqa: F401  (the point of this module)


def install(quiet_tensorflow: bool | None = None) -> None:
    """Idempotent; a no-op once TensorFlow is loaded (then require_torch_safe() reports the hazard).
    quiet_tensorflow: silence TensorFlow's C++ start-up lines when it is imported (console.setup sets it)."""
    if quiet_tensorflow is not None:
        _settings["quiet_tensorflow"] = quiet_tensorflow
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
