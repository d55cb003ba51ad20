"""The shape the brief fixes: shared imports no ML framework; task packages never import each other."""
import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FRAMEWORKS = ("tensorflow", "keras", "torch", "torchvision", "ultralytics", "anomalib", "lightning", "timm", "triton")
TASKS = ("classification", "detection", "anomaly")


def test_shared_imports_no_ml_framework():
    modules = sorted(p.stem for p in (ROOT / "shared").glob("*.py") if p.stem != "__init__")
    code = (f"import sys, importlib\nfor m in {modules!r}: importlib.import_module('shared.' + m)\n"
            "import shared.suite.cli as c; c.build_parser()\n"
            f"print([f for f in {FRAMEWORKS!r} if f in sys.modules])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("task", TASKS)
def test_task_packages_depend_on_shared_only(task):
    for path in (ROOT / task).rglob("*.py"):
        others = _imports(path) & (set(TASKS) - {task})
        assert not others, f"{path} imports {others}"
    for path in (ROOT / "shared").rglob("*.py"):
        assert not _imports(path) & set(TASKS), f"{path} imports a task package"
