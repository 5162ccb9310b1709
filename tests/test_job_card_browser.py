"""The job card in a real browser, against the real server on the simulator.

Headless Chromium (the system's, never a downloaded one) opens `job_card_host.html`, a small MCP Apps
host, served on loopback. The host reads the card's `ui://` resource through an MCP client connected to
the real server in process, loads it in a sandboxed iframe under the CSP the resource declares, and
relays the card's tool calls to that server. The video comes from the simulator over a real socket.

Skips when Playwright or Chromium is missing, unless SEEDANCE_REQUIRE_SYSTEM_TESTS=1 (as in CI).
"""

from __future__ import annotations

import importlib.util
import os
import socket
import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp.client import Client
from mcp.client.extension import advertise
from mcp.server.apps import APP_MIME_TYPE, EXTENSION_ID

from seedance_mcp.server.app import create_server
from seedance_mcp.server.config import Settings
from seedance_mcp.server.journal.sqlite import JobRecord, Journal, new_job_id
from seedance_mcp.tools.job_card import FOLLOW_NAME

pytestmark = pytest.mark.anyio

# Read at import: the autouse fixture in conftest.py clears every SEEDANCE_ variable before each test.
CHROMIUM = Path(os.environ.get("SEEDANCE_CHROMIUM", "/usr/bin/chromium"))
REQUIRE_SYSTEM_TESTS = os.environ.get("SEEDANCE_REQUIRE_SYSTEM_TESTS") == "1"
ARTIFACTS_DIR = os.environ.get("SEEDANCE_ARTIFACTS_DIR")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
HOST_PAGE = Path(__file__).with_name("job_card_host.html")
PROMPT = "A paper boat drifts down a rainy street gutter, macro lens"
WAIT_MS = 60_000


def missing_part() -> str | None:
    if importlib.util.find_spec("playwright") is None:
        return "Playwright for Python is not installed: pip install -e '.[dev]'"
    if not CHROMIUM.exists():
        return f"no Chromium at {CHROMIUM}: apt-get install chromium (Debian), or set SEEDANCE_CHROMIUM"
    return None


@pytest.fixture
def browser_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Settings:
    # Long enough for the card to show the queued and the running job before the video.
    monkeypatch.setenv("SEEDANCE_SIM_QUEUE_SECONDS", "3")
    monkeypatch.setenv("SEEDANCE_SIM_RUN_SECONDS", "5")
    # Videos where a person keeps them, as the card's pictures in the README show.
    home = tmp_path / "you"
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("SEEDANCE_OUTPUT_DIR", str(home / "Videos" / "Seedance"))
    return Settings.from_env()


@pytest.fixture
def artifacts(tmp_path: Path) -> Path:
    """Screenshots go to SEEDANCE_ARTIFACTS_DIR when set (CI keeps them), else to the test's tmp dir."""
    folder = Path(ARTIFACTS_DIR) if ARTIFACTS_DIR else tmp_path / "artifacts"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@asynccontextmanager
