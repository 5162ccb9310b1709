"""The simulator's own endpoint descriptions over real loopback HTTP: what it publishes, what it accepts
and renders for each endpoint (mini, 1080p, Seedance 2.5's 30 s clips, drafts), the real-face
refusal, and drift injected through its hook."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from seedance_mcp.server.http_pool import tls_context
from seedance_mcp.server.simulator import Simulator, SimulatorOptions

AUTH = {"Authorization": "Key sim-test-id:descriptions-secret"}
OXEN = {"Authorization": "Bearer oxen-descriptions-key"}
S20 = "bytedance/seedance-2.0"
S25 = "bytedance/seedance-2.5"


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(SimulatorOptions(queue_seconds=0.05, run_seconds=0.1)) as running:
        yield running


@pytest.fixture
async def client(sim: Simulator) -> Any:
    async with httpx.AsyncClient(verify=tls_context(), base_url=sim.url, headers=AUTH, timeout=60) as c:
        yield c
        assert (await c.delete("/_simulator/descriptions")).status_code == 204


async def run(client: httpx.AsyncClient, endpoint: str, body: dict[str, Any]) -> httpx.Response:
    """Submit, wait for COMPLETED, and return the result answer."""
    submitted = await client.post(f"/{endpoint}", json=body)
    assert submitted.status_code == 200, submitted.text
    job = submitted.json()
    with anyio.fail_after(60):
        while True:
            if (await client.get(job["status_url"])).json()["status"] == "COMPLETED":
                return await client.get(job["response_url"])
            await anyio.sleep(0.05)


async def probe(client: httpx.AsyncClient, url: str, tmp_path: Path) -> tuple[int, int, float, float]:
    """(width, height, seconds, frames per second) of a result video."""
    import av

    path = tmp_path / "probe.mp4"
    path.write_bytes((await client.get(url)).content)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert container.duration is not None and stream.average_rate is not None
        return (
            stream.codec_context.width,
            stream.codec_context.height,
            container.duration / 1_000_000,
            float(stream.average_rate),
        )


# --- what is published ----------------------------------------------------------------------------
@pytest.mark.anyio
async def test_each_endpoint_publishes_its_schema_text_and_price(client: httpx.AsyncClient) -> None:
    endpoint = f"{S25}/reference-to-video"
    # The schema and the llms.txt are public: no key.
    document = (
        await client.get(
            "/api/openapi/queue/openapi.json", params={"endpoint_id": endpoint}, headers={"Authorization": ""}
        )
    ).json()
    assert document["info"]["x-fal-metadata"]["endpointId"] == endpoint
    ref = document["paths"][f"/{endpoint}"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    inputs = document["components"]["schemas"][ref["$ref"].rsplit("/", 1)[1]]
    assert inputs["properties"]["duration"]["enum"][-1] == "30"
    assert inputs["properties"]["image_urls"]["maxItems"] == 12
    text = (await client.get(f"/models/{endpoint}/llms.txt", headers={"Authorization": ""})).text
    assert f"**Endpoint ID:** `{endpoint}`" in text and '<ParamField body="draft" type="boolean"' in text
    assert "$0.0214 per 1000 tokens" in text and "| **1080p** |" in text
    unknown = await client.get("/api/openapi/queue/openapi.json", params={"endpoint_id": "fal-ai/nope"})
    assert unknown.status_code == 404
    # Prices need a key, and list only endpoints that exist.
    ids = f"{S20}/mini/text-to-video,{S20}/text-to-video,fal-ai/nope"
    assert (
        await client.get("/v1/models/pricing", params={"endpoint_id": ids}, headers={"Authorization": ""})
    ).status_code == 401
    prices = (await client.get("/v1/models/pricing", params={"endpoint_id": ids})).json()
    assert {p["endpoint_id"]: p["unit_price"] for p in prices["prices"]} == {
        f"{S20}/mini/text-to-video": 0.007,
        f"{S20}/text-to-video": 0.014,
    }
    assert prices["has_more"] is False and prices["next_cursor"] is None


@pytest.mark.anyio
async def test_oxen_models_answer_from_their_description(client: httpx.AsyncClient) -> None:
    answer = (
        await client.get("/api/ai/models/bytedance-seedance-2-0-mini-reference-to-video", headers=OXEN)
    ).json()
    assert set(answer) == {"name", "media_type", "request_schema", "pricing"}  # the prose facts stay home
    assert answer["request_schema"]["properties"]["duration"]["enum"][0] == -1
    assert (
        await client.get("/api/ai/models/bytedance-seedance-9-text-to-video", headers=OXEN)
    ).status_code == 404


# --- what each endpoint renders -------------------------------------------------------------------
@pytest.mark.anyio
async def test_a_30_second_seedance_2_5_take_renders_cheaply_at_its_full_length(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    body = {"prompt": "a long tracking shot", "duration": "30", "resolution": "1080p", "aspect_ratio": "9:16"}
    result = await run(client, f"{S25}/text-to-video", body)
    assert result.status_code == 200, result.text
    width, height, seconds, fps = await probe(client, result.json()["video"]["url"], tmp_path)
    assert (width, height) == (1080, 1920)
    assert abs(seconds - 30) < 0.6 and fps < 24  # drawn at a lower rate, never shorter


@pytest.mark.anyio
async def test_tiers_differ_in_what_they_accept(client: httpx.AsyncClient, tmp_path: Path) -> None:
    standard = await run(
        client, f"{S20}/text-to-video", {"prompt": "x", "resolution": "1080p", "duration": "4"}
    )
    assert standard.status_code == 200, standard.text
    assert (await probe(client, standard.json()["video"]["url"], tmp_path))[:2] == (1920, 1080)
    fast = await run(client, f"{S20}/fast/text-to-video", {"prompt": "x", "resolution": "1080p"})
    assert fast.status_code == 422 and fast.json()["detail"][0]["loc"] == ["body", "resolution"]
    mini = await run(client, f"{S20}/mini/image-to-video", {"prompt": "x", "resolution": "1080p"})
    assert [d["loc"][1] for d in mini.json()["detail"]] == ["image_url", "resolution"]
    long = await run(client, f"{S20}/text-to-video", {"prompt": "x", "duration": "16"})
    assert long.status_code == 422 and long.json()["detail"][0]["type"] == "literal_error"
    many = {
        "prompt": "x",
        "image_urls": [f"https://e.com/{i}.png" for i in range(12)],
        "video_urls": ["https://e.com/v.mp4"] * 5,
    }
    assert (await run(client, f"{S20}/reference-to-video", many)).json()["detail"][0]["type"] == "too_long"
    wider = await run(client, f"{S25}/reference-to-video", {**many, "duration": "4", "resolution": "480p"})
    assert wider.status_code == 200, wider.text  # 2.5 takes 12 images and 5 videos
    high = {
        "prompt": "x",
        "duration": "4",
        "resolution": "480p",
        "bitrate_mode": "high",
        "end_user_id": "u-1",
    }
    assert (await run(client, f"{S20}/mini/text-to-video", high)).status_code == 200
    bad = await run(client, f"{S20}/mini/text-to-video", {**high, "bitrate_mode": "max"})
    assert bad.json()["detail"][0]["msg"] == "Input should be 'standard' or 'high'"


@pytest.mark.anyio
async def test_a_draft_is_finished_at_full_resolution_with_its_own_seed_and_length(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    body = {"prompt": "a draft", "duration": "6", "aspect_ratio": "1:1", "resolution": "1080p", "draft": True}
    draft = await run(client, f"{S25}/text-to-video", body)
    assert draft.status_code == 200, draft.text
    taken = draft.json()
    assert taken["draft_id"].startswith("draft_") and taken["draft_expires_at"]
    assert (await probe(client, taken["video"]["url"], tmp_path))[:2] == (640, 640)  # drafts are 480p
    finished = await run(
        client, f"{S25}/draft/complete", {"draft_id": taken["draft_id"], "resolution": "1080p"}
    )
    assert finished.status_code == 200, finished.text
    final = finished.json()
    assert final["seed"] == taken["seed"] and "draft_id" not in final
    width, height, seconds, _ = await probe(client, final["video"]["url"], tmp_path)
    assert (width, height) == (1440, 1440) and abs(seconds - 6) < 0.6
    unknown = await run(client, f"{S25}/draft/complete", {"draft_id": "draft_nope"})
    assert unknown.status_code == 422 and unknown.json()["detail"][0]["type"] == "draft_not_found"
    standard = await run(
        client, f"{S20}/text-to-video", {"prompt": "x", "draft": True, "duration": "4", "resolution": "480p"}
    )
    assert "draft_id" not in standard.json()  # 2.0 has no drafts: the field is ignored, as fal ignores extras


@pytest.mark.anyio
async def test_a_draft_can_no_longer_be_finished_once_expired() -> None:
    async with (
        Simulator(SimulatorOptions(queue_seconds=0.05, run_seconds=0.1, draft_seconds=0)) as sim,
        httpx.AsyncClient(verify=tls_context(), base_url=sim.url, headers=AUTH, timeout=60) as client,
    ):
        draft = await run(
            client, f"{S25}/text-to-video", {"prompt": "soon gone", "duration": "4", "draft": True}
        )
        finished = await run(client, f"{S25}/draft/complete", {"draft_id": draft.json()["draft_id"]})
        assert finished.status_code == 422
        assert finished.json()["detail"][0]["type"] == "draft_expired"


@pytest.mark.anyio
async def test_the_real_face_marker_is_refused_as_a_likeness(client: httpx.AsyncClient) -> None:
    body = {
        "prompt": "@Image1 waves [sim:real-face]",
        "image_urls": ["https://e.com/me.jpg"],
        "duration": "4",
    }
    refused = await run(client, f"{S20}/reference-to-video", body)
    assert refused.status_code == 422
    [issue] = refused.json()["detail"]
    assert issue["loc"] == ["body", "image_urls", 0] and issue["type"] == "content_policy_violation"
    assert issue["ctx"] == {"reason": "real_person_likeness"} and "likenesses of real people" in issue["msg"]
    # Oxen: the generation fails with the same words.
    queued = await client.post(
        "/api/ai/queue",
        json={"model": "bytedance-seedance-2-0-text-to-video", "prompt": "a face [sim:real-face]"},
        headers=OXEN,
    )
    generation = queued.json()["generations"][0]["generation_id"]
    with anyio.fail_after(30):
        while True:
            polled = (await client.get(f"/api/ai/queue/{generation}", headers=OXEN)).json()
            if polled["status"] not in ("queued", "processing"):
                break
            await anyio.sleep(0.05)
    assert polled["status"] == "failed" and "likenesses of real people" in polled["error_message"]


# --- drift --------------------------------------------------------------------------------------
def _input_patch(endpoint: str, properties: dict[str, Any]) -> dict[str, Any]:
    name = "".join(p[:1].upper() + p[1:] for p in endpoint.replace("-", "/").replace(".", "/").split("/"))
    return {"openapi": {"components": {"schemas": {f"{name}Input": {"properties": properties}}}}}


@pytest.mark.anyio
async def test_injected_drift_is_published_and_enforced(client: httpx.AsyncClient) -> None:
    endpoint = f"{S20}/fast/text-to-video"
    patch = _input_patch(endpoint, {"resolution": {"enum": ["720p"], "default": "720p"}})
    assert (await client.patch(f"/_simulator/descriptions/fal/{endpoint}", json=patch)).status_code == 204
    document = (await client.get("/api/openapi/queue/openapi.json", params={"endpoint_id": endpoint})).json()
    assert "'720p'" not in str(
        document["components"]["schemas"]["QueueStatus"]
    )  # only the patched part changed
    refused = await run(client, endpoint, {"prompt": "x", "resolution": "480p", "duration": "4"})
    assert refused.status_code == 422 and refused.json()["detail"][0]["msg"] == "Input should be '720p'"
    # Removing a description makes the endpoint unknown, as a retired one would be.
    assert (
        await client.patch(f"/_simulator/descriptions/fal/{endpoint}", content=b"null")
    ).status_code == 204
    assert (await client.post(f"/{endpoint}", json={"prompt": "x"})).status_code == 404
    assert (await client.delete("/_simulator/descriptions")).status_code == 204
    assert (
        await client.post(f"/{endpoint}", json={"prompt": "x", **{"duration": "4", "resolution": "480p"}})
    ).status_code == 200
    bad = await client.patch("/_simulator/descriptions/anthropic/x", json={})
    assert bad.status_code == 400


@pytest.mark.anyio
async def test_a_value_added_without_an_output_size_fails_the_job_not_the_simulator(
    client: httpx.AsyncClient,
) -> None:
    endpoint = f"{S20}/mini/text-to-video"
    patch = _input_patch(endpoint, {"resolution": {"enum": ["480p", "720p", "4k"]}})
    assert (await client.patch(f"/_simulator/descriptions/fal/{endpoint}", json=patch)).status_code == 204
    result = await run(client, endpoint, {"prompt": "x", "resolution": "4k", "duration": "4"})
    assert result.status_code == 500 and result.json()["error_type"] == "runner_server_error"
