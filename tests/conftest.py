"""Shared fixtures: synthetic datasets (built once per session), real-data location, network guard, databases
(SQLite and a throwaway PostgreSQL cluster)."""
from __future__ import annotations

import collections
import contextlib
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

from shared.suite import console

console.setup()  # what the CLI and the service do first: framework guard, quiet libraries, mmap threshold

REAL_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

_network = {"blocked": False, "attempts": []}


def _audit(event, args):
    if _network["blocked"] and event == "socket.connect":
        sock, address = args[0], args[1]
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            _network["attempts"].append(address)
            raise ConnectionRefusedError(f"network access attempted during an offline test: {address}")


sys.addaudithook(_audit)


@contextlib.contextmanager
def network_blocked():
    """Within the block, any internet-family socket connect raises and is recorded; the block then fails."""
    _network["blocked"], _network["attempts"] = True, []
    try:
        yield _network["attempts"]
    finally:
        _network["blocked"] = False
    assert not _network["attempts"], f"network connects attempted: {_network['attempts']}"


@pytest.fixture
def no_network():
    """Fail on any internet-family socket connect made while the test runs."""
    with network_blocked() as attempts:
        yield attempts


@pytest.fixture(scope="session", autouse=True)
def suite_home(tmp_path_factory):
    """Settings and fonts that ultralytics writes go to a temporary DEFECTLAB_HOME, not the home folder."""
    import os

    os.environ.setdefault("DEFECTLAB_HOME", str(tmp_path_factory.mktemp("defectlab-home")))
    return Path(os.environ["DEFECTLAB_HOME"])


@pytest.fixture(scope="session")
def synthetic_root(tmp_path_factory) -> Path:
    """Both NEU layouts, 30 pictures per class (read-only by convention: copy before changing)."""
    from shared.datasets.synthetic import synthesize

    return synthesize(tmp_path_factory.mktemp("synthetic"), per_class=30, seed=0)


@pytest.fixture(scope="session")
def synthetic_index(synthetic_root):
    from shared.datasets.index import read_dataset

    return read_dataset(synthetic_root, progress=False)


@pytest.fixture
def synthetic_copy(synthetic_root, tmp_path) -> Path:
    """A private copy of the synthetic data that a test may damage."""
    return Path(shutil.copytree(synthetic_root, tmp_path / "data"))


@pytest.fixture(scope="session")
def real_data() -> Path:
    if not (REAL_DATA / "NEU-DET").is_dir() or not (REAL_DATA / "NEU-Metal-Surface-Defects").is_dir():
        pytest.skip(f"real NEU data not found at {REAL_DATA} (it lies beside the checkout in CI)")
    return REAL_DATA


