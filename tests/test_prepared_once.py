"""Each generating call is prepared once (issue 22): the confirmation step and the tool body share one
check of the call's media, on the wire: a real loopback media server counts the GETs the server makes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp.client import Client

from seedance_mcp.server.app import create_server
from seedance_mcp.server.config import Settings
from seedance_mcp.server.simulator import Simulator, SimulatorOptions
from tests.fal_on_simulator import fal_on_simulator
from tests.media_factory import make_image
from tests.media_server import Served, serve

pytestmark = pytest.mark.anyio
KEY = "prepared-once-key-51c2"


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(SimulatorOptions(queue_seconds=0.1, run_seconds=0.3, seed=5)) as simulator:
        yield simulator


def settings_for(sim: Simulator, tmp_path: Path, **extra: str) -> Settings:
    return fal_on_simulator(sim.url, tmp_path, KEY, **extra)


async def gets_for_one_call(served: Served, settings: Settings, prompt: str) -> int:
    """The GETs of the image's URL made while one reference_video call is answered."""
    before = len(served.requests)
    arguments: dict[str, Any] = {
        "prompt": prompt,
        "image_urls": [f"{served.url}/look.png"],
        "duration": "4",
        "resolution": "480p",
        "wait_seconds": 0,
    }
    async with Client(create_server(settings)) as client:
        result = await client.call_tool("reference_video", arguments)
    assert not result.is_error, result.content
    return sum(1 for method, path, _ in served.requests[before:] if method == "GET" and path == "/look.png")


async def test_a_confirmation_threshold_not_reached_fetches_a_url_image_as_often_as_without_one(
    sim: Simulator, tmp_path: Path
) -> None:
    (tmp_path / "web").mkdir()
    make_image(tmp_path / "web" / "look.png", "png", 640, 640)
    with serve(tmp_path / "web") as served:
        without = await gets_for_one_call(
            served, settings_for(sim, tmp_path / "a"), "A fox in the style of @Image1"
        )
        # Another prompt: the second call must not be answered from the first one's journal entry.
        with_threshold = await gets_for_one_call(
            served,
            settings_for(sim, tmp_path / "b", SEEDANCE_CONFIRM_ABOVE_USD="1000"),
            "A hare in the style of @Image1",
        )
    assert without >= 1, "the call checks the image at its URL"
    assert with_threshold == without
