"""The service image without building it (a build takes GBs and tens of minutes:
scripts/benchmarks/service/benchmark_container.py does it with podman and records container.json): the Dockerfile's
base is a build argument that defaults to the official Python image, both bases get `python` from the same venv, and
the build script starts and says how it runs podman."""
import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "benchmarks" / "service" / "benchmark_container.py"
RESULT = ROOT / "scripts" / "benchmarks" / "results" / "container.json"


def test_dockerfile_base_is_a_build_argument_and_python_is_the_venvs_on_either_base():
    lines = (ROOT / "Dockerfile").read_text().splitlines()
    instructions = [line for line in lines if line and not line.startswith((" ", "#"))]
    assert instructions[0] == "ARG BASE=python:3.11-slim-bookworm" and instructions[1] == "FROM ${BASE}"
    venv = next(i for i, line in enumerate(instructions) if line.startswith("RUN python3 -m venv /opt/venv"))
    path = next(i for i, line in enumerate(instructions) if re.match(r"ENV .*PATH=/opt/venv/bin:\$PATH", line))
    first_pip = next(i for i, line in enumerate(instructions) if line.startswith("RUN python -m pip"))
    assert venv < path < first_pip  # `python` in the install steps (the same as `make venv`'s) is /opt/venv's
    assert instructions.index("USER defectlab") > max(i for i, line in enumerate(instructions) if line.startswith("RUN"))


def test_benchmark_container_help_names_the_podman_flags_it_needs_here():
    done = subprocess.run([sys.executable, str(SCRIPT), "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    for flag in ("--runtime runc", "--storage-driver vfs", "--layers=false", "--ulimit nofile=", "--format docker",
                 "debootstrap", "defectlab TASK export RUN", "--base", "--runs", "--remove-image"):
        assert flag in done.stdout, flag


def test_committed_container_result_says_what_was_built_and_served():
    result = json.loads(RESULT.read_text())
    for key in ("schema_version", "command", "git_commit", "versions", "hardware", "created_at", "podman", "runc"):
        assert key in result, key
    assert result["hardware"].get("processor")
    assert all(isinstance(result[key], bool) for key in ("built", "healthz_ok", "inspect_ok"))
    if result["inspect_ok"]:  # a success carries its numbers and every served task's record
        assert result["built"] and result["healthz_ok"] and result["error"] is None
        assert result["image_mb"] > 0 and result["build_seconds"] > 0 and result["seconds_to_ready"] > 0
        assert sorted(result["inspect"]["tasks"]) == sorted(result["runs"]) and result["inspect"]["status"] == 200
        assert all(not Path(path).is_absolute() for path in result["runs"].values())
    else:
        assert result["error"]
