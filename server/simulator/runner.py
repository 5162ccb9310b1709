"""Serving the simulator: in a background thread (`Simulator`) or in the foreground (`run_forever`)."""

from __future__ import annotations

import logging
import signal
import socket
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import anyio.to_thread

from .app import build_app
from .faults import parse_faults
from .jobs import Engine
from .options import SimulatorOptions

logger = logging.getLogger(__name__)

START_TIMEOUT = 10.0  # seconds to wait for uvicorn to listen before giving up


def _config(app: Any, host: str, port: int) -> Any:
    import uvicorn

    # No websockets (unused, and it imports deprecated modules); no lifespan; quick shutdown even with
    # open status streams.
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="off",
        ws="none",
        http="h11",
        timeout_graceful_shutdown=2,
        # Like the services it stands in for, keep idle connections longer than a client does (httpx:
        # 5 s). At uvicorn's default, also 5 s, a client reusing a connection just as the server
        # closed it got a ReadError: for a submit, a job of uncertain fate.
        timeout_keep_alive=60,
    )


class Simulator:
    """The fake fal (and later Oxen) APIs on 127.0.0.1 with an ephemeral port, in a daemon thread.

    The thread has its own event loop, so rendering and fake-server work never touch the caller's loop.
    """

    def __init__(
        self, options: SimulatorOptions | None = None, host: str = "127.0.0.1", state_dir: Path | None = None
    ) -> None:
        self.options = options or SimulatorOptions()
        self._host = host
        self._state_dir = state_dir  # where jobs are kept across restarts (see `Engine`); None: memory only
        self._engine: Engine | None = None
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        if self._port is None:
            raise RuntimeError("the simulator is not running; call start() first")
        return f"http://{self._host}:{self._port}"

    @property
    def engine(self) -> Engine:
        """The job engine (for protocol modules and white-box tests)."""
        if self._engine is None:
            raise RuntimeError("the simulator is not running; call start() first")
        return self._engine

    def request_log(self) -> list[dict[str, Any]]:
        """Same as `GET /_simulator/requests`."""
        return self.engine.log.entries()

    def set_faults(self, faults: str) -> None:
        """Change the fault mix while running (e.g. end an outage); the seeded sequence continues."""
        self.engine.faults.mix = parse_faults(faults)

    def start(self) -> Simulator:
        if self._thread is not None:
            raise RuntimeError("the simulator is already running")
        import uvicorn

        engine = Engine(self.options, state_dir=self._state_dir)
        # IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on sockets that say so, and without it
        # every keep-alive answer waits ~40 ms on Nagle + delayed ACK.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self._host, 0))
        self._port = sock.getsockname()[1]
        server = uvicorn.Server(_config(build_app(engine), self._host, self._port))

        def serve() -> None:
            try:
                server.run(sockets=[sock])
            except BaseException as exc:  # surfaced by start(); a thread must not die silently
                self._error = exc
            finally:
                sock.close()

        self._engine, self._server = engine, server
        self._thread = threading.Thread(target=serve, name="seedance-simulator", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT
        while not server.started and self._thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        if not server.started:
            self.stop()
            raise RuntimeError(f"the simulator did not start: {self._error!r}")
        logger.info("simulator listening on %s", self.url)
        return self

    def stop(self) -> None:
        if self._thread is None:
            return
        assert self._engine is not None
        self._engine.closing.set()  # ends open status streams
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._engine.close()
        self._thread = self._server = self._engine = None
        self._port = None

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Simulator:
        return await anyio.to_thread.run_sync(self.start)

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await anyio.to_thread.run_sync(self.stop)


def run_forever(port: int, opts: SimulatorOptions, host: str = "127.0.0.1") -> None:
    """Serve the simulator in the foreground until Ctrl-C or SIGTERM (the `seedance-mcp simulator` command).

    Returns normally after either signal, with the simulator's files removed.
    """
    import uvicorn

    engine = Engine(opts)
    # uvicorn re-raises the signal it caught once it has shut down; with these handlers that ends
    # here as an exception instead of killing the process before the cleanup below.
    restore = None
    if threading.current_thread() is threading.main_thread():
        restore = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        logger.info("simulator serving on http://%s:%d", host, port)
        uvicorn.Server(_config(build_app(engine), host, port)).run()
    except KeyboardInterrupt:
        pass
    finally:
        if restore is not None:
            signal.signal(signal.SIGTERM, restore)
        engine.close()


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
