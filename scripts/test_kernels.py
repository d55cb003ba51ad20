"""The test suite under other CPU kernels and thread counts: every float comparison in the tests must hold on any
x86 CPU (AMD EPYC or Intel Xeon with AVX-512), and forcing the kernels here is how a contributor checks that on
one machine. Each setting runs pytest in a fresh process with its environment; the outcome (passed / failed /
skipped, seconds, the failures' names) is written as JSON beside the CPU it ran on.

  python scripts/test_kernels.py                                  every setting, the whole suite (about 5 x 10 min)
  python scripts/test_kernels.py --settings default avx2          two settings
  python scripts/test_kernels.py --settings onednn-avx2 --tests tests/detection tests/test_inspect.py

Settings: PyTorch's dispatch (ATEN_CPU_CAPABILITY=default: no vector kernels; avx2), oneDNN's (TensorFlow and
PyTorch convolutions: ONEDNN_MAX_CPU_ISA=AVX2) and one or two threads (OMP_NUM_THREADS, which the suite's
frameworks and ONNX Runtime sessions follow)."""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # `shared` and `scripts.benchmarks`, run as a file

from scripts.benchmarks import results

WHY = "the test suite (pytest) under each setting's environment, run by this script (`command`): no defectlab command"
SETTINGS = {
    "default": {"ATEN_CPU_CAPABILITY": "default"},
    "avx2": {"ATEN_CPU_CAPABILITY": "avx2"},
    "onednn-avx2": {"ONEDNN_MAX_CPU_ISA": "AVX2"},
    "threads-1": {"OMP_NUM_THREADS": "1", "DEFECTLAB_ONNX_THREADS": "1"},
    "threads-2": {"OMP_NUM_THREADS": "2", "DEFECTLAB_ONNX_THREADS": "2"},
}


def cpu_model() -> str:
    """The provenance's CPU model, with the vector instruction sets that decide which kernels run."""
    from shared.suite.provenance import hardware

    try:
        flags = re.search(r"^flags\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.MULTILINE)
    except OSError:
        flags = None
    isa = [f for f in ("avx512f", "avx2") if flags and f in flags.group(1).split()]
    return f"{hardware()['processor']} ({', '.join(isa) or 'no avx2'})"


def run(name: str, tests: list[str]) -> dict:
    env = {**os.environ, **SETTINGS[name]}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    log = results.RESULTS.parent / "logs" / f"kernels-{name}.log"  # the whole pytest output, for the failures' reasons
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(done.stdout + done.stderr)
    seconds = round(time.perf_counter() - started, 1)
    tail = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    counts = {kind: int(n) for n, kind in re.findall(r"(\d+) (passed|failed|skipped|errors?)", tail)}
    failures = re.findall(r"^(?:FAILED|ERROR) (\S+)", done.stdout, re.MULTILINE)
    return {"environment": SETTINGS[name], "returncode": done.returncode, "seconds": seconds,
            "passed": counts.get("passed", 0), "failed": counts.get("failed", 0) + counts.get("error", 0)
            + counts.get("errors", 0), "skipped": counts.get("skipped", 0), "failures": failures, "summary": tail}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--settings", nargs="+", choices=list(SETTINGS), default=list(SETTINGS),
                        help="which settings to run (default: all)")
    parser.add_argument("--tests", nargs="*", default=[], help="pytest paths (default: the whole suite)")
    parser.add_argument("--out", type=Path, default=results.RESULTS / "kernels.json",
                        help="JSON written (merged with the settings already there)")
    args = parser.parse_args(argv)

    import json

    from shared.suite.provenance import git_commit, script_command

    previous = json.loads(args.out.read_text()).get("runs", {}) if args.out.is_file() else {}
    runs = dict(previous)
    for name in args.settings:
        print(f"[kernels] {name}: {SETTINGS[name]} ...", flush=True)
        result = run(name, args.tests)
        result["tests"] = args.tests or ["(the whole suite)"]
        # each setting's own command: the file gathers settings run by several invocations
        result["command"] = script_command(__file__, ["--settings", name, *(["--tests", *args.tests] if args.tests else [])])
        result["cpu"] = cpu_model()
        result["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
        result["git_commit"] = git_commit(ROOT)
        runs[name] = result
        print(f"[kernels] {name}: {result['summary']} in {result['seconds']} s", flush=True)
        for failure in result["failures"]:
            print(f"[kernels]   failed: {failure}", flush=True)
        # written after each setting: a long matrix cut short keeps what it ran
        payload = {"runs": runs, "all_passed": all(r["returncode"] == 0 for r in runs.values()), "defectlab": None,
                   "why": WHY}
        results.write(args.out, payload, split="none (the test suite)", command=script_command(__file__, argv))
    print(f"wrote {args.out}")
    return 0 if all(runs[n]["returncode"] == 0 for n in args.settings) else 1


if __name__ == "__main__":
    sys.exit(main())
