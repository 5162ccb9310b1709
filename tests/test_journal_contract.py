"""The journal interface (`journal_api.JobJournal`) against both implementations, SQLite and PostgreSQL:
records, claims, leases, reservations, the money rules; and what only PostgreSQL adds for replicas
(change notifications, migrations applied once by racing processes)."""

from __future__ import annotations

import time
from typing import Any

import anyio
import pytest

from seedance_mcp.server.journal.api import HeldRequest, JobJournal, JobRecord, new_job_id

pytestmark = pytest.mark.anyio

T0 = 1_795_000_000.0  # 2026-11-18 07:46:40 UTC


@pytest.fixture
def journal(any_journal: JobJournal) -> JobJournal:
    if not hasattr(any_journal, "claim"):
        pytest.skip("this SQLite journal predates the lease interface (journal_api)")
    return any_journal


def make(**overrides: Any) -> JobRecord:
    values: dict[str, Any] = dict(
        id=new_job_id(),
        created_at=T0,
        updated_at=T0,
        provider="fal",
        simulated=False,
        tool="generate_video",
        tier="fast",
        mode="text-to-video",
        endpoint="bytedance/seedance-2.0/fast/text-to-video",
        arguments={"prompt": "a red fox in snow é ✓", "duration": "5", "image_url": None},
        estimate={"tokens": 108_000, "usd": 0.26},
        estimate_usd=0.26,
    )
    values.update(overrides)
    return JobRecord(**values)


async def test_round_trip_update_and_history(journal: JobJournal) -> None:
    record = make(dedupe_key="k", group_id="g", seed=7, logs=["a"] * 60)
    await journal.create(record)
    got = await journal.get(record.id)
    assert got is not None
    assert got.arguments == record.arguments and got.logs == ["a"] * 50
    assert got.history == [("submitting", T0, "created")]
    with pytest.raises(ValueError, match="already in the journal"):
        await journal.create(record)
    new = await journal.update(record.id, state="queued", note="request r1", request_id="r1", submission="{}")
    assert (
        new.state == "queued" and new.request_id == "r1" and new.history[-1][::2] == ("queued", "request r1")
    )
    done = await journal.update(record.id, state="completed", saved=True, video_path="/v.mp4")
    assert done.finished_at is not None and done.saved is True
    assert await journal.get(record.id) == done
    with pytest.raises(KeyError):
        await journal.update("sd_missing", state="queued")
    with pytest.raises(TypeError, match="lease_owner"):
        await journal.update(record.id, lease_owner="me")
    assert await journal.get("sd_missing") is None


async def test_a_draft_and_its_finish_keep_their_link(journal: JobJournal) -> None:
    draft = make()
    await journal.create(draft)
    expires = T0 + 7 * 86400 + 0.25
    kept = await journal.update(draft.id, state="completed", draft_id="draft_r1", draft_expires=expires)
    finish = make(finished_from=draft.id)
    await journal.create(finish)
    assert await journal.get(draft.id) == kept and (kept.draft_id, kept.draft_expires) == (
        "draft_r1",
        expires,
    )
    got = await journal.get(finish.id)
    assert got is not None and got.finished_from == draft.id and got.draft_id is None


async def test_list_group_unfinished(journal: JobJournal) -> None:
    a = make(created_at=T0, group_id="g")
    b = make(created_at=T0 + 1, group_id="g")
    c = make(created_at=T0 + 2, state="completed")
    for r in (a, b, c):
        await journal.create(r)
    assert [r.id for r in await journal.list()] == [c.id, b.id, a.id]
    assert [r.id for r in await journal.list(states=["completed"])] == [c.id]
    assert [r.id for r in await journal.list(since=T0 + 1, limit=1)] == [c.id]
    assert [r.id for r in await journal.group("g")] == [a.id, b.id]
    assert [r.id for r in await journal.unfinished()] == [a.id, b.id]


