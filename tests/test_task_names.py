"""Generic code names no task: outside the registry, nothing under shared/ and service/ (code, comments, templates,
schemas, static files) spells a task's name or alias, so a new task is its own package plus one registry line
(tests/test_fourth_task.py drives one through every generic path). The data layer, shared/datasets, is left out:
it names dataset layouts (YOLO, VOC, the anomaly-folders export), which are formats, not tasks."""
import re
from pathlib import Path

from shared.suite import registry

ROOT = Path(__file__).resolve().parents[1]
CHECKED = [*(ROOT / "shared").rglob("*"), *(ROOT / "service").rglob("*")]
LEFT_OUT = {ROOT / "shared" / "suite" / "registry.py"}
SUFFIXES = {".py", ".html", ".json", ".js", ".css", ".toml", ".txt", ".md", ".yaml"}


def test_no_file_under_shared_or_service_names_a_task():
    words = {w for name in registry.names() for w in (name, *registry.task(name).aliases)}
    pattern = re.compile(r"\b(" + "|".join(sorted(words)) + r")\b", re.IGNORECASE)
    found = []
    for path in CHECKED:
        if (path.suffix not in SUFFIXES or path in LEFT_OUT or "datasets" in path.relative_to(ROOT).parts
                or "__pycache__" in path.parts):
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if pattern.search(line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()[:100]}")
    assert not found, "task names outside the registry:\n" + "\n".join(found)


def test_the_check_sees_every_alias():
    assert {"classify", "detect"} <= {a for n in registry.names() for a in registry.task(n).aliases}
