"""Streamable HTTP transport: the real server in a subprocess on a loopback port, a real MCP client.

Covers: tools listed over HTTP; progress notifications flowing during `generate_video` (SSE answers,
not JSON); the bearer token (403 with a clear body without it, works with); DNS-rebinding protection and
the extra allowed host names (`--allowed-host`, `SEEDANCE_HTTP_ALLOWED_HOSTS`) through the real CLI;
refusing to serve other machines without a token; the official Inspector over HTTP. The unit part checks
the allow-lists and the token middleware.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import httpx
import pytest
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from seedance_mcp.server.errors import ConfigError
from seedance_mcp.server.http_pool import tls_context
from seedance_mcp.server.web.http import check_exposure, is_loopback, security_settings

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "test-token-0123456789abcdef"

# Runs `run_http` exactly as the CLI does, on port 0; the log line names the chosen port.
LAUNCHER = """
import logging, os, sys
logging.basicConfig(level=logging.INFO, stream=sys.stderr)
from seedance_mcp.server.app import create_server
from seedance_mcp.server.config import Settings
from seedance_mcp.server.web.http import run_http
run_http(create_server(Settings.from_env()), host=sys.argv[1], port=0,
         token=os.environ.get("SEEDANCE_HTTP_TOKEN") or None, stateless=sys.argv[2] == "1")
