"""Shared pieces of the benchmarks: figures, statistics, a simulator in its own process, settings.

Every benchmark prints one line per figure, `name: value unit (goal ...)`, and compares against a
baseline measured in the same run: this machine is noisy, so a ratio says more than a time.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import socket
import statistics
import sys
import tempfile
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the tests' helpers: a simulator process, PostgreSQL, replicas

from tests.simulator_process import SimulatorProcess  # noqa: E402

PYTHON = sys.executable
# Any key works with the simulator; with a key the server uses fal (pointed at the simulator), like a user's.
BENCH_KEY = "bench-key-id:bench-key-secret"
ENDPOINT = "bytedance/seedance-2.0/fast/text-to-video"
# Cheap renders: the simulator caches identical prompts, so many jobs cost one render.
LIGHT = {"duration": "4", "resolution": "480p", "aspect_ratio": "16:9", "generate_audio": False}


def figure(name: str, value: float, unit: str, goal: str = "") -> None:
    """One figure line; flushed at once so `run.py` can stream it."""
    text = f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
    print(f"{name}: {text} {unit}" + (f" (goal {goal})" if goal else ""), flush=True)


def load_average() -> str:
    """The machine's 1- and 5-minute load average, to print beside figures taken on a shared machine."""
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f}/{five:.1f}"


def note(text: str) -> None:
    """Context for a figure (stderr, so figure lines stay easy to collect)."""
    print(f"  {text}", file=sys.stderr, flush=True)


def median(values: list[float]) -> float:
    return statistics.median(values)


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (no interpolation: with 20 samples p95 is the 19th)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def bench_folder(prefix: str) -> Path:
    """A new temporary folder for this run's state and videos, removed when the benchmark exits."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment without any real setting or key, with folders under `home`."""
    # Nor PYTHONDONTWRITEBYTECODE (set on some machines): a user's Python writes bytecode, and without
    # it every start compiles whatever module changed since its cached bytecode was written.
    skipped = ("SEEDANCE_", "FAL_", "OXEN_", "PYTHONDONTWRITEBYTECODE")
    env = {k: v for k, v in os.environ.items() if not k.startswith(skipped)}
    env.update(
        SEEDANCE_HOME=str(home / "state"),
        SEEDANCE_OUTPUT_DIR=str(home / "videos"),
        SEEDANCE_ALLOWED_DIRS=str(home / "media"),
        SEEDANCE_LOG_LEVEL="WARNING",
        PYTHONPATH=str(ROOT),
    )
    env.update(extra)
    return env


def keyed_env(home: Path, sim_url: str, **extra: str) -> dict[str, str]:
    """Settings of a user with a fal key, every fal URL pointed at the simulator."""
    return clean_env(
        home,
        FAL_KEY=BENCH_KEY,
        SEEDANCE_FAL_QUEUE_URL=sim_url,
        SEEDANCE_FAL_REST_URL=sim_url,
        SEEDANCE_FAL_CDN_URL=sim_url,
        # The simulator signs its webhooks as fal does and publishes its key here: without it a replica
        # asks fal's own key server (unreachable offline) and refuses every webhook.
        SEEDANCE_FAL_JWKS_URL=f"{sim_url}/.well-known/jwks.json",
        **extra,
    )


def completed_at(sim: SimulatorProcess, request_id: str) -> float:
    """When the simulator marked a job completed: the timestamp of its closing "Done in" log line."""
    from datetime import datetime

    request = urllib.request.Request(
        f"{sim.url}/bytedance/seedance-2.0/requests/{request_id}/status?logs=1",
        headers={"Authorization": f"Key {BENCH_KEY}"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        body = json.loads(answer.read())
    if body.get("status") != "COMPLETED":
        raise RuntimeError(f"job {request_id} is not completed: {body.get('status')}")
    done = [line for line in body["logs"] if str(line["message"]).startswith("Done in")]
    return datetime.fromisoformat(done[-1]["timestamp"]).timestamp()


@contextmanager
def simulator_process(queue_seconds: float, run_seconds: float) -> Iterator[SimulatorProcess]:
    """The simulator in its own process, so its rendering never counts against the server."""
    with (
        tempfile.TemporaryDirectory(prefix="seedance-bench-sim-") as home,
        SimulatorProcess(Path(home), queue_seconds=queue_seconds, run_seconds=run_seconds) as sim,
    ):
        yield sim


def job_requests(log: list[dict[str, Any]], request_id: str) -> list[dict[str, Any]]:
    """The log entries that belong to one job: queue calls by request id, the download by file id."""
    return [e for e in log if e.get("request_id") == request_id or e.get("file_id") == request_id]


def journal_rows(home: Path) -> list[dict[str, Any]]:
    """Every job in a server's journal (read-only, after the server has stopped)."""
    import sqlite3

    path = home / "state" / "journal.sqlite3"
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        db.row_factory = sqlite3.Row
        rows = [dict(row) for row in db.execute("SELECT * FROM jobs ORDER BY created_at")]
    for row in rows:
        row["history"] = json.loads(row["history"])
    return rows


def proc_status_mb(field: str, pid: int | str = "self") -> float:
    """A memory figure of `/proc/<pid>/status` (VmRSS now, VmHWM the peak so far), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/{pid}/status")


def peak_rss_mb() -> float:
    """This process's peak resident set size so far (VmHWM), in MB."""
    return proc_status_mb("VmHWM")
