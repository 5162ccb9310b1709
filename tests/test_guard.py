"""The guard on the user's money, through a real MCP client on both protocol versions.

The server talks to a standalone simulator as if it were fal (a key is set), so every test can read
the simulator's request log and prove what was, or was not, uploaded and submitted.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp import types
from mcp.client import Client
from mcp.client.context import ClientRequestContext

from seedance_mcp.server.app import create_server
from seedance_mcp.server.catalogue import pricing
from seedance_mcp.server.config import Settings
from seedance_mcp.server.generation.spending_guard import usd
from seedance_mcp.server.http_pool import tls_context
from seedance_mcp.server.journal.spend_report import SPEND_URI, spent_last_24h
from seedance_mcp.server.journal.sqlite import JobRecord, Journal, new_job_id
from seedance_mcp.server.simulator import Simulator, SimulatorOptions
from seedance_mcp.tools.confirmation import question
from tests.media_factory import make_image, make_video

pytestmark = pytest.mark.anyio

MODES = pytest.mark.parametrize(
    ("mode", "version"), [("legacy", "2025-11-25"), ("auto", "2026-07-28")], ids=["2025-11-25", "2026-07-28"]
)
FIVE_SECONDS_720P = {"resolution": "720p", "duration": "5", "aspect_ratio": "16:9", "wait_seconds": 0}
PRICE_5S_720P = 1.2096  # fast tier, 1280x720, 5 s: the documented $0.2419/s


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(SimulatorOptions(queue_seconds=0.3, run_seconds=1.0)) as simulator:
        yield simulator


@pytest.fixture
def fal_env(sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """Settings that treat the simulator as fal itself: a key, and every fal URL pointed at it."""
    monkeypatch.setenv("FAL_KEY", "sim-test-key")
    monkeypatch.setenv("SEEDANCE_PROVIDER", "fal")
    for name in ("QUEUE", "REST", "CDN"):
        monkeypatch.setenv(f"SEEDANCE_FAL_{name}_URL", sim.url)
    return monkeypatch


def settings_with(env: pytest.MonkeyPatch, **values: str) -> Settings:
    for name, value in values.items():
        env.setenv(name, value)
    return Settings.from_env()


def sent(sim: Simulator) -> list[dict[str, Any]]:
    """What reached the simulator that could cost or carry anything: submits and uploads."""
    log = httpx.get(f"{sim.url}/_simulator/requests", verify=tls_context()).json()
    return [entry for entry in log if entry["method"] in {"POST", "PUT", "PATCH"}]


def submits(sim: Simulator) -> list[dict[str, Any]]:
    return [e for e in sent(sim) if e["path"].startswith("/bytedance/") and "/requests/" not in e["path"]]


def text_of(result: types.CallToolResult) -> str:
    return "\n".join(block.text for block in result.content if isinstance(block, types.TextContent))


class Asker:
    """An elicitation callback that answers one way and records every question."""

    def __init__(self, action: str = "accept", confirm: bool = True) -> None:
        self.action = action
        self.confirm = confirm
        self.questions: list[types.ElicitRequestParams] = []

    async def __call__(
        self, context: ClientRequestContext, params: types.ElicitRequestParams
    ) -> types.ElicitResult:
        self.questions.append(params)
        if self.action == "accept":
            return types.ElicitResult(action="accept", content={"confirm": self.confirm})
        return types.ElicitResult(action=self.action)  # type: ignore[arg-type]


# --- caps ----------------------------------------------------------------------------------------


@MODES
async def test_over_the_per_request_cap_nothing_is_uploaded_or_submitted(
    fal_env: pytest.MonkeyPatch, sim: Simulator, isolated_env: Path, mode: str, version: str
) -> None:
    settings = settings_with(fal_env, SEEDANCE_MAX_COST_USD="1")
    frame = make_image(isolated_env / "media" / "frame.png", "png")
    async with Client(create_server(settings), mode=mode) as client:
        assert client.protocol_version == version
        result = await client.call_tool(
            "generate_video",
            {"prompt": "A kite over the dunes", "image_url": str(frame), "resolution": "720p"},
        )
        assert result.is_error
        text = text_of(result)
    # duration and aspect ratio auto: the upper bound (15 s at the largest 720p size) is what counts
    top = pricing.estimate(tier="fast", resolution="720p", duration="auto", aspect_ratio="auto").max_usd
    assert f"up to {usd(top)}" in text
    assert "per-request cap of $1.00 (SEEDANCE_MAX_COST_USD)" in text
    assert "Spent in the last 24 h: $0.00" in text
    assert "Nothing was uploaded or submitted" in text
    assert 'duration "4"' in text  # the longest clip that would fit
    assert sent(sim) == []


async def test_daily_budget_counts_running_jobs_and_refuses_the_one_that_passes_it(
    fal_env: pytest.MonkeyPatch, sim: Simulator
) -> None:
    settings = settings_with(fal_env, SEEDANCE_DAILY_BUDGET_USD="3")
    async with Client(create_server(settings)) as client:
        first = await client.call_tool("generate_video", {"prompt": "Take one", **FIVE_SECONDS_720P})
        second = await client.call_tool("generate_video", {"prompt": "Take two", **FIVE_SECONDS_720P})
        third = await client.call_tool("generate_video", {"prompt": "Take three", **FIVE_SECONDS_720P})
        spend = await client.read_resource(SPEND_URI)
    assert not first.is_error and not second.is_error, text_of(first) + text_of(second)
    # wait_seconds=0: both jobs are still queued or running, and they count all the same
    assert (second.structured_content or {})["state"] in {"queued", "running"}
    assert any(
        "Daily budget nearly spent: $2.4192 of $3.00" in w
        for w in (second.structured_content or {})["warnings"]
    )
    assert third.is_error
    text = text_of(third)
    assert "$2.4192 has been spent in the last 24 h" in text
    assert "daily budget of $3.00 (SEEDANCE_DAILY_BUDGET_USD), which has $0.5808 left" in text
    assert f"up to {usd(PRICE_5S_720P)}" in text
    assert len(submits(sim)) == 2

    content = spend.contents[0]
    assert isinstance(content, types.TextResourceContents)

    report = json.loads(content.text)
    assert report["last_24h_usd"] == pytest.approx(2 * PRICE_5S_720P)
    assert report["remaining_24h_usd"] == pytest.approx(3 - 2 * PRICE_5S_720P)
    assert [(d["provider"], d["jobs"]) for d in report["by_day"]] == [("fal", 2)]
    assert report["by_provider"] == {"fal": pytest.approx(2 * PRICE_5S_720P)}


async def test_the_spend_resource_reads_the_journal_in_use_postgresql_too(
    fal_env: pytest.MonkeyPatch, sim: Simulator, postgres_dsn: str
) -> None:
    # Team mode: the spend lives in PostgreSQL, not in a SQLite file under SEEDANCE_HOME.
    settings = settings_with(fal_env, SEEDANCE_DATABASE_URL=postgres_dsn)
    async with Client(create_server(settings)) as client:
        result = await client.call_tool("generate_video", {"prompt": "Take one", **FIVE_SECONDS_720P})
        spend = await client.read_resource(SPEND_URI)
    assert not result.is_error, text_of(result)
    assert not (settings.home / "journal.sqlite3").exists()
    content = spend.contents[0]
    assert isinstance(content, types.TextResourceContents)
    report = json.loads(content.text)
    assert report["last_24h_usd"] == pytest.approx(PRICE_5S_720P)
    assert report["by_provider"] == {"fal": pytest.approx(PRICE_5S_720P)}


async def test_concurrent_calls_cannot_both_fit_under_one_budget(
    fal_env: pytest.MonkeyPatch, sim: Simulator, isolated_env: Path
) -> None:
    # Each fits alone, not both: the second must see the first's price while it is still uploading.
    settings = settings_with(fal_env, SEEDANCE_DAILY_BUDGET_USD="2")
    frames = [make_image(isolated_env / "media" / f"f{i}.png", "png", 640, 360) for i in range(2)]
    results: list[types.CallToolResult] = []
    async with Client(create_server(settings)) as client:

        async def call(index: int) -> None:
            arguments = {"prompt": f"Take {index}", "image_url": str(frames[index]), **FIVE_SECONDS_720P}
            results.append(await client.call_tool("generate_video", arguments))

        with anyio.fail_after(60):
            async with anyio.create_task_group() as group:
                for index in range(2):
                    group.start_soon(call, index)
    assert sorted(r.is_error for r in results) == [False, True]
    assert len(submits(sim)) == 1


async def test_two_servers_on_one_journal_cannot_both_fit_under_one_budget(
    fal_env: pytest.MonkeyPatch, sim: Simulator, isolated_env: Path
) -> None:
    # Two server processes' worth (two servers, two journal connections, one SEEDANCE_HOME): the
    # reservation is made in the journal, so the second sees the first's price while it uploads.
    settings = settings_with(fal_env, SEEDANCE_DAILY_BUDGET_USD="2")
    frames = [make_image(isolated_env / "media" / f"f{i}.png", "png", 640, 360) for i in range(2)]
    results: list[types.CallToolResult] = []
    async with Client(create_server(settings)) as one, Client(create_server(settings)) as two:

        async def call(client: Client, index: int) -> None:
            arguments = {"prompt": f"Take {index}", "image_url": str(frames[index]), **FIVE_SECONDS_720P}
            results.append(await client.call_tool("generate_video", arguments))

        with anyio.fail_after(60):
            async with anyio.create_task_group() as group:
                group.start_soon(call, one, 0)
                group.start_soon(call, two, 1)
    assert sorted(r.is_error for r in results) == [False, True]
    assert len(submits(sim)) == 1


async def test_simulated_spend_never_counts_against_a_real_budget(tmp_path: Path) -> None:
    async with await Journal.open(tmp_path / "journal.sqlite3") as journal:
        now = time.time()
        for provider, usd_each in (("fal", 1.5), ("simulator", 4.0), ("fal", 0.25)):
            await journal.create(_record(provider, usd_each, now))
        await journal.create(replace(_record("fal", 9.0, now - 25 * 3600), id=new_job_id()))  # too old
        assert await spent_last_24h(journal, simulated=False) == pytest.approx(1.75)
        assert await spent_last_24h(journal, simulated=True) == 0.0  # simulated runs never count


async def test_simulated_jobs_are_never_refused_by_caps_or_budgets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Embedded simulator: a $1 budget and a $0.50 cap refuse nothing, and nothing counts as spend."""
    monkeypatch.setenv("SEEDANCE_DAILY_BUDGET_USD", "1")
    monkeypatch.setenv("SEEDANCE_MAX_COST_USD", "0.5")
    settings = Settings.from_env()
    assert settings.simulated
    async with Client(create_server(settings)) as client:
        answers = [
            await client.call_tool(
                "generate_video", {"prompt": f"Take {n}", **FIVE_SECONDS_720P, "wait_seconds": 0}
            )
            for n in range(3)
        ]
        spend = await client.read_resource(SPEND_URI)
    assert not any(a.is_error for a in answers), [a.content for a in answers]
    report = json.loads(spend.contents[0].text)  # type: ignore[union-attr]
    assert report["total_usd"] == report["last_24h_usd"] == report["possibly_charged_usd"] == 0
    assert report["simulated_usd"] > 1  # what they would have cost, shown apart


