"""The service's front for gunicorn's asyncio worker: connections are read on the event loop, so a slow or idle
client holds a coroutine, not the models; each whole request is then handed to the Flask app (asgiref's WsgiToAsgi),
which asgiref runs in one thread, so the model set still sees one request at a time.

A body is read in full before the app runs, so its size is checked here, while it arrives: a declared or streamed
body over the limit is answered 413 without buffering the rest."""
from __future__ import annotations

import json

from asgiref.wsgi import WsgiToAsgi


async def _answer(send, status: int, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """Refuses a request body over `max_bytes` (413) as soon as it is declared or read, then replays the body it
    read to the wrapped app."""

    def __init__(self, app, max_bytes: int, max_mb: float):
        self.app, self.max_bytes, self.max_mb = app, max_bytes, max_mb

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        too_large = f"request body larger than {self.max_mb:g} MB"
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            return await _answer(send, 413, too_large)
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None  # the client left: nothing to answer
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                return await _answer(send, 413, too_large)
            chunks.append(chunk)
            if not message.get("more_body"):
                break
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        return await self.app(scope, replay, send)


def create_asgi_app(settings=None):
    """The Flask app (service.app.create_app) behind the body limit, as an ASGI application."""
    from .app import create_app

    app = create_app(settings)
    limit = app.config["MAX_CONTENT_LENGTH"]
    return BodyLimit(WsgiToAsgi(app), limit, limit / 2**20)
