"""The service image for real: build the Dockerfile with podman, start the image's own command (`defectlab serve
--onnx`) with trained runs mounted, and check it from the host: /healthz (time to ready), the HEALTHCHECK, and one
real picture posted to /v1/inspect, answered 200 with every served task's record. Then the container is stopped and
removed, and scripts/benchmarks/results/container.json gets `built`, `healthz_ok`, `inspect_ok`, `image_mb`,
`build_seconds`, `seconds_to_ready`, `runs`, the podman and runc versions and the provenance keys. A failed step is
recorded too (the booleans after it false, `error` one line), and the exit status is then 1.

Steps:
  1. base image: --base (default localhost/defectlab-base:bookworm). When that local image is missing it is made
     from Debian packages, no registry needed: `debootstrap --variant=minbase --include=python3,python3-venv,libgl1,
     libglib2.0-0,ca-certificates bookworm DIR MIRROR` (Debian 12's python3.11 is the project's Python), then
     `tar -C DIR -c . | podman import - defectlab-base:bookworm`. Where a registry is reachable, --base
     python:3.11-slim-bookworm builds on the Dockerfile's default base instead.
  2. build: the committed tree (`git archive HEAD`, so that uncommitted edits of others are not baked in; --tree
     worktree takes the working tree), timed, as one commit (--layers=false). The host's pip configuration (pip.conf,
     constraints, the local find-links and file:// indexes it names) and its CA bundle are mounted read-only into the
     build, so pip in the image resolves requirements.lock as on the host, and the host's pip cache is mounted over
     /root/.cache/pip (kept out of the image, reused by the next build).
  3. runs: each run served is exported on the host first (`defectlab TASK export RUN`, only where RUN/model.onnx is
     missing), then mounted READ-ONLY at the image's default run folder /app/runs/TASK/<default run name>, which is
     where the image's CMD looks for it (DEFECTLAB_RUNS is set to the same folders as well). The image runs as uid
     10001, which cannot write into root's run folders: exporting first is what lets `serve --onnx` start without
     writing model.onnx there. Default runs: those of `defectlab demo` (runs/demo/runs/TASK/*).
  4. run: `podman run -d -p 127.0.0.1:PORT:8000` with the image's own CMD; /healthz is polled from the host.
     `seconds_to_ready` counts from `podman run`, including `seconds_to_create` (vfs copies the whole image into the
     new container first); `inspect` is the first request (each model's warm-up included).

Podman on these machines (gVisor sandbox, no Docker engine; Debian packages podman + runc + debootstrap):
  podman --runtime runc --storage-driver vfs ... build/run --ulimit nofile=N:N --ulimit nproc=M:M
  * --runtime runc: the default runtime, crun, fails here to create containers.
  * --storage-driver vfs: overlay mounts are not available; vfs stores every layer as a full copy, hence
    `build --layers=false` (one commit instead of a copy of the multi-GB tree per step).
  * --ulimit: podman's default limits (nofile 1048576) are above this machine's hard limits and runc's setrlimit
    fails ("error setting rlimit type 7/6: operation not permitted"). nofile is `ulimit -n`; nproc is `ulimit -u`
    where runc can set it, else the largest that works (probed with a throw-away container: 32768 here).
  * build --format docker: HEALTHCHECK is a Docker-format field; the default OCI format drops it.
  * build --network host: pip reaches the package index as the host does; run -p works (CNI bridge).

  python scripts/benchmarks/service/benchmark_container.py                     # demo runs, debootstrapped base, image kept
  python scripts/benchmarks/service/benchmark_container.py --remove-image      # ... and the image removed afterwards (about 10 GB)
  python scripts/benchmarks/service/benchmark_container.py --base python:3.11-slim-bookworm --runs detection=runs/detection/RUN
"""
from __future__ import annotations

import argparse
import ast
import configparser
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the project root: `scripts.benchmarks`, run as a file

from scripts.benchmarks import results

ROOT = results.ROOT
WHY = ("the image built with podman and checked from the host by this script (`command`): build time, size, time to "
       "ready; `defectlab serve --onnx` is the image's own command, and no defectlab command gives these numbers")
