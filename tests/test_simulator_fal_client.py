"""fal's own Python client (fal-client 1.0.3) talks to the simulator unchanged.

fal_client builds its first URLs from three module constants (`QUEUE_URL_FORMAT`, `REST_URL`,
`CDN_URL`, all https on fal's hosts); we point those at the simulator. Everything after that —
the handle's status/result/cancel URLs, the CDN token's upload base — comes from our answers,
so the client's real request code runs end to end.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import fal_client
import fal_client.client as fal_impl
import httpx
import pytest
from fal_client.auth import AuthCredentials

from seedance_mcp.server.http_pool import tls_context
from seedance_mcp.server.simulator import Simulator, SimulatorOptions

KEY = "sim-fal-client:secret-part"
ENDPOINT = "bytedance/seedance-2.0/fast/text-to-video"
LIGHT = {"duration": "4", "resolution": "480p"}


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(SimulatorOptions(queue_seconds=0.15, run_seconds=0.4)) as running:
        yield running


def point(monkeypatch: pytest.MonkeyPatch, sim: Simulator) -> None:
    monkeypatch.setattr(fal_impl, "QUEUE_URL_FORMAT", sim.url + "/")
    monkeypatch.setattr(fal_impl, "REST_URL", sim.url)
    monkeypatch.setattr(fal_impl, "CDN_URL", sim.url)


@pytest.fixture
def pointed(sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> Simulator:
    point(monkeypatch, sim)
    return sim


@pytest.fixture
async def client(pointed: Simulator) -> AsyncIterator[fal_client.AsyncClient]:
    client = fal_client.AsyncClient(key=KEY)
    yield client
    # fal_client never closes the httpx client it caches; close it so no socket leaks into other tests.
    http: httpx.AsyncClient = await client._client
    await http.aclose()


@pytest.mark.anyio
async def test_submit_status_events_result(client: fal_client.AsyncClient, sim: Simulator) -> None:
    handle = await client.submit(ENDPOINT, arguments={"prompt": "fal client says hi", "seed": 5, **LIGHT})
    assert handle.status_url.startswith(sim.url + "/bytedance/seedance-2.0/requests/")
    first = await handle.status(with_logs=True)
    assert isinstance(first, fal_client.Queued | fal_client.InProgress)

    seen: list[fal_client.Status] = []
    with anyio.fail_after(60):
        async for status in handle.iter_events(with_logs=True, interval=0.05):
            seen.append(status)
    assert isinstance(seen[-1], fal_client.Completed)
    assert seen[-1].error is None and seen[-1].metrics["inference_time"] > 0
    assert seen[-1].logs and all(line["source"] == "USER" for line in seen[-1].logs)
    assert any(isinstance(s, fal_client.InProgress) and s.logs is not None for s in seen)

    result = await handle.get()
    assert result["seed"] == 5 and result["video"]["content_type"] == "video/mp4"
    again = await client.result(ENDPOINT, handle.request_id)  # rebuilt from the id, as after a restart
    assert again == result
    status = await client.status(ENDPOINT, handle.request_id, with_logs=False)
    assert isinstance(status, fal_client.Completed) and status.logs is None


@pytest.mark.anyio
async def test_subscribe_reports_queue_updates(client: fal_client.AsyncClient) -> None:
    updates: list[fal_client.Status] = []
    with anyio.fail_after(60):
        result = await client.subscribe(
            ENDPOINT,
            arguments={"prompt": "subscribed", **LIGHT},
            with_logs=True,
            on_queue_update=updates.append,
            interval=0.05,
        )
    assert "url" in result["video"]
    assert isinstance(updates[-1], fal_client.Completed)


@pytest.mark.anyio
async def test_model_errors_surface_as_fal_client_errors(client: fal_client.AsyncClient) -> None:
    handle = await client.submit(ENDPOINT, arguments={"prompt": "x", "duration": "99"})
    with anyio.fail_after(60), pytest.raises(fal_client.FalClientHTTPError) as info:
        await handle.get()
    assert info.value.status_code == 422
    handle = await client.submit(ENDPOINT, arguments={"prompt": "x [sim:error=runner_server_error]", **LIGHT})
    with anyio.fail_after(60), pytest.raises(fal_client.FalClientHTTPError) as info:
        await handle.get()
    assert info.value.status_code == 500 and info.value.error_type == "runner_server_error"


@pytest.mark.anyio
async def test_cancel_through_fal_client(monkeypatch: pytest.MonkeyPatch) -> None:
    async with Simulator(SimulatorOptions(queue_seconds=60, run_seconds=1)) as slow:
        point(monkeypatch, slow)
        client = fal_client.AsyncClient(key=KEY)
        try:
            handle = await client.submit(ENDPOINT, arguments={"prompt": "cancel me", **LIGHT})
            await handle.cancel()
            status = await handle.status()
            assert isinstance(status, fal_client.Completed) and status.error_type == "client_cancelled"
            with pytest.raises(fal_client.FalClientHTTPError) as info:
                await handle.cancel()
            assert info.value.status_code == 400
        finally:
            await (await client._client).aclose()


@pytest.mark.anyio
async def test_bad_key_is_refused(pointed: Simulator) -> None:
    client = fal_client.AsyncClient(key="sim-locked")
    try:
        with pytest.raises(fal_client.FalClientHTTPError) as info:
            await client.submit(ENDPOINT, arguments={"prompt": "x"})
        assert info.value.status_code == 403 and "Exhausted balance" in info.value.message
    finally:
        await (await client._client).aclose()


@pytest.mark.anyio
async def test_upload_file_cdn_and_gcs_fallback(client: fal_client.AsyncClient, tmp_path: Path) -> None:
    path = tmp_path / "still.png"
    payload = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 300
    path.write_bytes(payload)
    url = await client.upload_file(path)
    gcs_url = await client.upload(payload, "image/png", "still.png", repository="fal")
    async with httpx.AsyncClient(verify=tls_context()) as http:
        for got in (await http.get(url), await http.get(gcs_url)):
            assert got.status_code == 200 and got.content == payload
            assert got.headers["content-type"] == "image/png"


@pytest.mark.anyio
async def test_multipart_upload_with_fal_clients_own_code(pointed: Simulator) -> None:
    # fal_client switches to multipart above 100 MiB; its multipart class takes a chunk size, so the
    # same code path runs here on a small payload.
    payload = bytes(range(256)) * 1000  # 256 kB -> 3 parts of 100 kB
    auth = AuthCredentials("Key", KEY)
    async with httpx.AsyncClient(verify=tls_context()) as http:
        url = await fal_impl.AsyncMultipartUpload.save(
            client=http,
            token_manager=fal_impl.AsyncCDNTokenManager(auth),
            file_name="clip.mp4",
            data=payload,
            content_type="video/mp4",
            chunk_size=100_000,
        )
        got = await http.get(url)
    assert got.content == payload and got.headers["content-type"] == "video/mp4"
    parts = [e for e in pointed.request_log() if e.get("upload") == "multipart_part"]
    assert len(parts) >= 3


def test_sync_client_round_trip(pointed: Simulator) -> None:
    client = fal_client.SyncClient(key=KEY)
    try:
        result: dict[str, Any] = client.subscribe(
            ENDPOINT, arguments={"prompt": "sync", **LIGHT}, interval=0.05
        )
        assert result["video"]["file_name"].startswith("seedance-simulated-")
    finally:
        client._client.close()