async def test_identical_claims_make_one_job(journal: JobJournal) -> None:
    now = time.time()
    results: list[tuple[list[JobRecord], bool]] = []

    async def claim() -> None:
        intents = [make(created_at=now, dedupe_key="same", group_id=None)]
        results.append(await journal.claim(intents, since=now - 600))

    async with anyio.create_task_group() as tg:
        for _ in range(8):
            tg.start_soon(claim)
    winners = [jobs for jobs, inserted in results if inserted]
    assert len(winners) == 1
    assert {jobs[0].id for jobs, _ in results} == {winners[0][0].id}
    assert len(await journal.list(limit=100)) == 1
    # A failed job no longer blocks; an uncertain one never does.
    await journal.update(winners[0][0].id, state="uncertain")
    again, inserted = await journal.claim([make(created_at=now, dedupe_key="same")], since=now - 600)
    assert inserted
    assert (await journal.find_duplicate("same", now - 600)) == again[0]


async def test_leases_one_holder_takeover_after_expiry(journal: JobJournal) -> None:
    job = make(created_at=time.time(), state="queued", submission="{}", request_id="r")
    await journal.create(job)
    assert [r.id for r in await journal.takeable("a")] == [job.id]
    held = await journal.take_lease(job.id, "a", 30)
    assert held is not None and held.lease_owner == "a"
    assert await journal.take_lease(job.id, "b", 30) is None
    assert await journal.takeable("b") == []
    assert await journal.renew_lease(job.id, "a", 0.2)
    assert not await journal.renew_lease(job.id, "b", 30)
    expiry = await journal.next_lease_expiry("b")
    assert expiry is not None and expiry <= time.time() + 0.2
    await anyio.sleep(0.3)
    assert [r.id for r in await journal.takeable("b")] == [job.id]
    taken = await journal.take_lease(job.id, "b", 30)
    assert taken is not None and taken.lease_owner == "b"
    assert not await journal.renew_lease(job.id, "a", 30)

    await journal.release_lease(job.id, "a")  # not a's: nothing happens
    assert (await journal.get(job.id)).lease_owner == "b"  # type: ignore[union-attr]
    await journal.release_lease(job.id, "b")
    assert (await journal.get(job.id)).lease_owner is None  # type: ignore[union-attr]


async def test_scans_leave_out_what_their_caller_works_on(journal: JobJournal) -> None:
    now = time.time()
    mine, theirs, free = (make(created_at=now + i, state="queued", submission="{}") for i in range(3))
    for job in (mine, theirs, free):
        await journal.create(job)
    assert await journal.take_lease(mine.id, "a", 30) is not None
    assert await journal.take_lease(theirs.id, "b", 30) is not None
    assert [r.id for r in await journal.takeable("a")] == [mine.id, free.id]  # its own, and the free one
    assert [r.id for r in await journal.takeable("a", skipping={mine.id, "sd_other"})] == [free.id]
    assert [r.id for r in await journal.takeable("a", skipping=[])] == [mine.id, free.id]
    assert [r.id for r in await journal.unfinished(not_held_by="a")] == [theirs.id, free.id]
    assert [r.id for r in await journal.unfinished()] == [mine.id, theirs.id, free.id]


async def test_many_leases_renew_in_one_call_and_only_the_holders(journal: JobJournal) -> None:
    jobs = [make(created_at=time.time(), state="queued", submission="{}") for _ in range(1200)]
    for j in jobs:
        await journal.create(j)
    mine, theirs, free = jobs[:1100], jobs[1100:1150], jobs[1150:]
    for j in mine:
        assert await journal.take_lease(j.id, "a", 5) is not None
    for j in theirs:
        assert await journal.take_lease(j.id, "b", 5) is not None
    before = time.time()
    # More ids than SQLite binds in one statement; unknown and free ids are simply not held.
    kept = await journal.renew_leases([j.id for j in jobs] + ["sd_unknown0000"], "a", 300)
    assert kept == {j.id for j in mine}
    for j in (mine[0], mine[-1]):
        got = await journal.get(j.id)
        assert got is not None and got.lease_owner == "a" and (got.lease_expires or 0) >= before + 300
    for j in (theirs[0], free[0]):
        got = await journal.get(j.id)
        assert got is not None and got.lease_owner != "a" and (got.lease_expires or 0) < before + 300
    assert await journal.renew_leases([], "a", 300) == set()