TASKS = ("classification", "detection", "anomaly")
LOCAL_BASE = "localhost/defectlab-base:bookworm"
BASE_PACKAGES = ("python3", "python3-venv", "libgl1", "libglib2.0-0", "ca-certificates")
PODMAN = ["podman", "--runtime", "runc", "--storage-driver", "vfs"]
NPROC_FALLBACKS = (32768, 4096)
IMAGE_VERSIONS = ("import json, platform; from importlib import metadata as m; print(json.dumps({'python': "
                  "platform.python_version(), **{n: m.version(n) for n in ('pip', 'torch', 'tensorflow', "
                  "'onnxruntime', 'ultralytics', 'defectlab')}}))")


class StepError(RuntimeError):
    """A step failed: its one-line message goes to the JSON's `error`."""


def run(command: list[str], timeout: float = 600, log=None, check: bool = True) -> subprocess.CompletedProcess:
    """command's output captured (or appended to the open file `log`); a failure is a StepError with its last line."""
    try:
        done = subprocess.run(command, stdout=log or subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        raise StepError(f"{' '.join(command[:6])} ...: still running after {timeout:.0f} s") from None
    except OSError as error:
        raise StepError(f"{command[0]}: {error}") from None
    if check and done.returncode != 0:
        tail = (done.stdout or "").strip().splitlines()[-1:] if log is None else [f"see {log.name}"]
        raise StepError(f"{' '.join(command[:6])} ... exited {done.returncode}: {' '.join(tail)[-400:]}")
    return done


def first_line(command: list[str]) -> str | None:
    try:
        return run(command, timeout=60).stdout.strip().splitlines()[0]
    except (StepError, IndexError):
        return None


def free_gb(path: Path = ROOT) -> float:
    return round(shutil.disk_usage(path).free / 1e9, 1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def image_exists(image: str) -> bool:
    return run([*PODMAN, "image", "exists", image], check=False).returncode == 0


def make_base(image: str, rootfs: Path, mirror: str, log) -> dict:
    """debootstrap Debian 12 into rootfs (unless there), then import it as `image`."""
    if shutil.which("debootstrap") is None:
        raise StepError("debootstrap is missing: apt-get install debootstrap (or pass --base IMAGE)")
    started = time.monotonic()
    if not (rootfs / "usr" / "bin" / "python3").exists():
        rootfs.parent.mkdir(parents=True, exist_ok=True)
        run(["debootstrap", "--variant=minbase", f"--include={','.join(BASE_PACKAGES)}", "bookworm", str(rootfs),
             mirror], timeout=3600, log=log)
        for leftover in [*(rootfs / "var/cache/apt/archives").glob("*.deb"), *(rootfs / "var/lib/apt/lists").glob("*_*")]:
            leftover.unlink()
    tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
    imported = subprocess.run([*PODMAN, "import", "-", image], stdin=tar.stdout, stdout=log, stderr=subprocess.STDOUT)
    tar.stdout.close()
    if tar.wait() != 0 or imported.returncode != 0:
        raise StepError(f"podman import of {rootfs} as {image} failed (see {log.name})")
    return {"made_with": f"debootstrap --variant=minbase bookworm {mirror}", "rootfs": str(rootfs),
            "seconds": round(time.monotonic() - started, 1)}


def ulimit_flags(base: str) -> list[str]:
    """--ulimit nofile/nproc that runc can set here: this shell's limits, nproc lowered until a container starts."""
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    nproc = resource.getrlimit(resource.RLIMIT_NPROC)[0]
    tried = []
    for candidate in (nproc, *(n for n in NPROC_FALLBACKS if n < nproc or nproc == resource.RLIM_INFINITY)):
        value = -1 if candidate == resource.RLIM_INFINITY else candidate
        flags = ["--ulimit", f"nofile={nofile}:{nofile}", "--ulimit", f"nproc={value}:{value}"]
        probe = run([*PODMAN, "run", "--rm", "--network", "host", *flags, base, "true"], timeout=120, check=False)
        if probe.returncode == 0:
            return flags
        tried.append(f"nproc={value}: {probe.stdout.strip().splitlines()[-1:] or ''}")
    raise StepError(f"no --ulimit that runc accepts here ({'; '.join(map(str, tried))[-400:]})")


def host_pip_config() -> dict[str, str]:
    """The host pip's effective settings ({name: value}, section global), from every config file and PIP_* variable
    (`pip config list`)."""
    listed = run([sys.executable, "-m", "pip", "config", "list"], timeout=120).stdout
    settings = {}
    for line in listed.splitlines():
        key, equals, value = line.partition("=")
        if equals:
            settings[key.rpartition(".")[2]] = ast.literal_eval(value)
    return settings


def pip_mounts(cache: Path | None, into: Path) -> list[str]:
    """-v flags for the build: the host pip's settings as one pip.conf (written into `into`), the local files and
    folders they name (find-links, file:// indexes, constraints, the CA bundle with the CAs of this machine's
    package-index route), read-only; the pip cache read-write."""
    settings = host_pip_config()
    config = configparser.ConfigParser(interpolation=None)
    config["global"] = settings
    conf = into / "pip.conf"
    with open(conf, "w") as file:
        config.write(file)
    mounts = ["-v", f"{conf}:/etc/pip.conf:ro"]
    local = []
    for key, value in settings.items():
        for word in value.split():
            if word.startswith(("file://", "/")):
                path = Path(word.removeprefix("file://"))
                # a local index (ROOT/simple) links its files relative to ROOT: ROOT is mounted
                local.append(path.parent if key.endswith("index-url") else path)
    for path in dict.fromkeys(p for p in local if p.exists()):
        mounts += ["-v", f"{path}:{path}:ro"]
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)
        mounts += ["-v", f"{cache}:/root/.cache/pip"]
    return mounts


def build_context(tree: str, into: Path) -> Path:
    if tree == "worktree":
        return ROOT
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "HEAD"], stdout=subprocess.PIPE, check=False)
    if archive.returncode != 0:
        raise StepError("git archive HEAD failed")
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into


