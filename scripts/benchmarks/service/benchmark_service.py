"""Bounded load test of the inspection service on loopback: starts `defectlab serve` as a user would (the command the
tests and Docker start), waits for /readyz, sends a warm-up, then POST /v1/inspect requests (all three models, the
200x200 NEU-DET test pictures) from concurrent clients that each keep one connection alive, and stops. Writes:
  - the headline at --concurrency clients: requests/s, p50/p99 latency, errors, the workers' memory growth;
  - by_clients: the same at 1, 2, 4 and 8 clients (--clients);
  - slow_clients: with --slow connections open that send their headers a line a second and never finish, the
    latency of good requests (each on a new connection).

  python scripts/benchmarks/service/benchmark_service.py --data ../shared/data/NEU-DET --onnx \
      --runs classification=runs/neu/classification/RUN detection=runs/neu/detection/RUN anomaly=runs/neu/anomaly/RUN
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the project root: `scripts.benchmarks`, run as a file

from scripts.benchmarks import commands, results

WHY = ("the runs are `defectlab TASK train` (the commands here) and the service is `defectlab serve --runs ...` "
       "(started by this script as a user would); the load and its timings are this script's (`command`)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def workers_rss_mb(pid: int) -> float:
    import psutil

    return sum(c.memory_info().rss for c in psutil.Process(pid).children(recursive=True)) / 2**20


class Client:
    """One user: a kept-alive connection, reopened when the server closes it."""

    def __init__(self, port: int):
        self.port, self.connection = port, None

    def inspect(self, body: bytes) -> tuple[float, int]:
        started = time.perf_counter()
        for attempt in range(2):  # a kept-alive connection the server has just closed is reopened once
            try:
                if self.connection is None:
                    self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                self.connection.request("POST", "/v1/inspect", body=body, headers={"Content-Type": "image/jpeg"})
                answer = self.connection.getresponse()
                answer.read()
                if (answer.getheader("Connection") or "").lower() == "close":
                    self.connection.close()
                    self.connection = None
                return time.perf_counter() - started, answer.status
            except (OSError, http.client.HTTPException):
                if self.connection is not None:
                    self.connection.close()
                self.connection = None
        return time.perf_counter() - started, 0


def load(port: int, pictures: list[bytes], clients: int, requests: int) -> dict:
    """`requests` inspections shared by `clients` concurrent users; their throughput and latency."""
    users = [Client(port) for _ in range(clients)]
    counter, lock = iter(range(requests)), threading.Lock()

    def user(client: Client) -> list[tuple[float, int]]:
        done = []
        while True:
            with lock:
                k = next(counter, None)
            if k is None:
                return done
            done.append(client.inspect(pictures[k % len(pictures)]))

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        answers = [a for part in pool.map(user, users) for a in part]
    seconds = time.perf_counter() - started
    latencies = sorted(a[0] * 1000 for a in answers)
    return {"requests_per_second": round(len(answers) / seconds, 1), "p50_ms": round(statistics.median(latencies), 1),
            "p99_ms": round(latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))], 1),
            "errors": sum(a[1] != 200 for a in answers), "requests": len(answers), "seconds": round(seconds, 1)}


def slow_clients(port: int, picture: bytes, opened: int, good: int) -> dict:
    """`opened` connections that send a header line a second and never finish, then `good` requests meanwhile."""
    slow = []
    for _ in range(opened):
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        sock.sendall(b"POST /v1/inspect HTTP/1.1\r\nHost: benchmark\r\nContent-Type: image/jpeg\r\n")
        slow.append(sock)
    stop = threading.Event()

    def trickle():
        while not stop.wait(1.0):
            for sock in slow:
                try:
                    sock.sendall(b"X-Slow: 1\r\n")
                except OSError:
                    pass

    threading.Thread(target=trickle, daemon=True).start()
    try:
        time.sleep(2)  # they are all mid-request now
        answers = [Client(port).inspect(picture) for _ in range(good)]
        still_open = 0
        for sock in slow:  # the server may close a connection that trickles too long; count those it kept
            try:
                sock.sendall(b"X-Slow: 1\r\n")
                still_open += 1
            except OSError:
                pass
    finally:
        stop.set()
        for sock in slow:
            sock.close()
    latencies = sorted(a[0] * 1000 for a in answers)
    return {"open": opened, "still_open_after": still_open, "good_requests": good,
            "good_request_ms": round(statistics.median(latencies), 1), "good_request_max_ms": round(latencies[-1], 1),
            "errors": sum(a[1] != 200 for a in answers)}


def batching(runs: list[str], pictures: list[bytes], sizes=(1, 8), repeats: int = 3) -> dict:
    """What batching requests that arrive together (dynamic batching) could win at most: the served inspection
    (ONNX Runtime, the models one after another, as a worker runs them) of the same decoded pictures, one at a time
    against batches, in this process, medians of `repeats` passes."""
    from shared.datasets.images import decode_bytes
    from shared.suite.cli_evaluate import task_pairs
    from shared.suite.inspect import Inspector

    images = [decode_bytes(p, "picture") for p in pictures]
    paths = task_pairs(runs, "--runs")
    out = {}
    for size in sizes:
        inspector = Inspector.from_runs(paths, batch_size=size, onnx=True, threads=False)
        inspector.inspect(images[:size])  # warm-up
        rates = []
        for _ in range(repeats):
            started = time.perf_counter()
            inspector.inspect(images)
            rates.append(len(images) / (time.perf_counter() - started))
        out[f"batch_{size}_images_per_second"] = round(statistics.median(rates), 1)
    out["gain"] = round(out[f"batch_{sizes[-1]}_images_per_second"] / out[f"batch_{sizes[0]}_images_per_second"], 3)
    out["pictures"] = len(images)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="NEU-DET: its kaggle-det test pictures are sent")
    parser.add_argument("--runs", nargs="+", required=True, metavar="TASK=PATH", help="the runs served")
    parser.add_argument("--requests", type=int, default=1000, help="requests of the headline measurement")
    parser.add_argument("--concurrency", type=int, default=2, help="clients of the headline measurement")
    parser.add_argument("--clients", type=int, nargs="*", default=[1, 2, 4, 8], help="by_clients: client counts")
    parser.add_argument("--requests-per-level", type=int, default=300, help="by_clients: requests at each count")
    parser.add_argument("--slow", type=int, default=50, help="slow connections held open (0: skip)")
    parser.add_argument("--good", type=int, default=20, help="good requests timed while they are open")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--onnx", action="store_true")
    parser.add_argument("--batching", type=int, default=120,
                        help="pictures for the in-process batching measurement after the server stops (0: skip)")
    parser.add_argument("--out", type=Path, default=results.RESULTS / "service.json")
    args = parser.parse_args(argv)
    from shared.suite import console

    console.setup()
    from shared.suite.cli_evaluate import task_pairs
    from shared.suite.evaluate import test_pictures
    from shared.suite.provenance import script_command

    test, index = test_pictures(args.data, "kaggle-det")
    pictures = [Path(p["path"]).read_bytes() for p in test]
    port = free_port()
    command = ["defectlab", "serve", "--workers", str(args.workers), "--port", str(port), "--runs", *args.runs,
               *(["--onnx"] if args.onnx else [])]
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
    server = subprocess.Popen(command, env=env, start_new_session=True, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    sys.exit(f"the service did not start: {server.stdout.read()[-3000:]}")
                time.sleep(1)
        load(port, pictures, args.concurrency, args.warmup)
        rss_start = workers_rss_mb(server.pid)
        peak, stop = [rss_start], threading.Event()

        def watch():
            while not stop.wait(1.0):
                peak.append(workers_rss_mb(server.pid))

        threading.Thread(target=watch, daemon=True).start()
        headline = load(port, pictures, args.concurrency, args.requests)
        stop.set()
        rss_end = workers_rss_mb(server.pid)
        by_clients = {}
        for clients in args.clients:
            by_clients[str(clients)] = load(port, pictures, clients, args.requests_per_level)
            print(f"{clients} clients: {by_clients[str(clients)]}", flush=True)
        slow = slow_clients(port, pictures[0], args.slow, args.good) if args.slow else None
        load_average = os.getloadavg()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)
    batched = batching(args.runs, pictures[:args.batching]) if args.batching else None
    payload = {
        **{k: headline[k] for k in ("requests_per_second", "p50_ms", "p99_ms", "errors", "requests", "seconds")},
        "rss_growth_mb": round(rss_end - rss_start, 1), "rss_start_mb": round(rss_start, 1),
        "rss_peak_mb": round(max(peak), 1), "concurrency": args.concurrency, "workers": args.workers,
        "onnx": args.onnx, "keep_alive": True, "warmup_requests": args.warmup,
        "worker_model": "gunicorn asgi worker (asyncio connections), Flask app in one thread per worker",
        "by_clients": by_clients, "slow_clients": slow, "batching_in_process": batched,
        "picture_size": "200x200 JPEG (NEU-DET test)", "tasks": "classification, detection, anomaly (no heatmap PNG)",
        "runs": args.runs,
        "target": {"requests_per_second": 15, "p99_ms": 300, "errors": 0, "rss_growth_mb": 50,
                   "clients_8": {"errors": 0, "p99_ms": 800}, "slow_clients": {"open": 50, "good_request_ms": 1000}},
        "load_average": load_average,
        "defectlab": [commands.train_line(task, json.loads((Path(path) / "config.json").read_text()))
                      for task, path in task_pairs(args.runs, "--runs").items()], "why": WHY,
    }
    path = results.write(args.out, payload, split="kaggle-det (test pictures as requests)", index=index,
                         command=script_command(__file__, argv))
    print({k: payload[k] for k in ("requests_per_second", "p50_ms", "p99_ms", "errors", "rss_growth_mb")})
    print(f"slow clients: {slow}")
    print(f"batching (in process): {batched}")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
