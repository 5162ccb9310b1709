"""Serving the MCP server over streamable HTTP, safely by default.

`seedance-mcp serve --transport http` lands here. The MCP endpoint is `/mcp`, answered as server-sent
event streams (never plain JSON) so progress notifications reach the client while a video renders.

Two locks on the door:
- DNS-rebinding protection: only Host and Origin headers naming the address we are bound to (plus any
  names the user adds) are served, so a web page cannot reach a loopback server through a hostile DNS name.
- A bearer token (`SEEDANCE_HTTP_TOKEN`), compared in constant time. It is required when the server is
  reachable from other machines: anyone who can call `generate_video` spends the user's credit. A token
  shorter than `MIN_TOKEN_LENGTH` is accepted with a warning.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import re
import socket
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

from ..errors import ConfigError

if TYPE_CHECKING:
    from mcp.server import MCPServer
    from mcp.server.transport_security import TransportSecuritySettings
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger(__name__)

MCP_PATH: Final = "/mcp"
TOKEN_ENV: Final = "SEEDANCE_HTTP_TOKEN"  # noqa: S105 - a variable name, not a secret
# Below this length a token is guessable by brute force over a LAN in reasonable time.
MIN_TOKEN_LENGTH: Final = 16
# Tool calls hold their SSE stream open while they wait (up to SEEDANCE_WAIT_SECONDS); on Ctrl-C
# give them a moment, not a minute.
GRACEFUL_SHUTDOWN_SECONDS: Final = 5

_LOOPBACK_NAMES: Final = ("127.0.0.1", "localhost", "[::1]")
_WILDCARD_HOSTS: Final = frozenset({"", "0.0.0.0", "::", "[::]"})  # noqa: S104 - recognising, not binding


def is_loopback(host: str) -> bool:
    """True when `host` only accepts connections from this machine."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name may resolve to anything


def check_exposure(host: str, token: str | None) -> None:
    """Refuse to serve other machines without a token; say how to fix it."""
    if not is_loopback(host) and not token:
        raise ConfigError(
            f"Refusing to serve MCP over HTTP on {host} without a token: anyone who can reach this port "
            f"could generate videos on your account. Set {TOKEN_ENV} to a long random secret (for example "
            'the output of `python -c "import secrets; print(secrets.token_urlsafe(32))"`) and have clients '
            "send `Authorization: Bearer <token>`, or bind to 127.0.0.1."
        )


def security_settings(host: str, port: int, allowed_hosts: Sequence[str] = ()) -> TransportSecuritySettings:
    """Host/Origin allow-lists for a server bound to `host:port`.

    `allowed_hosts` adds names clients use to reach us (a LAN name, a reverse proxy's host), each
    `name` or `name:port`; a bare name is accepted on the bound port and, behind a proxy, without one.
    """
    from mcp.server.transport_security import TransportSecuritySettings

    bare = host.strip("[]")
    if host in _WILDCARD_HOSTS:
        names = [*_LOOPBACK_NAMES, socket.gethostname(), socket.getfqdn()]
    else:
        names = [f"[{bare}]" if ":" in bare else bare]
        if is_loopback(host):
            names += _LOOPBACK_NAMES
    hosts = [f"{name}:{port}" for name in dict.fromkeys(names)]
    for extra in allowed_hosts:
        extra = extra.strip()
        if not extra:
            continue
        has_port = extra.rsplit(":", 1)[-1].isdigit() and not extra.endswith("]")
        hosts += [extra] if has_port else [extra, f"{extra}:{port}"]
    hosts = list(dict.fromkeys(hosts))
    origins = [f"{scheme}://{h}" for h in hosts for scheme in ("http", "https")]
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins
    )


# 403, not 401: MCP clients answer a 401 by starting OAuth discovery (the Inspector: "Interactive OAuth
# requires a TTY"), which this server does not offer; a 403 with this body is shown to the user as is.
REFUSAL_STATUS: Final = 403
REFUSAL_BODY: Final = (
    b'{"error": "invalid_token", "error_description": "wrong or missing token: this server takes the '
    b"static bearer token set in SEEDANCE_HTTP_TOKEN (not OAuth); send the header "
    b'Authorization: Bearer <token>"}'
)

# Answered without the bearer token: a load balancer's health probe, and fal's webhooks (which carry
# their own per-job token in the path and can only wake a job; see server.webhooks).
OPEN_PATHS: Final = ("/healthz",)
OPEN_PREFIXES: Final = ("/webhooks/fal/",)


def _open_path(path: str) -> bool:
    return path in OPEN_PATHS or path.startswith(OPEN_PREFIXES)


