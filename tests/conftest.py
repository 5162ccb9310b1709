"""Every test runs with its own settings and folders under tmp_path, and never sees a real key."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from seedance_mcp.server.config import Settings
from seedance_mcp.server.journal.api import JobJournal
from tests.postgres_server import PostgresServer, running_postgres

SETTING_PREFIXES = ("SEEDANCE_", "FAL_", "OXEN_")


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """Workers for `-n auto` (pyproject's default): two per CPU, at least four. Most tests spend their
    time waiting (on a simulated render, a subprocess, a server's start), not computing."""
    import os

    return max(4, 2 * (os.cpu_count() or 1))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The long end-to-end tests (marked `slow`) first: handed out one at a time to idle workers
    (pyproject: `--dist load --maxschedchunk 1`), each starts at once on a worker of its own while
    the others share the short ones, instead of one of them starting last and running alone."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    import os

    for name in list(os.environ):
        if name.startswith(SETTING_PREFIXES):
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    (home / "media").mkdir(parents=True)
    monkeypatch.setenv("SEEDANCE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("SEEDANCE_OUTPUT_DIR", str(tmp_path / "videos"))
    monkeypatch.setenv("SEEDANCE_ALLOWED_DIRS", str(home))
    monkeypatch.setenv("SEEDANCE_SIM_QUEUE_SECONDS", "0.3")
    monkeypatch.setenv("SEEDANCE_SIM_RUN_SECONDS", "1.0")
    return home


@pytest.fixture
def settings() -> Settings:
    return Settings.from_env()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL server for the session (team mode); skips with the reason when not installed."""
    with running_postgres() as server:
        yield server


@pytest.fixture
def postgres_dsn(postgres_server: PostgresServer) -> str:
    """A fresh, empty database on the session's PostgreSQL server."""
    return postgres_server.create_database()


@pytest.fixture(params=["sqlite", "postgresql"])
async def any_journal(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[JobJournal]:
    """The same journal tests against both implementations: SQLite, and PostgreSQL (team mode)."""
    if request.param == "sqlite":
        from seedance_mcp.server.journal.sqlite import Journal

        opened: JobJournal = await Journal.open(tmp_path / "home" / "journal.sqlite3")
    else:
        from seedance_mcp.server.journal.postgres import PgJournal

        opened = await PgJournal.open(request.getfixturevalue("postgres_dsn"))
    try:
        yield opened
    finally:
        await opened.close()
