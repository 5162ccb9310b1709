"""The job journal: round trips, queries, the spend rule, migrations, concurrency and crash safety."""

from __future__ import annotations

import itertools
import sqlite3
import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path
from typing import Any

import anyio
import pytest

from seedance_mcp.server.journal.sqlite import (
    LOG_LINES_KEPT,
    MIGRATIONS,
    JobRecord,
    JobState,
    Journal,
    migrate,
    new_job_id,
)

DAY = 86_400.0
T0 = 1_795_000_000.0  # 2026-11-18 07:46:40 UTC: fixed times make day grouping predictable


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def journal(any_journal: Journal) -> Journal:
    return any_journal  # every test taking `journal` runs on SQLite and on PostgreSQL (see conftest)


def make(**overrides: Any) -> JobRecord:
    values: dict[str, Any] = dict(
        id=new_job_id(),
        created_at=T0,
        updated_at=T0,
        provider="simulator",
        simulated=True,
        tool="generate_video",
        tier="fast",
        mode="text-to-video",
        endpoint="bytedance/seedance-2.0/fast/text-to-video",
        arguments={"prompt": "a red fox in snow", "duration": "5", "image_url": None},
        estimate={"tokens": 108_000, "usd_per_million": 2.4, "usd": 0.26},
        estimate_usd=0.26,
    )
    values.update(overrides)
    return JobRecord(**values)


def test_new_job_id_shape() -> None:
    ids = {new_job_id() for _ in range(1000)}
    assert len(ids) == 1000
    for job_id in ids:
        assert job_id.startswith("sd_") and len(job_id) == 15
        assert all(c.isalnum() or c in "-_" for c in job_id[3:])


@pytest.mark.anyio
async def test_create_get_round_trip(journal: Journal) -> None:
    record = make(
        dedupe_key="k1", group_id="g1", seed=7, logs=["a", "b"], arguments={"prompt": "é ✓", "n": [1]}
    )
    await journal.create(record)
    got = await journal.get(record.id)
    # history starts with the initial state; everything else comes back exactly as written
    assert got == replace(record, history=[("submitting", T0, "created")])
    assert got.simulated is True and isinstance(got.history[0], tuple)
    assert await journal.get("sd_missing") is None
    with pytest.raises(ValueError, match="already"):
        await journal.create(record)
    with pytest.raises(ValueError, match="unknown job state"):
        await journal.create(make(state="done"))


@pytest.mark.anyio
async def test_update_sets_fields_and_appends_history(journal: Journal) -> None:
    record = make()
    await journal.create(record)

    new = await journal.update(
        record.id, state="queued", note="submitted", request_id="req-1", queue_position=3
    )
    assert new.state == "queued" and new.request_id == "req-1" and new.queue_position == 3
    assert new.updated_at > record.updated_at
    assert [(s, n) for s, _, n in new.history] == [("submitting", "created"), ("queued", "submitted")]

    # same state again: fields change, history does not
    again = await journal.update(record.id, state="queued", note="ignored", queue_position=1)
    assert again.queue_position == 1 and len(again.history) == 2

    logs = [f"line {i}" for i in range(LOG_LINES_KEPT + 20)]
    running = await journal.update(record.id, state="running", logs=logs)
    assert running.logs == logs[-LOG_LINES_KEPT:] and running.finished_at is None

    done = await journal.update(
        record.id, state="completed", result_url="https://cdn/v.mp4", video_bytes=1234, seed=42
    )
    assert done.finished_at is not None and done.finished_at == done.history[-1][1]
    assert [s for s, _, _ in done.history] == ["submitting", "queued", "running", "completed"]
    assert await journal.get(record.id) == done  # what update returns is what is stored

    with pytest.raises(KeyError):
        await journal.update("sd_nope", state="failed")
    with pytest.raises(TypeError, match="history"):
        await journal.update(record.id, history=[])
    with pytest.raises(TypeError, match="colour"):
        await journal.update(record.id, colour="red")
    with pytest.raises(ValueError, match="unknown job state"):
        await journal.update(record.id, state="exploded")  # type: ignore[arg-type]