class _HideWebhookTokens(logging.Filter):
    """Access-log lines show `/webhooks/fal/…`, never a job's token (it is that job's key to wake it)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and any(isinstance(a, str) and WEBHOOK_PATH in a for a in args):
            record.args = tuple(_hide_token(a) if isinstance(a, str) else a for a in args)
        elif isinstance(record.msg, str) and WEBHOOK_PATH in record.msg:
            record.msg = _hide_token(record.msg)
        return True


WEBHOOK_PATH: Final = "/webhooks/fal/"
HIDE_WEBHOOK_TOKENS: Final = _HideWebhookTokens()


def _hide_token(text: str) -> str:
    return re.sub(r"(/webhooks/fal/)[^\s\"?]*", r"\1…", text)


class BearerTokenMiddleware:
    """Refuses any HTTP request without `Authorization: Bearer <token>` (constant-time compare) with a
    403 whose body says the token is wrong or missing."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self._expected = token.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _open_path(scope["path"]) or self._authorized(scope):
            await self.app(scope, receive, send)
            return
        await send(
            {
                "type": "http.response.start",
                "status": REFUSAL_STATUS,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(REFUSAL_BODY)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": REFUSAL_BODY})

    def _authorized(self, scope: Scope) -> bool:
        for name, value in scope.get("headers", ()):
            if name == b"authorization":
                scheme, _, credentials = bytes(value).strip().partition(b" ")
                # Compare even on a wrong scheme so timing says nothing about which part failed.
                matches = hmac.compare_digest(credentials.strip(), self._expected)
                return matches and scheme.lower() == b"bearer"
        return False


MISDIRECTED_STATUS: Final = 421  # what the SDK's DNS-rebinding guard answers an unknown Host header


class HostHintMiddleware:
    """Gives the SDK's bare "421 Invalid Host header" its fix: the option that admits the name."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refused = False

        async def hinted(message: Message) -> None:
            nonlocal refused
            if message["type"] == "http.response.start" and message["status"] == MISDIRECTED_STATUS:
                refused = True
                body = _host_hint(scope)
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"content-length"]
                headers.append((b"content-length", str(len(body)).encode()))
                await send({**message, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
            if not refused:  # the SDK's own body of a 421 is replaced above
                await send(message)

        await self.app(scope, receive, hinted)


def _host_hint(scope: Scope) -> bytes:
    given = next((bytes(v) for k, v in scope.get("headers", ()) if k == b"host"), b"")
    name = "".join(c for c in given.decode("latin-1")[:100] if c.isprintable()) or "NAME"
    return (
        f"Invalid Host header {name!r}: this server answers only to the names it was started with. If "
        f"clients reach it as {name}, restart it with --allowed-host {name} (repeatable), or set "
        f"SEEDANCE_HTTP_ALLOWED_HOSTS={name}.\n"
    ).encode()


def create_http_app(
    server: MCPServer[Any],
    *,
    host: str,
    port: int,
    token: str | None,
    stateless: bool = False,
    allowed_hosts: Sequence[str] = (),
) -> ASGIApp:
    """The ASGI app serving `server` at `/mcp` for clients reaching us at `host:port`."""
    check_exposure(host, token)
    logging.getLogger("uvicorn.access").addFilter(HIDE_WEBHOOK_TOKENS)  # once: the same filter object
    if token and len(token) < MIN_TOKEN_LENGTH:
        logger.warning(
            "%s is only %d characters: it can be guessed over a network. Use at least %d random characters, "
            'e.g. python3 -c "import secrets; print(secrets.token_urlsafe(32))"',
            TOKEN_ENV,
            len(token),
            MIN_TOKEN_LENGTH,
        )
    app: ASGIApp = server.streamable_http_app(
        streamable_http_path=MCP_PATH,
        json_response=False,  # SSE answers, so progress notifications flow during a call
        stateless_http=stateless,
        transport_security=security_settings(host, port, allowed_hosts),
        host=host,
    )
    app = HostHintMiddleware(app)
    if token:
        app = BearerTokenMiddleware(app, token)
    return app


def _bind(host: str, port: int) -> socket.socket:
    bare = host.strip("[]") or "0.0.0.0"  # noqa: S104 - "" means every interface, as uvicorn reads it
    if bare.lower() == "localhost":
        bare = "127.0.0.1"  # "localhost" may resolve to ::1 first, where clients dialling 127.0.0.1 miss us
    family, _, _, _, address = socket.getaddrinfo(
        bare, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    try:
        return socket.create_server(address, family=family)
    except OSError as exc:
        raise ConfigError(
            f"Cannot listen on {host}:{port}: {exc.strerror or exc}. Choose another --port."
        ) from None


async def serve_http(
    server: MCPServer[Any],
    *,
    host: str,
    port: int,
    token: str | None,
    stateless: bool = False,
    allowed_hosts: Sequence[str] = (),
) -> None:
    """Serve until interrupted. `port=0` picks a free port; the URL is logged either way."""
    import uvicorn

    check_exposure(host, token)  # before binding anything
    sock = _bind(host, port)
    bound_port: int = sock.getsockname()[1]
    app = create_http_app(
        server, host=host, port=bound_port, token=token, stateless=stateless, allowed_hosts=allowed_hosts
    )
    config = uvicorn.Config(
        app,
        log_config=None,  # the CLI's logging setup (stderr) applies to uvicorn's loggers too
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )
    shown = f"[{host.strip('[]')}]" if ":" in host else host
    logger.info(
        "MCP over HTTP at http://%s:%d%s (%s%s)",
        shown,
        bound_port,
        MCP_PATH,
        "bearer token required" if token else "no token: this machine only",
        ", stateless" if stateless else "",
    )
    try:
        await uvicorn.Server(config).serve(sockets=[sock])
    finally:
        sock.close()


def run_http(
    server: MCPServer[Any],
    *,
    host: str,
    port: int,
    token: str | None,
    stateless: bool = False,
    allowed_hosts: Sequence[str] = (),
) -> None:
    """Blocking entry for the CLI: serve `server` over streamable HTTP until Ctrl-C."""
    import anyio

    anyio.run(
        lambda: serve_http(
            server, host=host, port=port, token=token, stateless=stateless, allowed_hosts=allowed_hosts
        )
    )
