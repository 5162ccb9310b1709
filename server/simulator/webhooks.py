"""fal's completion webhooks, simulated: a submit with `?fal_webhook=<url>` gets a POST to that URL when
the job ends, with the request id, the gateway request id, `status` (`OK`/`ERROR`) and the `payload`
(the result, or the error), retried with growing pauses while the receiver fails, as fal does.

Deliveries are kept in `Engine.webhook_deliveries` (request id, attempt, answer; never the URL,
whose path holds the receiver's token), so tests can see what was sent.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import contextlib
import hashlib
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import anyio
import anyio.to_thread
import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ..http_pool import tls_context
from .jobs import Engine, Job

logger = logging.getLogger(__name__)

ATTEMPTS = 6
SIM_USER_ID = "simulated-user"
FIRST_PAUSE = 0.5  # then doubling: 0.5, 1, 2, 4, 8 s between attempts
TICK = 0.05
RENDER_WAIT = 1.0  # a render's end wakes the sender at once; this only bounds the wait to see `closing`

_pending: set[asyncio.Task[None]] = set()  # strong references: a bare task may be garbage-collected
# Per event loop (a simulator runs on one; tests start several): the shared client and who uses it.
_clients: dict[asyncio.AbstractEventLoop, tuple[httpx.AsyncClient, set[object]]] = {}


async def _rendered(render: concurrent.futures.Future[Any], seconds: float) -> None:
    """Wait up to `seconds` for a render to end (without cancelling it when the wait ends first)."""
    ended = asyncio.Event()
    loop = asyncio.get_running_loop()

    def wake(_: object) -> None:
        with contextlib.suppress(RuntimeError):  # the loop closed first: nobody waits any more
            loop.call_soon_threadsafe(ended.set)

    render.add_done_callback(wake)
    with anyio.move_on_after(seconds):
        await ended.wait()


def sign(key: Ed25519PrivateKey, request_id: str, user_id: str, body: bytes, now: float) -> dict[str, str]:
    """fal's signature headers for a delivery: ED25519 over `request_id \\n user_id \\n timestamp \\n
    sha256hex(body)`, the timestamp in epoch seconds, the signature in hex."""
    timestamp = str(int(now))
    signed = "\n".join((request_id, user_id, timestamp, hashlib.sha256(body).hexdigest())).encode()
    return {
        "X-Fal-Webhook-Request-Id": request_id,
        "X-Fal-Webhook-User-Id": user_id,
        "X-Fal-Webhook-Timestamp": timestamp,
        "X-Fal-Webhook-Signature": key.sign(signed).hex(),
    }


def jwks_of(key: Ed25519PrivateKey) -> dict[str, Any]:
    """The public half of `key` as fal publishes its own (a JWKS of OKP Ed25519 keys)."""
    raw = key.public_key().public_bytes_raw()
    x = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    return {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": x, "use": "sig", "alg": "EdDSA"}]}


def schedule(engine: Engine, job: Job, url: str, payload_for: Any) -> None:
    """Deliver the webhook for `job` when it ends; `payload_for(view) -> (ok, payload)`."""
    task = asyncio.get_running_loop().create_task(_deliver(engine, job, url, payload_for))
    _pending.add(task)
    task.add_done_callback(_pending.discard)


@contextlib.asynccontextmanager
async def _client() -> AsyncIterator[httpx.AsyncClient]:
    """The HTTP client of this event loop's pending deliveries, closed when the last one ends.

    Shared, because building a client costs its loop ~6 ms (a dozen jobs ending together held each
    other's webhooks back by that much each) and a shared one keeps its connections alive, as fal's
    sender does."""
    loop = asyncio.get_running_loop()
    if loop not in _clients:
        context = await anyio.to_thread.run_sync(tls_context)  # the CA bundle, loaded off the loop
        if loop not in _clients:
            # No cap on connections: fal delivers the webhooks of jobs ending together in parallel.
            limits = httpx.Limits(max_connections=None, max_keepalive_connections=100)
            _clients[loop] = (httpx.AsyncClient(timeout=10.0, verify=context, limits=limits), set())
    client, users = _clients[loop]
    token = object()
    users.add(token)
    try:
        yield client
    finally:
        users.discard(token)
        if not users:
            del _clients[loop]
            await client.aclose()


async def _deliver(engine: Engine, job: Job, url: str, payload_for: Any) -> None:
    async with _client() as client:
        await _send_when_done(engine, job, url, payload_for, client)


async def _send_when_done(
    engine: Engine, job: Job, url: str, payload_for: Any, client: httpx.AsyncClient
) -> None:
    while not engine.closing.is_set():
        now = time.time()
        view = engine.view(job, now)
        if view.phase == "done":
            break
        upcoming = engine.next_change(job, now)
        if upcoming is None and job.render is not None and not job.render.done():
            # The job ends when its video is rendered: leave as soon as it is, like fal, not a tick later.
            await _rendered(job.render, RENDER_WAIT)
        else:
            await anyio.sleep(TICK if upcoming is None else min(TICK, max(upcoming - now, 0.0)))
    else:
        return
    ok, payload = payload_for(view)
    body: dict[str, Any] = {
        "request_id": job.id,
        "gateway_request_id": job.id,
        "status": "OK" if ok else "ERROR",
        "payload": payload,
    }
    if not ok:
        body["error"] = f"Request failed: {payload.get('detail')}" if isinstance(payload, dict) else "failed"
    pause = FIRST_PAUSE
    for attempt in range(1, ATTEMPTS + 1):
        try:
            content = json.dumps(body).encode()
            signed = sign(
                engine.webhook_key, job.id, SIM_USER_ID, content, time.time()
            )  # per attempt, as fal
            response = await client.post(
                url, content=content, headers={**signed, "Content-Type": "application/json"}
            )
            answer: int | str = response.status_code
            delivered = response.is_success
        except httpx.HTTPError as exc:
            answer, delivered = type(exc).__name__, False
        engine.webhook_deliveries.append(
            {"request_id": job.id, "attempt": attempt, "answer": answer, "time": time.time()}
        )
        if delivered or engine.closing.is_set():
            return
        await anyio.sleep(pause)
        pause *= 2
    logger.warning("simulated webhook for %s not accepted after %d attempts", job.id, ATTEMPTS)
