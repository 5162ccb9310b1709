"""The simulator's ASGI app: every fake API on one origin, plus `/_simulator/requests`.

Protocol modules add their routes through `build_app(engine, extra_routes=...)`; extra routes are
matched after storage and before fal's queue (whose submit route catches any `POST /a/b/c...`).
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import fal, oxen, published
from .jobs import Engine

ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
# Request headers recorded in the log (by field name): fal's privacy preferences.
_LOGGED_HEADERS = {
    b"x-fal-store-io": "store_io",
    b"x-fal-object-lifecycle-preference": "object_lifecycle",
}


class RequestLogMiddleware:
    """Opens a log entry per request (handlers add fields) and records the answer's status code."""

    def __init__(self, app: ASGIApp, engine: Engine) -> None:
        self.app = app
        self.engine = engine

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/_simulator"):
            await self.app(scope, receive, send)
            return
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True))
        entry = self.engine.log.open(scope["method"], scope["path"], query)
        scope["sim.entry"] = entry
        headers = dict(scope.get("headers") or ())
        self.engine.log.note(entry, host=headers.get(b"host", b"").decode("latin-1"))
        for name, field in _LOGGED_HEADERS.items():  # what privacy settings send, for tests to see
            if name in headers:
                self.engine.log.note(entry, **{field: headers[name].decode("latin-1")})

        async def send_logged(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.engine.log.note(entry, status=message["status"])
            await send(message)

        await self.app(scope, receive, send_logged)


async def _requests(request: Request) -> Response:
    engine: Engine = request.app.state.engine
    if request.method == "DELETE":
        engine.log.clear()
        return Response(status_code=204)
    return JSONResponse(engine.log.entries())


async def _hold(request: Request) -> Response:
    """`PUT {"until": <epoch seconds or null>}`: no job ends before then (see `Engine.hold_until`)."""
    engine: Engine = request.app.state.engine
    until = (await request.json()).get("until")
    engine.hold_until = None if until is None else float(until)
    return Response(status_code=204)


def build_app(engine: Engine, extra_routes: Sequence[BaseRoute] = ()) -> Starlette:
    routes: list[BaseRoute] = [
        Route("/_simulator/requests", _requests, methods=["GET", "DELETE"]),
        Route("/_simulator/hold", _hold, methods=["PUT"]),
        *fal.storage_routes(),
        *oxen.routes(),
        *published.routes(),
        *extra_routes,
        *fal.queue_routes(),
        Route("/{rest:path}", fal.not_found, methods=ALL_METHODS),
    ]
    app = Starlette(routes=routes)
    app.state.engine = engine
    app.add_middleware(RequestLogMiddleware, engine=engine)
    return app
