"""The API key never leaves: not in the journal, logs, errors, tool output, files or the simulator's log.

One server does a bit of everything against a faulty simulator (uploads, successes, failures,
retries, cancels, listings, resources), with every logger at DEBUG; then every place a key could
end up is searched for it, as text and as bytes.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp.client import Client
from mcp.types import CallToolResult

from seedance_mcp.server.app import create_server
from seedance_mcp.server.config import Settings
from seedance_mcp.server.simulator import Simulator, SimulatorOptions
from tests.media_factory import make_image

pytestmark = pytest.mark.anyio

SECRET = "9f8e7d6c5b4a39281706"
KEY = f"test-key-id:{SECRET}"
BAD_KEY = f"sim-invalid-key:{SECRET}"


def fal_settings(url: str, tmp_path: Path, key: str) -> Settings:
    return Settings.from_env(
        {
            "SEEDANCE_PROVIDER": "fal",
            "FAL_KEY": key,
            "SEEDANCE_FAL_QUEUE_URL": url,
            "SEEDANCE_FAL_REST_URL": url,
            "SEEDANCE_FAL_CDN_URL": url,
            "SEEDANCE_HOME": str(tmp_path / "state"),
            "SEEDANCE_OUTPUT_DIR": str(tmp_path / "videos"),
            "SEEDANCE_ALLOWED_DIRS": str(tmp_path / "home"),
        }
    )


def dump(result: Any) -> str:
    """Everything a client sees of an answer."""
    if isinstance(result, CallToolResult):
        return json.dumps(result.model_dump(mode="json"))
    return json.dumps(result.model_dump(mode="json")) if hasattr(result, "model_dump") else str(result)


async def test_the_key_appears_nowhere(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    image = make_image(tmp_path / "home" / "start.png", "png", 640, 480)
    seen: list[str] = []
    options = SimulatorOptions(
        queue_seconds=0.3, run_seconds=0.8, faults="status_5xx=0.3,result_5xx=0.3,submit_429=0.3", seed=3
    )
    with Simulator(options) as sim:
        settings = fal_settings(sim.url, tmp_path, KEY)
        assert SECRET not in repr(settings) and SECRET not in str(settings.model_dump())
        async with Client(create_server(settings)) as client:

            async def call(tool: str, arguments: dict[str, Any]) -> CallToolResult:
                result = await client.call_tool(tool, arguments)
                seen.append(dump(result))
                return result

            base = {"duration": "4", "resolution": "480p"}
            with anyio.fail_after(60):
                done = await call("generate_video", {"prompt": "A kite", **base, "wait_seconds": 30})
                assert not done.is_error, done.content
                uploaded = await call(
                    "generate_video",
                    {"prompt": "Animate this", "image_url": str(image), **base, "wait_seconds": 30},
                )
                assert not uploaded.is_error, uploaded.content
                failed = await call(
                    "generate_video",
                    {"prompt": "A crash [sim:error=runner_server_error]", **base, "wait_seconds": 30},
                )
                assert failed.is_error
                await call(
                    "generate_video", {"prompt": "A flag [sim:content_policy]", **base, "wait_seconds": 30}
                )
                queued = await call("generate_video", {"prompt": "Cancel me", **base, "wait_seconds": 0})
                job_id = (queued.structured_content or {})["job_id"]
                await call("cancel_job", {"job_id": job_id})
                await call("check_status", {"job_id": job_id, "wait_seconds": 0})
                await call("check_status", {"job_id": "sd_unknown"})
                await call("list_jobs", {})
                await call("estimate_cost", {"resolution": "720p", "duration": "5"})
                read = await client.read_resource(f"seedance://jobs/{job_id}")
                seen.append(dump(read))
                seen.append(dump(await client.list_tools()))

        sim_log = sim.request_log()
        async with httpx.AsyncClient() as http:
            served_log = (await http.get(f"{sim.url}/_simulator/requests")).text
        assert any(e.get("kind") == "upload" for e in sim_log)  # the upload path really ran
        assert any(e.get("fault") for e in sim_log)  # and so did retries

        # A rejected key: the error names the variable to fix, never the key.
        async with Client(create_server(fal_settings(sim.url, tmp_path / "bad", BAD_KEY))) as client:
            rejected = await client.call_tool(
                "generate_video", {"prompt": "A kite", **base, "wait_seconds": 0}
            )
            seen.append(dump(rejected))
        assert rejected.is_error and "FAL_KEY" in rejected.content[0].text  # type: ignore[union-attr]
        sim_log += sim.request_log()

    assert caplog.records  # the logs really were captured
    logged = "\n".join(
        [caplog.text] + [f"{r.getMessage()} {r.args!r} {r.exc_text or ''}" for r in caplog.records]
    )
    places = {
        "tool output": "\n".join(seen),
        "logs": logged,
        "simulator request log": json.dumps(sim_log) + served_log,
    }
    for place, text in places.items():
        assert SECRET not in text, f"the key leaked into the {place}"

    # Every file the server wrote: journal (and its WAL), previews, videos.
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name.startswith("journal.sqlite3") for p in files)
    leaked = [str(p) for p in files if SECRET.encode() in p.read_bytes()]
    assert leaked == []