def default_runs() -> dict[str, Path]:
    found = {}
    for task in TASKS:
        candidates = sorted(p.parent for p in (ROOT / "runs" / "demo" / "runs" / task).glob("*/data.json"))
        if candidates:
            found[task] = candidates[0]
    if not found:
        raise StepError("no runs under runs/demo/runs: train them with `defectlab demo`, or name some with --runs")
    return found


def export_runs(runs: dict[str, Path], log) -> dict[str, float]:
    """`defectlab TASK export RUN` where RUN/model.onnx is missing; seconds per task (0 where it was there)."""
    defectlab = Path(sys.executable).parent / "defectlab"
    seconds = {}
    for task, path in runs.items():
        started = time.monotonic()
        if not (path / "model.onnx").is_file():
            run([str(defectlab), task, "export", str(path)], timeout=1800, log=log)
        seconds[task] = round(time.monotonic() - started, 1)
    return seconds


def container_paths(runs: dict[str, Path]) -> dict[str, str]:
    """Where the image's CMD looks for each task's run: /app/runs/TASK/<default run name>."""
    from shared.suite.inspect import default_run

    return {task: str(Path("/app") / default_run(task, "runs")) for task in runs}


def get(url: str, timeout: float = 5) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def post_picture(url: str, picture: Path, timeout: float = 120) -> tuple[int, dict]:
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"{picture.name}\"\r\n"
            f"Content-Type: application/octet-stream\r\n\r\n").encode() + picture.read_bytes() + \
        f"\r\n--{boundary}--\r\n".encode()
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        try:
            return error.code, json.loads(error.read())
        except ValueError:
            return error.code, {}


def running(name: str) -> bool:
    state = run([*PODMAN, "inspect", "--format", "{{.State.Running}}", name], check=False)
    return state.stdout.strip() == "true"


def logs_tail(name: str, lines: int = 3) -> str:
    out = run([*PODMAN, "logs", name], check=False).stdout.strip().splitlines()
    return " | ".join(line.strip() for line in out[-lines:])[-600:]


