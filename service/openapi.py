"""The API's OpenAPI 3 description, as data (served at /openapi.json; a test checks every route is in it)."""

_ERROR = {"description": "a one-line error", "content": {"application/json": {"schema": {
    "type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"]}}}}

SPEC = {
    "openapi": "3.0.3",
    "info": {"title": "defectlab inspection service", "version": "1",
             "description": "Class, boxes and anomaly score of a metal surface picture, from the suite's three models."},
    "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                                  "description": "only when DEFECTLAB_API_KEY is set"}}},
    "security": [{"bearer": []}],  # served without it when no key is set (served_spec)
    "paths": {
        "/v1/inspect": {"post": {
            "summary": "inspect one picture with the loaded models",
            "parameters": [
                {"name": "tasks", "in": "query", "schema": {"type": "string", "example": "classify,detect,anomaly",
                                                            "pattern": "^(classify|detect|anomaly)(,(classify|detect|anomaly))*$"},
                 "description": "comma-separated subset of classify, detect, anomaly (default: every loaded one)"},
                {"name": "conf", "in": "query", "schema": {"type": "number", "minimum": 0, "maximum": 1},
                 "description": "lowest box confidence returned (default: the detector's, 0.25 unless "
                                "`--predict detection.conf=` set another)"},
                {"name": "heatmap", "in": "query", "schema": {"type": "integer", "enum": [0, 1]},
                 "description": "1: add anomaly.heatmap_png, the heatmap over the picture as base64 PNG"},
            ],
            "requestBody": {"required": True, "content": {
                "multipart/form-data": {"schema": {"type": "object", "properties": {
                    "image": {"type": "string", "format": "binary", "minLength": 1}},
                    "required": ["image"], "additionalProperties": False,
                    "description": "the picture alone; the options go in the query, any other field is refused (400)"}},
                "image/*": {"schema": {"type": "string", "format": "binary", "minLength": 1}}}},
            "responses": {
                "200": {"description": "the inspection record", "content": {"application/json": {"schema": {
                    "type": "object", "properties": {
                        "image": {"type": "string"}, "width": {"type": "integer"}, "height": {"type": "integer"},
                        "classification": {"type": "object", "properties": {
                            "class": {"type": "string"}, "confidence": {"type": "number"},
                            "probabilities": {"type": "object", "additionalProperties": {"type": "number"}}}},
                        "detection": {"type": "object", "properties": {"boxes": {"type": "array", "items": {
                            "type": "object", "properties": {k: {"type": "number"} for k in (
                                "confidence", "xmin", "ymin", "xmax", "ymax")} | {"class": {"type": "string"}}}}}},
                        "anomaly": {"type": "object", "properties": {
                            "score": {"type": "number"}, "is_anomalous": {"type": "boolean"},
                            "threshold": {"type": "number"},
                            "peak": {"type": "object", "description": "where the anomaly map is highest, in the "
                                     "picture's pixels", "properties": {"x": {"type": "integer"},
                                                                         "y": {"type": "integer"},
                                                                         "value": {"type": "number"}}},
                            "explanation": {"type": "string"},
                            "heatmap_png": {"type": "string", "format": "byte"}}},
                        "novel": {"type": "boolean"},
                        "models": {"type": "object", "additionalProperties": {"type": "string"}},
                        "timings_ms": {"type": "object", "additionalProperties": {"type": "number"}}}}}}},
                "400": _ERROR, "401": _ERROR, "413": _ERROR, "415": _ERROR, "422": _ERROR}}},
        "/v1/models": {"get": {"summary": "the loaded runs: classes, input size, thresholds, provenance",
                               "responses": {"200": {"description": "models"}, "401": _ERROR}}},
        "/healthz": {"get": {"summary": "the process answers", "security": [], "responses": {"200": {"description": "ok"}}}},
        "/readyz": {"get": {"summary": "the models are loaded", "security": [], "responses": {"200": {"description": "ready"}}}},
        "/metrics": {"get": {"summary": "request count, latency histogram and errors (Prometheus text)",
                             "responses": {"200": {"description": "text/plain exposition"}, "401": _ERROR}}},
        "/openapi.json": {"get": {"summary": "this description", "security": [],
                                  "responses": {"200": {"description": "OpenAPI 3"}}}},
        "/": {"get": {"summary": "the web page", "security": [], "responses": {"200": {"description": "HTML"}}}},
    },
}


def served_spec(api_key: bool) -> dict:
    """The description of this server: without an API key no route asks for one, so the spec says none does."""
    if api_key:
        return SPEC
    return {**SPEC, "security": [], "components": {},
            "paths": {path: {method: {k: v for k, v in operation.items() if k != "security"}
                             for method, operation in methods.items()} for path, methods in SPEC["paths"].items()}}