def tree_digest(root: Path) -> str:
    """Hash of every file's path and bytes under root: proves a command left its input untouched."""
    digest = hashlib.sha256()
    for path in sorted(p for p in Path(root).rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()

@pytest.fixture(scope="session")
def classification_data(tmp_path_factory):
    """Synthetic NEU copies with enough pictures per class for a seconds-long training."""
    from shared.datasets.synthetic import synthesize

    return synthesize(tmp_path_factory.mktemp("cls-data"), per_class=50, seed=1)


@pytest.fixture(scope="session")
def smoke_run(generic_runs):
    """The classification run of the generic path (smoke recipe, evaluated on test), for tests that only read it."""
    return generic_runs("classification")[0]


class Reads:
    """Counts, per source file under `root`, how often it is probed (a dataset read) and opened by PIL at all, and
    how often a split is made."""

    def __init__(self, monkeypatch, root: Path):
        import PIL.Image

        from shared.datasets import index, splits

        self.root, self.probes, self.opens, self.splits = str(root), collections.Counter(), collections.Counter(), 0
        probe, open_, reconcile = index.probe_image, PIL.Image.open, splits._reconcile_twins

        def counted_probe(path):
            self.probes[str(path)] += 1
            return probe(path)

        def counted_open(path, *args, **kwargs):
            if str(path).startswith(self.root):
                self.opens[str(path)] += 1
            return open_(path, *args, **kwargs)

        def counted_split(*args):
            self.splits += 1
            return reconcile(*args)

        monkeypatch.setattr(index, "probe_image", counted_probe)
        monkeypatch.setattr(PIL.Image, "open", counted_open)
        monkeypatch.setattr(splits, "_reconcile_twins", counted_split)

    def decodes(self) -> collections.Counter:
        return self.opens - self.probes


@pytest.fixture(scope="session")
def generic_runs(classification_data, tmp_path_factory, suite_home):
    """name -> (run, test metrics, Reads): each task's smoke recipe on the same synthetic data (50 pictures per
    class, both NEU layouts), trained and
    evaluated through the registry's generic path with the dataset reads counted (tests/test_contract.py checks
    them; the task tests reuse the runs instead of training their own)."""
    from shared.suite import registry

    done = {}

    def get(name):
        if name not in done:
            spec = registry.task(name)
            recipe = spec.Recipe.from_preset("smoke", data=str(classification_data),
                                             out=str(tmp_path_factory.mktemp(name)), name="generic")
            with pytest.MonkeyPatch.context() as patch, network_blocked():
                reads = Reads(patch, classification_data)
                run = spec.train(recipe, progress=False)
                metrics = run.evaluate("test")
            reads.written = json.loads((run.path / "metrics.json").read_text())  # before other tests evaluate again
            done[name] = (run, metrics, reads)
        return done[name]

    return get


@pytest.fixture(scope="session")
def partner(generic_runs, tmp_path_factory):
    """A second detector: the generic smoke detection run with its weights nudged (noise of 5% of each tensor's
    spread), for the tests of fused detectors."""
    import torch

    folder = tmp_path_factory.mktemp("partner") / "nudged"
    shutil.copytree(generic_runs("detection")[0].path, folder,
                    ignore=shutil.ignore_patterns("val_*", "train", "data", "model.onnx"))
    state = torch.load(folder / "model.pt", weights_only=True)
    generator = torch.Generator().manual_seed(0)
    nudged = {k: v + 0.05 * v.std() * torch.randn(v.shape, generator=generator)
              if v.is_floating_point() and v.numel() > 1 else v for k, v in state.items()}
    torch.save(nudged, folder / "model.pt")
    return folder


# -- databases: SQLite always, PostgreSQL where its server is installed (`apt-get install postgresql`) or
# $DEFECTLAB_TEST_POSTGRES names one ------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def as_server_user(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: as root, run its tools as the postgres user."""
    if os.geteuid() != 0:
        return command
    return ["su", "postgres", "-s", "/bin/sh", "-c", " ".join(f"'{word}'" for word in command)]


@pytest.fixture(scope="session")
def postgres_server():
    """A server URL without a database name: $DEFECTLAB_TEST_POSTGRES, else a throwaway cluster (initdb, pg_ctl on
    a free port, fsync off) in a temporary folder, stopped and removed at the end. Skips, saying why, only when no
    cluster can be started."""
    if os.environ.get("DEFECTLAB_TEST_POSTGRES"):
        yield os.environ["DEFECTLAB_TEST_POSTGRES"].rstrip("/")
        return
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    binaries = found[-1].parent if found else (Path(shutil.which("initdb")).parent if shutil.which("initdb") else None)
    if binaries is None:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql); the SQLite tests ran")
    if os.geteuid() == 0 and shutil.which("su") is None:
        pytest.skip("running as root without `su`: PostgreSQL cannot be started as root")
    folder = Path(tempfile.mkdtemp(prefix="defectlab-postgres-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
    port, data = free_port(), folder / "data"
    steps = [[str(binaries / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"],
             [str(binaries / "pg_ctl"), "-D", str(data), "-w", "-t", "30", "-l", str(folder / "server.log"), "-o",
              f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -F", "start"]]
    for step in steps:
        done = subprocess.run(as_server_user(step), capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            log = (folder / "server.log").read_text() if (folder / "server.log").is_file() else ""
            shutil.rmtree(folder, ignore_errors=True)
            pytest.skip(f"could not start a PostgreSQL cluster: {' '.join((done.stderr + log).split())[-400:]}")
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}"
    finally:
        subprocess.run(as_server_user([str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
                       capture_output=True, timeout=60)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path):
    """The URL of a new, empty database of each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'results.db'}"
        return
    import psycopg

    server = request.getfixturevalue("postgres_server")
    name = f"defectlab_{uuid.uuid4().hex[:12]}"
    admin = server.replace("postgresql+psycopg://", "postgresql://", 1) + "/postgres"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    yield f"{server}/{name}"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
