"""The shared HTTP client (`server.http_pool`) against the simulator over loopback: status streams
each hold a connection of their own, outside the shared pool, and every other request gives its
pool slot back however it ends; an https origin is verified."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
import httpx
import pytest
from anyio.streams.tls import TLSListener
from httpx_sse import aconnect_sse

from seedance_mcp.server.http_pool import POOL_CONNECTIONS, shared_client, tls_context
from seedance_mcp.server.simulator import Simulator, SimulatorOptions

pytestmark = pytest.mark.anyio

AUTH = {"Authorization": "Key pool-test:secret"}
T2V = "/bytedance/seedance-2.0/fast/text-to-video"
LIGHT = {"duration": "4", "resolution": "480p"}


def client() -> httpx.AsyncClient:
    return shared_client(headers=AUTH, timeout=httpx.Timeout(30.0))


async def submit(http: httpx.AsyncClient, url: str) -> dict[str, Any]:
    answer = await http.post(url + T2V, json={"prompt": "a queue that never moves", **LIGHT})
    assert answer.status_code == 200, answer.text
    job: dict[str, Any] = answer.json()
    return job


async def test_status_streams_beyond_the_pool_size_leave_it_free_for_other_calls() -> None:
    streams = POOL_CONNECTIONS + 8
    async with (
        Simulator(SimulatorOptions(queue_seconds=600, run_seconds=1, ping_seconds=0.05)) as sim,
        client() as http,
    ):
        jobs = [await submit(http, sim.url) for _ in range(streams)]
        opened = 0
        all_open = anyio.Event()

        async def hold(job: dict[str, Any]) -> None:
            nonlocal opened
            async with aconnect_sse(http, "GET", job["status_url"] + "/stream") as source:
                async for event in source.aiter_sse():  # the first event, then pings only: held open
                    assert event.json()["status"] == "IN_QUEUE"
                    opened += 1
                    if opened == streams:
                        all_open.set()

        with anyio.fail_after(60):  # a safety net, not a timing: a pool held by the streams never answers
            async with anyio.create_task_group() as tg:
                for job in jobs:
                    tg.start_soon(hold, job)
                await all_open.wait()
                # Every stream is open at once, and short calls still get connections.
                statuses = [await http.get(job["status_url"]) for job in jobs[: POOL_CONNECTIONS * 2]]
                tg.cancel_scope.cancel()
        streamed = [e for e in sim.request_log() if e.get("kind") == "stream"]
    assert {s.status_code for s in statuses} == {202}
    assert len(streamed) == streams


async def test_every_way_a_request_ends_gives_its_slot_back() -> None:
    async with Simulator(SimulatorOptions(queue_seconds=600, run_seconds=1)) as sim, client() as http:
        job = await submit(http, sim.url)
        with anyio.fail_after(60):  # a lost slot each time would leave the pool empty and this hanging
            for _ in range(POOL_CONNECTIONS + 1):
                assert (await http.get(job["status_url"])).status_code == 202  # read in full
                assert (await http.get(sim.url + "/nowhere")).status_code == 404  # an error answer
                async with http.stream("GET", job["status_url"]) as response:  # closed unread
                    assert response.status_code == 202
                with pytest.raises(httpx.ConnectError):  # nothing listens there: never connected
                    await http.get("http://127.0.0.1:9/")
            sim.set_faults("slow=1")  # every answer 0.5-1.5 s late
            for _ in range(POOL_CONNECTIONS + 1):
                with anyio.move_on_after(0.2):  # cancelled while it waits for its answer
                    await http.get(job["status_url"])
            sim.set_faults("")
            async with anyio.create_task_group() as tg:  # and a burst of more than the pool holds
                for _ in range(POOL_CONNECTIONS * 4):
                    tg.start_soon(http.get, job["status_url"])
            assert (await http.get(job["status_url"])).status_code == 202


async def test_connections_are_kept_and_reused_and_never_more_than_the_pool() -> None:
    accepted = 0
    open_now = most_open = 0
    waiting = 0
    full = anyio.Event()  # as many requests in flight as the pool has slots

    async def serve(stream: anyio.abc.SocketStream) -> None:
        # A bare HTTP/1.1 server: a short answer per request, the connection kept open. In the burst it
        # answers only once a pool's worth of requests is waiting: the pool must hold that many at once.
        nonlocal accepted, open_now, most_open, waiting
        accepted += 1
        open_now += 1
        most_open = max(most_open, open_now)
        buffer = b""
        try:
            async with stream:
                while True:
                    while b"\r\n\r\n" not in buffer:
                        buffer += await stream.receive()
                    head, _, buffer = buffer.partition(b"\r\n\r\n")
                    if b"/burst" in head:
                        waiting += 1
                        if waiting == POOL_CONNECTIONS:
                            full.set()
                        await full.wait()
                    await stream.send(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        except (anyio.EndOfStream, anyio.BrokenResourceError):
            pass
        finally:
            open_now -= 1

    async with await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0) as listener:
        url = f"http://127.0.0.1:{listener.extra(anyio.abc.SocketAttribute.local_port)}"
        async with anyio.create_task_group() as tg:
            tg.start_soon(listener.serve, serve)
            async with client() as http:
                with anyio.fail_after(60):  # a safety net: a pool smaller than its slots never fills
                    for _ in range(20):
                        assert (await http.get(url + "/one")).text == "ok"
                    assert accepted == 1  # one after the other: one connection, kept alive
                    async with anyio.create_task_group() as burst:
                        for _ in range(POOL_CONNECTIONS * 5):
                            burst.start_soon(http.get, url + "/burst")
            tg.cancel_scope.cancel()
    assert most_open == POOL_CONNECTIONS  # every slot used at once, and no connection more


async def test_an_https_origin_is_verified_against_the_ca_bundle(tmp_path: Path) -> None:
    """Plain-HTTP origins get a context that trusts nothing (no CA bundle to load); an https origin gets
    the process's one verifying context, so a certificate no CA signed is refused."""
    assert tls_context() is tls_context() and tls_context().cert_store_stats()["x509_ca"] > 0
    own = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    own.load_cert_chain(*self_signed(tmp_path))

    async def handshake_only(stream: anyio.abc.ByteStream) -> None:
        await stream.aclose()

    async with (
        await anyio.create_tcp_listener(local_host="127.0.0.1") as tcp,
        anyio.create_task_group() as tg,
        client() as http,
    ):
        port = tcp.extra(anyio.abc.SocketAttribute.local_port)
        tg.start_soon(TLSListener(tcp, own).serve, handshake_only)
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            await http.get(f"https://127.0.0.1:{port}/")
        tg.cancel_scope.cancel()


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 signed by its own key: (certificate, key) as PEM files."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    loopback = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(loopback, critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path
