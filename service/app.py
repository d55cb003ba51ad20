"""The inspection service: `create_app()` loads every task's run once per process and serves the suite's Inspector
(shared.suite.inspect: the same decoding, predictors and `novel` rule as `defectlab inspect`) over HTTP.

  POST /v1/inspect   multipart field `image`, or the raw body with an image/* content type; options in the query
                     or as form fields: `tasks` (names or aliases) and each loaded task's request options (its
                     spec's `Option.request`), `TASK.OPTION` or the plain `OPTION` where one task has it
  GET  /v1/models    names, prediction options, classes, input size, thresholds, training provenance of the runs,
                     the calibrations in force and their drift summaries; the novel rule (and its calibration)
  GET  /healthz      the process answers          GET /readyz   the models are loaded
  GET  /metrics      request count, latency histogram, errors, drift against a calibration (Prometheus text)
  GET  /openapi.json the API description (open)   GET /          the web page
Run it with `defectlab serve` (gunicorn's asyncio worker in front, service/asgi.py; one model set per worker
process, one request at a time through it)."""
from __future__ import annotations

import hmac
import json
import sys
import threading
import time
from pathlib import Path

from flask import Flask, Response, jsonify, request, send_from_directory
from werkzeug.exceptions import HTTPException

from shared.suite.errors import DataError

from . import fields, metrics
from .openapi import served_spec
from .settings import Settings

DRIFT_EVERY = 1.0  # seconds between two refreshes of the drift gauges after requests
MAX_FORM_PARTS = 16  # the form has an image and a few fields; werkzeug parses at most this many parts
OPEN_ROUTES = {"/healthz", "/readyz", "/", "/openapi.json"}  # static page and description; API calls carry the key
STATIC = Path(__file__).resolve().parent / "static"


class ApiError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


class Models:
    """Every task's run and predictor, loaded once (safe loaders only; nothing is loaded from a request)."""

    def __init__(self, settings: Settings):
        from shared.suite import registry
        from shared.suite.inspect import find_runs, member_runs, novel_rule, predict_options, predictor_of
        from shared.suite.novel import load, split_option

        self.paths = find_runs(settings.runs, settings.runs_root, settings.tasks)
        self.options = predict_options(settings.predict, settings.tasks)
        self.runs = {task: registry.task(task).load(path) for task, path in self.paths.items()}
        self.predictors = {task: predictor_of(run, self.options.get(task, {}), settings.onnx)
                           for task, run in self.runs.items()}
        novel = split_option(settings.predict)[0]  # the novel calibration in force, if any
        scoring = {t: {**self.options.get(t, {}), **({"onnx": True} if settings.onnx else {})} for t in self.runs}
        self.novel = novel_rule(load(self.paths, novel, scoring, self.runs) if novel else None)
        # a record names its runs; fused runs as the benchmarks name them, RUN+RUN2
        self.names = {task: "+".join(p.name for p in member_runs(run.path, self.options.get(task, {})))
                      for task, run in self.runs.items()}
        self.lock = threading.Lock()  # one request at a time through the predictors (ultralytics' are stateful)
        self.fields = fields.request_options(self.predictors)  # what a request may set, by spelling
        self.onnx, self.store = settings.onnx, None
        self.drift_at, self.holds = float("-inf"), {}  # when the drift gauges were set; each task's last verdict
        self.refresh_drift(force=True)
        if settings.db:  # the results database, as `defectlab inspect --db` writes it
            from shared.store import open_store

            self.store = open_store(settings.db)

    def keep(self, record: dict, data: bytes, tasks: list[str], changes: dict) -> None:
        """The answer into the results database, under the runs and this request's options (they change answers:
        a picture asked twice alike is one row)."""
        import hashlib

        from shared.store import describe_runs

        options = {t: {**self.options.get(t, {}), **changes.get(t, {})} for t in tasks}
        self.store.write([{**record, "sha256": hashlib.sha256(data).hexdigest(), "size_bytes": len(data)}],
                         describe_runs({t: self.paths[t] for t in tasks}, options, self.onnx))

    def refresh_drift(self, force: bool = False) -> None:
        """The drift gauges of the tasks under a calibration, at most once a second (a summary costs about 2 ms:
        not on every request), and a warning line in the log when a calibration stops holding, or holds again."""
        now = time.monotonic()
        if not force and now - self.drift_at < DRIFT_EVERY:
            return
        self.drift_at = now
        watched = {task: predictor.watch if hasattr(predictor, "watch") else None
                   for task, predictor in self.predictors.items()}
        if self.novel.get("calibrated") is not None:
            watched["novel"] = self.novel["calibrated"].watcher.summary
        for task, watch in watched.items():
            found = watch() if watch is not None else None
            if found is None:
                continue
            metrics.drift(task, found)
            if found["holds"] is not None and found["holds"] != self.holds.get(task, True):
                said = found["warning"] if not found["holds"] else f"calibration {found['calibration']!r} holds again"
                print(f"defectlab serve: {'warning' if not found['holds'] else 'note'}: {task}: {said}",
                      file=sys.stderr, flush=True)
            if found["holds"] is not None:
                self.holds[task] = found["holds"]

    def describe(self) -> list[dict]:
        out = []
        for task, run in self.runs.items():
            data = json.loads((run.path / "data.json").read_text())
            entry = {"task": task, "run": self.names[task], "predict_options": self.options.get(task, {}),
                     "classes": list(run.classes),
                     "image_size": run.recipe.image_size, "recipe": run.recipe.to_dict(),
                     "provenance": {k: data.get(k) for k in ("split", "data_fingerprint", "dataset")}}
            if getattr(run, "threshold", None) is not None:
                entry["threshold"] = float(run.threshold)
            calibrated = getattr(self.predictors[task], "calibrated", None)
            if calibrated:  # its threshold is the one in force
                entry["threshold"] = float(calibrated["threshold"])
                entry["calibration"] = {**calibrated, "drift": self.predictors[task].watch()}
            training = run.path / "training.json"
            if training.is_file():
                entry["training"] = json.loads(training.read_text())
            out.append(entry)
        return out


