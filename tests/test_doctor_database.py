"""`doctor` in team mode: the PostgreSQL journal reachable, migrated, and its leases kept (real server)."""

from __future__ import annotations

import io
import time

import anyio
import pytest

from seedance_mcp.server.config import Settings
from seedance_mcp.server.doctor import collect_checks, run_doctor
from seedance_mcp.server.journal.api import JobRecord, new_job_id
from seedance_mcp.server.journal.postgres import PgJournal
from tests.replicas import free_port


def database_checks(monkeypatch: pytest.MonkeyPatch, url: str) -> dict[str, tuple[str, str]]:
    monkeypatch.setenv("SEEDANCE_DATABASE_URL", url)
    checks = collect_checks(Settings.from_env(), {}, timeout=3)
    return {c.name: (c.status, c.detail) for c in checks if c.name.startswith("database")}


def test_unreachable_database_fails_without_showing_the_password(monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"postgresql://team:hunter2-secret@127.0.0.1:{free_port()}/seedance"
    found = database_checks(monkeypatch, url)
    status, detail = found["database (SEEDANCE_DATABASE_URL)"]
    assert status == "fail" and "unreachable" in detail
    out = io.StringIO()
    run_doctor(Settings.from_env(), {"SEEDANCE_DATABASE_URL": url}, out=out, timeout=3)
    assert "hunter2-secret" not in out.getvalue()


def test_migrations_then_lease_health(monkeypatch: pytest.MonkeyPatch, postgres_dsn: str) -> None:
    found = database_checks(monkeypatch, postgres_dsn)
    assert found["database (SEEDANCE_DATABASE_URL)"][0] == "ok"
    assert found["database migrations"][0] == "warn"

    async def journal_with_a_dead_followers_job() -> None:
        async with await PgJournal.open(postgres_dsn) as journal:
            now = time.time()
            job = JobRecord(
                id=new_job_id(), created_at=now, updated_at=now, provider="fal", simulated=False,
                tool="generate_video", tier="fast", mode="text-to-video", endpoint="e", arguments={},
                estimate={}, estimate_usd=0.1, state="running", submission="{}", request_id="r",
            )  # fmt: skip
            await journal.create(job)
            assert await journal.take_lease(job.id, "gone", 0.01) is not None

    anyio.run(journal_with_a_dead_followers_job)
    found = database_checks(monkeypatch, postgres_dsn)
    assert "database migrations" not in found
    assert found["database leases"][0] == "ok"  # lapsed a moment ago: a replica may still take it
    monkeypatch.setattr("seedance_mcp.server.jobs.claiming.LEASE_SECONDS", 0.001)
    status, detail = database_checks(monkeypatch, postgres_dsn)["database leases"]
    assert status == "warn" and "1 waiting for a replica" in detail
