"""The model family through a real MCP client on the simulator as fal.ai (issue 24): each endpoint the
catalogue adds is posted to its own path with the body the catalogue describes, priced by its own
formula, and refused before anything is sent where it does not serve a value."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp.client import Client
from mcp.types import TextResourceContents

from seedance_mcp.server.app import create_server
from seedance_mcp.server.catalogue.endpoints import endpoint
from seedance_mcp.server.config import Settings
from seedance_mcp.server.simulator import Simulator, SimulatorOptions
from tests.fal_on_simulator import fal_on_simulator
from tests.media_factory import make_image

pytestmark = pytest.mark.anyio
KEY = "models-e2e-id:models-e2e-secret"


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(SimulatorOptions(queue_seconds=0.05, run_seconds=0.1, seed=3)) as simulator:
        yield simulator


@pytest.fixture
def settings(sim: Simulator, tmp_path: Path) -> Settings:
    return fal_on_simulator(sim.url, tmp_path, KEY)


def sent(sim: Simulator, since: int) -> list[dict[str, Any]]:
    """Submits and uploads since the log had `since` entries: what costs money or leaves the machine."""
    return [e for e in sim.request_log()[since:] if e["method"] in ("POST", "PUT")]


def tokens_usd(width: int, height: int, seconds: int, usd_per_1k: float) -> float:
    """fal's token formula, written out here rather than taken from the server."""
    return round(width * height * seconds * 24 / 1024 / 1000 * usd_per_1k, 4)


async def make(client: Client, sim: Simulator, tool: str, arguments: dict[str, Any]) -> tuple[Any, Any]:
    """One call and its priced twin: (the job's answer, the submit the simulator saw)."""
    before = len(sim.request_log())
    price = await client.call_tool("estimate_cost", {k: v for k, v in arguments.items() if k != "prompt"})
    assert not price.is_error, price.content
    with anyio.fail_after(120):
        result = await client.call_tool(tool, {**arguments, "wait_seconds": 120})
    assert not result.is_error, result.content
    job = result.structured_content or {}
    [submit] = [e for e in sim.request_log()[before:] if e.get("kind") == "submit"]
    assert (
        job["state"] == "completed" and job["estimated_cost_usd"] == (price.structured_content or {})["usd"]
    )
    return job, submit


@pytest.mark.parametrize(
    ("arguments", "endpoint_id", "key", "size", "seconds"),
    [
        (
            {"tier": "mini", "resolution": "480p", "duration": "4"},
            "bytedance/seedance-2.0/mini/text-to-video",
            ("2.0", "mini", "text-to-video"),
            (864, 496),
            4,
        ),
        (
            {"model": "2.5", "resolution": "480p", "duration": "30"},
            "bytedance/seedance-2.5/text-to-video",
            ("2.5", "standard", "text-to-video"),
            (864, 496),
            30,
        ),
        (
            {"tier": "standard", "resolution": "1080p", "duration": "4"},
            "bytedance/seedance-2.0/text-to-video",
            ("2.0", "standard", "text-to-video"),
            (1920, 1080),
            4,
        ),
    ],
    ids=["mini", "2.5-30s", "standard-1080p"],
)
async def test_each_new_endpoint_makes_its_video_at_its_own_path_and_price(
    settings: Settings,
    sim: Simulator,
    arguments: dict[str, Any],
    endpoint_id: str,
    key: tuple[str, str, str],
    size: tuple[int, int],
    seconds: int,
) -> None:
    call = {"prompt": "A kite over dunes", "aspect_ratio": "16:9", **arguments}
    async with Client(create_server(settings)) as client:
        job, submit = await make(client, sim, "generate_video", call)
    assert submit["path"] == f"/{endpoint_id}" and job["endpoint"] == endpoint_id
    body = {
        "prompt": "A kite over dunes",
        "resolution": arguments["resolution"],
        "duration": arguments["duration"],
        "aspect_ratio": "16:9",
        "generate_audio": True,
    }
    assert submit["input"] == body
    entry = endpoint(*key)
    assert entry is not None
    for name, value in body.items():  # every field the catalogue's, every value one it allows there
        declared = entry.param(name)
        assert declared is not None and (not declared.values or value in declared.values)
    assert job["estimated_cost_usd"] == tokens_usd(*size, seconds, entry.price.usd_per_1k_tokens)
    assert (job["video"]["width"], job["video"]["height"]) == size
    assert abs(job["video"]["duration"] - seconds) < 0.5


async def test_the_fast_tier_refuses_1080p_naming_the_field_before_anything_is_sent(
    settings: Settings, sim: Simulator
) -> None:
    before = len(sim.request_log())
    async with Client(create_server(settings)) as client:
        result = await client.call_tool(
            "generate_video", {"prompt": "A kite", "tier": "fast", "resolution": "1080p", "duration": "4"}
        )
        price = await client.call_tool("estimate_cost", {"tier": "fast", "resolution": "1080p"})
    for answer in (result, price):
        assert answer.is_error
        text = answer.content[0].text  # type: ignore[union-attr]
        assert "resolution" in text and "'480p', '720p'" in text and "1080p" in text
    assert sent(sim, before) == []


async def test_a_model_without_the_default_tier_uses_its_own_and_a_missing_tier_is_named(
    settings: Settings, sim: Simulator
) -> None:
    async with Client(create_server(settings)) as client:
        own = await client.call_tool("estimate_cost", {"model": "2.5", "duration": "20"})
        missing = await client.call_tool("estimate_cost", {"model": "2.5", "tier": "mini"})
    assert not own.is_error and (own.structured_content or {})["tier"] == "standard"
    assert missing.is_error and "tier" in missing.content[0].text  # type: ignore[union-attr]


async def test_a_real_face_is_refused_with_what_to_do_instead_and_nothing_counted(
    settings: Settings, sim: Simulator, tmp_path: Path
) -> None:
    face = tmp_path / "home" / "me.png"
    make_image(face, "png", 640, 640)
    async with Client(create_server(settings)) as client:
        with anyio.fail_after(60):
            result = await client.call_tool(
                "reference_video",
                {
                    "prompt": "@Image1 waves [sim:real-face]",
                    "image_urls": [str(face)],
                    "duration": "4",
                    "wait_seconds": 60,
                },
            )
        spend = await client.read_resource("seedance://spend")
    assert result.is_error
    text = result.content[0].text  # type: ignore[union-attr]
    assert "do not retry" in text and "describe the person in the prompt" in text
    (contents,) = spend.contents
    assert isinstance(contents, TextResourceContents)
    assert json.loads(contents.text)["last_24h_usd"] == 0
