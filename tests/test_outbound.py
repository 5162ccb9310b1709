"""The outbound door on the wire: real loopback servers, name resolution the test controls.

Every case goes through the public entry points (`check_references` for user media, `Deliverer` for
results, `FalProvider` for fal's own URLs) and shows what reached which server, not only the answer.
"""

from __future__ import annotations

import gzip
import threading
import time
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from seedance_mcp.server.delivery.download import Deliverer
from seedance_mcp.server.errors import InputError, VideoUnavailable
from seedance_mcp.server.http_pool import tls_context
from seedance_mcp.server.inputs import check_references
from seedance_mcp.server.journal.sqlite import JobRecord
from seedance_mcp.server.media.remote import UrlPolicy, probe_url
from seedance_mcp.server.outbound import AddressPolicy, Refused, check_hop, origin_of
from seedance_mcp.server.providers.base import VideoOutput
from tests.media_factory import make_image

BOMB_BYTES = 64 * 1024 * 1024  # what the bomb would grow to; it is sent as about 64 kB


class Site:
    """A loopback HTTP server whose every request is recorded with its Host header."""

    def __init__(self, routes: dict[str, tuple[int, dict[str, str], bytes]]) -> None:
        self.routes = routes
        self.seen: list[tuple[str, str]] = []  # (path, Host)
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                site.seen.append((self.path, self.headers.get("Host", "")))
                status, headers, body = site.routes.get(self.path, (404, {}, b""))
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> Site:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture(scope="module")
def png(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("img") / "a.png"
    make_image(path, "png", 64, 48)
    return path.read_bytes()


@pytest.fixture
def internal() -> Iterator[Site]:
    """A service on this machine that must never be reached through a user's or provider's URL."""
    with Site({"/secret": (200, {"Content-Type": "image/png"}, b"internal answer")}) as site:
        yield site


def redirect(to: str) -> tuple[int, dict[str, str], bytes]:
    return 302, {"Location": to}, b""


def resolver(table: dict[str, list[list[str]]], calls: list[str]) -> object:
    """Answers from `table`: each name's successive lookups get successive answers (the last repeats)."""

    def resolve(host: str, port: int) -> list[str]:
        calls.append(host)
        answers = table[host]
        return answers[min(len(calls) - 1, len(answers) - 1)] if len(answers) > 1 else answers[0]

    return resolve


async def refused(images: list[str], policy: UrlPolicy) -> InputError:
    with pytest.raises(InputError) as info:
        await check_references("@Image1", images, [], [], allowed_dirs=(), urls=policy)
    return info.value


@pytest.mark.anyio
async def test_a_redirect_hop_to_an_http_name_on_loopback_is_refused_before_any_request(
    internal: Site, png: bytes
) -> None:
    hop = f"http://internal.test:{internal.port}/secret"
    calls: list[str] = []
    with Site({"/a.png": redirect(hop)}) as media:
        # The first host is the provider's own origin (trusted); the hop is a name that resolves here.
        policy = UrlPolicy(
            trusted_origins=frozenset({origin_of(media.url)}),
            resolve=resolver({"internal.test": [["127.0.0.1"]]}, calls),  # type: ignore[arg-type]
        )
        error = await refused([f"{media.url}/a.png"], policy)
    assert error.field == "image_urls[0]"
    assert "http://" in str(error)
    assert internal.seen == []
    assert "internal answer" not in str(error) and "image/png" not in str(error)


@pytest.mark.anyio
async def test_an_https_hop_whose_name_resolves_to_loopback_is_refused(internal: Site) -> None:
    calls: list[str] = []
    with Site({"/a.png": redirect(f"https://rebound.test:{internal.port}/secret")}) as media:
        policy = UrlPolicy(
            trusted_origins=frozenset({origin_of(media.url)}),
            resolve=resolver({"rebound.test": [["127.0.0.1"]]}, calls),  # type: ignore[arg-type]
        )
        error = await refused([f"{media.url}/a.png"], policy)
    assert "this machine" in str(error) and error.field == "image_urls[0]"
    assert internal.seen == []


def test_the_connection_goes_to_the_checked_address_not_a_second_lookup(png: bytes) -> None:
    # The name answers the check with loopback (allowed: the provider runs here) and any later lookup
    # with a private address; the request must still reach the checked address, once resolved.
    calls: list[str] = []
    with Site({"/a.png": (200, {"Content-Type": "image/png"}, png)}) as media:
        url = f"http://pinned.test:{media.port}/a.png"
        policy = UrlPolicy(
            allow_loopback=True,
            trusted_origins=frozenset({origin_of(url)}),  # plain http to a name: only a configured origin
            resolve=resolver({"pinned.test": [["127.0.0.1"], ["10.255.255.1"]]}, calls),  # type: ignore[arg-type]
        )
        with httpx.Client(verify=tls_context()) as client:
            probe = probe_url(url, policy, client, 30_000_000)
    assert probe.info is not None and probe.info.width == 64
    assert calls == ["pinned.test"]  # resolved once
    assert media.seen == [("/a.png", f"pinned.test:{media.port}")]  # connected to 127.0.0.1, Host kept


@pytest.mark.anyio
async def test_a_redirect_to_a_data_uri_refuses_instead_of_passing() -> None:
    with Site({"/a.png": redirect("data:image/png;base64,iVBORw0KGgo=")}) as media:
        error = await refused([f"{media.url}/a.png"], UrlPolicy(allow_loopback=True))
    assert "not http(s)" in str(error) and error.field == "image_urls[0]"


@pytest.mark.anyio
async def test_a_gzip_bomb_is_refused_without_being_inflated(png: bytes) -> None:
    bomb = gzip.compress(png + bytes(BOMB_BYTES), compresslevel=9)
    double = gzip.compress(bomb)
    routes = {
        "/bomb.png": (200, {"Content-Type": "image/png", "Content-Encoding": "gzip"}, bomb),
        "/double.png": (200, {"Content-Type": "image/png", "Content-Encoding": "gzip, gzip"}, double),
    }
    with Site(routes) as media:
        for name in ("bomb.png", "double.png"):
            error = await refused([f"{media.url}/{name}"], UrlPolicy(allow_loopback=True))
            assert "compressed" in str(error)
    assert len(bomb) < 1_000_000


def job() -> JobRecord:
    now = time.time()
    return JobRecord(
        id="sd_outboundtest",
        created_at=now,
        updated_at=now,
        provider="fal",
        simulated=False,
        tool="generate_video",
        tier="fast",
        mode="text-to-video",
        endpoint="",
        arguments={"prompt": "a result"},
        estimate={},
        estimate_usd=0,
    )


@pytest.mark.anyio
async def test_result_downloads_follow_the_address_policy(internal: Site, tmp_path: Path) -> None:
    bomb = gzip.compress(bytes(BOMB_BYTES))
    with Site(
        {
            "/to-internal": redirect(f"{internal.url}/secret"),
            "/bomb.mp4": (200, {"Content-Type": "video/mp4", "Content-Encoding": "gzip"}, bomb),
            "/data": redirect("data:video/mp4;base64,AAAA"),
        }
    ) as cdn:
        # Only the configured provider origin is trusted: not loopback in general.
        policy = AddressPolicy(trusted_origins=frozenset({origin_of(cdn.url)}))
        async with httpx.AsyncClient(verify=tls_context()) as http:
            deliver = Deliverer(http, output_dir=tmp_path / "v", preview_dir=tmp_path / "p", policy=policy)
            for path, says in (
                ("/to-internal", "this machine"),
                ("/bomb.mp4", "compressed"),
                ("/data", "not http"),
            ):
                with pytest.raises(VideoUnavailable, match=says):
                    await deliver(job(), VideoOutput(url=cdn.url + path))
            # A loopback URL off the configured origins is refused with no request made.
            with pytest.raises(VideoUnavailable, match="this machine"):
                await deliver(job(), VideoOutput(url=f"{internal.url}/secret"))
    assert internal.seen == []
    assert not list((tmp_path / "v").glob("*.mp4"))


@pytest.mark.anyio
async def test_fal_job_urls_off_the_queue_host_never_get_the_key(tmp_path: Path) -> None:
    from seedance_mcp.server.providers.fal import FalProvider
    from seedance_mcp.server.providers.fal.queue import FalQueue  # noqa: F401 - the class under test
    from seedance_mcp.server.simulator import Simulator, SimulatorOptions

    key = "door-test-key-0123456789"
    options = SimulatorOptions(queue_seconds=0.1, run_seconds=0.2, seed=1)
    async with Simulator(options) as sim, httpx.AsyncClient(verify=tls_context()) as http:
        provider = FalProvider(http, key=key, queue_url=sim.url, rest_url=sim.url, cdn_url=sim.url)
        (submission,) = await provider.submit(_spec("a fox [sim:foreign_urls]"))
        # The answer named another origin (same server, other host name): ours are used instead.
        assert urllib.parse.urlsplit(submission.status_url).netloc == urllib.parse.urlsplit(sim.url).netloc
        await provider.status(submission)
        hosts = {entry.get("host") for entry in sim.request_log()}
        ours = urllib.parse.urlsplit(sim.url).netloc
    assert hosts == {ours}


def _spec(prompt: str) -> object:
    from seedance_mcp.server.providers.base import JobSpec

    return JobSpec(
        tier="fast", mode="text-to-video", arguments={"prompt": prompt, "duration": "4", "resolution": "480p"}
    )


@pytest.mark.parametrize("url", ["http://93.184.216.34/a.png", "http://[2606:2800:220:1::1]/a.png"])
def test_plain_http_is_refused_on_every_hop_even_to_a_public_address(url: str) -> None:
    # The rule of the first URL (plain http only to this machine, by name) holds for every hop: an
    # address literal is not a way around it.
    with pytest.raises(Refused, match="plain http://"):
        check_hop(url, AddressPolicy())
