"""The bad-input corpus through the real tools: refused with field, limit and fix; nothing is sent.

The server runs against a simulator started here (as a user's fal.ai would be), so the simulator's
request log shows every upload and submit the server attempted: for bad inputs, none. Good local
files of every kind then go through end to end and are submitted by their storage URLs.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp.client import Client

from seedance_mcp.server.app import create_server
from seedance_mcp.server.config import Settings
from seedance_mcp.server.http_pool import tls_context
from seedance_mcp.server.simulator import Simulator, SimulatorOptions
from tests.test_inputs import BAD, Lib, lib  # noqa: F401  (lib is a fixture)

KEY = "e2e-inputs-key-51c0"


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(SimulatorOptions(queue_seconds=0.2, run_seconds=0.5, seed=3)) as simulator:
        yield simulator


@pytest.fixture
def fal_settings(sim: Simulator, lib: Lib, monkeypatch: pytest.MonkeyPatch) -> Settings:  # noqa: F811
    monkeypatch.setenv("SEEDANCE_PROVIDER", "fal")
    monkeypatch.setenv("FAL_KEY", KEY)
    for name in ("QUEUE", "REST", "CDN"):
        monkeypatch.setenv(f"SEEDANCE_FAL_{name}_URL", sim.url)
    monkeypatch.setenv("SEEDANCE_ALLOWED_DIRS", str(lib.home))
    return Settings.from_env()


def paid_requests(sim: Simulator) -> list[dict[str, Any]]:
    return [
        e for e in sim.request_log() if e.get("kind") in {"submit", "upload", "token"} or e["method"] == "PUT"
    ]


@pytest.mark.anyio
async def test_every_bad_input_is_a_tool_error_and_nothing_reaches_the_provider(
    fal_settings: Settings,
    sim: Simulator,
    lib: Lib,  # noqa: F811
) -> None:
    # Without a start frame generate_video is text-to-video, so that module-level case has no tool form.
    cases = [c for c in BAD if c.id != "no start frame"]
    assert len(cases) >= 40
    failures = []
    async with Client(create_server(fal_settings)) as client:
        for case in cases:
            if case.frames is not None:
                tool, arguments = "generate_video", case.frames(lib)
            else:
                assert case.refs is not None
                tool, arguments = "reference_video", case.refs(lib)
            arguments = {k: v for k, v in arguments.items() if v not in (None, [])}
            result = await client.call_tool(tool, {**arguments, "duration": "4", "wait_seconds": 0})
            text = result.content[0].text  # type: ignore[union-attr]
            if not (result.is_error and case.field in text and case.limit in text and case.fix in text):
                failures.append(f"{case.id}: {text[:300]}")
    assert failures == []
    assert paid_requests(sim) == []


@pytest.mark.anyio
async def test_local_files_of_every_kind_are_uploaded_and_submitted_by_storage_url(
    fal_settings: Settings,
    sim: Simulator,
    lib: Lib,  # noqa: F811
) -> None:
    arguments = {
        "prompt": "@Image1 walks past @Image2 to the beat of @Audio1, moving like @Video1 and @Video2",
        "image_urls": [lib["img1"], lib["img2"]],
        "video_urls": [lib["v640"], lib["v720"]],
        "audio_urls": [lib["wav2"]],
        "duration": "4",
        "resolution": "480p",
        "wait_seconds": 60,
    }
    with anyio.fail_after(60):
        async with Client(create_server(fal_settings)) as client:
            result = await client.call_tool("reference_video", arguments)
    assert not result.is_error, result.content
    assert (result.structured_content or {})["state"] == "completed"
    submits = [e for e in sim.request_log() if e.get("kind") == "submit"]
    assert len(submits) == 1
    sent = submits[0]["input"]
    for key in ("image_urls", "video_urls", "audio_urls"):
        assert len(sent[key]) == len(arguments[key])  # type: ignore[arg-type]
        assert all(url.startswith(sim.url + "/files/") for url in sent[key]), sent[key]
    # The provider got what was on disk, byte for byte.
    import httpx

    async with httpx.AsyncClient(verify=tls_context()) as http:
        first_image = (await http.get(sent["image_urls"][0])).content
    assert first_image == Path(lib["img1"]).read_bytes()
    assert KEY not in repr(sim.request_log())