@pytest.mark.anyio
async def test_find_duplicate_window(journal: Journal) -> None:
    old = make(created_at=T0 - 600, dedupe_key="same")
    recent = make(created_at=T0 - 60, dedupe_key="same")
    failed = make(created_at=T0 - 10, dedupe_key="same", state="failed")
    other = make(created_at=T0, dedupe_key="other")
    for r in (old, recent, failed, other):
        await journal.create(r)

    found = await journal.find_duplicate("same", since=T0 - 3600)
    assert found is not None and found.id == recent.id  # newest that did not fail
    assert await journal.find_duplicate("same", since=T0 - 60) == found  # the bound is inclusive
    assert await journal.find_duplicate("same", since=T0 - 59) is None  # only the failed one is newer
    assert await journal.find_duplicate("missing", since=0) is None

    await journal.update(recent.id, state="cancelled")
    found = await journal.find_duplicate("same", since=0)
    assert found is not None and found.id == old.id

    # An uncertain submit never blocks an identical call: the user may try again on purpose.
    await journal.update(old.id, state="uncertain")
    assert await journal.find_duplicate("same", since=0) is None


@pytest.mark.anyio
async def test_list_and_unfinished(journal: Journal) -> None:
    states = ["completed", "running", "submitting", "failed", "uncertain", "queued", "cancelled"]
    records = [make(created_at=T0 + i, state=s) for i, s in enumerate(states)]
    # insert out of order: queries must order by creation time, not by insertion
    for r in reversed(records):
        await journal.create(r)

    newest = await journal.list()
    assert [r.id for r in newest] == [r.id for r in reversed(records)]
    assert [r.id for r in await journal.list(limit=2)] == [records[6].id, records[5].id]
    assert [r.state for r in await journal.list(states={"failed", "completed"})] == ["failed", "completed"]
    assert [r.id for r in await journal.list(since=T0 + 5)] == [records[6].id, records[5].id]
    assert await journal.list(states=[]) == []

    unfinished = await journal.unfinished()
    assert [r.state for r in unfinished] == ["running", "submitting", "uncertain", "queued"]


@pytest.mark.anyio
async def test_spend_rule(journal: Journal) -> None:
    certain = [
        make(estimate_usd=1.0, state="completed", request_id="r1"),
        make(estimate_usd=2.0, state="failed", request_id="r2"),  # reached the provider: may be billed
        make(estimate_usd=16.0, state="cancelled", request_id="r3"),
    ]
    possible = [
        make(estimate_usd=4.0, state="submitting"),  # in flight or lost mid-submit
        make(estimate_usd=8.0, state="uncertain"),
    ]
    free = [
        make(estimate_usd=100.0, state="failed"),  # refused before any request id existed
        make(estimate_usd=200.0, state="cancelled"),
    ]
    too_old = make(estimate_usd=400.0, created_at=T0 - DAY - 1, state="completed", request_id="r4")
    for r in [*certain, *possible, *free, too_old]:
        await journal.create(replace(r, simulated=False, provider="fal"))
    # Simulated jobs are never money, whatever their state.
    await journal.create(make(estimate_usd=1000.0, state="completed", request_id="sim"))
    await journal.create(make(estimate_usd=2000.0, state="uncertain"))

    assert await journal.spent_since(T0 - DAY) == (19.0, 12.0)
    assert await journal.spent_since(0) == (419.0, 12.0)
    assert await journal.spent_since(T0 + 1) == (0.0, 0.0)

    # a submitting job that gets its request id and then fails moves from possible to certain
    await journal.update(possible[0].id, request_id="r5")
    await journal.update(possible[0].id, state="failed")
    assert await journal.spent_since(T0 - DAY) == (23.0, 8.0)