def create_app(settings: Settings | None = None) -> Flask:
    from shared.suite import console

    console.setup()  # framework guard and a quiet console before any model loads
    settings = settings or Settings.from_env()
    models = Models(settings)
    app = Flask(__name__, static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = int(settings.max_upload_mb * 2**20)
    app.config["MAX_FORM_PARTS"] = max(MAX_FORM_PARTS, 2 + len(models.fields))  # image, tasks, every option
    app.extensions["defectlab"] = models

    @app.before_request
    def start_and_guard():
        request.environ["defectlab.started"] = time.perf_counter()
        if settings.api_key and request.path not in OPEN_ROUTES:
            given = request.headers.get("Authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {settings.api_key}".encode()):
                raise ApiError(401, "missing or wrong API key: send `Authorization: Bearer <key>`")

    @app.after_request
    def count(response):
        started = request.environ.get("defectlab.started")
        route = request.url_rule.rule if request.url_rule else "unmatched"
        if started is not None:
            metrics.observe(route, response.status_code, time.perf_counter() - started)
        return response

    @app.errorhandler(ApiError)
    def api_error(error: ApiError):
        return jsonify(error=error.message), error.status

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        message = error.description
        if error.code == 413:  # werkzeug raises the same error for a long body, many form parts or a long field
            too_long = (request.content_length or 0) > app.config["MAX_CONTENT_LENGTH"]
            message = (f"request body larger than {settings.max_upload_mb:g} MB" if too_long else
                       f"multipart form too large: more than {MAX_FORM_PARTS} parts or a text field over "
                       f"{app.config['MAX_FORM_MEMORY_SIZE'] // 1000} kB (send the field `image` and a few options)")
        # werkzeug's own headers stay (405 lists the allowed methods in Allow); the body becomes JSON
        kept = [(k, v) for k, v in error.get_headers() if k.lower() != "content-type"]
        return jsonify(error=message), error.code, kept

    @app.get("/healthz")
    def healthz():
        return jsonify(status="ok")

    @app.get("/readyz")
    def readyz():
        return jsonify(status="ready", tasks=list(models.predictors))

    @app.get("/v1/models")
    def list_models():
        calibrated = models.novel.get("calibrated")
        novel = {"rule": models.novel["rule"], "voters": models.novel["voters"],
                 "calibration": calibrated.describe() if calibrated is not None else None}
        return jsonify(models=models.describe(), novel=novel, onnx=settings.onnx)

    @app.get("/openapi.json")
    def openapi():
        return jsonify(served_spec(bool(settings.api_key), list(models.predictors), models.options))

    @app.get("/metrics")
    def prometheus():
        models.refresh_drift(force=True)
        body, content_type = metrics.exposition()
        return Response(body, content_type=content_type)

    @app.get("/")
    def page():
        return send_from_directory(STATIC, "index.html")

    @app.post("/v1/inspect")
    def inspect():
        given = _fields(models)
        data, name = _upload()
        tasks = _tasks(models, given.pop(fields.TASKS, None))
        try:
            changes = fields.changes(given, list(models.predictors))
        except ValueError as error:
            raise ApiError(400, str(error)) from None
        from shared.datasets.images import decode_bytes

        started = time.perf_counter()
        try:
            image = decode_bytes(data, name)
        except DataError as error:
            raise ApiError(422, str(error)) from None
        decoded = time.perf_counter()
        record = _inspect(models, image, tasks, changes)
        body = {"image": name, "width": int(image.shape[1]), "height": int(image.shape[0])}
        body.update({task: _public(record[task]) for task in tasks})
        body.update({k: record[k] for k in ("novel", "novel_score", "novel_calibration") if k in record})
        body["models"] = {task: models.names[task] for task in tasks}
        body["timings_ms"] = {"decode": round((decoded - started) * 1000, 2),
                              **{task: round(s * 1000, 2) for task, s in record["_seconds"].items()},
                              "total": round((time.perf_counter() - started) * 1000, 2)}
        if models.store is not None:
            models.keep(body, data, tasks, changes)
        models.refresh_drift()
        return jsonify(body)

    return app


def _fields(models: Models) -> dict[str, str]:
    """The request's options, from the query and the form fields: each given once; a misspelt one is an error,
    not silently the default."""
    names = [*request.args, *(n for n in request.form if n != "image")]  # an `image` text field: _upload says
    given = {}
    for name in dict.fromkeys(names):
        values = request.args.getlist(name) + request.form.getlist(name)
        if len(values) > 1:
            raise ApiError(400, f"{name}: given {len(values)} times; give it once")
        given[name] = values[0]
    taken = {fields.TASKS, *models.fields}
    unknown = [n for n in given if fields.spelling_of(n) not in taken] + [f for f in request.files if f != "image"]
    if unknown:
        shown = "; ".join(fields.unknown_reason(u, list(models.predictors)) for u in unknown[:5])
        more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        described = [fields.TASKS, *fields.documented(list(models.predictors))]
        raise ApiError(400, f"{shown}{more}: the body takes the picture (multipart field `image`), the query or the "
                            f"form {', '.join(described)} (TASK also as its alias)")
    return given


def _upload() -> tuple[bytes, str]:
    if request.files:
        if "image" not in request.files:
            raise ApiError(400, f"multipart field `image` missing (got {', '.join(request.files)})")
        upload = request.files["image"]
        data = upload.read()
        if not data:
            raise ApiError(400, f"{upload.filename or 'image'}: empty file, no image")
        return data, upload.filename or "image"
    if request.mimetype == "multipart/form-data":
        raise ApiError(400, "multipart field `image` missing")
    if not request.mimetype.startswith("image/") and request.mimetype != "application/octet-stream":
        raise ApiError(415, f"content type {request.mimetype or '(none)'} is not an image: send multipart field "
                            "`image` or a body with an image/* content type")
    data = request.get_data(cache=False)
    if not data:
        raise ApiError(400, "empty request body: no image")
    return data, "body"


def _tasks(models: Models, asked: str | None) -> list[str]:
    """The asked tasks, by name or alias, in the loaded order (all when not asked)."""
    from shared.suite import registry

    if asked is None:  # given but empty is an error below, not "every task"
        return list(models.predictors)
    names = [t.strip() for t in asked.split(",") if t.strip()]
    known = {name: registry.canonical(name) for name in fields.task_names(registry.names())}
    unknown = [t for t in names if t not in known]
    if unknown or not names:
        raise ApiError(400, f"tasks: unknown {', '.join(unknown) or '(none)'}; any of "
                            f"{', '.join(fields.task_names(list(models.predictors)))}")
    tasks = [known[t] for t in names]
    missing = [t for t in dict.fromkeys(tasks) if t not in models.predictors]
    if missing:
        raise ApiError(400, f"tasks: {', '.join(missing)} not loaded by this service")
    return [t for t in models.predictors if t in tasks]


def _inspect(models: Models, image, tasks: list[str], changes: dict) -> dict:
    """The suite's Inspector on one decoded picture with the asked tasks, each predictor a view with this request's
    options (the shared predictors never change), under the process's lock."""
    from shared.suite.inspect import Inspector

    views = {t: models.predictors[t].view(**changes.get(t, {})) for t in tasks}
    inspector = Inspector(views, batch_size=1, rule=models.novel)
    with models.lock:
        record, _ = next(inspector.iter_pairs([image]))
    if "error" in record:
        raise ApiError(422, record["error"])
    record["_seconds"] = inspector.predict_seconds
    return record


def _public(value: dict) -> dict:
    return {k: v for k, v in value.items() if not k.startswith("_")}