async def host_server(mcp: Client) -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    """The host page and its relay to the MCP server, on loopback; yields the URL and the relayed calls."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import HTMLResponse, JSONResponse, Response
    from starlette.routing import Route

    calls: list[dict[str, Any]] = []

    def wire(model: Any) -> JSONResponse:
        return JSONResponse(model.model_dump(mode="json", by_alias=True, exclude_none=True))

    async def page(_: Request) -> Response:
        return HTMLResponse(HOST_PAGE.read_text(encoding="utf-8"))

    async def list_tools(_: Request) -> Response:
        return wire(await mcp.list_tools())

    async def read(request: Request) -> Response:
        return wire(await mcp.read_resource((await request.json())["uri"]))

    async def call(request: Request) -> Response:
        body = await request.json()
        calls.append(body)
        return wire(await mcp.call_tool(body["name"], body.get("arguments") or {}))

    app = Starlette(
        routes=[
            Route("/", page),
            Route("/list", list_tools, methods=["POST"]),
            Route("/read", read, methods=["POST"]),
            Route("/call", call, methods=["POST"]),
        ]
    )
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()  # connections wait in the backlog until uvicorn accepts them
    server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_level="warning", ws="none"))
    async with anyio.create_task_group() as tg:
        tg.start_soon(server.serve, [sock])
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/", calls
        server.should_exit = True


def sent(log: list[dict[str, Any]], method: str) -> list[dict[str, Any]]:
    return [m["params"] for m in log if m.get("method") == method]


class Host:
    """The host page in Chromium, and the card it shows."""

    def __init__(self, page: Any, calls: list[dict[str, Any]]) -> None:
        self.page = page
        self.calls = calls  # every tools/call the host relayed to the server, the card's included
        self.problems: list[str] = []  # console errors and uncaught exceptions, the card's included
        page.on(
            "console", lambda m: self.problems.append(f"console: {m.text}") if m.type == "error" else None
        )
        page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.view: Any = None
        self.card: Any = None

    async def run_tool(self, name: str, arguments: dict[str, Any]) -> None:
        """As when the model calls a bound tool: the host shows the card and hands it the input and result."""
        await self.page.evaluate("([name, args]) => runTool(name, args)", [name, arguments])
        self.view = await self.page.query_selector("#view")
        self.card = await self.view.content_frame()

    async def reach(self, state: str) -> None:
        await self.card.wait_for_function(
            "s => document.getElementById('card').dataset.state === s", arg=state, timeout=WAIT_MS
        )

    async def visible(self, element_id: str) -> bool:
        return bool(await self.card.evaluate(f"!document.getElementById('{element_id}').hidden"))

    async def show_a_frame(self, selector: str = "#video") -> None:
        """Seek into the video and wait until that frame is decoded and more can play (no spinner)."""
        await self.card.evaluate(
            """s => new Promise(done => { const v = document.querySelector(s);
                 v.addEventListener('seeked', done, { once: true }); v.currentTime = 1.5; })""",
            selector,
        )
        await self.card.wait_for_function(
            "s => document.querySelector(s).readyState >= 3", arg=selector, timeout=WAIT_MS
        )
        await self.settled_size()

    async def picture(self, path: Path) -> None:
        """A screenshot of the view once it stands still: two shots alike (the player's loading spinner
        turns for a moment after the frame is ready), so the saved picture shows what a person sees."""
        await self.settled_size()
        shot, previous = await self.view.screenshot(), b""
        with anyio.fail_after(WAIT_MS / 1000):
            while shot != previous:
                shot, previous = await self.view.screenshot(), shot
        path.write_bytes(shot)

    async def fits(self) -> None:
        """From 320 to 800 px wide: nothing overflows sideways, and every fact's value stays whole on one
        line (the saved path alone may take several)."""
        for width in (320, 480, 800, None):
            size = f"{width}px" if width else ""
            await self.page.evaluate(f"document.getElementById('view').style.width = '{size}'")
            if width is None:
                return
            await self.card.wait_for_function("w => window.innerWidth === w", arg=width)
            assert await self.card.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), (
                width
            )
            whole = await self.card.evaluate(
                "[...document.querySelectorAll('#facts div:not(.wide) dd')].map(d =>"
                " d.getBoundingClientRect().height < 2 * parseFloat(getComputedStyle(d).lineHeight)"
                " && d.scrollWidth <= d.clientWidth)"
            )
            assert all(whole), (width, whole)

    async def settled_size(self) -> None:
        """Wait until the host has sized the frame to the view's content (screenshots show all of it)."""
        height = await self.card.evaluate("Math.ceil(document.body.scrollHeight)")
        await self.page.wait_for_function(
            "h => Math.abs(document.getElementById('view').clientHeight - h) <= 1", arg=height
        )

    async def facts(self) -> dict[str, str]:
        pairs = await self.card.evaluate(
            "[...document.querySelectorAll('#facts div')].map(d => [d.children[0].textContent,"
            " d.children[1].textContent])"
        )
        return dict(pairs)