def _record(provider: str, usd_each: float, created: float) -> JobRecord:
    return JobRecord(
        id=new_job_id(),
        created_at=created,
        updated_at=created,
        provider=provider,
        simulated=provider == "simulator",
        tool="generate_video",
        tier="fast",
        mode="text-to-video",
        endpoint="",
        arguments={"prompt": "x"},
        estimate={},
        estimate_usd=usd_each,
        state="queued",
        request_id="req",
    )


# --- confirmation ------------------------------------------------------------------------------


@MODES
async def test_accepted_confirmation_makes_one_job(
    fal_env: pytest.MonkeyPatch, sim: Simulator, mode: str, version: str
) -> None:
    settings = settings_with(fal_env, SEEDANCE_CONFIRM_ABOVE_USD="1")
    asker = Asker("accept")
    async with Client(create_server(settings), mode=mode, elicitation_callback=asker) as client:
        assert client.protocol_version == version
        result = await client.call_tool("generate_video", {"prompt": "A red kite", **FIVE_SECONDS_720P})
    assert not result.is_error, text_of(result)
    assert (result.structured_content or {})["estimated_cost_usd"] == PRICE_5S_720P
    # asked once, even on 2026-07-28 where the resolver runs again when the answer comes back
    assert len(asker.questions) == 1
    asked = asker.questions[0]
    assert asked.message == (
        "Spend up to $1.2096 on one Seedance 2.0 video?\n"
        "What: fast-tier text-to-video, 720p, 16:9, 5 s, with audio.\n"
        'Prompt: "A red kite"\n'
        "Price: $1.2096 from the published price.\n"
        "You asked to confirm any request above $1.00 (SEEDANCE_CONFIRM_ABOVE_USD)."
    )
    assert isinstance(asked, types.ElicitRequestFormParams)
    assert list(asked.requested_schema["properties"]) == ["confirm"]
    assert len(submits(sim)) == 1