"""
URL_LINE = re.compile(r"MCP over HTTP at (http://\S+/mcp)")


@asynccontextmanager
async def http_server(
    tmp_path: Path, *, token: str | None = None, stateless: bool = False
) -> AsyncIterator[str]:
    """Start the server in a subprocess; yield its /mcp URL once it listens; stop it afterwards."""
    env = {k: v for k, v in os.environ.items() if k != "SEEDANCE_HTTP_TOKEN"}
    env.update(SEEDANCE_PROVIDER="simulator", SEEDANCE_SIM_QUEUE_SECONDS="0.5", SEEDANCE_SIM_RUN_SECONDS="2")
    if token:
        env["SEEDANCE_HTTP_TOKEN"] = token
    log = tmp_path / "server.log"
    with log.open("wb") as sink:
        process = await anyio.open_process(
            [sys.executable, "-c", LAUNCHER, "127.0.0.1", "1" if stateless else "0"],
            env=env,
            cwd=ROOT,
            stdout=sink,
            stderr=sink,
        )
        async with process:
            try:
                with anyio.fail_after(60):
                    while not (found := URL_LINE.search(log.read_text(errors="replace"))):
                        if process.returncode is not None:
                            pytest.fail(f"server exited early:\n{log.read_text(errors='replace')}")
                        await anyio.sleep(0.05)
                yield found.group(1)
            finally:
                if process.returncode is None:
                    process.terminate()
                with anyio.fail_after(60):
                    await process.wait()
    # The token is a secret: it never reaches the server's log.
    if token:
        assert token not in log.read_text(errors="replace")


@asynccontextmanager
async def authed_client(url: str, token: str) -> AsyncIterator[Client]:
    # A client we pass in is ours to close; the transport only closes the ones it creates.
    async with (
        create_mcp_http_client(headers={"Authorization": f"Bearer {token}"}) as http,
        Client(streamable_http_client(url, http_client=http)) as client,
    ):
        yield client


@pytest.mark.anyio
async def test_tools_and_progress_over_http(tmp_path: Path) -> None:
    async with http_server(tmp_path) as url:
        progress: list[float] = []

        async def on_progress(value: float, total: float | None, message: str | None) -> None:
            progress.append(value)

        async with Client(url) as client:
            names = {tool.name for tool in (await client.list_tools()).tools}
            assert {"generate_video", "check_status", "estimate_cost"} <= names
            with anyio.fail_after(60):
                result = await client.call_tool(
                    "generate_video",
                    {
                        "prompt": "a lighthouse at dawn",
                        "duration": "4",
                        "resolution": "480p",
                        "wait_seconds": 60,
                    },
                    progress_callback=on_progress,
                )
        assert not result.is_error, result.content
        assert len(progress) >= 3, progress
        assert progress == sorted(progress)
        assert result.structured_content is not None
        assert result.structured_content["state"] == "completed", result.structured_content


@pytest.mark.anyio
async def test_stateless_mode_lists_tools(tmp_path: Path) -> None:
    async with http_server(tmp_path, stateless=True) as url, Client(url) as client:
        assert "generate_video" in {tool.name for tool in (await client.list_tools()).tools}


@pytest.mark.anyio
async def test_token_required_when_configured(tmp_path: Path) -> None:
    async with http_server(tmp_path, token=TOKEN) as url:
        initialize = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "t", "version": "0"},
            },
        }
        headers = {"Accept": "application/json, text/event-stream"}
        async with httpx.AsyncClient(verify=tls_context(), timeout=10) as raw:
            missing = await raw.post(url, json=initialize, headers=headers)
            wrong = await raw.post(url, json=initialize, headers={**headers, "Authorization": "Bearer nope"})
            wrong_scheme = await raw.post(
                url, json=initialize, headers={**headers, "Authorization": f"Basic {TOKEN}"}
            )
        for answer in (missing, wrong, wrong_scheme):
            # 403, not 401: a 401 sends MCP clients into an OAuth flow this server does not offer.
            assert answer.status_code == 403
            assert "www-authenticate" not in answer.headers
            assert "wrong or missing token" in answer.json()["error_description"]
            assert TOKEN not in answer.text

        async with authed_client(url, TOKEN) as client:
            assert "generate_video" in {tool.name for tool in (await client.list_tools()).tools}


@pytest.mark.anyio
async def test_foreign_host_header_is_refused(tmp_path: Path) -> None:
    # A DNS-rebinding page reaches our port under its own name: the Host header gives it away.
    async with http_server(tmp_path) as url:
        body = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
        headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
        async with httpx.AsyncClient(verify=tls_context(), timeout=10) as raw:
            evil_host = await raw.post(url, json=body, headers={**headers, "Host": "evil.example:80"})
            evil_origin = await raw.post(url, json=body, headers={**headers, "Origin": "http://evil.example"})
        assert evil_host.status_code == 421
        assert "--allowed-host evil.example:80" in evil_host.text  # the fix, for a name that is meant
        assert int(evil_host.headers["content-length"]) == len(evil_host.content)
        assert evil_origin.status_code == 403


def test_loopback_detection() -> None:
    for host in ("127.0.0.1", "localhost", "::1", "[::1]", "127.0.0.2"):
        assert is_loopback(host), host
    for host in ("0.0.0.0", "::", "192.168.1.10", "my-laptop.local", ""):
        assert not is_loopback(host), host


def test_exposed_bind_needs_a_token() -> None:
    with pytest.raises(ConfigError, match="SEEDANCE_HTTP_TOKEN"):
        check_exposure("0.0.0.0", None)
    with pytest.raises(ConfigError, match=r"bind to 127\.0\.0\.1"):
        check_exposure("192.168.1.10", "")
    check_exposure("0.0.0.0", TOKEN)
    check_exposure("127.0.0.1", None)


def test_allow_lists_name_the_bound_port() -> None:
    loopback = security_settings("127.0.0.1", 8123)
    assert loopback.enable_dns_rebinding_protection
    assert {"127.0.0.1:8123", "localhost:8123", "[::1]:8123"} <= set(loopback.allowed_hosts)
    assert "http://localhost:8123" in loopback.allowed_origins
    assert not any(h.endswith(":*") for h in loopback.allowed_hosts)

    lan = security_settings("192.168.1.10", 9000, ["video-box.lan", "proxy.example:443"])
    assert "192.168.1.10:9000" in lan.allowed_hosts
    assert "localhost:9000" not in lan.allowed_hosts
    assert {"video-box.lan", "video-box.lan:9000", "proxy.example:443"} <= set(lan.allowed_hosts)
    assert "https://proxy.example:443" in lan.allowed_origins

    v6 = security_settings("::1", 9000)
    assert "[::1]:9000" in v6.allowed_hosts


def test_exposed_bind_without_token_does_not_start(tmp_path: Path) -> None:

    env = {k: v for k, v in os.environ.items() if k != "SEEDANCE_HTTP_TOKEN"}
    env["SEEDANCE_PROVIDER"] = "simulator"
    done = subprocess.run(
        [sys.executable, "-c", LAUNCHER.replace("host=sys.argv[1]", 'host="0.0.0.0"'), "x", "0"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "SEEDANCE_HTTP_TOKEN" in done.stderr
    assert "MCP over HTTP at" not in done.stderr


# --- the real CLI, with extra allowed host names -------------------------------------------------------


@asynccontextmanager
async def cli_server(tmp_path: Path, *args: str, env: dict[str, str]) -> AsyncIterator[tuple[int, Path]]:
    """`seedance-mcp serve --transport http` on a free loopback port; yields the port and its log."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = tmp_path / f"cli-{port}.log"
    command = [
        sys.executable,
        "-m",
        "seedance_mcp.server",
        "serve",
        "--transport",
        "http",
        "--port",
        str(port),
    ]
    with log.open("wb") as sink:
        process = await anyio.open_process([*command, *args], env=env, cwd=ROOT, stdout=sink, stderr=sink)
        async with process:
            try:
                with anyio.fail_after(60):
                    while "MCP over HTTP at" not in log.read_text(errors="replace"):
                        if process.returncode is not None:
                            pytest.fail(f"server exited early:\n{log.read_text(errors='replace')}")
                        await anyio.sleep(0.05)
                yield port, log
            finally:
                if process.returncode is None:
                    process.terminate()
                with anyio.fail_after(60):
                    await process.wait()


def cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "SEEDANCE_HTTP_TOKEN"}
    return {**env, "SEEDANCE_PROVIDER": "simulator", **extra}


INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "0"},
    },
}


@pytest.mark.anyio
async def test_allowed_host_names_from_the_flag_and_the_setting(tmp_path: Path) -> None:
    env = cli_env(SEEDANCE_HTTP_TOKEN=TOKEN, SEEDANCE_HTTP_ALLOWED_HOSTS="render-box.lan, proxy.example:443")
    async with cli_server(tmp_path, "--allowed-host", "studio.lan", env=env) as (port, _):
        url = f"http://127.0.0.1:{port}/mcp"
        headers = {"Accept": "application/json, text/event-stream", "Authorization": f"Bearer {TOKEN}"}
        async with httpx.AsyncClient(verify=tls_context(), timeout=30) as raw:

            async def status(host: str) -> int:
                answer = await raw.post(url, json=INITIALIZE, headers={**headers, "Host": host})
                return answer.status_code

            assert await status(f"studio.lan:{port}") == 200  # the flag
            assert await status(f"render-box.lan:{port}") == 200  # the setting
            assert await status("proxy.example:443") == 200  # a reverse proxy's name and port
            assert await status(f"other.lan:{port}") == 421  # what the setting fixes


@pytest.mark.anyio
async def test_a_short_token_is_served_with_a_warning(tmp_path: Path) -> None:
    async with cli_server(tmp_path, env=cli_env(SEEDANCE_HTTP_TOKEN="abc")) as (_, log):
        text = log.read_text(errors="replace")
    assert "SEEDANCE_HTTP_TOKEN is only 3 characters" in text and "at least 16" in text


def test_out_of_range_port_is_refused() -> None:

    done = subprocess.run(
        [sys.executable, "-m", "seedance_mcp.server", "serve", "--transport", "http", "--port", "99999"],
        capture_output=True,
        text=True,
        timeout=60,
        env=cli_env(),
    )
    assert done.returncode == 2 and "--port: 99999 is out of range" in done.stderr


def machine_name_on_loopback() -> str:
    """This machine's name, when it resolves to a loopback address: a non-loopback *name* whose traffic
    still stays on this machine."""
    name = socket.gethostname()
    try:
        address = socket.gethostbyname(name)
    except OSError:
        pytest.skip(f"this machine's name {name!r} does not resolve")
    if name.lower() == "localhost" or not ipaddress.ip_address(address).is_loopback:
        pytest.skip(f"this machine's name {name!r} resolves to {address}, not to loopback")
    return name


@pytest.mark.slow
@pytest.mark.anyio
async def test_the_official_inspector_over_http_with_an_allowed_host_name(
    tmp_path: Path, isolated_env: Path
) -> None:
    from PIL import Image

    from tests.inspector_cli import TOOL_CALLS, call_every_tool, inspector

    command = inspector()  # skips (or fails in CI) before any server starts when node is missing
    name = machine_name_on_loopback()
    image = isolated_env / "media" / "lighthouse.png"
    Image.new("RGB", (640, 480), (30, 60, 90)).save(image)
    async with cli_server(tmp_path, "--allowed-host", name, env=cli_env(SEEDANCE_HTTP_TOKEN=TOKEN)) as (
        port,
        _,
    ):
        url = f"http://{name}:{port}/mcp"
        auth = ("--header", f"Authorization: Bearer {TOKEN}")
        called = await anyio.to_thread.run_sync(lambda: call_every_tool([url], image, *auth))
        assert called == set(TOOL_CALLS)
        # A wrong token is reported as such, not as a login the user cannot do.
        wrong = await anyio.run_process(
            [*command, url, "--method", "tools/list", "--header", "Authorization: Bearer nope"],
            check=False,
            stdin=subprocess.DEVNULL,
        )
    said = (wrong.stdout + wrong.stderr).decode(errors="replace")
    assert wrong.returncode != 0
    assert "wrong or missing token" in said and "OAuth requires" not in said
