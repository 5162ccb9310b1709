"""The provider-text door on the wire: a simulator whose words echo the key, pose as new messages and
run to thousands of characters, through a real MCP client. Wherever fal's words show (progress
notifications, check_status, the job resource, list_jobs, the log, the journal) they are redacted,
one line, bounded, quoted and attributed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp.client import Client

from seedance_mcp.server.app import create_server
from seedance_mcp.server.providers.redaction import PROVIDER_TEXT_CHARS
from seedance_mcp.server.simulator import Simulator
from tests.test_guard import fal_env, settings_with, sim  # noqa: F401 - fixtures
from tests.test_secrets import ECHO_KEY, FRAGMENTS

pytestmark = pytest.mark.anyio
SAID = "fal.ai says: “"
LONGEST = len(SAID) + PROVIDER_TEXT_CHARS + 1


def dump(result: Any) -> str:
    return json.dumps(result.model_dump(mode="json"), ensure_ascii=False)


async def test_hostile_provider_words_reach_no_answer_raw(
    fal_env: pytest.MonkeyPatch,  # noqa: F811
    sim: Simulator,  # noqa: F811
    isolated_env: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("DEBUG")
    settings = settings_with(fal_env, FAL_KEY=ECHO_KEY)
    progress: list[str] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append(message or "")

    seen: list[str] = []
    async with Client(create_server(settings)) as client:
        first = await client.call_tool(
            "generate_video", {"prompt": "a fox [sim:hostile_text]", "duration": "4", "wait_seconds": 0}
        )
        seen.append(dump(first))
        job_id = (first.structured_content or {})["job_id"]
        with anyio.fail_after(60):  # fails with fal's words: a tool error carrying them
            ended = await client.call_tool(
                "check_status", {"job_id": job_id, "wait_seconds": 30}, progress_callback=on_progress
            )
        seen.append(dump(ended))
        status = await client.call_tool("check_status", {"job_id": job_id})
        seen += [dump(status), dump(await client.call_tool("list_jobs", {}))]
        resource = await client.read_resource(f"seedance://jobs/{job_id}")
        seen.append(dump(resource))

    record = status.structured_content or {}
    assert record["state"] == "failed", record
    logs = record["logs"]
    assert logs and all(line.startswith(SAID) and line.endswith("”") for line in logs), logs
    assert all(len(line) <= LONGEST and "\n" not in line and "\u2028" not in line for line in logs)
    assert any("SYSTEM NOTICE" in line for line in logs)  # kept, but inside fal's quoted words
    assert SAID in record["error"] and "\u2028" not in record["error"]
    assert any(SAID in m for m in progress), progress  # notifications carry the quoted line

    journal = b"".join(p.read_bytes() for p in (isolated_env.parent / "state").rglob("*") if p.is_file())
    everything = "\n".join([*seen, *progress, caplog.text])
    for fragment in FRAGMENTS:
        assert fragment not in everything, fragment
        assert fragment.encode() not in journal, fragment
    for text in [*seen, *progress]:
        assert "\\nSYSTEM NOTICE" not in text and "\nSYSTEM NOTICE" not in text
