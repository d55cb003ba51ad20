"""The inspection service: `create_app()` loads every task's run once per process and serves the suite's Inspector
(shared.suite.inspect: the same decoding, predictors and `novel` rule as `defectlab inspect`) over HTTP.

  POST /v1/inspect   multipart field `image`, or the raw body with an image/* content type; query options
                     `tasks` (any of classify,detect,anomaly), `conf` (box confidence floor), `heatmap` (1: PNG)
  GET  /v1/models    names, prediction options, classes, input size, thresholds, training provenance of the runs
  GET  /healthz      the process answers          GET /readyz   the models are loaded
  GET  /metrics      request count, latency histogram, errors (Prometheus text)
  GET  /openapi.json the API description (open)   GET /          the web page
Run it with `defectlab serve` (gunicorn's asyncio worker in front, service/asgi.py; one model set per worker
process, one request at a time through it)."""
from __future__ import annotations

import base64
import hmac
import io
import json
import threading
import time
from pathlib import Path

from flask import Flask, Response, jsonify, request, send_from_directory
from werkzeug.exceptions import HTTPException

from shared.suite.errors import DataError

from . import metrics
from .openapi import served_spec
from .settings import Settings

API_TASKS = {"classify": "classification", "detect": "detection", "anomaly": "anomaly"}
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
        from shared.suite.inspect import find_runs, member_runs, predict_options, predictor_of

        self.paths = find_runs(settings.runs, settings.runs_root, settings.tasks)
        self.options = predict_options(settings.predict, settings.tasks)
        self.runs = {task: registry.task(task).load(path) for task, path in self.paths.items()}
        self.predictors = {task: predictor_of(run, self.options.get(task, {}), settings.onnx)
                           for task, run in self.runs.items()}
        # a record names its runs; fused detectors as the benchmarks do, RUN+RUN2
        self.names = {task: "+".join(p.name for p in member_runs(run.path, self.options.get(task, {})))
                      for task, run in self.runs.items()}
        self.lock = threading.Lock()  # one request at a time through the predictors (ultralytics' are stateful)

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
    app.config["MAX_FORM_PARTS"] = MAX_FORM_PARTS
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
        return jsonify(models=models.describe(), onnx=settings.onnx)

    @app.get("/openapi.json")
    def openapi():
        return jsonify(served_spec(bool(settings.api_key)))

    @app.get("/metrics")
    def prometheus():
        body, content_type = metrics.exposition()
        return Response(body, content_type=content_type)

    @app.get("/")
    def page():
        return send_from_directory(STATIC, "index.html")

    @app.post("/v1/inspect")
    def inspect():
        _known_fields()
        data, name = _upload()
        tasks = _tasks(models)
        conf = _conf()
        heatmap = _heatmap()
        from shared.datasets.images import decode_bytes

        started = time.perf_counter()
        try:
            image = decode_bytes(data, name)
        except DataError as error:
            raise ApiError(422, str(error)) from None
        decoded = time.perf_counter()
        record = _inspect(models, image, tasks, conf)
        body = {"image": name, "width": int(image.shape[1]), "height": int(image.shape[0])}
        body.update({task: _public(record[task]) for task in tasks})
        if "novel" in record:
            body["novel"] = record["novel"]
        if heatmap and "anomaly" in tasks:
            picture = models.predictors["anomaly"].heatmap(record["anomaly"], image)
            if picture is not None:
                buffer = io.BytesIO()
                picture.save(buffer, format="PNG")
                body["anomaly"]["heatmap_png"] = base64.b64encode(buffer.getvalue()).decode()
        body["models"] = {task: models.names[task] for task in tasks}
        body["timings_ms"] = {"decode": round((decoded - started) * 1000, 2),
                              **{task: round(s * 1000, 2) for task, s in record["_seconds"].items()},
                              "total": round((time.perf_counter() - started) * 1000, 2)}
        return jsonify(body)

    return app


OPTIONS = ("tasks", "conf", "heatmap")  # what a request may set, in its query


def _known_fields() -> None:
    """A misspelt option is an error, not silently the default."""
    unknown = sorted((set(request.args) - set(OPTIONS)) | ((set(request.form) | set(request.files)) - {"image"}))
    if unknown:
        shown = ", ".join(repr(u) for u in unknown[:5]) + (" ..." if len(unknown) > 5 else "")
        raise ApiError(400, f"unknown field {shown}: the body takes the picture (multipart field `image`) and the "
                            f"query {', '.join(OPTIONS)}")


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


def _tasks(models: Models) -> list[str]:
    asked = _option("tasks")
    if asked is None:  # given but empty is an error below, not "every task"
        return list(models.predictors)
    names = [t.strip() for t in asked.split(",") if t.strip()]
    unknown = [t for t in names if t not in API_TASKS]
    if unknown or not names:
        raise ApiError(400, f"tasks: unknown {', '.join(unknown) or '(none)'}; any of {', '.join(API_TASKS)}")
    tasks = [API_TASKS[t] for t in names]
    missing = [t for t in tasks if t not in models.predictors]
    if missing:
        raise ApiError(400, f"tasks: {', '.join(missing)} not loaded by this service")
    return [t for t in models.predictors if t in tasks]


def _option(name: str) -> str | None:
    """A query option, given once at most."""
    given = request.args.getlist(name)
    if len(given) > 1:
        raise ApiError(400, f"{name}: given {len(given)} times; give it once")
    return given[0] if given else None


def _heatmap() -> bool:
    value = _option("heatmap") or "0"
    if value not in ("0", "1"):
        raise ApiError(400, f"heatmap: {value!r} is not 0 or 1")
    return value == "1"


def _conf() -> float | None:
    value = _option("conf")
    if value is None:
        return None
    try:
        conf = float(value)
    except ValueError:
        raise ApiError(400, f"conf: {value!r} is not a number") from None
    if not 0 <= conf <= 1:
        raise ApiError(400, f"conf: {conf} is outside 0..1")
    return conf


def _inspect(models: Models, image, tasks: list[str], conf: float | None) -> dict:
    """The suite's Inspector on one decoded picture with the asked tasks, under the process's lock."""
    from shared.suite.inspect import Inspector

    with models.lock:
        detector = models.predictors.get("detection")
        default = getattr(detector, "conf", None)
        if detector is not None and conf is not None:
            detector.conf = conf
        try:
            inspector = Inspector({t: models.predictors[t] for t in tasks}, batch_size=1)
            record, _ = next(inspector.iter_pairs([image]))
        finally:
            if detector is not None:
                detector.conf = default
    if "error" in record:
        raise ApiError(422, record["error"])
    record["_seconds"] = inspector.predict_seconds
    return record


def _public(value: dict) -> dict:
    return {k: v for k, v in value.items() if not k.startswith("_")}