@pytest.mark.anyio
async def test_overview_reads_spend_by_day_and_the_budget_window(journal: Journal) -> None:
    day1 = T0  # 2026-11-18
    day2 = T0 + DAY  # 2026-11-19
    rows = [
        make(created_at=day1, provider="fal", estimate_usd=0.5, state="completed", request_id="a"),
        make(created_at=day1 + 60, provider="fal", estimate_usd=0.25, state="running", request_id="b"),
        make(created_at=day1 + 90, provider="fal", estimate_usd=0.125, state="uncertain"),
        make(created_at=day1 + 120, provider="oxen", estimate_usd=1.0, state="completed", request_id="c"),
        make(created_at=day1 + 180, provider="fal", estimate_usd=9.0, state="failed"),  # free
        make(created_at=day2, provider="fal", estimate_usd=2.0, state="queued", request_id="d"),
        make(created_at=T0 - 3 * DAY, provider="fal", estimate_usd=7.0, state="completed", request_id="e"),
    ]
    for r in rows:
        await journal.create(replace(r, simulated=False))
    await journal.create(make(created_at=day2, estimate_usd=3.0, state="completed", request_id="s"))

    _, spending = await journal.overview(limit=0, days_since=T0 - DAY, budget_since=day1 + 100)
    assert (spending.certain, spending.possible) == (3.0, 0.0)  # oxen's 1.0 and fal's 2.0; never simulated
    assert spending.by_day == [
        {
            "day": "2026-11-18",
            "provider": "fal",
            "simulated": False,
            "usd": 0.75,
            "possible_usd": 0.125,
            "jobs": 3,
        },
        {
            "day": "2026-11-18",
            "provider": "oxen",
            "simulated": False,
            "usd": 1.0,
            "possible_usd": 0.0,
            "jobs": 1,
        },
        {
            "day": "2026-11-19",
            "provider": "fal",
            "simulated": False,
            "usd": 2.0,
            "possible_usd": 0.0,
            "jobs": 1,
        },
        {
            "day": "2026-11-19",
            "provider": "simulator",
            "simulated": True,
            "usd": 3.0,
            "possible_usd": 0.0,
            "jobs": 1,
        },
    ]
    assert (await journal.overview(limit=0, days_since=T0 + 2 * DAY, budget_since=0))[1].by_day == []


