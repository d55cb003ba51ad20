"""`defectlab serve`: the inspection service under gunicorn (service/gunicorn_conf.py), configured by flags that
set the DEFECTLAB_* variables (service/settings.py), so the command, Docker's CMD and the tests start it alike."""
from __future__ import annotations

import os
import sys
from pathlib import Path

CONF = Path(__file__).resolve().parent / "gunicorn_conf.py"
APP = "service.app:create_app()"


def register(tasks, common) -> None:
    serve = tasks.add_parser(
        "serve", help="the REST API and web page of the inspection (gunicorn)",
        description="Serve `defectlab inspect` over HTTP: POST /v1/inspect, GET /v1/models, /healthz, /readyz, "
                    "/metrics, /openapi.json and a web page at /. Each worker process loads every run once. "
                    "Environment variables (service/settings.py) set the same options as the flags.",
        epilog="examples:\n  defectlab serve                                   runs/ defaults, 127.0.0.1:8000\n"
               "  defectlab serve --onnx --port 8080                 ONNX Runtime: about 3x the requests/s\n"
               "  DEFECTLAB_API_KEY=secret defectlab serve --host 0.0.0.0\n"
               "  curl -F image=@picture.jpg 'http://127.0.0.1:8000/v1/inspect?heatmap=1'")
    serve.add_argument("--host", default=os.environ.get("DEFECTLAB_HOST", "127.0.0.1"),
                       help="address to bind (default 127.0.0.1: this machine only)")
    serve.add_argument("--port", type=int, default=int(os.environ.get("DEFECTLAB_PORT", "8000")))
    serve.add_argument("--workers", type=int, default=int(os.environ.get("DEFECTLAB_WORKERS", "1")),
                       help="worker processes, each with its own models and cpu_count / workers threads (default "
                            "1: on 2 cores one worker with both beat two with one each, 16.6 vs 11.2 requests/s)")
    serve.add_argument("--runs", nargs="+", default=[], metavar="TASK=PATH", help="run folder of a task")
    serve.add_argument("--runs-root", default=os.environ.get("DEFECTLAB_RUNS_ROOT", "runs"),
                       help="where each task's default run is looked for (default runs)")
    serve.add_argument("--tasks", nargs="+", choices=["classification", "detection", "anomaly"],
                       help="tasks to load (default all three)")
    serve.add_argument("--onnx", action="store_true", default=os.environ.get("DEFECTLAB_ONNX") == "1",
                       help="every model under ONNX Runtime (3-5x faster on a CPU); runs without model.onnx are "
                            "exported first, once, here")
    serve.add_argument("--max-upload-mb", type=float, help="largest request body (default 10)")
    common(serve)
    serve.set_defaults(handler=run_serve)


def run_serve(args) -> int:
    from shared.suite.cli_evaluate import task_pairs
    from shared.suite.inspect import find_runs

    env = {"DEFECTLAB_BIND": f"{args.host}:{args.port}", "DEFECTLAB_WORKERS": str(args.workers),
           "DEFECTLAB_RUNS_ROOT": args.runs_root, "DEFECTLAB_ONNX": "1" if args.onnx else "0"}
    given = task_pairs(args.runs, "--runs")
    if given:
        env["DEFECTLAB_RUNS"] = ",".join(f"{t}={Path(p).resolve()}" for t, p in given.items())
    if args.tasks:
        env["DEFECTLAB_TASKS"] = ",".join(args.tasks)
    if args.max_upload_mb:
        env["DEFECTLAB_MAX_UPLOAD_MB"] = str(args.max_upload_mb)
    os.environ.update(env)
    runs = find_runs(given, args.runs_root, args.tasks or ("classification", "detection", "anomaly"))  # fail here
    if args.onnx:
        from shared.suite import registry

        for task, path in runs.items():
            if not (path / "model.onnx").is_file():
                exported, difference = registry.task(task).export(registry.task(task).load(path))
                print(f"[{task}] exported {exported} (max |framework - ONNX Runtime| {difference:.1e})")
    print(f"defectlab serve: http://{args.host}:{args.port}/ ({args.workers} workers; Ctrl-C stops)", flush=True)
    command = [sys.executable, "-m", "gunicorn", "--config", str(CONF), APP]
    os.execv(sys.executable, command)
    return 0  # not reached
