"""Real server processes for team-mode tests and benchmarks: `seedance-mcp serve --transport http`
on chosen loopback ports, each with its own log, plus a tiny round-robin proxy in front of them."""

from __future__ import annotations

import itertools
import os
import signal
import socket
import sys
import threading
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
from anyio.abc import Process

from seedance_mcp.server.http_pool import tls_context

ROOT = Path(__file__).resolve().parent.parent
READY = "MCP over HTTP at"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Replica:
    port: int
    process: Process
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as when a machine or container dies."""
        self.process.send_signal(signal.SIGKILL)


def sim_fal_env(sim_url: str) -> dict[str, str]:
    """Settings for a replica using a shared, standalone simulator as if it were fal.ai."""
    env = {"SEEDANCE_PROVIDER": "fal", "FAL_KEY": "sim-team-key"}
    env.update({f"SEEDANCE_FAL_{name}_URL": sim_url for name in ("QUEUE", "REST", "CDN")})
    env["SEEDANCE_FAL_JWKS_URL"] = f"{sim_url}/.well-known/jwks.json"  # its webhooks are signed as fal's
    return env


async def launch_replica(env: Mapping[str, str], port: int, log: Path) -> Replica:
    """Start one replica, stateless (no MCP sessions: any replica may answer any request); see `ready`."""
    full = {**os.environ, **env}
    command = [sys.executable, "-m", "seedance_mcp.server", "serve", "--transport", "http", "--stateless"]
    with log.open("wb") as sink:
        process = await anyio.open_process(
            [*command, "--port", str(port)],
            env=full,
            cwd=ROOT,
            stdout=sink,
            stderr=sink,
        )
    return Replica(port, process, log)


async def ready(replica: Replica, start_seconds: float = 60) -> None:
    """Wait until the replica says it serves; fail with its log if it exits first."""
    with anyio.fail_after(start_seconds):
        while READY not in replica.log.read_text(errors="replace"):
            if replica.process.returncode is not None:
                raise RuntimeError(f"replica exited early:\n{replica.log.read_text(errors='replace')}")
            await anyio.sleep(0.05)


async def start_replica(env: Mapping[str, str], port: int, log: Path, start_seconds: float = 60) -> Replica:
    replica = await launch_replica(env, port, log)
    await ready(replica, start_seconds)
    return replica


async def stop_replica(replica: Replica) -> None:
    if replica.process.returncode is None:
        replica.process.terminate()
    with anyio.move_on_after(15):
        await replica.process.wait()
    if replica.process.returncode is None:
        replica.kill()
        await replica.process.wait()


@asynccontextmanager
async def replicas(envs: list[dict[str, str]], folder: Path) -> AsyncIterator[list[Replica]]:
    started: list[Replica] = []
    try:
        # All launched, then waited for together: their starts (mostly imports) overlap.
        for i, env in enumerate(envs):
            port = int(env.pop("_PORT", free_port()))
            started.append(await launch_replica(env, port, folder / f"replica-{i}.log"))
        async with anyio.create_task_group() as tg:
            for replica in started:
                tg.start_soon(ready, replica)
        yield started
    finally:
        with anyio.CancelScope(shield=True):
            for replica in started:
                await stop_replica(replica)


class RoundRobinProxy:
    """A tiny HTTP load balancer on loopback: each request goes to the next live backend in turn.

    Requests are forwarded whole and answers streamed back (MCP answers are SSE). A backend that
    refuses the connection (killed) is skipped, as a load balancer's health check would.
    """

    def __init__(self, backends: list[str], port: int | None = None) -> None:
        self.backends = backends
        self._turn = itertools.count()
        self.port = port or free_port()
        self.sent: dict[str, int] = dict.fromkeys(backends, 0)
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._client: httpx.AsyncClient | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

    async def app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    if self._client is not None:
                        await self._client.aclose()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client went away before sending its whole request
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        skip = {b"host", b"content-length", b"transfer-encoding", b"connection"}
        headers = [(k.decode(), v.decode()) for k, v in scope["headers"] if k.lower() not in skip]
        path = scope["path"] + (("?" + scope["query_string"].decode()) if scope.get("query_string") else "")
        if self._client is None:  # one pool for the proxy's life, made on its own event loop
            # No cap on connections, as a load balancer has none: with httpx's default of 100, the calls
            # waiting on their jobs held every slot and the webhooks queued behind them for seconds.
            self._client = httpx.AsyncClient(
                verify=tls_context(),
                timeout=httpx.Timeout(None, connect=10.0),
                limits=httpx.Limits(max_connections=None, max_keepalive_connections=100),
            )
        client = self._client
        # This request's turn, then the backends after it, each once: requests running at the same
        # time also take turns, so drawing a turn per attempt could land on a dead backend every time.
        first = next(self._turn)
        for step in range(len(self.backends)):
            backend = self.backends[(first + step) % len(self.backends)]
            request = client.build_request(scope["method"], backend + path, headers=headers, content=body)
            try:
                response = await client.send(request, stream=True)
            except httpx.TransportError:  # refused, or a pooled connection to a killed backend
                continue
            self.sent[backend] += 1
            try:
                await send(
                    {
                        "type": "http.response.start",
                        "status": response.status_code,
                        "headers": [
                            (k.encode(), v.encode())
                            for k, v in response.headers.items()
                            if k.lower() not in {"content-length", "transfer-encoding", "connection"}
                        ],
                    }
                )
                async for chunk in response.aiter_raw():
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                await send({"type": "http.response.body", "body": b""})
            except httpx.HTTPError:
                await send({"type": "http.response.body", "body": b""})
            finally:
                await response.aclose()
            return
        await send({"type": "http.response.start", "status": 502, "headers": []})
        await send({"type": "http.response.body", "body": b"no backend"})

    def _config(self) -> Any:
        import uvicorn

        return uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="on",
            ws="none",
            interface="asgi3",
        )

    def start(self) -> RoundRobinProxy:
        """Serve from a thread of this process (tests: simple, and the proxy's counts are readable)."""
        import uvicorn

        self._server = uvicorn.Server(self._config())
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        while not self._server.started:
            threading.Event().wait(0.02)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)


