"""Spending confirmed in the job card: a host that shows MCP Apps but cannot elicit gets the card's
"awaiting your confirmation" answer; only the card's token, from an Apps client, submits it, once.

Real server in process, a real MCP client, the simulator over loopback; the browser side is in
tests/test_job_card_browser.py.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest
from mcp.client import Client
from mcp.client.extension import advertise
from mcp.server.apps import APP_MIME_TYPE, EXTENSION_ID

from seedance_mcp.server.app import create_server
from seedance_mcp.server.config import Settings
from seedance_mcp.tools.confirm_spend import TOKEN_META

pytestmark = pytest.mark.anyio

PROMPT = "A lighthouse at dawn, waves breaking"
APPS = advertise(EXTENSION_ID, {"mimeTypes": [APP_MIME_TYPE]})


@pytest.fixture
def confirm_settings(monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("SEEDANCE_CONFIRM_ABOVE_USD", "0.5")
    return Settings.from_env()


def text_of(result: Any) -> str:
    return "\n".join(c.text for c in result.content if c.type == "text")


async def jobs_in(settings: Settings) -> int:
    db = sqlite3.connect(settings.home / "journal.sqlite3")
    try:
        return int(db.execute("SELECT COUNT(*) FROM jobs").fetchone()[0])
    finally:
        db.close()


async def test_an_apps_host_without_elicitation_gets_the_card_and_one_job_per_confirmation(
    confirm_settings: Settings,
) -> None:
    async with Client(create_server(confirm_settings), extensions=[APPS]) as mcp:
        held = await mcp.call_tool(
            "generate_video", {"prompt": PROMPT, "duration": "5", "aspect_ratio": "16:9", "wait_seconds": 0}
        )
        assert not held.is_error, text_of(held)
        offer = held.structured_content
        assert offer["state"] == "awaiting_confirmation" and offer["job_id"].startswith("sc_")
        assert offer["confirmation"]["max_usd"] > 0.5 and not offer["confirmation"]["is_range"]
        token = held.meta[TOKEN_META]["token"]
        # The model reads the text and the structured content: neither carries the token.
        assert token not in text_of(held) and token not in str(offer)
        assert "decides in the job card" in text_of(held) and "Nothing was submitted" in text_of(held)
        assert await jobs_in(confirm_settings) == 0

        # A guessed token, and the model calling the card's tool, are refused; nothing is submitted.
        guessed = await mcp.call_tool("confirm_spend", {"token": "guess", "decision": "generate"})
        assert guessed.is_error and "only the person" in text_of(guessed)

        first = await mcp.call_tool("confirm_spend", {"token": token, "decision": "generate"})
        assert not first.is_error, text_of(first)
        job_id = first.structured_content["job_id"]
        assert first.structured_content["state"] in ("queued", "running", "submitting")
        # A second click, or a second card with the same token: the same job, nothing more submitted.
        second = await mcp.call_tool("confirm_spend", {"token": token, "decision": "generate"})
        assert second.structured_content["job_id"] == job_id
        dropped_late = await mcp.call_tool("confirm_spend", {"token": token, "decision": "drop"})
        assert dropped_late.is_error and job_id in text_of(dropped_late)
        assert await jobs_in(confirm_settings) == 1


async def test_drop_submits_nothing_and_an_expired_offer_is_never_paid(confirm_settings: Settings) -> None:
    async with Client(create_server(confirm_settings), extensions=[APPS]) as mcp:
        one = await mcp.call_tool("generate_video", {"prompt": PROMPT, "wait_seconds": 0})
        two = await mcp.call_tool("generate_video", {"prompt": PROMPT + ", again", "wait_seconds": 0})
        assert one.structured_content["confirmation"]["is_range"]  # auto duration: "up to"
        assert "costs up to $" in text_of(one)

        drop = await mcp.call_tool(
            "confirm_spend", {"token": one.meta[TOKEN_META]["token"], "decision": "drop"}
        )
        assert not drop.is_error and drop.structured_content["state"] == "dropped"
        after = await mcp.call_tool(
            "confirm_spend", {"token": one.meta[TOKEN_META]["token"], "decision": "generate"}
        )
        assert after.is_error and "dropped" in text_of(after)

        db = sqlite3.connect(confirm_settings.home / "journal.sqlite3")
        with db:
            db.execute(
                "UPDATE held_requests SET expires_at = 0 WHERE id = ?", (two.structured_content["job_id"],)
            )
        db.close()
        late = await mcp.call_tool(
            "confirm_spend", {"token": two.meta[TOKEN_META]["token"], "decision": "generate"}
        )
        assert late.is_error and "lapsed unconfirmed" in text_of(late)
        assert await jobs_in(confirm_settings) == 0


async def test_without_apps_the_card_tool_is_hidden_and_refused_and_the_policy_says_how_to_allow(
    confirm_settings: Settings,
) -> None:
    async with Client(create_server(confirm_settings)) as mcp:
        assert "confirm_spend" not in [t.name for t in (await mcp.list_tools()).tools]
        refused = await mcp.call_tool("confirm_spend", {"token": "x", "decision": "generate"})
        assert refused.is_error and "MCP Apps" in text_of(refused)
        policy = await mcp.call_tool("generate_video", {"prompt": PROMPT, "wait_seconds": 0})
        assert policy.is_error
        words = text_of(policy)
        assert "SEEDANCE_CONFIRM_POLICY=proceed" in words and "shows MCP Apps" in words
        assert await jobs_in(confirm_settings) == 0


async def test_a_host_that_can_ask_keeps_the_question_even_with_apps(confirm_settings: Settings) -> None:
    from tests.test_guard import Asker

    asker = Asker(action="decline")
    async with Client(create_server(confirm_settings), extensions=[APPS], elicitation_callback=asker) as mcp:
        declined = await mcp.call_tool("generate_video", {"prompt": PROMPT, "wait_seconds": 0})
        held = await mcp.call_tool("check_status", {"job_id": "sc_abc"})
    assert len(asker.questions) == 1 and declined.is_error and "declined" in text_of(declined)
    assert TOKEN_META not in (declined.meta or {})
    assert held.is_error and "waiting for the user's Generate in the job card" in text_of(held)
    assert await jobs_in(confirm_settings) == 0