@asynccontextmanager
async def open_host(settings: Settings, profile: Path) -> AsyncIterator[Host]:
    missing = missing_part()
    if missing:
        if REQUIRE_SYSTEM_TESTS:
            pytest.fail(f"SEEDANCE_REQUIRE_SYSTEM_TESTS=1 but {missing}")
        pytest.skip(missing)
    from playwright.async_api import async_playwright

    apps = advertise(EXTENSION_ID, {"mimeTypes": [APP_MIME_TYPE]})
    async with (
        Client(create_server(settings), extensions=[apps]) as mcp,
        host_server(mcp) as (url, calls),
        async_playwright() as playwright,
    ):
        browser = await playwright.chromium.launch_persistent_context(
            str(profile),  # a fresh profile every run
            executable_path=str(CHROMIUM),
            headless=True,
            args=FLAGS,
            viewport={"width": 760, "height": 1000},
        )
        page = browser.pages[0] if browser.pages else await browser.new_page()
        host = Host(page, calls)
        await page.goto(url)
        yield host
        assert host.problems == []
        await browser.close()


@pytest.mark.slow
async def test_the_card_follows_a_job_plays_the_video_and_its_buttons_ask_the_host(
    browser_settings: Settings, artifacts: Path, tmp_path: Path
) -> None:
    async with open_host(browser_settings, tmp_path / "profile") as host:
        # The model calls generate_video; the host renders the card beside the answer.
        await host.run_tool(
            "generate_video",
            {
                "prompt": PROMPT,
                "duration": "4",
                "resolution": "720p",
                "aspect_ratio": "16:9",
                "wait_seconds": 0,
            },
        )
        page, card, view, calls = host.page, host.card, host.view, host.calls
        reach, visible, facts = host.reach, host.visible, host.facts

        # Queued: what was asked, its price, where it stands; a simulated job says so.
        await reach("queued")
        assert await card.inner_text("#prompt") == PROMPT
        assert await visible("simulated")
        queued = await facts()
        assert queued["Tier"] == "fast" and queued["Resolution"] == "720p" and queued["Duration"] == "4 s"
        # The would-be price of a simulated job; the exact figure, since duration and aspect are given.
        assert queued["Would cost"] == "$0.97"
        assert queued.get("In the queue", "next to start") in ("next to start",) or queued[
            "In the queue"
        ].endswith(" ahead")
        assert "Elapsed" in queued and "Queue position" not in queued
        assert (await card.inner_text("#jobid")).startswith("Job sd_")
        assert "Cancel works until it starts" in await card.inner_text("#stage")
        assert await visible("cancel") and not await visible("download")
        await view.screenshot(path=str(artifacts / "job-card-queued.png"))  # it moves: no still

        # Running: the provider's latest log line; the card keeps following after the host's call returned.
        await reach("running")
        await card.wait_for_function("() => document.getElementById('log').textContent.length > 0")
        assert not await visible("cancel")
        assert "can no longer be cancelled" in await card.inner_text("#stage")
        await view.screenshot(path=str(artifacts / "job-card-running.png"))  # it moves: no still
        assert any(c["name"] == FOLLOW_NAME for c in calls)

        # Done: the simulator's MP4 plays in the card, with its facts.
        await reach("completed")
        await card.wait_for_function(
            "() => document.getElementById('video').readyState >= 2", timeout=WAIT_MS
        )
        job = await card.evaluate("job")
        played = await card.evaluate("document.getElementById('video').duration")
        assert job["video"]["duration"] == pytest.approx(4.0, abs=0.1)
        assert played == pytest.approx(job["video"]["duration"], abs=0.1)
        assert await card.get_attribute("#video", "src") == job["video_url"]
        assert (await card.get_attribute("#video", "poster") or "").startswith("data:image/jpeg;base64,")
        done = await facts()
        assert done["Size"] == "1280×720" and done["Length"] == "4.0 s" and done["File"].endswith(" MB")
        assert done["Would cost"] == "$0.97"  # kept once done: simulated, so never charged
        saved = Path(job["video_path"])
        assert done["Saved file"] == f"~/Videos/Seedance/{saved.name}" and saved.is_file()
        assert not await visible("log") and not await visible("working")
        await host.show_a_frame()
        await host.picture(artifacts / "job-card-done.png")
        await host.fits()

        # Every action is a button reachable with the keyboard, in order.
        order = ["download", "fullscreen", "continue", "again"]
        await card.focus("#download")
        for expected in order[1:]:
            await page.keyboard.press("Tab")
            assert await card.evaluate("document.activeElement.id") == expected

        await card.focus("#download")
        await page.keyboard.press("Enter")
        await page.wait_for_function("() => hostLog.some(m => m.method === 'ui/download-file')")
        [download] = sent(await page.evaluate("hostLog"), "ui/download-file")
        assert download["contents"] == [
            {
                "type": "resource_link",
                "uri": Path(job["video_path"]).as_uri(),
                "name": Path(job["video_path"]).name,
                "title": "Saved video",
                "mimeType": "video/mp4",
                "size": Path(job["video_path"]).stat().st_size,
            }
        ]

        await card.click("#fullscreen")
        await page.wait_for_function("() => hostLog.some(m => m.method === 'ui/request-display-mode')")
        assert sent(await page.evaluate("hostLog"), "ui/request-display-mode") == [{"mode": "fullscreen"}]
        await card.wait_for_function(
            "() => document.getElementById('fullscreen').textContent === 'Exit fullscreen'"
        )

        await card.click("#continue")
        await page.wait_for_function("() => hostLog.some(m => m.method === 'ui/message')")
        [message] = sent(await page.evaluate("hostLog"), "ui/message")
        assert message["role"] == "user"
        [block] = message["content"]
        assert block["type"] == "text"
        assert f'continue_from="{job["job_id"]}"' in block["text"] and PROMPT in block["text"]

        # Again with a new seed: the same tool and request, a new seed; the card follows the new job...
        before = len(calls)
        await card.click("#again")
        await card.wait_for_function("old => job.job_id !== old", arg=job["job_id"])
        [again] = [c for c in calls[before:] if c["name"] == "generate_video"]
        assert again["arguments"]["prompt"] == PROMPT and again["arguments"]["duration"] == "4"
        assert again["arguments"]["seed"] != job["seed"]
        new_id = await card.evaluate("job.job_id")
        await reach("queued")
        # How long jobs take here, from the one that finished.
        await card.wait_for_function("() => !!job.typical_seconds")
        assert (await facts())["Usually takes"].startswith("about ")
        # The model hears of the job it did not start.
        await page.wait_for_function("() => hostLog.some(m => m.method === 'ui/update-model-context')")
        [context] = sent(await page.evaluate("hostLog"), "ui/update-model-context")
        assert f'job_id "{new_id}"' in context["content"][0]["text"]

        # ...and Cancel while it is queued asks the server to cancel it; the card ends on the reason and fix.
        await card.click("#cancel")
        await reach("cancelled")
        assert {"name": "cancel_job", "arguments": {"job_id": new_id}} in calls
        await page.wait_for_function(
            "() => hostLog.filter(m => m.method === 'ui/update-model-context').length === 2"
        )
        told = sent(await page.evaluate("hostLog"), "ui/update-model-context")[1]["content"][0]["text"]
        assert f"cancelled job {new_id}" in told
        assert await visible("problem")
        assert await card.inner_text("#problem-title") == "The job was cancelled"
        assert "nothing was charged" in await card.inner_text("#reason")
        assert (await card.inner_text("#fix")).startswith("What to do: Nothing to fix")
        assert await visible("again") and not await visible("rephrase")
        await host.picture(artifacts / "job-card-cancelled.png")

        # The host's theme reaches the card.
        await page.evaluate("setTheme('dark')")
        await card.wait_for_function("() => getComputedStyle(document.body).colorScheme === 'dark'")
        await host.picture(artifacts / "job-card-cancelled-dark.png")

        # 320 to 800 px: nothing overflows sideways, no fact wraps.
        await host.fits()


