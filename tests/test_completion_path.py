"""The path from a finished job to the call waiting on it, on the wire (a real MCP client, the simulator
as fal): the waiting call answers with what the journal holds, the video saved once; the provider's
log, resent whole with every status poll, is journaled one line once."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp.client import Client

from seedance_mcp.server.app import create_server
from seedance_mcp.server.http_pool import tls_context
from seedance_mcp.server.simulator import Simulator, SimulatorOptions
from tests.fal_on_simulator import fal_on_simulator

pytestmark = pytest.mark.anyio
KEY = "completion-test-key"


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(SimulatorOptions(queue_seconds=0.2, run_seconds=1.0)) as simulator:
        yield simulator


async def generate(client: Client, seed: int) -> dict[str, Any]:
    arguments = {"prompt": "a heron over a pond", "seed": seed, "duration": "4", "resolution": "480p"}
    with anyio.fail_after(60):
        result = await client.call_tool("generate_video", {**arguments, "wait_seconds": 60})
    assert not result.is_error, result.content
    return result.structured_content or {}


async def test_waiting_call_answers_with_the_journaled_saved_video(sim: Simulator, tmp_path: Path) -> None:
    async with Client(create_server(fal_on_simulator(sim.url, tmp_path, KEY))) as client:
        answers = [await generate(client, seed) for seed in (1, 2)]
        journaled = []
        for answer in answers:
            status = await client.call_tool("check_status", {"job_id": answer["job_id"]})
            journaled.append(status.structured_content or {})

    for answer, record in zip(answers, journaled, strict=True):
        assert answer["state"] == "completed", answer
        assert answer["video_path"] and Path(answer["video_path"]).is_file(), answer
        for name in ("state", "video_path", "saved", "seed", "video_url"):
            assert answer.get(name) == record.get(name), name
    downloads = [e for e in sim.request_log() if e.get("kind") == "download"]
    assert sorted(e["file_id"] for e in downloads) == sorted(r["request_id"] for r in _rows(journaled, sim))


async def test_each_provider_log_line_is_journaled_once_while_polling(tmp_path: Path) -> None:
    # Every status stream dropped: the job is polled, and each status resends the whole log.
    with Simulator(SimulatorOptions(queue_seconds=0.2, run_seconds=2.0, faults="stream_drop=1")) as sim:
        async with Client(create_server(fal_on_simulator(sim.url, tmp_path, KEY))) as client:
            answer = await generate(client, 7)
        request_id = _rows([answer], sim)[0]["request_id"]
        async with httpx.AsyncClient(verify=tls_context()) as http:
            status = await http.get(
                f"{sim.url}/bytedance/seedance-2.0/requests/{request_id}/status",
                params={"logs": "1"},
                headers={"Authorization": f"Key {KEY}"},
            )
        said = status.json()["logs"]
    lines = [str(entry["message"]) for entry in said]
    with sqlite3.connect(tmp_path / "state" / "journal.sqlite3") as db:
        (logs,) = db.execute("SELECT logs FROM jobs WHERE id = ?", (answer["job_id"],)).fetchone()
    journaled = [str(line) for line in json.loads(logs)]

    assert len(journaled) >= 3, journaled  # several status events
    assert len(set(journaled)) == len(journaled), journaled
    assert all(any(line in kept for line in lines) for kept in journaled), (journaled, lines)
    order = [next(i for i, line in enumerate(lines) if line in kept) for kept in journaled]
    assert order == sorted(order), (journaled, lines)


def _rows(records: list[dict[str, Any]], sim: Simulator) -> list[dict[str, Any]]:
    """Each job's request id at the simulator, found by the seed it was submitted with."""
    submits = [e for e in sim.request_log() if e.get("kind") == "submit" and e.get("request_id")]
    by_seed = {(e.get("input") or {}).get("seed"): e for e in submits}
    found = []
    for record in records:
        entry = by_seed.get(record.get("seed"))
        assert entry is not None, (record, submits)
        found.append(entry)
    return found
