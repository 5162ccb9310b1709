"""`seedance-mcp simulator` in its own process, on a free loopback port, for tests and benchmarks that
need it out of their own interpreter (its MP4 renders stay off their GIL) or shared by several servers.
Its request log is read over HTTP (`/_simulator/requests`)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

START_SECONDS = 30.0


class SimulatorProcess:
    def __init__(self, home: Path, *, queue_seconds: float, run_seconds: float) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SEEDANCE_", "FAL_", "OXEN_"))}
        env.update(
            SEEDANCE_HOME=str(home),
            SEEDANCE_SIM_QUEUE_SECONDS=str(queue_seconds),
            SEEDANCE_SIM_RUN_SECONDS=str(run_seconds),
            SEEDANCE_LOG_LEVEL="WARNING",
        )
        self.process = subprocess.Popen(
            [sys.executable, "-m", "seedance_mcp.server", "simulator", "--port", str(self.port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + START_SECONDS
        while True:
            try:
                self.requests()
                return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.close()
                    raise RuntimeError("the simulator process did not start") from None
                time.sleep(0.05)

    def requests(self) -> list[dict[str, Any]]:
        """The simulator's request log."""
        with urllib.request.urlopen(f"{self.url}/_simulator/requests", timeout=10) as answer:
            entries: list[dict[str, Any]] = json.loads(answer.read())
        return entries

    def kind(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.requests() if e.get("kind") == kind]

    def clear(self) -> None:
        request = urllib.request.Request(f"{self.url}/_simulator/requests", method="DELETE")
        with urllib.request.urlopen(request, timeout=10):
            pass

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> SimulatorProcess:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()
