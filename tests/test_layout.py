"""The fixed shape: shared imports no ML framework, no task and no service; task packages never import each other;
no import circle anywhere; nothing is unpickled with weights_only=False outside tests."""
import ast
import subprocess
import sys
from pathlib import Path

import pytest

from shared.suite import registry

ROOT = Path(__file__).resolve().parents[1]
FRAMEWORKS = ("tensorflow", "keras", "torch", "torchvision", "ultralytics", "anomalib", "lightning", "timm", "triton")
TASKS = registry.names()
PACKAGES = ("shared", "backbones", *TASKS, "service")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for package in PACKAGES for p in (ROOT / package).rglob("*.py")}


def test_shared_imports_no_ml_framework():
    modules = sorted(m for m in _modules() if m.startswith("shared"))
    code = (f"import sys, importlib\nfor m in {modules!r}: importlib.import_module(m)\n"
            "import shared.suite.cli as c; c.build_parser()\n"
            f"print([f for f in {FRAMEWORKS!r} if f in sys.modules])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"  # building the whole CLI (every task's verbs) loads no framework either


def _imports(path: Path, module: str) -> set[str]:
    """Every module this file imports, at any depth of the code (functions too), relative imports resolved."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            names |= {f"{base}.{a.name}" for a in node.names} | {base}
    return names


def test_task_packages_depend_on_shared_and_backbones_only():
    for module, path in _modules().items():
        top = module.split(".")[0]
        imported = {name.split(".")[0] for name in _imports(path, module)}
        if top in TASKS:
            assert not imported & (set(TASKS) - {top}), f"{path} imports another task: {imported & set(TASKS)}"
        else:
            assert not imported & set(TASKS), f"{path} ({top}) imports a task package"
        if top == "shared":
            assert not imported & set(FRAMEWORKS) - {"triton"}, f"{path} imports an ML framework"
            assert "service" not in imported, f"{path} imports the service (the core is imported, never imports)"


def test_no_import_circle():
    modules = _modules()
    graph = {m: {n for n in _imports(p, m) if n in modules and n != m} for m, p in modules.items()}
    index, low, stack, on_stack, circles = {}, {}, [], set(), []

    def visit(node):  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in graph[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    assert not circles, f"import circles: {circles}"


@pytest.mark.parametrize("folder", [*PACKAGES, "scripts"])
def test_nothing_is_unpickled_outside_tests(folder):
    for path in (ROOT / folder).rglob("*.py"):
        text = path.read_text()
        assert "weights_only=False" not in text, f"{path} unpickles with torch.load(weights_only=False)"
        assert "allow_pickle=True" not in text and "pickle.load" not in text, f"{path} unpickles"