@asynccontextmanager
async def proxy_process(backends: list[str], log: Path) -> AsyncIterator[str]:
    """The round-robin proxy in its own process, as a real load balancer is: the benchmarks' clients
    then do not share an interpreter (and its GIL) with it. Yields the proxy's base URL."""
    port = free_port()
    with log.open("wb") as sink:
        process = await anyio.open_process(
            [sys.executable, str(Path(__file__).resolve()), str(port), *backends],
            cwd=ROOT,
            stdout=sink,
            stderr=sink,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        with anyio.fail_after(30):
            while True:
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=1):
                        break
                except OSError:
                    if process.returncode is not None:
                        raise RuntimeError(f"the proxy exited:\n{log.read_text(errors='replace')}") from None
                    await anyio.sleep(0.05)
        yield base
    finally:
        with anyio.CancelScope(shield=True):
            process.terminate()
            with anyio.move_on_after(15):
                await process.wait()


@asynccontextmanager
async def simulator_process(
    folder: Path, *, queue_seconds: float, run_seconds: float, download_seconds: float = 0.0
) -> AsyncIterator[str]:
    """`seedance-mcp simulator` in its own process (its MP4 rendering stays off the test's GIL);
    yields its URL. Its request log is at `<url>/_simulator/requests`."""
    port = free_port()
    env = {
        **os.environ,
        "SEEDANCE_SIM_QUEUE_SECONDS": str(queue_seconds),
        "SEEDANCE_SIM_RUN_SECONDS": str(run_seconds),
        "SEEDANCE_SIM_DOWNLOAD_SECONDS": str(download_seconds),
    }
    url = f"http://127.0.0.1:{port}"
    with (folder / "simulator.log").open("wb") as sink:
        process = await anyio.open_process(
            [sys.executable, "-m", "seedance_mcp.server", "simulator", "--port", str(port)],
            env=env,
            cwd=ROOT,
            stdout=sink,
            stderr=sink,
        )
    try:
        async with httpx.AsyncClient(verify=tls_context()) as client:
            with anyio.fail_after(60):
                while True:
                    try:
                        if (await client.get(url + "/_simulator/requests")).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    await anyio.sleep(0.1)
        yield url
    finally:
        with anyio.CancelScope(shield=True):
            process.terminate()
            with anyio.move_on_after(15):
                await process.wait()


async def simulator_requests(url: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(verify=tls_context(), timeout=30) as client:
        answer = await client.get(url + "/_simulator/requests")
        answer.raise_for_status()
        entries: list[dict[str, Any]] = answer.json()
        return entries


if __name__ == "__main__":  # `python tests/replicas.py PORT BACKEND...`: the proxy alone (see proxy_process)
    import uvicorn

    proxy = RoundRobinProxy(sys.argv[2:], int(sys.argv[1]))
    uvicorn.Server(proxy._config()).run()
