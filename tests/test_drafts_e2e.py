"""Seedance 2.5 drafts through a real MCP client on the simulator as fal.ai (issue 24): a cheap 480p
draft, journaled with its draft id and expiry, then its finish at full resolution, each posted to its
own path with the body the catalogue describes and priced by the token formula; a finish that cannot
work (expired, not a draft, unknown) is refused naming the field before anything is sent."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import types
from mcp.client import Client

from seedance_mcp.server.app import create_server
from seedance_mcp.server.catalogue.endpoints import endpoint
from seedance_mcp.server.config import Settings
from seedance_mcp.server.journal.sqlite import Journal
from seedance_mcp.server.simulator import Simulator, SimulatorOptions
from tests.fal_on_simulator import fal_on_simulator

pytestmark = pytest.mark.anyio
KEY = "drafts-e2e-id:drafts-e2e-secret"
PROMPT = "A paper boat on a rainy street"
RATE_2_5 = 0.0214  # $ per 1,000 tokens, written out here rather than taken from the server


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(SimulatorOptions(queue_seconds=0.05, run_seconds=0.1, seed=5)) as simulator:
        yield simulator


def settings_for(sim: Simulator, tmp_path: Path) -> Settings:
    return fal_on_simulator(sim.url, tmp_path, KEY)


def tokens_usd(width: int, height: int, seconds: int) -> float:
    return round(width * height * seconds * 24 / 1024 / 1000 * RATE_2_5, 4)


def submits(sim: Simulator, since: int) -> list[dict[str, Any]]:
    return [e for e in sim.request_log()[since:] if e.get("kind") == "submit"]


def text_of(result: Any) -> str:
    return "\n".join(block.text for block in result.content if getattr(block, "text", None))


async def call(client: Client, tool: str, arguments: dict[str, Any]) -> Any:
    with anyio.fail_after(120):
        return await client.call_tool(tool, arguments)


async def make_draft(client: Client, sim: Simulator) -> tuple[dict[str, Any], dict[str, Any], str]:
    """A 4 s 16:9 draft of PROMPT: (its answer, the submit the simulator saw, the answer's text)."""
    before = len(sim.request_log())
    arguments = {"prompt": PROMPT, "model": "2.5", "draft": True, "duration": "4", "aspect_ratio": "16:9"}
    result = await call(client, "generate_video", {**arguments, "wait_seconds": 120})
    assert not result.is_error, result.content
    [submit] = submits(sim, before)
    return result.structured_content or {}, submit, text_of(result)


async def test_a_draft_is_finished_into_a_full_take_and_both_are_linked(
    sim: Simulator, tmp_path: Path
) -> None:
    settings = settings_for(sim, tmp_path)
    async with Client(create_server(settings)) as client:
        draft, submit, text = await make_draft(client, sim)
        # The draft: posted to 2.5's own path with `draft`, made and billed at 480p whatever resolution says.
        assert submit["path"] == "/bytedance/seedance-2.5/text-to-video"
        body = {
            "prompt": PROMPT,
            "resolution": "720p",
            "duration": "4",
            "aspect_ratio": "16:9",
            "generate_audio": True,
            "draft": True,
        }
        assert submit["input"] == body
        assert draft["state"] == "completed"
        assert draft["estimated_cost_usd"] == tokens_usd(864, 496, 4)
        assert (draft["video"]["width"], draft["video"]["height"]) == (864, 496)
        expires = datetime.fromisoformat(draft["draft_expires_at"])
        assert 6.9 * 86400 < expires.timestamp() - datetime.now().timestamp() <= 7 * 86400
        assert f"Draft: finishable until {draft['draft_expires_at']}" in text
        assert f"finish_draft '{draft['job_id']}'" in draft["next_step"]

        # Its finish: the finish endpoint's own path and body, billed as a full 1080p take of 4 s at 16:9.
        before = len(sim.request_log())
        finish_call = {"prompt": PROMPT, "finish_draft": draft["job_id"], "resolution": "1080p"}
        result = await call(client, "generate_video", {**finish_call, "wait_seconds": 120})
        assert not result.is_error, result.content
        finished = result.structured_content or {}
        [submit] = submits(sim, before)
        assert submit["path"] == "/bytedance/seedance-2.5/draft/complete"
        assert set(submit["input"]) == {"draft_id", "resolution"} and submit["input"]["resolution"] == "1080p"
        entry = endpoint("2.5", "standard", "finish-draft")
        assert entry is not None and set(submit["input"]) <= {p.name for p in entry.params}
        assert finished["state"] == "completed" and finished["finished_from"] == draft["job_id"]
        assert finished["estimated_cost_usd"] == tokens_usd(1920, 1080, 4)
        assert (finished["video"]["width"], finished["video"]["height"]) == (1920, 1080)
        assert abs(finished["video"]["duration"] - 4) < 0.5
        assert f"Finished from draft {draft['job_id']}." in text_of(result)

        # The same finish again is the same job: nothing is sent, nothing paid twice.
        before = len(sim.request_log())
        again = await call(client, "generate_video", {**finish_call, "wait_seconds": 0})
        assert (again.structured_content or {})["job_id"] == finished["job_id"]
        assert submits(sim, before) == []

        listing = await call(client, "list_jobs", {})
        jobs = {job["job_id"]: job for job in (listing.structured_content or {})["jobs"]}
        assert jobs[finished["job_id"]]["finished_from"] == draft["job_id"]
        assert jobs[draft["job_id"]]["finished_as"] == [finished["job_id"]]
        assert jobs[draft["job_id"]]["draft_expires_at"] == draft["draft_expires_at"]
        listed = text_of(listing)
        assert (
            f"[finished from {draft['job_id']}]" in listed and f"[finished as {finished['job_id']}]" in listed
        )

        status = await call(client, "check_status", {"job_id": draft["job_id"], "wait_seconds": 0})
        assert (status.structured_content or {})["draft_expires_at"] == draft["draft_expires_at"]

    # What the journal keeps (the recorded cost is the estimate the answer gave).
    async with await Journal.open(settings.home / "journal.sqlite3") as journal:
        kept = await journal.get(draft["job_id"])
        made = await journal.get(finished["job_id"])
    assert kept is not None and made is not None
    assert submit["input"]["draft_id"] == kept.draft_id == f"draft_{kept.request_id}"
    assert kept.draft_expires is not None and 0 <= kept.draft_expires - expires.timestamp() < 1
    assert (
        kept.estimate_usd == draft["estimated_cost_usd"]
        and made.estimate_usd == finished["estimated_cost_usd"]
    )
    assert made.finished_from == kept.id


async def test_an_expired_draft_is_refused_before_anything_is_sent(tmp_path: Path) -> None:
    with Simulator(SimulatorOptions(queue_seconds=0.05, run_seconds=0.1, draft_seconds=0)) as sim:
        async with Client(create_server(settings_for(sim, tmp_path))) as client:
            draft, _, _ = await make_draft(client, sim)
            assert draft["state"] == "completed" and draft["draft_expires_at"]
            before = len(sim.request_log())
            result = await call(
                client,
                "generate_video",
                {"prompt": PROMPT, "finish_draft": draft["job_id"], "wait_seconds": 0},
            )
            assert result.is_error
            message = text_of(result)
            assert (
                "tool generate_video: finish_draft: " in message
                and "expired" in message
                and "new draft" in message
            )
            assert submits(sim, before) == []


async def test_a_job_that_is_not_a_draft_or_is_unknown_is_refused(sim: Simulator, tmp_path: Path) -> None:
    async with Client(create_server(settings_for(sim, tmp_path))) as client:
        plain = await call(
            client,
            "generate_video",
            {"prompt": PROMPT, "model": "2.5", "resolution": "480p", "duration": "4", "wait_seconds": 120},
        )
        job = plain.structured_content or {}
        assert job["state"] == "completed" and job.get("draft_expires_at") is None
        before = len(sim.request_log())
        refusals = {
            "not a draft": {"prompt": PROMPT, "finish_draft": job["job_id"]},
            "no job": {"prompt": PROMPT, "finish_draft": "sd_nosuchjob00"},
        }
        for expected, arguments in refusals.items():
            result = await call(client, "generate_video", {**arguments, "wait_seconds": 0})
            assert result.is_error and "generate_video: finish_draft: " in text_of(result), text_of(result)
            assert expected in text_of(result)
        draft, _, _ = await make_draft(client, sim)
        before = len(sim.request_log())
        for field, arguments in {
            "prompt": {"prompt": "Another scene", "finish_draft": draft["job_id"]},
            "duration": {"prompt": PROMPT, "finish_draft": draft["job_id"], "duration": "8"},
            "resolution": {"prompt": PROMPT, "finish_draft": draft["job_id"], "resolution": "480p"},
        }.items():
            result = await call(client, "generate_video", {**arguments, "wait_seconds": 0})
            assert result.is_error and f"generate_video: {field}: " in text_of(result), text_of(result)
        # A draft on a model without drafts is refused too, not silently made as a full take.
        result = await call(client, "generate_video", {"prompt": PROMPT, "draft": True, "wait_seconds": 0})
        assert result.is_error and "generate_video: draft: " in text_of(result) and "2.5" in text_of(result)
        assert submits(sim, before) == []


async def test_a_finish_is_held_to_the_spending_limits_like_any_call(sim: Simulator, tmp_path: Path) -> None:
    # A 4 s 480p draft costs $0.86; its 1080p finish $4.16: a $2 cap lets one through, not the other.
    settings = settings_for(sim, tmp_path).model_copy(update={"max_cost_usd": 2.0})
    async with Client(create_server(settings)) as client:
        draft, _, _ = await make_draft(client, sim)
        assert draft["state"] == "completed"
        before = len(sim.request_log())
        result = await call(
            client,
            "generate_video",
            {"prompt": PROMPT, "finish_draft": draft["job_id"], "resolution": "1080p", "wait_seconds": 0},
        )
        assert result.is_error and "SEEDANCE_MAX_COST_USD" in text_of(result), text_of(result)
        assert f"${tokens_usd(1920, 1080, 4):.4f}" in text_of(result)
        assert submits(sim, before) == []


async def test_a_finish_is_confirmed_like_any_call_and_declining_sends_nothing(
    sim: Simulator, tmp_path: Path
) -> None:
    questions: list[types.ElicitRequestParams] = []

    async def decline(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        questions.append(params)
        return types.ElicitResult(action="decline")

    settings = settings_for(sim, tmp_path).model_copy(update={"confirm_above_usd": 2.0})
    async with Client(create_server(settings), elicitation_callback=decline) as client:
        draft, _, _ = await make_draft(client, sim)  # $0.86: under the threshold, not asked
        assert draft["state"] == "completed" and questions == []
        before = len(sim.request_log())
        finish = {"prompt": PROMPT, "finish_draft": draft["job_id"], "resolution": "1080p", "wait_seconds": 0}
        result = await call(client, "generate_video", finish)
        assert submits(sim, before) == [] and "declined" in text_of(result)
    [asked] = questions
    price = f"${tokens_usd(1920, 1080, 4):.4f}"
    assert asked.message.startswith(f"Spend up to {price} on one Seedance 2.5 video?\n")
    assert f"What: standard-tier finish of draft {draft['job_id']}, 1080p, 16:9, 4 s.\n" in asked.message