async def test_the_card_shows_a_refused_call_and_a_failed_job_with_the_reason_and_the_fix(
    settings: Settings, artifacts: Path, tmp_path: Path
) -> None:
    async with open_host(settings, tmp_path / "profile") as host:
        await host.run_tool("generate_video", {"prompt": PROMPT, "duration": "99", "wait_seconds": 0})
        await host.reach("failed")
        assert await host.card.inner_text("#problem-title") == "The request was refused"
        assert "duration" in await host.card.inner_text("#reason")
        assert not host.calls[1:], "nothing to follow"

        # The simulator fails a prompt carrying this marker the way fal's model rejects content.
        await host.run_tool(
            "generate_video", {"prompt": "A bank robbery [sim:content_policy]", "wait_seconds": 0}
        )
        await host.reach("failed")
        # A content refusal: no new seed gets past it, so the card offers a rephrase, not "again".
        assert await host.card.inner_text("#problem-title") == "Seedance declined this request"
        job = await host.card.evaluate("job")
        assert job["state"] == "failed" and job["error"] and "content_policy" in job["error_type"]
        assert await host.card.inner_text("#reason") == job["error"]
        # Its reason carries the fix (rephrase): said once, then the action that can work.
        assert "fix: rephrase" in job["error"] and not await host.visible("fix")
        assert await host.visible("rephrase") and not await host.visible("again")
        assert not await host.visible("download")
        await host.card.click("#rephrase")
        await host.page.wait_for_function("() => hostLog.some(m => m.method === 'ui/message')")
        [asked] = sent(await host.page.evaluate("hostLog"), "ui/message")
        assert (
            "rephrased prompt" in asked["content"][0]["text"] and job["job_id"] in asked["content"][0]["text"]
        )
        await host.picture(artifacts / "job-card-failed.png")


