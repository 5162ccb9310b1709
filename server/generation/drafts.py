"""Finishing a draft: the request that makes a journaled Seedance 2.5 draft again at full resolution.

A draft job's row holds what finishing needs: the provider's draft id and its expiry (journaled with
the result), the provider it was made on, its endpoint, and its request (duration and framing, which
the finish is billed by). Everything that makes a finish impossible is refused here, naming the field
and the fix, before anything is priced or sent.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from ..catalogue.endpoints import endpoint_with_id
from ..errors import InputError
from ..journal.api import JobRecord
from .service import GenerationRequest

FIELD = "finish_draft"


def when(epoch: float) -> str:
    """A draft's expiry as answers give it: ISO 8601, UTC, to the second."""
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


def finish_request(
    tool: str,
    draft: JobRecord | None,
    job_id: str,
    values: Mapping[str, Any],
    *,
    provider: str,
) -> GenerationRequest:
    """The request finishing `draft` (the journaled job `job_id`, None when unknown) with `values`
    (the finish endpoint's parameters: resolution, ...), on this server's `provider` (journal label)."""
    if draft is None:
        raise InputError(FIELD, f"no job {job_id!r} in the journal; list_jobs shows your jobs and drafts")
    entry = endpoint_with_id(draft.endpoint)
    drafts = entry.drafts if entry is not None else None
    if drafts is None or not draft.arguments.get("draft"):
        raise InputError(
            FIELD,
            f'{job_id} is not a draft; make one with model "2.5" and draft true, then finish that job',
        )
    if draft.draft_id is None:
        ended = draft.state in ("failed", "cancelled")
        fix = "make a new draft" if ended else "wait for it (check_status)"
        raise InputError(FIELD, f"draft {job_id} is {draft.state} and has no take to finish yet; {fix}")
    if draft.provider != provider:
        raise InputError(
            FIELD,
            f"draft {job_id} was made on {draft.provider} and this server uses {provider}; finish it there",
        )
    if draft.draft_expires is not None and draft.draft_expires <= time.time():
        raise InputError(
            FIELD,
            f"draft {job_id} expired at {when(draft.draft_expires)} (drafts last {drafts.days} days); "
            "make a new draft, or the full take directly",
        )
    family, tier, mode = drafts.finish
    return GenerationRequest.of(
        tool,
        family=family,
        tier=tier,
        mode=mode,
        values={**values, "draft_id": draft.draft_id},
        billed_as={name: str(draft.arguments[name]) for name in ("duration", "aspect_ratio")},
        finishes=draft.id,
    )