@MODES
@pytest.mark.parametrize(
    ("action", "confirm", "words"),
    [("decline", True, "declined"), ("cancel", True, "dismissed"), ("accept", False, "declined")],
)
async def test_declined_confirmation_spends_nothing(
    fal_env: pytest.MonkeyPatch,
    sim: Simulator,
    isolated_env: Path,
    mode: str,
    version: str,
    action: str,
    confirm: bool,
    words: str,
) -> None:
    settings = settings_with(fal_env, SEEDANCE_CONFIRM_ABOVE_USD="1")
    frame = make_image(isolated_env / "media" / "frame.png", "png", 640, 360)
    asker = Asker(action, confirm)
    async with Client(create_server(settings), mode=mode, elicitation_callback=asker) as client:
        result = await client.call_tool(
            "generate_video", {"prompt": "A red kite", "image_url": str(frame), **FIVE_SECONDS_720P}
        )
    assert result.is_error
    text = text_of(result)
    assert f"The user {words}" in text and "$1.2096" in text
    assert "Nothing was uploaded, submitted or charged" in text
    assert len(asker.questions) == 1
    assert sent(sim) == []


@MODES
async def test_below_the_threshold_nobody_is_asked(
    fal_env: pytest.MonkeyPatch, sim: Simulator, mode: str, version: str
) -> None:
    settings = settings_with(fal_env, SEEDANCE_CONFIRM_ABOVE_USD="1.25")
    asker = Asker("decline")
    async with Client(create_server(settings), mode=mode, elicitation_callback=asker) as client:
        result = await client.call_tool("generate_video", {"prompt": "A red kite", **FIVE_SECONDS_720P})
    assert not result.is_error, text_of(result)
    assert asker.questions == []
    assert len(submits(sim)) == 1


