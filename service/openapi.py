"""The API's OpenAPI 3 description (served at /openapi.json; a test checks every route is in it), made from the
registry when asked: the `tasks` choices are the tasks' names and aliases, each request option of a task is a query
parameter typed and explained by its Option, and each task's part of the answer is its spec's
record_schema. A task registered at run time appears in it."""
from __future__ import annotations

import json
import re

from shared.suite import registry

from .fields import TASKS, documented, task_names

_ERROR = {"description": "a one-line error", "content": {"application/json": {"schema": {
    "type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"]}}}}
_TYPES = {bool: "boolean", int: "integer", float: "number", str: "string"}


def __getattr__(name: str):
    """`SPEC`: the description of every registered task, made when read."""
    if name == "SPEC":
        return spec()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def option_fields(tasks, served: dict | None = None) -> list[dict]:
    """`tasks` and one parameter per request option: plain where one task has it, TASK.OPTION always; the default
    is the served one (`--predict TASK.OPTION=VALUE` at start), else the Option's."""
    names = task_names(tasks)
    choice = "|".join(re.escape(n) for n in names)
    fields = [{"name": TASKS, "in": "query", "schema": {"type": "string", "example": ",".join(names[:len(tasks)]),
                                                         "pattern": f"^({choice})(,({choice}))*$"},
               "description": f"comma-separated subset of {', '.join(names)} (default: every loaded one)"}]
    for spelling, (task, option) in documented(tasks).items():
        default = (served or {}).get(task, {}).get(option.name, option.default)
        schema = {"type": _TYPES[option.type], **({"default": default} if default not in ("", None) else {})}
        if option.choices:
            schema["enum"] = list(option.choices)
        schema.update({k: getattr(option, k) for k in ("minimum", "maximum") if getattr(option, k) is not None})
        same = "" if "." in spelling else f" The same as {task}.{option.name}, which wins when both are given."
        fields.append({"name": spelling, "in": "query", "schema": schema,
                       "description": f"{task}: {option.help} (served default {json.dumps(default)}; `--predict "
                                      f"{task}.{option.name}=VALUE` sets it at start).{same}"})
    return fields


def spec(tasks=None, served: dict | None = None) -> dict:
    """The description of a service loading `tasks` (default: every registered one) with the prediction options
    `served` ({task: {option: value}}, given at start)."""
    tasks = list(tasks or registry.names())
    specs = {task: registry.task(task) for task in tasks}
    fields = option_fields(tasks, served)
    return {
        "openapi": "3.0.3",
        "info": {"title": "defectlab inspection service", "version": "1",
                 "description": "A metal surface picture inspected by the suite's models: "
                                + "; ".join(f"{s.title.lower()}: {s.help}" for s in specs.values()) + "."},
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                                      "description": "only when DEFECTLAB_API_KEY is set"}}},
        "security": [{"bearer": []}],  # served without it when no key is set (served_spec)
        "paths": {
            "/v1/inspect": {"post": {
                "summary": "inspect one picture with the loaded models",
                "parameters": fields,
                "requestBody": {"required": True, "content": {
                    "multipart/form-data": {"schema": {"type": "object", "properties": {
                        "image": {"type": "string", "format": "binary", "minLength": 1}},
                        "required": ["image"], "additionalProperties": False,
                        "description": "the picture; the query's options may come as form fields instead (one "
                                       "given in both is refused, 400, as is any other field)"}},
                    "image/*": {"schema": {"type": "string", "format": "binary", "minLength": 1}}}},
                "responses": {
                    "200": {"description": "the inspection record", "content": {"application/json": {"schema": {
                        "type": "object", "properties": {
                            "image": {"type": "string"}, "width": {"type": "integer"}, "height": {"type": "integer"},
                            **{task: s.record_schema for task, s in specs.items()},
                            "novel": {"type": "boolean"},
                            "novel_score": {"type": "number", "description": "under a novel calibration: the "
                                            "largest of the scoring voters' scores (a texture distance, the "
                                            "classifier's energy), each standardised for the class named"},
                            "novel_calibration": {"type": "string", "description": "the novel calibration in "
                                                  "force"},
                            "models": {"type": "object", "additionalProperties": {"type": "string"}},
                            "timings_ms": {"type": "object", "additionalProperties": {"type": "number"}}}}}}},
                    "400": _ERROR, "401": _ERROR, "413": _ERROR, "415": _ERROR, "422": _ERROR}}},
            "/v1/models": {"get": {"summary": "the loaded runs: classes, input size, thresholds, provenance",
                                   "responses": {"200": {"description": "models"}, "401": _ERROR}}},
            "/healthz": {"get": {"summary": "the process answers", "security": [],
                                 "responses": {"200": {"description": "ok"}}}},
            "/readyz": {"get": {"summary": "the models are loaded", "security": [],
                                "responses": {"200": {"description": "ready"}}}},
            "/metrics": {"get": {"summary": "request count, latency histogram and errors (Prometheus text)",
                                 "responses": {"200": {"description": "text/plain exposition"}, "401": _ERROR}}},
            "/openapi.json": {"get": {"summary": "this description", "security": [],
                                      "responses": {"200": {"description": "OpenAPI 3"}}}},
            "/": {"get": {"summary": "the web page", "security": [], "responses": {"200": {"description": "HTML"}}}},
        },
    }


def served_spec(api_key: bool, tasks=None, served: dict | None = None) -> dict:
    """The description of this server: without an API key no route asks for one, so the spec says none does."""
    described = spec(tasks, served)
    if api_key:
        return described
    return {**described, "security": [], "components": {},
            "paths": {path: {method: {k: v for k, v in operation.items() if k != "security"}
                             for method, operation in methods.items()} for path, methods in described["paths"].items()}}