async def test_racing_lease_takers_get_one_each(journal: JobJournal) -> None:
    jobs = [make(created_at=time.time(), state="queued", submission="{}") for _ in range(6)]
    for j in jobs:
        await journal.create(j)
    won: dict[str, list[str]] = {"a": [], "b": [], "c": []}

    async def take(owner: str) -> None:
        for j in jobs:
            if await journal.take_lease(j.id, owner, 30) is not None:
                won[owner].append(j.id)

    async with anyio.create_task_group() as tg:
        for owner in won:
            tg.start_soon(take, owner)
    assert sorted(i for ids in won.values() for i in ids) == sorted(j.id for j in jobs)


async def test_a_due_save_needs_a_follower(journal: JobJournal) -> None:
    now = time.time()
    job = make(created_at=now, state="completed", request_id="r", result_url="https://x/v.mp4")
    await journal.create(job)
    assert await journal.takeable("a") == []
    await journal.update(job.id, saved=False, save_error="disk full", save_attempts=1, next_save_at=now + 60)
    assert await journal.takeable("a") == []
    assert [r.id for r in await journal.takeable("a", now=now + 61)] == [job.id]


async def test_budget_reservations_hold_across_callers(journal: JobJournal) -> None:
    now = time.time()
    await journal.create(make(created_at=now, request_id="r", estimate_usd=1.0))  # certain
    await journal.create(make(created_at=now, state="uncertain", estimate_usd=0.5))  # possible
    await journal.create(make(created_at=now, simulated=True, provider="simulator", estimate_usd=9.0))
    assert await journal.spent_since(now - 10) == (1.0, 0.5)
    first = await journal.reserve(1.0, owner="a", budget_usd=3.0, since=now - 10, ttl_seconds=60)
    assert first.granted and first.id and (first.spent_usd, first.reserved_usd) == (1.5, 0.0)
    refused = await journal.reserve(1.0, owner="b", budget_usd=3.0, since=now - 10, ttl_seconds=60)
    assert not refused.granted and refused.id is None and refused.reserved_usd == 1.0
    await journal.release(first.id)
    assert (await journal.reserve(1.0, owner="b", budget_usd=3.0, since=now - 10, ttl_seconds=0.1)).granted
    await anyio.sleep(0.2)  # an expired reservation (its process died) stops counting
    assert (await journal.reserve(1.5, owner="c", budget_usd=3.0, since=now - 10, ttl_seconds=60)).granted


async def test_a_held_request_is_taken_once_and_never_after_it_expires(journal: JobJournal) -> None:
    now = time.time()
    request = {"tool": "generate_video", "request": {"prompt": "a fox é"}}
    await journal.hold(HeldRequest(id="sc_1", created_at=now, expires_at=now + 60, request=request), "h1")
    await journal.hold(HeldRequest(id="sc_2", created_at=now, expires_at=now + 60, request=request), "h2")
    assert await journal.take_held("nobody", "generating", now=now) == (None, False)

    # Two cards (or two replicas) take the same request at once: one of them gets it.
    results: list[tuple[HeldRequest | None, bool]] = []

    async def take() -> None:
        results.append(await journal.take_held("h1", "generating", now=now + 1))

    async with anyio.create_task_group() as tg:
        for _ in range(4):
            tg.start_soon(take)
    assert sorted(took for _, took in results) == [False, False, False, True]
    held = results[0][0]
    assert held is not None and held.request == request and held.outcome == "generating"
    await journal.held_job("sc_1", "sd_job")
    again, took = await journal.take_held("h1", "dropped", now=now + 2)
    assert not took and again is not None and (again.outcome, again.job_id) == ("generating", "sd_job")

    # Dropped stays dropped; an unconfirmed request cannot be taken once it has expired.
    assert (await journal.take_held("h2", "dropped", now=now + 2))[1]
    assert (await journal.take_held("h2", "generating", now=now + 3))[0].outcome == "dropped"  # type: ignore[union-attr]
    await journal.hold(HeldRequest(id="sc_3", created_at=now, expires_at=now + 60, request=request), "h3")
    late, took = await journal.take_held("h3", "generating", now=now + 61)
    assert not took and late is not None and late.outcome is None and late.taken_at is None


