"""A real, throwaway PostgreSQL server for tests and benchmarks: temporary data folder, free port.

PostgreSQL refuses to run as root, so when we are root `initdb` and `pg_ctl` run as the `postgres`
system user. Missing binaries skip the tests that need them, with the reason, unless
`SEEDANCE_REQUIRE_SYSTEM_TESTS=1` (set by .ci/run, which installs them) makes that a failure.
"""

from __future__ import annotations

import contextlib
import glob
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

# Read once at import: the per-test fixture in conftest clears SEEDANCE_* variables.
REQUIRE_SYSTEM_TESTS = os.environ.get("SEEDANCE_REQUIRE_SYSTEM_TESTS") == "1"
SYSTEM_USER = "postgres"


def find_bindir() -> Path | None:
    """The folder holding initdb and pg_ctl: Debian's versioned folder (15 preferred), else PATH."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: (p.split("/")[-2] != "15", p))
    candidates += [str(Path(found).parent) for found in filter(None, [shutil.which("pg_ctl")])]
    for folder in candidates:
        if Path(folder, "initdb").is_file() and Path(folder, "pg_ctl").is_file():
            return Path(folder)
    return None


def skip_or_fail(reason: str) -> None:
    if REQUIRE_SYSTEM_TESTS:
        pytest.fail(f"{reason} (SEEDANCE_REQUIRE_SYSTEM_TESTS=1 makes this a failure)")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresServer:
    """One running server; `dsn(db)` for a database on it, `create_database()` for a fresh one."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="seedance-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self._as_root = os.geteuid() == 0

    def _run(self, *args: str) -> None:
        command = [str(self.bindir / args[0]), *args[1:]]
        if self._as_root:
            command = ["runuser", "-u", SYSTEM_USER, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)
        if result.returncode != 0:
            log = self.root / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{args[0]} failed ({result.returncode}): {result.stderr.strip()}\n{tail}")

    def start(self) -> None:
        if self._as_root:
            shutil.chown(self.root, user=SYSTEM_USER)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        self.start_again()

    def _options(self) -> tuple[str, ...]:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c max_connections=300"
            # Test data is thrown away: skip the disk flushes (commits still survive a killed client).
            " -c fsync=off -c full_page_writes=off"
        )
        # The log file keeps the server off our pipes (or `subprocess.run` would wait for it to exit).
        return "-D", str(self.data), "-o", options, "-l", str(self.root / "server.log"), "-w"

    def start_again(self) -> None:
        """Start the (initialised, stopped) server on its port."""
        self._run("pg_ctl", *self._options(), "start")

    def restart(self) -> None:
        """`pg_ctl restart -m fast`: every connection is cut, the server is back within a second."""
        self._run("pg_ctl", *self._options(), "-m", "fast", "restart")

    def stop_for_now(self) -> None:
        """`pg_ctl stop -m fast`, keeping the data for `start_again`."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def terminate_connections(self, database: str) -> int:
        """`pg_terminate_backend` on every connection to `database` (the server stays up)."""
        import psycopg

        with psycopg.connect(self.dsn(), autocommit=True) as db:
            rows = db.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = %s AND pid <> pg_backend_pid()",
                (database,),
            ).fetchall()
        return len(rows)

    def stop(self) -> None:
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A new empty database; returns its DSN."""
        import psycopg

        name = "t_" + secrets.token_hex(6)
        with psycopg.connect(self.dsn(), autocommit=True) as db:
            db.execute(f"CREATE DATABASE {name}")
        return self.dsn(name)


@contextlib.contextmanager
def running_postgres() -> Iterator[PostgresServer]:
    """Start a server (skipping, or failing under SEEDANCE_REQUIRE_SYSTEM_TESTS, when it cannot)."""
    bindir = find_bindir()
    if bindir is None:
        skip_or_fail(
            "PostgreSQL server binaries (initdb, pg_ctl) not found; install PostgreSQL "
            "(Debian/Ubuntu: apt-get install postgresql) to run the team-mode tests"
        )
        raise AssertionError("unreachable")  # skip_or_fail raises
    try:
        import psycopg  # noqa: F401
    except ImportError:
        skip_or_fail("psycopg is not installed: pip install -e '.[dev]' to run the team-mode tests")
    server = PostgresServer(bindir)
    try:
        server.start()
        yield server
    finally:
        server.stop()