def relative(path: Path) -> str:
    path = path.resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", default=LOCAL_BASE,
                        help=f"base image, the Dockerfile's BASE build argument (default {LOCAL_BASE}: made with "
                             "debootstrap when missing; python:3.11-slim-bookworm needs a reachable registry)")
    parser.add_argument("--rootfs", type=Path, default=Path("/var/tmp/defectlab-rootfs/bookworm"),
                        help="debootstrap folder of the local base (reused when there)")
    parser.add_argument("--mirror", default="http://deb.debian.org/debian", help="Debian mirror for debootstrap")
    parser.add_argument("--image", default="localhost/defectlab:bench", help="tag of the image built")
    parser.add_argument("--tree", choices=("head", "worktree"), default="head",
                        help="build context: the committed tree (git archive HEAD, default) or the working tree")
    parser.add_argument("--runs", nargs="+", default=[], metavar="TASK=PATH",
                        help="runs served, exported on the host first (default: runs/demo/runs/TASK/*, the runs of "
                             "`defectlab demo`); only these tasks are served")
    parser.add_argument("--picture", type=Path,
                        help="picture posted to /v1/inspect (default: the first of runs/demo/synthetic/NEU-DET/IMAGES)")
    parser.add_argument("--pip-cache", default="/root/.cache/pip",
                        help="host folder mounted over the build's pip cache ('' for none: then the cache stays "
                             "in the image)")
    parser.add_argument("--ready-timeout", type=float, default=900, help="seconds to wait for /healthz")
    parser.add_argument("--build-timeout", type=float, default=3 * 3600, help="seconds the build may take")
    parser.add_argument("--log", type=Path, default=Path(tempfile.gettempdir()) / "defectlab-container.log",
                        help="debootstrap, export, build and container output (default %(default)s)")
    parser.add_argument("--remove-image", action="store_true",
                        help="remove the image when done (it holds torch + TensorFlow: about 10 GB as vfs stores it)")
    parser.add_argument("--out", type=Path, default=results.RESULTS / "container.json")
    args = parser.parse_args(argv)

    result = {"built": False, "healthz_ok": False, "healthcheck_ok": False, "inspect_ok": False, "image_mb": None,
              "build_seconds": None, "seconds_to_ready": None, "runs": {}, "base": args.base, "image": args.image,
              "tree": args.tree, "error": None, "podman": first_line(["podman", "--version"]),
              "runc": first_line(["runc", "--version"]), "debootstrap": first_line(["debootstrap", "--version"]),
              "disk_free_gb_before": free_gb()}
    name = f"defectlab-bench-{uuid.uuid4().hex[:8]}"
    args.log.parent.mkdir(parents=True, exist_ok=True)
    with open(args.log, "w") as log, tempfile.TemporaryDirectory(prefix="defectlab-context-", dir="/var/tmp") as tmp:
        try:
            steps(args, result, name, Path(tmp), log)
        except (StepError, OSError, ValueError, subprocess.SubprocessError) as error:
            result["error"] = " ".join(str(error).split())[:600]
        finally:
            if run([*PODMAN, "container", "exists", name], check=False).returncode == 0:
                run([*PODMAN, "stop", "--time", "30", name], check=False)
                run([*PODMAN, "rm", "--force", name], check=False)
            if args.remove_image and image_exists(args.image):
                run([*PODMAN, "rmi", "--force", args.image], check=False)
                result["image_removed"] = True
            result["disk_free_gb_after"] = free_gb()
            result["load_average"] = [round(x, 2) for x in os.getloadavg()]  # others' work on the same cores
            result["log"] = str(args.log)

    from shared.suite.provenance import script_command

    result.update(defectlab=None, why=WHY)
    path = results.write(args.out, result, command=script_command(__file__, argv))
    print({k: result[k] for k in ("built", "healthz_ok", "inspect_ok", "image_mb", "build_seconds",
                                  "seconds_to_ready", "error")})
    print(f"wrote {path}")
    return 0 if result["inspect_ok"] and result["healthz_ok"] else 1