@pytest.mark.anyio
async def test_migrates_empty_database_and_reopen_is_noop(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "folders" / "journal.sqlite3"
    async with await Journal.open(path) as j:
        record = make()
        await j.create(record)

    with sqlite3.connect(path) as db:
        first = db.execute("SELECT name, applied_at FROM migrations ORDER BY name").fetchall()
        mode = db.execute("PRAGMA journal_mode").fetchone()[0]
    db.close()
    assert [name for name, _ in first] == [name for name, _ in MIGRATIONS]
    assert mode == "wal"

    async with await Journal.open(path) as j:
        assert await j.get(record.id) is not None
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT name, applied_at FROM migrations ORDER BY name").fetchall() == first
    db.close()


def test_migrate_applies_only_new_migrations(tmp_path: Path) -> None:
    calls: list[str] = []

    def extra(db: sqlite3.Connection) -> None:
        calls.append("extra")
        db.execute("ALTER TABLE jobs ADD COLUMN note TEXT")

    def broken(db: sqlite3.Connection) -> None:
        db.execute("CREATE TABLE half_done (x INTEGER)")
        raise RuntimeError("boom")

    db = sqlite3.connect(tmp_path / "j.sqlite3", isolation_level=None)
    try:
        assert migrate(db) == [name for name, _ in MIGRATIONS]
        assert migrate(db) == []
        assert migrate(db, [*MIGRATIONS, ("900_extra", extra)]) == ["900_extra"]
        assert migrate(db, [*MIGRATIONS, ("900_extra", extra)]) == []
        assert calls == ["extra"]
        # a failing migration leaves nothing behind and is not recorded
        with pytest.raises(RuntimeError, match="boom"):
            migrate(db, [*MIGRATIONS, ("901_broken", broken)])
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert "half_done" not in tables
        assert db.execute("SELECT COUNT(*) FROM migrations WHERE name = '901_broken'").fetchone() == (0,)
    finally:
        db.close()


@pytest.mark.anyio
async def test_concurrent_updates_stay_consistent(journal: Journal) -> None:
    shared = make()
    await journal.create(shared)
    flow: list[JobState] = ["queued", "running", "completed"]
    changed_shared: set[str] = set()  # notes of the shared-job updates that reported a state change

    async def one_job(i: int) -> None:
        record = make(created_at=T0 + i)
        await journal.create(record)
        for step, state in enumerate(flow):
            await journal.update(record.id, state=state, note=f"{i}:{step}", queue_position=i)
            # interleave with writes to one job that everybody touches
            note = f"shared {i}:{step}"
            new = await journal.update(shared.id, state="running" if (i + step) % 2 else "queued", note=note)
            if new.history[-1][2] == note:
                changed_shared.add(note)

    with anyio.fail_after(120):  # a safety net: PostgreSQL on a loaded machine takes longer
        async with anyio.create_task_group() as tg:
            for i in range(200):
                tg.start_soon(one_job, i)

    jobs = await journal.list(limit=1000)
    assert len(jobs) == 201
    for job in jobs:
        if job.id == shared.id:
            continue
        n = job.queue_position
        assert n is not None and job.state == "completed"
        assert [(s, note) for s, _, note in job.history] == [("submitting", "created")] + [
            (state, f"{n}:{step}") for step, state in enumerate(flow)
        ]

    final = await journal.get(shared.id)
    assert final is not None
    # every change an updater was told about is in the history, and nothing else
    assert {n for _, _, n in final.history[1:]} == changed_shared and len(final.history) == len(
        changed_shared
    ) + 1
    states = [s for s, _, _ in final.history]
    assert all(a != b for a, b in itertools.pairwise(states))  # only real changes were recorded
    assert states[-1] == final.state
    times = [t for _, t, _ in final.history]
    assert times == sorted(times) and final.updated_at >= times[-1]


@pytest.mark.anyio
async def test_closed_journal_refuses_work(tmp_path: Path) -> None:
    j = await Journal.open(tmp_path / "journal.sqlite3")
    await j.close()
    await j.close()  # closing twice is harmless
    with pytest.raises(RuntimeError, match="closed"):
        await j.get("sd_x")


@pytest.mark.anyio
async def test_reads_are_answered_while_writes_wait_for_the_file(tmp_path: Path) -> None:
    # Another process holds the write lock, so this journal's writes queue up behind it (as a
    # thousand finishing jobs' writes queue behind each other); reads must not queue with them.
    path = tmp_path / "journal.sqlite3"
    j = await Journal.open(path)
    record = make()
    await j.create(record)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    written: list[str] = []

    async def write(i: int) -> None:
        await j.update(record.id, state="running" if i % 2 else "queued", note=f"write {i}")
        written.append(f"write {i}")

    try:
        async with anyio.create_task_group() as tg:
            for i in range(5):
                tg.start_soon(write, i)
            await anyio.wait_all_tasks_blocked()
            seen = await j.get(record.id)
            listed = await j.list()
            unfinished = await j.unfinished()
            assert written == []  # every write is still waiting for the lock
            assert seen is not None and seen.state == "submitting"
            assert [r.id for r in listed] == [r.id for r in unfinished] == [record.id]
            other.execute("COMMIT")
        assert sorted(written) == [f"write {i}" for i in range(5)]
        final = await j.get(record.id)
        assert final is not None and len(final.history) == 6
    finally:
        other.close()
        await j.close()


@pytest.mark.anyio
async def test_writes_that_queue_together_commit_together_and_fail_alone(tmp_path: Path) -> None:
    # Writes queued behind another process's lock go in together once it is free: each in a savepoint,
    # so a duplicate id and a missing job fail their own callers and nothing else.
    path = tmp_path / "journal.sqlite3"
    j = await Journal.open(path)
    first, moving = make(), make()
    await j.create(first)
    await j.create(moving)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    outcomes: dict[str, str] = {}
    new = [make() for _ in range(8)]

    async def attempt(name: str, write: Any) -> None:
        try:
            await write()
        except (ValueError, KeyError) as exc:
            outcomes[name] = type(exc).__name__
        else:
            outcomes[name] = "ok"

    try:
        async with anyio.create_task_group() as tg:
            for i, record in enumerate(new):
                tg.start_soon(attempt, f"new {i}", lambda record=record: j.create(record))
            tg.start_soon(attempt, "duplicate", lambda: j.create(first))
            tg.start_soon(attempt, "missing", lambda: j.update("sd_nosuchjob", state="running"))
            tg.start_soon(attempt, "moving", lambda: j.update(moving.id, state="queued", request_id="r1"))
            with anyio.CancelScope() as dropped:
                dropped.cancel()  # cancelled while it waits for its turn: never written
                await j.update(first.id, state="cancelled", note="dropped")
            await anyio.wait_all_tasks_blocked()
            assert outcomes == {}  # all still waiting for the lock
            other.execute("COMMIT")
    finally:
        other.close()
    assert outcomes == {
        **{f"new {i}": "ok" for i in range(8)},
        "duplicate": "ValueError",
        "missing": "KeyError",
        "moving": "ok",
    }
    assert all([await j.get(r.id) is not None for r in new])
    moved, untouched = await j.get(moving.id), await j.get(first.id)
    assert moved is not None and moved.request_id == "r1" and moved.state == "queued"
    assert untouched is not None and untouched.state == "submitting" and len(untouched.history) == 1
    await j.close()


CRASHING_WRITER = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    import anyio
    from seedance_mcp.server.journal.sqlite import JobRecord, Journal

    async def main() -> None:
        journal = await Journal.open(Path(sys.argv[1]))
        await journal.create(JobRecord(
            id=sys.argv[2], created_at=1.0, updated_at=1.0, provider="fal", simulated=False,
            tool="generate_video", tier="standard", mode="text-to-video", endpoint="e",
            arguments={"prompt": "p"}, estimate={}, estimate_usd=3.0, dedupe_key="dk",
        ))
        print("ok", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)  # no close, no checkpoint, no atexit

    anyio.run(main)
    """
)


@pytest.mark.anyio
async def test_row_survives_sigkill_right_after_create(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    job_id = new_job_id()
    with anyio.fail_after(60):
        result = await anyio.run_process(
            [sys.executable, "-c", CRASHING_WRITER, str(path), job_id],
            check=False,
            stderr=subprocess.PIPE,
        )
    assert result.returncode == -9, result.stderr.decode()
    assert result.stdout == b"ok\n"

    async with await Journal.open(path) as j:
        got = await j.get(job_id)
        assert got is not None and got.state == "submitting" and got.estimate_usd == 3.0
        assert await j.unfinished() == [got]
        assert await j.spent_since(0) == (0.0, 3.0)  # possibly charged: no request id yet


# --- several processes on one journal: claim, leases, reservations ------------------------------


@pytest.mark.anyio
async def test_claim_makes_one_job_for_identical_calls_over_two_connections(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    async with await Journal.open(path) as one, await Journal.open(path) as two:
        results: list[tuple[list[JobRecord], bool]] = []

        async def call(journal: Journal) -> None:
            intent = make(created_at=T0, dedupe_key="same call")
            results.append(await journal.claim([intent], since=T0 - 600))

        async with anyio.create_task_group() as tg:
            for i in range(20):
                tg.start_soon(call, one if i % 2 else two)

        made = [records for records, claimed in results if claimed]
        assert len(made) == 1
        [[job]] = made
        assert all([r.id for r in records] == [job.id] for records, _ in results)
        assert len(await one.list(limit=100)) == 1

        # An uncertain job does not block: the next identical call makes a new job.
        await one.update(job.id, state="uncertain")
        records, claimed = await two.claim([make(created_at=T0 + 1, dedupe_key="same call")], since=T0 - 600)
        assert claimed and records[0].id != job.id


@pytest.mark.anyio
async def test_claim_returns_the_whole_group_of_the_earlier_call(journal: Journal) -> None:
    group = [make(created_at=T0, dedupe_key="k", group_id="g1") for _ in range(3)]
    assert (await journal.claim(group, since=0))[1]
    again = [make(created_at=T0 + 1, dedupe_key="k", group_id="g2") for _ in range(3)]
    records, claimed = await journal.claim(again, since=0)
    assert not claimed and [r.id for r in records] == [r.id for r in group]
    assert [r.id for r in await journal.group("g1")] == [r.id for r in group]
    with pytest.raises(ValueError, match="dedupe_key"):
        await journal.claim([make(dedupe_key="a"), make(dedupe_key="b")], since=0)


@pytest.mark.anyio
async def test_leases_one_holder_until_it_lapses(journal: Journal) -> None:
    job = make(state="running", submission="{}", request_id="r")
    await journal.create(job)
    assert [r.id for r in await journal.takeable("a")] == [job.id]

    held = await journal.take_lease(job.id, "a", 0.5)
    assert held is not None and held.lease_owner == "a"
    assert await journal.take_lease(job.id, "b", 10) is None  # held by a
    assert await journal.takeable("b") == []
    assert [r.id for r in await journal.takeable("a")] == [job.id]  # a may go on
    lapse = await journal.next_lease_expiry("b")
    assert lapse is not None and lapse == held.lease_expires
    assert await journal.renew_lease(job.id, "a", 0.5)
    assert not await journal.renew_lease(job.id, "b", 0.5)

    await anyio.sleep(0.6)  # a stops renewing: the lease lapses
    assert await journal.next_lease_expiry("b") is None
    assert [r.id for r in await journal.takeable("b")] == [job.id]
    taken = await journal.take_lease(job.id, "b", 10)
    assert taken is not None and taken.lease_owner == "b"
    assert not await journal.renew_lease(job.id, "a", 10)  # a learns it lost the job
    await journal.release_lease(job.id, "a")  # not a's to release: no effect
    assert (await journal.get(job.id)).lease_owner == "b"  # type: ignore[union-attr]
    await journal.release_lease(job.id, "b")
    assert (await journal.get(job.id)).lease_owner is None  # type: ignore[union-attr]


@pytest.mark.anyio
async def test_takeable_covers_moving_jobs_and_due_saves(journal: Journal) -> None:
    moving = make(created_at=T0, state="queued", submission="{}")
    submitting = make(created_at=T0 + 1, state="submitting")
    due = make(created_at=T0 + 2, state="completed", saved=False, next_save_at=T0)
    later = make(created_at=T0 + 3, state="completed", saved=False, next_save_at=T0 + 10 * DAY)
    given_up = make(created_at=T0 + 4, state="completed", saved=False)
    settled = [make(state=s) for s in ("completed", "failed", "cancelled", "uncertain")]
    for r in (moving, submitting, due, later, given_up, *settled):
        await journal.create(r)
    assert [r.id for r in await journal.takeable("x", now=T0 + 5)] == [moving.id, submitting.id, due.id]


@pytest.mark.anyio
async def test_reservations_share_one_budget_across_connections(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    now = __import__("time").time()
    async with await Journal.open(path) as one, await Journal.open(path) as two:
        await one.create(
            make(created_at=now, simulated=False, provider="fal", estimate_usd=2.0, request_id="r")
        )
        await one.create(make(created_at=now, simulated=True, estimate_usd=50.0, request_id="s"))  # not money
        answers = []

        async def ask(journal: Journal) -> None:
            answers.append(
                await journal.reserve(1.0, owner="o", budget_usd=5.0, since=now - DAY, ttl_seconds=60)
            )

        async with anyio.create_task_group() as tg:
            for i in range(10):
                tg.start_soon(ask, one if i % 2 else two)
        granted = [a for a in answers if a.granted]
        assert len(granted) == 3  # 2 spent + 3 x 1 = the 5 budget, whichever process asked
        refused = [a for a in answers if not a.granted]
        assert all(a.spent_usd == 2.0 and a.reserved_usd == 3.0 for a in refused)

        assert granted[0].id is not None
        await two.release(granted[0].id)
        again = await one.reserve(1.0, owner="o", budget_usd=5.0, since=now - DAY, ttl_seconds=0.2)
        assert again.granted
        await anyio.sleep(0.3)  # an abandoned reservation (its process died) stops counting
        assert (await two.reserve(1.0, owner="o", budget_usd=5.0, since=now - DAY, ttl_seconds=60)).granted
        assert (await two.reserve(99.0, owner="o", budget_usd=None, since=now - DAY, ttl_seconds=60)).granted


def test_migration_002_keeps_old_rows_and_queues_unsaved_videos(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "j.sqlite3", isolation_level=None)
    try:
        migrate(db, MIGRATIONS[:1])
        base = "INSERT INTO jobs VALUES (?, 1, 1, 'fal', 0, 't', 'fast', 'm', 'e', '{}', '{}', 1, ?, NULL,"
        db.execute(
            base + " 'r', NULL, '[]', ?, NULL, ?, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '[]')",
            ("saved", "completed", "u", "/v.mp4"),
        )
        db.execute(
            base + " 'r', NULL, '[]', ?, NULL, ?, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '[]')",
            ("lost", "completed", "u", None),
        )
        assert migrate(db, MIGRATIONS[:2]) == ["002_leases_saves_reservations"]
        rows = dict(db.execute("SELECT id, saved FROM jobs").fetchall())
        assert rows == {"saved": 1, "lost": 0}
        assert db.execute("SELECT next_save_at FROM jobs WHERE id = 'lost'").fetchone() == (0,)
    finally:
        db.close()
