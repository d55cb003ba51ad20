"""Bounded load test of the inspection service on loopback (issue "Inference service"): starts `defectlab serve` as a
user would (the command the tests and Docker start), waits for /readyz, sends a warm-up, then a fixed number of
POST /v1/inspect requests (all three models, 200x200 NEU pictures) from a few concurrent clients, and stops.
Writes requests/s, p50/p99 latency, errors and the growth of the workers' resident memory over the run.

  python scripts/benchmark_service.py --data ../shared/data/NEU-DET --requests 2000 --concurrency 4 --onnx \
      --runs classification=runs/neu/classification/lite0-finetune-kaggle-det-seed0 \
             detection=runs/gpu/lite2-unfrozen-t6min-320px-seed0-gpu5 anomaly=runs/neu/anomaly/texture-knn-imagenet-seed0
"""
from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "benchmarks" / "results"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def workers_rss_mb(pid: int) -> float:
    import psutil

    return sum(c.memory_info().rss for c in psutil.Process(pid).children(recursive=True)) / 2**20


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="NEU-DET: its test pictures are sent")
    parser.add_argument("--runs", nargs="+", required=True, metavar="TASK=PATH")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--onnx", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULTS / "service.json")
    args = parser.parse_args(argv)

    from shared.suite.evaluate import test_pictures
    from shared.suite.provenance import script_command, write_result

    test, index = test_pictures(args.data, "kaggle-det")
    pictures = [Path(p["path"]).read_bytes() for p in test]
    port = free_port()
    command = ["defectlab", "serve", "--workers", str(args.workers), "--port", str(port), "--runs", *args.runs,
               *(["--onnx"] if args.onnx else [])]
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
    server = subprocess.Popen(command, env=env, start_new_session=True, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                with urllib.request.urlopen(f"{url}/readyz", timeout=2):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    sys.exit(f"the service did not start: {server.stdout.read()[-3000:]}")
                time.sleep(1)

        def send(k: int) -> tuple[float, int]:
            request = urllib.request.Request(f"{url}/v1/inspect", data=pictures[k % len(pictures)],
                                             headers={"Content-Type": "image/jpeg"})
            started = time.perf_counter()
            try:
                with urllib.request.urlopen(request, timeout=60) as answer:
                    answer.read()
                    status = answer.status
            except urllib.error.HTTPError as error:
                status = error.code
            except OSError:
                status = 0
            return time.perf_counter() - started, status

        with ThreadPoolExecutor(args.concurrency) as pool:
            list(pool.map(send, range(args.warmup)))
            rss_start = workers_rss_mb(server.pid)
            peak = [rss_start]
            stop = threading.Event()

            def watch():
                while not stop.wait(1.0):
                    peak.append(workers_rss_mb(server.pid))

            watcher = threading.Thread(target=watch, daemon=True)
            watcher.start()
            started = time.perf_counter()
            answers = list(pool.map(send, range(args.requests)))
            seconds = time.perf_counter() - started
            stop.set()
        rss_end = workers_rss_mb(server.pid)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)
    latencies = sorted(a[0] * 1000 for a in answers)
    errors = sum(a[1] != 200 for a in answers)
    payload = {
        "requests_per_second": round(args.requests / seconds, 1),
        "p50_ms": round(statistics.median(latencies), 1),
        "p99_ms": round(latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))], 1),
        "errors": errors, "rss_growth_mb": round(rss_end - rss_start, 1),
        "rss_start_mb": round(rss_start, 1), "rss_peak_mb": round(max(peak), 1),
        "requests": args.requests, "concurrency": args.concurrency, "workers": args.workers, "onnx": args.onnx,
        "warmup_requests": args.warmup, "seconds": round(seconds, 1), "picture_size": "200x200 JPEG (NEU-DET test)",
        "tasks": "classification, detection, anomaly (no heatmap PNG)", "runs": args.runs,
        "target": {"requests_per_second": 15, "p99_ms": 300, "errors": 0, "rss_growth_mb": 50},
        "load_average": os.getloadavg(),
    }
    command_line = script_command(__file__, argv)
    path = write_result(args.out, payload, split="kaggle-det (test pictures as requests)", index=index,
                        command=command_line)
    print({k: payload[k] for k in ("requests_per_second", "p50_ms", "p99_ms", "errors", "rss_growth_mb")})
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
