"""The journals' read queries about money and duplicates, written once for both dialects.

SQLite and PostgreSQL differ here only in what a `Dialect` says: how a parameter is written, how a
day is taken from an epoch, how "not simulated" is written and which column keeps insertion order.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from .api import SpendRow, check_state

# Money, by one rule for every report and budget. A job is surely charged once the provider has its
# request id; it is possibly charged while "submitting" or "uncertain" without one (the submit may
# have been accepted unseen); a job that failed or was cancelled without one never reached the
# provider. Simulated jobs are never money: reports show them apart.
CERTAIN_SQL = "request_id IS NOT NULL"
POSSIBLE_SQL = "request_id IS NULL AND state IN ('submitting', 'uncertain')"
# An identical call is answered with this job instead of a new submit (uncertain ones never block:
# the user was told "possibly charged" and may decide to try again).
BLOCKS_DUPLICATE_SQL = "state NOT IN ('failed', 'cancelled', 'uncertain')"


@dataclass(frozen=True)
class Dialect:
    param: str  # how a query parameter is written
    day: str  # the UTC day (YYYY-MM-DD) of `created_at`, an epoch
    not_simulated: str
    insertion_order: str  # a column that grows with every insert


SQLITE = Dialect("?", "date(created_at, 'unixepoch')", "simulated = 0", "rowid")
POSTGRES = Dialect(
    "%s", "to_char(to_timestamp(created_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD')", "NOT simulated", "seq"
)


def listing(
    d: Dialect, *, states: Collection[str] | None, limit: int, since: float | None
) -> tuple[str, list[Any]]:
    """Jobs newest first, only those in `states` (None: any) or created at or after `since`: the query
    and its parameters."""
    where: list[str] = []
    params: list[Any] = []
    if states is not None:
        wanted = sorted(set(states))
        for state in wanted:
            check_state(state)
        where.append(f"state IN ({', '.join(d.param for _ in wanted)})" if wanted else "1 = 0")
        params.extend(wanted)
    if since is not None:
        where.append(f"created_at >= {d.param}")
        params.append(since)
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    sql = (
        f"SELECT * FROM jobs{clause}"  # noqa: S608 - constants only; values are parameters
        f" ORDER BY created_at DESC, {d.insertion_order} DESC LIMIT {d.param}"
    )
    return sql, [*params, max(0, limit)]


def spend_by_day(d: Dialect) -> str:
    """Per UTC day, provider and simulated-or-not, jobs created at or after the one parameter: columns
    day, provider, simulated, usd (surely charged), possible_usd (possibly charged), jobs."""
    return (
        f"SELECT {d.day} AS day, provider, simulated,"  # noqa: S608 - constants only; values are parameters
        f" SUM(CASE WHEN {CERTAIN_SQL} THEN estimate_usd ELSE 0 END) AS usd,"
        f" SUM(CASE WHEN {POSSIBLE_SQL} THEN estimate_usd ELSE 0 END) AS possible_usd, COUNT(*) AS jobs"
        f" FROM jobs WHERE created_at >= {d.param} AND (({CERTAIN_SQL}) OR ({POSSIBLE_SQL}))"
        " GROUP BY day, provider, simulated ORDER BY day, provider"
    )


def spend_row(day: str, provider: str, simulated: Any, usd: Any, possible: Any, jobs: Any) -> SpendRow:
    return {
        "day": day,
        "provider": provider,
        "simulated": bool(simulated),
        "usd": round(float(usd), 6),
        "possible_usd": round(float(possible), 6),
        "jobs": int(jobs),
    }


def spent(d: Dialect) -> str:
    """Real (never simulated) spend of jobs created at or after the one parameter: certain, possible."""
    return (
        f"SELECT COALESCE(SUM(CASE WHEN {CERTAIN_SQL} THEN estimate_usd ELSE 0 END), 0) AS certain,"  # noqa: S608
        f" COALESCE(SUM(CASE WHEN {POSSIBLE_SQL} THEN estimate_usd ELSE 0 END), 0) AS possible"
        f" FROM jobs WHERE created_at >= {d.param} AND {d.not_simulated}"
    )


def duplicate(d: Dialect) -> str:
    """The newest job with the dedupe key (first parameter) created at or after the second that an
    identical call is answered with."""
    return (
        f"SELECT * FROM jobs WHERE dedupe_key = {d.param} AND created_at >= {d.param}"  # noqa: S608
        f" AND {BLOCKS_DUPLICATE_SQL} ORDER BY created_at DESC, {d.insertion_order} DESC LIMIT 1"
    )
