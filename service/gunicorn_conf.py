"""gunicorn settings of `defectlab serve` (the flags set the DEFECTLAB_* variables read here).
gunicorn's asyncio (ASGI) worker, no preload: each worker process loads its own model set after the fork. Its event
loop reads every connection, so slow or idle clients cost a coroutine each and keep-alive connections stay open;
a whole request then goes to the Flask app in one thread (service/asgi.py), so the models see one request at a
time. A sync worker, before, was held by any client that sent its headers slowly."""
import os
import tempfile

bind = os.environ.get("DEFECTLAB_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("DEFECTLAB_WORKERS", "1"))
worker_class = "asgi"
worker_connections = 1000  # open connections a worker holds; each idle or slow one is a coroutine
asgi_lifespan = "off"      # the Flask app has no startup or shutdown hooks
keepalive = 5              # seconds an idle kept-alive connection stays open
preload_app = False
timeout = 180              # a worker's boot loads the ML frameworks and every task's model
graceful_timeout = 20
accesslog = os.environ.get("DEFECTLAB_ACCESS_LOG") or None
errorlog = "-"
loglevel = "warning"


def on_starting(server):
    """Request metrics of every worker go to one folder that /metrics sums (prometheus-client multiprocess mode)."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="defectlab-metrics-")


def post_fork(server, worker):
    """The cores shared out between the workers (each framework reads these when it is first imported)."""
    threads = str(max(1, len(os.sched_getaffinity(0)) // max(1, int(server.cfg.workers))))  # the cores it may use
    for name in ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "DEFECTLAB_ONNX_THREADS"):
        os.environ.setdefault(name, threads)


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