@MODES
async def test_host_without_elicitation_follows_the_refuse_policy(
    fal_env: pytest.MonkeyPatch, sim: Simulator, mode: str, version: str
) -> None:
    settings = settings_with(fal_env, SEEDANCE_CONFIRM_ABOVE_USD="1")
    assert settings.confirm_policy == "refuse"  # the default
    async with Client(create_server(settings), mode=mode) as client:
        assert client.protocol_version == version
        result = await client.call_tool("generate_video", {"prompt": "A red kite", **FIVE_SECONDS_720P})
    assert result.is_error
    text = text_of(result)
    assert "this host cannot ask" in text and "SEEDANCE_CONFIRM_POLICY=proceed" in text
    assert 'duration "4" it would cost about $0.9677' in text
    assert sent(sim) == []


@MODES
async def test_host_without_elicitation_follows_the_proceed_policy(
    fal_env: pytest.MonkeyPatch, sim: Simulator, mode: str, version: str
) -> None:
    settings = settings_with(fal_env, SEEDANCE_CONFIRM_ABOVE_USD="1", SEEDANCE_CONFIRM_POLICY="Proceed")
    async with Client(create_server(settings), mode=mode) as client:
        result = await client.call_tool("generate_video", {"prompt": "A red kite", **FIVE_SECONDS_720P})
    assert not result.is_error, text_of(result)
    warnings = (result.structured_content or {})["warnings"]
    assert any("Not confirmed by the user" in w and "SEEDANCE_CONFIRM_POLICY=proceed" in w for w in warnings)
    assert "Not confirmed by the user" in text_of(result)
    assert len(submits(sim)) == 1


