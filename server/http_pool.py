"""The process's shared HTTP client (provider calls, downloads), shaped so that a thousand jobs in
flight, or finishing together, cannot stall the event loop.

httpcore's connection pool re-examines, in Python, every connection it holds and every request
queued in it each time a request starts or ends (for an idle connection that is two system calls).
With one status stream held open per job for the job's life, 1,000 jobs made a pool of 1,000
connections; when they finished together the thousands of result reads and downloads queued inside
it, each pool event cost connections x waiters, and the loop spent minutes there. Here:

- a server-sent event stream (`Accept: text/event-stream`: a job's status stream, Oxen's event
  stream) lasts minutes; it gets a connection of its own, closed with it;
- every other request waits for one of `POOL_CONNECTIONS` slots in front of any pool (a semaphore
  wakes one waiter per freed slot), then takes an idle kept-alive connection to its origin, or a new
  one. Each connection sits in an httpcore pool of its own, so a pool event looks at one connection.
"""

from __future__ import annotations

import functools
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable

import anyio
import httpx

# Enough for the calls of hundreds of jobs at once (each takes milliseconds) beside the downloads
# (`delivery.download.DOWNLOAD_CONCURRENCY`), and as many idle connections kept for reuse.
POOL_CONNECTIONS = 16

# How long an idle connection is kept for reuse: well under the idle timeouts of servers (often
# 5 s and more), so a request is not written into a connection the server is closing.
KEEP_IDLE = 4.0

Origin = tuple[str, str, int | None]

_TRUSTS_NOTHING = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies, with no CA: any TLS fails


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The process's one TLS context, for every HTTP client it builds: building one loads the CA
    bundle (about 40 ms of CPU), which httpx otherwise does for each new client. Contexts are safe to
    share between clients and threads."""
    return httpx.create_ssl_context()


def shared_client(*, headers: dict[str, str], timeout: httpx.Timeout) -> httpx.AsyncClient:
    """The HTTP client the providers and the deliverer share. Close it (`async with`) when done."""
    return httpx.AsyncClient(headers=headers, timeout=timeout, transport=_Transport(POOL_CONNECTIONS))


class _Transport(httpx.AsyncBaseTransport):
    def __init__(self, connections: int) -> None:
        self._slots = anyio.Semaphore(connections)
        self._idle: dict[Origin, list[httpx.AsyncHTTPTransport]] = {}
        self._keep_at_most = connections
        self._closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if "text/event-stream" in request.headers.get("accept", ""):
            own = self._connection(request.url.scheme, keep_alive=False)
            return await self._send(own, request, own.aclose)
        await self._slots.acquire()
        origin = (request.url.scheme, request.url.host, request.url.port)
        idle = self._idle.get(origin)
        connection = idle.pop() if idle else self._connection(request.url.scheme, keep_alive=True)

        async def done() -> None:
            self._slots.release()
            await self._keep(origin, connection)

        async def failed() -> None:
            self._slots.release()
            await connection.aclose()

        return await self._send(connection, request, done, failed)

    async def _send(
        self,
        connection: httpx.AsyncHTTPTransport,
        request: httpx.Request,
        done: Callable[[], Awaitable[None]],
        failed: Callable[[], Awaitable[None]] | None = None,
    ) -> httpx.Response:
        try:
            response = await connection.handle_async_request(request)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await (failed or done)()
            raise
        response.stream = _ThenStream(response.stream, done)
        return response

    def _connection(self, scheme: str, *, keep_alive: bool) -> httpx.AsyncHTTPTransport:
        # httpcore reconnects by itself when the kept connection has expired or the server closed it.
        kept = 1 if keep_alive else 0
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=kept, keepalive_expiry=KEEP_IDLE)
        # A plain-HTTP origin (the simulator on loopback) never uses TLS: it gets a context that trusts
        # nothing, so a process that only talks to the simulator never loads the CA bundle.
        tls = tls_context() if scheme == "https" else _TRUSTS_NOTHING
        return httpx.AsyncHTTPTransport(verify=tls, limits=limits)

    async def _keep(self, origin: Origin, connection: httpx.AsyncHTTPTransport) -> None:
        idle = self._idle.setdefault(origin, [])
        if self._closed or len(idle) >= self._keep_at_most:
            await connection.aclose()
        else:
            idle.append(connection)

    async def aclose(self) -> None:
        self._closed = True
        idle = [connection for kept in self._idle.values() for connection in kept]
        self._idle.clear()
        for connection in idle:
            await connection.aclose()


class _ThenStream(httpx.AsyncByteStream):
    """A response body that runs `after` once, when it is closed (httpx closes every response: read
    in full, or by the caller of a streamed request)."""

    def __init__(
        self, inner: httpx.AsyncByteStream | httpx.SyncByteStream, after: Callable[[], Awaitable[None]]
    ) -> None:
        assert isinstance(inner, httpx.AsyncByteStream)
        self._inner = inner
        self._after: Callable[[], Awaitable[None]] | None = after

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        finally:
            after, self._after = self._after, None
            if after is not None:
                with anyio.CancelScope(shield=True):
                    await after()
