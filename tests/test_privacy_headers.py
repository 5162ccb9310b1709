"""fal's privacy preferences on the wire: with the settings, every request to fal (uploads and the
submit among them) carries `X-Fal-Store-IO: 0` and the object lifecycle preference; without them,
neither header is sent. Read from the simulator's request log."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mcp.client import Client

from seedance_mcp.server.app import create_server
from seedance_mcp.server.simulator import Simulator
from tests.media_factory import make_image
from tests.test_guard import fal_env, settings_with, sim  # noqa: F401 - fixtures

pytestmark = pytest.mark.anyio


async def _submit_with_upload(settings: object, isolated_env: Path) -> None:
    picture = make_image(isolated_env / "media" / "start.png", "png", 640, 480)
    async with Client(create_server(settings)) as client:  # type: ignore[arg-type]
        result = await client.call_tool(
            "generate_video",
            {"prompt": "a kite", "image_url": str(picture), "duration": "4", "wait_seconds": 0},
        )
        assert not result.is_error, result.content


async def test_privacy_preferences_reach_fal_with_every_request(
    fal_env: pytest.MonkeyPatch,  # noqa: F811
    sim: Simulator,  # noqa: F811
    isolated_env: Path,
) -> None:
    settings = settings_with(
        fal_env, SEEDANCE_FAL_STORE_IO="false", SEEDANCE_FAL_OBJECT_EXPIRY_SECONDS="3600"
    )
    await _submit_with_upload(settings, isolated_env)
    ours = [e for e in sim.request_log() if e.get("kind") in ("submit", "token", "upload")]
    assert {e["kind"] for e in ours} >= {"submit", "upload"}, ours
    for entry in ours:
        assert entry.get("store_io") == "0", entry
        assert json.loads(entry["object_lifecycle"]) == {"expiration_duration_seconds": 3600}, entry


async def test_without_the_settings_no_preference_is_sent(
    fal_env: pytest.MonkeyPatch,  # noqa: F811
    sim: Simulator,  # noqa: F811
    isolated_env: Path,
) -> None:
    await _submit_with_upload(settings_with(fal_env), isolated_env)
    log = sim.request_log()
    assert any(e.get("kind") == "submit" for e in log)
    assert not [e for e in log if "store_io" in e or "object_lifecycle" in e]