async def test_a_request_over_a_cap_is_refused_without_asking(
    fal_env: pytest.MonkeyPatch, sim: Simulator
) -> None:
    settings = settings_with(fal_env, SEEDANCE_CONFIRM_ABOVE_USD="1", SEEDANCE_MAX_COST_USD="1.1")
    asker = Asker("accept")
    async with Client(create_server(settings), elicitation_callback=asker) as client:
        result = await client.call_tool("generate_video", {"prompt": "A red kite", **FIVE_SECONDS_720P})
    assert result.is_error and "SEEDANCE_MAX_COST_USD" in text_of(result)
    assert asker.questions == []
    assert sent(sim) == []


@MODES
async def test_reference_video_question_prices_the_measured_videos(
    fal_env: pytest.MonkeyPatch, sim: Simulator, isolated_env: Path, mode: str, version: str
) -> None:
    settings = settings_with(fal_env, SEEDANCE_CONFIRM_ABOVE_USD="0.5")
    clip = make_video(isolated_env / "media" / "move.mp4", seconds=3.0)
    asker = Asker("accept")
    async with Client(create_server(settings), mode=mode, elicitation_callback=asker) as client:
        result = await client.call_tool(
            "reference_video",
            {"prompt": "The dancer from @Video1 on a beach", "video_urls": [str(clip)], **FIVE_SECONDS_720P},
        )
    assert not result.is_error, text_of(result)
    expected = pricing.estimate(
        tier="fast", resolution="720p", duration="5", aspect_ratio="16:9", input_video_seconds=3.0
    )
    assert (result.structured_content or {})["estimated_cost_usd"] == expected.max_usd
    assert len(asker.questions) == 1
    assert asker.questions[0].message.startswith(f"Spend up to {usd(expected.max_usd)} on one Seedance")
    assert "reference-to-video (1 video)" in asker.questions[0].message
    assert len(submits(sim)) == 1


def test_the_question_is_a_pure_function_of_the_request() -> None:
    estimate = pricing.estimate(tier="standard", resolution="480p", duration="auto", aspect_ratio="auto")
    long_prompt = "word " * 100
    first = question(estimate, "what", long_prompt, threshold=0.5, simulated=True)
    assert first == question(estimate, "what", long_prompt, threshold=0.5, simulated=True)
    assert f"Spend up to {usd(estimate.max_usd)}" in first
    assert f"{usd(estimate.min_usd)} to {usd(estimate.max_usd)}" in first
    assert "nothing will be charged" in first
    assert "…" in first and long_prompt not in first