def steps(args, result: dict, name: str, tmp: Path, log) -> None:
    from shared.suite.cli_evaluate import task_pairs  # a malformed --runs word is a one-line ValueError

    runs = {task: Path(path) for task, path in task_pairs(args.runs, "--runs").items()} or default_runs()
    for task, path in runs.items():
        if not (path / "data.json").is_file():
            raise StepError(f"--runs {task}={path}: no run there (no data.json)")
    result["runs"] = {task: relative(path) for task, path in runs.items()}
    picture = args.picture or next(iter(sorted((ROOT / "runs/demo/synthetic/NEU-DET/IMAGES").glob("*.jpg"))), None)
    if picture is None or not picture.is_file():
        raise StepError("no picture to post: pass --picture PATH (or train the demo runs)")
    result["picture"] = relative(picture)

    # 1. the base image: made here (debootstrap) or pulled
    if args.base == LOCAL_BASE and not image_exists(LOCAL_BASE):
        result["base_made"] = make_base(LOCAL_BASE, args.rootfs, args.mirror, log)
    elif not image_exists(args.base):
        run([*PODMAN, "pull", args.base], timeout=1800, log=log)
    flags = ulimit_flags(args.base)
    result["ulimits"] = " ".join(flags)
    packages = run([*PODMAN, "run", "--rm", "--network", "none", *flags, args.base, "dpkg-query", "-W",
                    "python3.11", *BASE_PACKAGES], check=False).stdout.splitlines()
    result["base_packages"] = dict(line.split("\t", 1) for line in packages if "\t" in line)

    # 2. the image, one commit
    (tmp / "context").mkdir()
    context = build_context(args.tree, tmp / "context")
    if args.tree == "head":  # exactly what was built (git_commit says -dirty where others' edits lie beside it)
        result["context_commit"] = run(["git", "-C", str(ROOT), "rev-parse", "HEAD"]).stdout.strip()
    cache = Path(args.pip_cache) if args.pip_cache else None
    command = [*PODMAN, "build", "--format", "docker", "--layers=false", "--network", "host", *flags,
               *pip_mounts(cache, tmp),
               "--build-arg", f"BASE={args.base}", "--tag", args.image, "--file", str(context / "Dockerfile"),
               str(context)]
    result["build_command"] = " ".join(command)
    print(f"building {args.image} on {args.base} (output: {args.log})", flush=True)
    log.write(f"$ {' '.join(command)}\n")
    log.flush()
    started = time.monotonic()
    run(command, timeout=args.build_timeout, log=log)
    result["build_seconds"] = round(time.monotonic() - started, 1)
    result["built"] = True
    size = run([*PODMAN, "image", "inspect", "--format", "{{.Size}}", args.image]).stdout.strip()
    result["image_mb"] = round(int(size) / 1e6)
    result["disk_free_gb_after_build"] = free_gb()

    # 3. the runs, exported on the host and mounted read-only where the image's CMD looks for them
    result["export_seconds"] = export_runs(runs, log)
    inside = container_paths(runs)
    mounts = [flag for task, path in runs.items() for flag in ("-v", f"{path.resolve()}:{inside[task]}:ro")]
    env = ["--env", "DEFECTLAB_RUNS=" + ",".join(f"{task}={inside[task]}" for task in runs)]
    port = free_port()
    # 4. the container, with the image's own CMD; only the tasks given are served (--tasks appended to it otherwise)
    cmd = [] if set(runs) == set(TASKS) else ["defectlab", "serve", "--onnx", "--host", "0.0.0.0", "--port", "8000",
                                              "--tasks", *runs]
    command = [*PODMAN, "run", "--detach", "--name", name, "--publish", f"127.0.0.1:{port}:8000", *flags, *mounts,
               *env, args.image, *cmd]
    result["run_command"] = " ".join(command)
    started = time.monotonic()
    run(command, timeout=900)  # with vfs, creating the container copies the whole image: most of the wait
    result["seconds_to_create"] = round(time.monotonic() - started, 1)
    url = f"http://127.0.0.1:{port}"
    while True:
        try:
            if get(f"{url}/healthz")[0] == 200:
                break
        except OSError:
            pass
        if not running(name):
            raise StepError(f"the container stopped before /healthz answered: {logs_tail(name)}")
        if time.monotonic() - started > args.ready_timeout:
            raise StepError(f"no /healthz after {args.ready_timeout:.0f} s: {logs_tail(name)}")
        time.sleep(1)
    result["seconds_to_ready"] = round(time.monotonic() - started, 1)  # from `podman run`, creation included
    result["healthz_ok"] = True
    versions = run([*PODMAN, "exec", name, "python", "-c", IMAGE_VERSIONS], check=False).stdout.strip().splitlines()
    result["image_versions"] = json.loads(versions[-1]) if versions and versions[-1].startswith("{") else None
    status, body = get(f"{url}/readyz", timeout=60)
    result["readyz"] = {"status": status, **(json.loads(body) if status == 200 else {})}
    result["healthcheck_ok"] = run([*PODMAN, "healthcheck", "run", name], check=False).returncode == 0

    # one real picture; every served task's record in the answer
    started = time.monotonic()
    status, answer = post_picture(f"{url}/v1/inspect", picture)
    result["inspect"] = {"status": status, "seconds": round(time.monotonic() - started, 2),
                         "tasks": sorted(t for t in TASKS if isinstance(answer.get(t), dict)),
                         "models": answer.get("models"), "timings_ms": answer.get("timings_ms"),
                         "answer": {t: answer[t] for t in TASKS if isinstance(answer.get(t), dict)}}
    missing = [t for t in runs if not isinstance(answer.get(t), dict)]
    if status != 200 or missing:
        raise StepError(f"/v1/inspect answered {status}; records missing: {', '.join(missing) or 'none'}; "
                        f"{answer.get('error', '')}")
    result["inspect_ok"] = True
    result["container_log_tail"] = logs_tail(name, lines=5)


if __name__ == "__main__":
    sys.exit(main())