def jobs_in_journal(settings: Settings) -> int:
    db = sqlite3.connect(settings.home / "journal.sqlite3")
    try:
        return int(db.execute("SELECT COUNT(*) FROM jobs").fetchone()[0])
    finally:
        db.close()


async def test_a_person_confirms_or_drops_spending_in_the_card_and_only_the_card_can(
    browser_settings: Settings, artifacts: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SEEDANCE_CONFIRM_ABOVE_USD", "0.5")
    settings = Settings.from_env()
    async with open_host(settings, tmp_path / "profile") as host:
        # The host shows Apps and cannot elicit: the answer is the card, awaiting the person's yes.
        request = {"prompt": PROMPT, "duration": "4", "aspect_ratio": "16:9", "wait_seconds": 0}
        await host.run_tool("generate_video", request)
        card, page = host.card, host.page
        await host.reach("awaiting_confirmation")
        assert await card.inner_text("#status") == "Awaiting your confirmation"
        assert await card.inner_text("#offer-price") == "$0.97"
        assert "720p" in await card.inner_text("#offer-what")
        assert "SEEDANCE_CONFIRM_ABOVE_USD" in await card.inner_text("#offer-why")
        assert await card.inner_text("#generate") == "Generate, $0.97"
        assert await host.visible("drop") and not await host.visible("working")
        assert jobs_in_journal(settings) == 0
        await host.picture(artifacts / "job-card-awaiting-confirmation.png")

        # The model cannot confirm: the card's tool is not for it, and without the card's token it refuses.
        model_call = await page.evaluate(
            "post('/call', {name: 'confirm_spend', arguments: {token: 'made-up', decision: 'generate'}})"
        )
        assert model_call["isError"] and "only the person" in model_call["content"][0]["text"]
        assert (
            await page.evaluate(
                "runTool('confirm_spend', {token: 'x', decision: 'generate'})"
                ".then(() => 'ran', e => e.message)"
            )
            == "the model cannot call confirm_spend: it is for apps only"
        )

        # Generate: one job; a second card pressing Generate with the same token gets the same job.
        token = await card.evaluate("token")
        await card.click("#generate")
        await card.wait_for_function("() => job.state !== 'awaiting_confirmation'", timeout=WAIT_MS)
        job_id = await card.evaluate("job.job_id")
        assert job_id.startswith("sd_")
        second = await page.evaluate(
            "t => post('/call', {name: 'confirm_spend', arguments: {token: t, decision: 'generate'}})", token
        )
        assert second["structuredContent"]["job_id"] == job_id
        confirms = [
            c for c in host.calls if c["name"] == "confirm_spend" and c["arguments"].get("token") == token
        ]
        assert len(confirms) == 2 and jobs_in_journal(settings) == 1
        await page.wait_for_function("() => hostLog.some(m => m.method === 'ui/update-model-context')")
        [told] = sent(await page.evaluate("hostLog"), "ui/update-model-context")
        assert f'job_id "{job_id}"' in told["content"][0]["text"]

        # The card follows the job it started to the player.
        await host.reach("completed")
        await card.wait_for_function(
            "() => document.getElementById('video').readyState >= 2", timeout=WAIT_MS
        )
        assert await card.evaluate("job.job_id") == job_id and jobs_in_journal(settings) == 1
        await host.show_a_frame()
        await host.picture(artifacts / "job-card-confirmed-done.png")

        # Drop: nothing is submitted, and the dropped request cannot be generated afterwards.
        await host.run_tool("generate_video", {**request, "prompt": PROMPT + ", at night"})
        await host.reach("awaiting_confirmation")
        dropped_token = await host.card.evaluate("token")
        await host.card.click("#drop")
        await host.reach("dropped")
        assert "Nothing was submitted or charged" in await host.card.inner_text("#reason")
        assert not await host.visible("generate") and jobs_in_journal(settings) == 1
        late = await page.evaluate(
            "t => post('/call', {name: 'confirm_spend', arguments: {token: t, decision: 'generate'}})",
            dropped_token,
        )
        assert late["isError"] and jobs_in_journal(settings) == 1
        await host.picture(artifacts / "job-card-dropped.png")

        # An offer left too long lapses: its token is refused and nothing is paid.
        await host.run_tool("generate_video", {**request, "prompt": PROMPT + ", in the snow"})
        await host.reach("awaiting_confirmation")
        held_id = await host.card.evaluate("job.job_id")
        db = sqlite3.connect(settings.home / "journal.sqlite3")
        with db:
            db.execute("UPDATE held_requests SET expires_at = ? WHERE id = ?", (time.time() - 1, held_id))
        db.close()
        await host.card.click("#generate")
        await host.reach("not_generated")
        assert "lapsed unconfirmed" in await host.card.inner_text("#reason")
        assert not await host.visible("generate")
        assert jobs_in_journal(settings) == 1
        await host.picture(artifacts / "job-card-offer-lapsed.png")


async def test_the_gallery_shows_every_job_filters_plays_and_charts_spend(
    artifacts: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SEEDANCE_SIM_QUEUE_SECONDS", "2")
    monkeypatch.setenv("SEEDANCE_DAILY_BUDGET_USD", "5")
    settings = Settings.from_env()
    async with open_host(settings, tmp_path / "profile") as host:
        page = host.page

        async def call(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
            answer: dict[str, Any] = await page.evaluate(
                "([n, a]) => post('/call', {name: n, arguments: a})", [name, arguments]
            )
            return answer

        # Twelve jobs on the simulator: seven made, two refused by the model, one cancelled, two under way.
        shot = {"duration": "4", "resolution": "480p", "aspect_ratio": "16:9", "wait_seconds": 0}
        subjects = [
            "a red kite",
            "a paper boat",
            "fog on a lake",
            "a neon street",
            "a lighthouse",
            "dunes",
            "a fox",
        ]
        started = [
            await call("generate_video", {**shot, "prompt": f"{subject}, golden hour, slow dolly"})
            for subject in subjects
        ]
        for marker in ("[sim:content_policy]", "[sim:detail=no_media_generated]"):
            started.append(await call("generate_video", {**shot, "prompt": f"a bank robbery {marker}"}))
        cancelled = await call("generate_video", {**shot, "prompt": "a storm at sea"})
        await call("cancel_job", {"job_id": cancelled["structuredContent"]["job_id"]})
        for job in started:  # the server's bounded wait, not ours
            ended = await call(
                "check_status", {"job_id": job["structuredContent"]["job_id"], "wait_seconds": 60}
            )
            assert ended["structuredContent"]["done"], ended
        for subject in ("a glacier", "a market"):
            await call("generate_video", {**shot, "prompt": f"{subject} at dawn"})
        # Real spend on earlier days, as the journal keeps it (the chart's bars and the budget line).
        journal = await Journal.open(settings.home / "journal.sqlite3")
        for days_ago, usd in ((1, 1.21), (3, 3.65), (4, 0.97), (9, 6.2), (20, 2.4)):
            when = time.time() - days_ago * 86_400
            await journal.create(
                JobRecord(
                    id=new_job_id(),
                    created_at=when,
                    updated_at=when,
                    provider="fal",
                    simulated=False,
                    tool="generate_video",
                    tier="fast",
                    mode="text-to-video",
                    endpoint="e",
                    arguments={"prompt": "p"},
                    estimate={},
                    estimate_usd=usd,
                    state="completed",
                    request_id="r",
                    finished_at=when + 90,
                )
            )
        await journal.close()

        await host.run_tool("list_jobs", {"limit": 12})
        gallery = host.card
        await gallery.wait_for_function(
            "() => document.querySelectorAll('#grid li').length === 12", timeout=WAIT_MS
        )
        shown = await gallery.evaluate(
            "[...document.querySelectorAll('#grid li')].map(li => li.dataset.state)"
        )
        assert shown.count("completed") == 7 and shown.count("failed") == 2 and shown.count("cancelled") == 1
        assert sum(s in ("queued", "running", "submitting") for s in shown) == 2
        # Posters of the finished jobs, fetched through the card's tool.
        await gallery.wait_for_function(
            "() => document.querySelectorAll('#grid img').length === 7", timeout=WAIT_MS
        )
        # The chart: real spend bars on five days, the simulated day apart, the budget line.
        assert (
            await gallery.evaluate("document.querySelectorAll('#spend rect.bar:not(.simulated)').length") == 5
        )
        assert await gallery.evaluate("document.querySelectorAll('#spend rect.simulated').length") == 1
        assert await gallery.evaluate("!!document.querySelector('#spend line.budget')")
        assert "budget $5.00/day" in await gallery.inner_text("#chart-note")
        await host.picture(artifacts / "gallery.png")

        await gallery.click("[data-filter=failed]")
        assert await gallery.evaluate(
            "[...document.querySelectorAll('#grid li')].map(li => li.dataset.state)"
        ) == [
            "failed",
            "failed",
        ]
        await host.picture(artifacts / "gallery-failed.png")

        await gallery.click("[data-filter=completed]")
        await gallery.click("#grid li:first-child button.frame")
        await gallery.wait_for_function(
            "() => { const v = document.querySelector('#grid video'); return v && v.readyState >= 2; }",
            timeout=WAIT_MS,
        )
        await gallery.evaluate("document.querySelector('#grid video').pause()")
        await host.show_a_frame("#grid video")
        await host.picture(artifacts / "gallery-playing.png")

        for width in (320, 480, 800):
            await page.evaluate(f"document.getElementById('view').style.width = '{width}px'")
            await gallery.wait_for_function("w => window.innerWidth === w", arg=width)
            assert await gallery.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), width
