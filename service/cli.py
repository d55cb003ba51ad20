"""`defectlab serve`: the inspection service under gunicorn (service/gunicorn_conf.py), configured by flags that
set the DEFECTLAB_* variables (service/settings.py), so the command, Docker's CMD and the tests start it alike."""
from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

CONF = Path(__file__).resolve().parent / "gunicorn_conf.py"
APP = "service.asgi:create_asgi_app()"


def examples(flags) -> str:
    """The epilog, its option words made from the registry: an option fixed at start (one the command has no flag
    for) and the request options, as a query."""
    from shared.suite import registry

    from .fields import documented

    fixed = [f"{task}.{name}" for task in registry.names() for name in registry.task(task).predict_options
             if not registry.task(task).predict_options[name].request and f"--{name}" not in flags]
    asked = documented(registry.names())
    plain = [spelling for spelling in asked if "." not in spelling] or list(asked)
    query = "&".join(f"{s}={1 if asked[s][1].type is bool else asked[s][1].default}" for s in plain) or "tasks=TASK"
    start = f"e.g. {fixed[0]}=VALUE; " if fixed else ""
    return ("examples:\n  defectlab serve                                   runs/ defaults, 127.0.0.1:8000\n"
            "  defectlab serve --onnx --port 8080                 ONNX Runtime: about 3x the requests/s\n"
            f"  defectlab serve TASK.OPTION=VALUE ...              every request gets it ({start}see `defectlab "
            "TASK predict --help`)\n"
            "  DEFECTLAB_API_KEY=secret defectlab serve --host 0.0.0.0\n"
            f"  curl -F image=@picture.jpg 'http://127.0.0.1:8000/v1/inspect?{query}'\n"
            "                                                    options of one request (also TASK.OPTION; GET "
            "/openapi.json lists them)")


def register(tasks, common) -> None:
    from shared.suite.cli_inspect import add_run_options

    serve = tasks.add_parser(
        "serve", formatter_class=argparse.RawDescriptionHelpFormatter,
        help="the REST API and web page of the inspection (gunicorn)",
        description="Serve `defectlab inspect` over HTTP: POST /v1/inspect, GET /v1/models, /healthz, /readyz, "
                    "/metrics, /openapi.json and a web page at /. Each worker process loads every run once. "
                    "Prediction options as TASK.OPTION=VALUE words set what every request gets; a task's request "
                    "options may also be set per request, in the query. Environment variables "
                    "(service/settings.py) set the same options as the flags.")
    serve.add_argument("--host", default=os.environ.get("DEFECTLAB_HOST", "127.0.0.1"),
                       help="address to bind (default 127.0.0.1: this machine only)")
    serve.add_argument("--port", type=int, default=int(os.environ.get("DEFECTLAB_PORT", "8000")))
    serve.add_argument("--workers", type=int, default=int(os.environ.get("DEFECTLAB_WORKERS", "1")),
                       help="worker processes, each with its own models and cpu_count / workers threads (default "
                            "1: on 2 cores one worker with both cores answered more requests/s than two with one "
                            "each)")
    # the environment sets the defaults (a container's settings); flags override them
    add_run_options(serve, "load", Path(os.environ.get("DEFECTLAB_RUNS_ROOT", "runs")),
                    shlex.split(os.environ.get("DEFECTLAB_PREDICT", "")),
                    runs=[pair for pair in os.environ.get("DEFECTLAB_RUNS", "").split(",") if "=" in pair],
                    tasks=[t for t in os.environ.get("DEFECTLAB_TASKS", "").split(",") if t])
    serve.add_argument("--onnx", action="store_true", default=os.environ.get("DEFECTLAB_ONNX") == "1",
                       help="every model under ONNX Runtime (3-5x faster on a CPU); runs without model.onnx are "
                            "exported first, once, here")
    serve.add_argument("--max-upload-mb", type=float, help="largest request body (default 10)")
    serve.add_argument("--db", metavar="URL_OR_PATH", default=os.environ.get("DEFECTLAB_DB", ""),
                       help="also store every answer in a results database (a SQLite file path, or a SQLAlchemy URL "
                            "such as postgresql+psycopg://user@host/db for several workers); see `defectlab results`")
    common(serve)
    serve.epilog = examples(serve._option_string_actions)
    serve.set_defaults(handler=run_serve)


def run_serve(args) -> int:
    from shared.suite import calibration
    from shared.suite.cli_inspect import chosen_runs
    from shared.suite.inspect import ensure_onnx, find_runs, member_runs, predict_options

    # a missing run, a malformed option or a missing partner run fails here, in one line, before any worker starts
    runs = chosen_runs(args)
    options = predict_options(args.predict, list(runs))
    from shared.suite.novel import read, split_option

    if split_option(args.predict)[0]:
        read(runs, split_option(args.predict)[0])
    for task, path in runs.items():
        if options.get(task, {}).get("calibration"):  # a missing calibration would stop every worker's boot
            calibration.read(path, options[task]["calibration"])
        for member in member_runs(path, options.get(task, {})):
            find_runs({task: member}, tasks=(task,))
            if args.onnx:
                ensure_onnx(task, member)  # once, here: workers exporting at the same time would race
    if args.db:  # opened (and its tables made) once, here: a wrong URL fails before the workers start
        from shared.store import open_store

        open_store(args.db).close()
    os.environ.update({
        "DEFECTLAB_BIND": f"{args.host}:{args.port}", "DEFECTLAB_WORKERS": str(args.workers),
        "DEFECTLAB_RUNS": ",".join(f"{t}={p.resolve()}" for t, p in runs.items()),
        "DEFECTLAB_TASKS": ",".join(runs), "DEFECTLAB_ONNX": "1" if args.onnx else "0",
        "DEFECTLAB_PREDICT": shlex.join(args.predict),
        **({"DEFECTLAB_MAX_UPLOAD_MB": str(args.max_upload_mb)} if args.max_upload_mb else {}),
        **({"DEFECTLAB_DB": args.db} if args.db else {})})
    print(f"defectlab serve: http://{args.host}:{args.port}/ ({args.workers} workers; Ctrl-C stops)", flush=True)
    command = [sys.executable, "-m", "gunicorn", "--config", str(CONF), APP]
    os.execv(sys.executable, command)
    return 0  # not reached