async def test_overview_lists_jobs_and_spend_with_simulated_apart(journal: JobJournal) -> None:
    await journal.create(make(created_at=T0, request_id="r", estimate_usd=1.25))
    await journal.create(make(created_at=T0, state="submitting", estimate_usd=0.5))
    await journal.create(make(created_at=T0, state="failed", estimate_usd=7.0))  # never reached fal
    await journal.create(make(created_at=T0 + 86_400, simulated=True, provider="simulator", request_id="s"))
    jobs, spending = await journal.overview(
        states=["failed"], limit=5, days_since=T0 - 1, budget_since=T0 - 1
    )
    assert [job.estimate_usd for job in jobs] == [7.0]
    assert (spending.certain, spending.possible) == (1.25, 0.5)  # the simulated job is never money
    assert [job.simulated for job in (await journal.overview(limit=1, days_since=0, budget_since=0))[0]] == [
        True
    ]
    assert spending.by_day == [
        {
            "day": "2026-11-18",
            "provider": "fal",
            "simulated": False,
            "usd": 1.25,
            "possible_usd": 0.5,
            "jobs": 2,
        },
        {
            "day": "2026-11-19",
            "provider": "simulator",
            "simulated": True,
            "usd": 0.26,
            "possible_usd": 0.0,
            "jobs": 1,
        },
    ]


# --- PostgreSQL only: what replicas rely on --------------------------------------------------


async def test_postgres_changes_reach_every_process(postgres_dsn: str) -> None:
    from seedance_mcp.server.journal.postgres import PgJournal

    async with await PgJournal.open(postgres_dsn) as a, await PgJournal.open(postgres_dsn) as b:
        heard: list[str] = []
        changed = anyio.Event()

        def on_change(job_id: str) -> None:
            heard.append(job_id)
            changed.set()

        unsubscribe = b.subscribe(on_change)
        job = make(created_at=time.time())
        await a.create(job)
        with anyio.fail_after(60):
            await changed.wait()
        assert heard == [job.id]
        unsubscribe()
        await a.update(job.id, state="queued", request_id="r-1", submission="{}")
        woken = anyio.Event()
        wakes: list[str] = []

        def on_wake(payload: str) -> None:
            wakes.append(payload)
            if payload == "r-1":
                woken.set()

        b.listen("seedance_wake", on_wake)
        # A wake-up goes out only for the request the job made (a webhook's token names the job).
        assert not await a.publish_if_made("seedance_wake", "r-2", job_id=job.id, request_id="r-2")
        assert await a.publish_if_made("seedance_wake", "r-1", job_id=job.id, request_id="r-1")
        with anyio.fail_after(60):
            await woken.wait()
        assert wakes == ["r-1"]
        assert heard == [job.id]  # unsubscribed: the update was not delivered


async def test_postgres_replicas_starting_together_migrate_once(postgres_dsn: str) -> None:
    from seedance_mcp.server.journal.postgres import MIGRATIONS, PgJournal

    opened: list[PgJournal] = []

    async def open_one() -> None:
        opened.append(await PgJournal.open(postgres_dsn))

    async with anyio.create_task_group() as tg:
        for _ in range(3):
            tg.start_soon(open_one)
    try:
        health = await opened[0].health()
        assert health["migrations_missing"] == []
        import psycopg

        async with await psycopg.AsyncConnection.connect(postgres_dsn) as db:
            cur = await db.execute("SELECT name FROM migrations ORDER BY name")
            assert [r[0] for r in await cur.fetchall()] == [name for name, _ in MIGRATIONS]
    finally:
        for j in opened:
            await j.close()
