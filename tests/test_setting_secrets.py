"""Secrets in settings stay out of `doctor`, the log and errors whatever the parse error; webhook tokens
stay out of the access log; the server's own key inside a prompt is refused before anything is stored.
Real processes (the CLI), a real MCP client, a real uvicorn access log."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import anyio
import httpx
import pytest
from mcp.client import Client

from seedance_mcp.server.app import create_server
from seedance_mcp.server.http_pool import tls_context
from seedance_mcp.server.simulator import Simulator
from tests.test_guard import fal_env, sent, settings_with, sim, text_of  # noqa: F401 - fixtures

pytestmark = pytest.mark.anyio
PASSWORD = "Pa55w0rdZebra"

# Database URLs psycopg cannot parse, each with the password where a parser would quote it.
BAD_DATABASE_URLS = [
    f"postgresql://bob:{PASSWORD}@127.0.0.1:notaport/db",
    f"postgresql://bob:{PASSWORD}/x@127.0.0.1:5432/db",
    f"postgresql://bob:{PASSWORD}@127.0.0.1:5432/db?sslmode={PASSWORD}",
    f"postgresql://bob:{PASSWORD} space@127.0.0.1:5432/db",
    f"postgresql://bob:{PASSWORD}@[127.0.0.1/db",
]


def cli(args: list[str], env_extra: dict[str, str], tmp_path: Path) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SEEDANCE_", "FAL_", "OXEN_"))}
    env |= {"SEEDANCE_HOME": str(tmp_path / "home"), "SEEDANCE_OUTPUT_DIR": str(tmp_path / "videos")}
    env |= env_extra
    done = subprocess.run(
        [sys.executable, "-m", "seedance_mcp.server", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    return done.returncode, done.stdout + done.stderr


@pytest.mark.parametrize("url", BAD_DATABASE_URLS)
def test_doctor_never_shows_a_database_password_whatever_the_parse_error(url: str, tmp_path: Path) -> None:
    code, said = cli(["doctor"], {"SEEDANCE_DATABASE_URL": url}, tmp_path)
    assert "SEEDANCE_DATABASE_URL" in said, said
    assert PASSWORD not in said, said
    assert code != 0


def test_doctor_never_shows_a_public_url_password(tmp_path: Path) -> None:
    url = f"ftp://alice:{PASSWORD}@hooks.example.com"
    _, said = cli(["doctor"], {"SEEDANCE_PUBLIC_URL": url}, tmp_path)
    assert "SEEDANCE_PUBLIC_URL" in said and PASSWORD not in said, said


async def test_the_server_log_and_errors_never_show_a_database_password(
    tmp_path: Path, isolated_env: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("SEEDANCE_DATABASE_URL", BAD_DATABASE_URLS[0])
    from seedance_mcp.server.config import Settings

    async with Client(create_server(Settings.from_env())) as client:
        with anyio.fail_after(60):
            result = await client.call_tool("list_jobs", {})
    said = text_of(result)
    assert result.is_error and "could not start" in said, said
    assert PASSWORD not in said and PASSWORD not in caplog.text


def test_a_serving_process_logs_no_database_password(tmp_path: Path) -> None:
    # The CLI's log lines pass the scrubbing filter, whatever module wrote them.
    env = {"SEEDANCE_DATABASE_URL": BAD_DATABASE_URLS[1], "SEEDANCE_LOG_LEVEL": "DEBUG"}
    _, said = cli(["demo", "--verbose", "a fox"], env, tmp_path)
    assert PASSWORD not in said, said


async def test_the_servers_own_key_in_a_prompt_is_refused_before_anything_is_stored(
    fal_env: pytest.MonkeyPatch,  # noqa: F811
    sim: Simulator,  # noqa: F811
    isolated_env: Path,
) -> None:
    key = "0b6d2a3c-1111-2222-3333-444455556666:0123456789abcdef0123456789abcdef"
    settings = settings_with(fal_env, FAL_KEY=key)
    async with Client(create_server(settings)) as client:
        for prompt in (f"a fox, {key}", f"a fox {key.split(':')[1]}"):
            result = await client.call_tool("generate_video", {"prompt": prompt, "wait_seconds": 0})
            said = text_of(result)
            assert result.is_error and "prompt" in said and "secret" in said, said
            assert key.split(":")[1] not in said
        listed = await client.call_tool("list_jobs", {})
    assert (listed.structured_content or {}).get("jobs") == []
    assert sent(sim) == []
    stored = b"".join(p.read_bytes() for p in (isolated_env.parent / "state").rglob("*") if p.is_file())
    assert key.split(":")[1].encode() not in stored
    assert (
        not list((isolated_env.parent / "videos").glob("*"))
        if (isolated_env.parent / "videos").exists()
        else True
    )


async def test_webhook_tokens_stay_out_of_the_access_log(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    import socket

    import uvicorn

    from seedance_mcp.server.app import create_server as make
    from seedance_mcp.server.config import Settings
    from seedance_mcp.server.web.http import create_http_app

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        "SEEDANCE_HOME": str(tmp_path / "home"),
        "SEEDANCE_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "SEEDANCE_TEAM_SECRET": "t" * 32,
        "SEEDANCE_OUTPUT_DIR": str(tmp_path / "v"),
        "SEEDANCE_ALLOWED_DIRS": str(tmp_path),
    }
    settings = Settings.from_env(env)
    app = create_http_app(make(settings), host="127.0.0.1", port=port, token=None)
    server = uvicorn.Server(uvicorn.Config(app, port=port, log_config=None, access_log=True))
    caplog.set_level(logging.INFO, logger="uvicorn.access")
    token = "n0nc3Secret.abcdef0123456789abcdef0123456789"
    async with anyio.create_task_group() as group:
        group.start_soon(server.serve)
        with anyio.fail_after(20):
            while not server.started:  # noqa: ASYNC110 - uvicorn offers a flag, not an event
                await anyio.sleep(0.05)
        async with httpx.AsyncClient(verify=tls_context()) as client:
            await client.post(f"http://127.0.0.1:{port}/webhooks/fal/{token}", json={"request_id": "x"})
        server.should_exit = True
    lines = [r.getMessage() for r in caplog.records if r.name == "uvicorn.access"]
    assert lines and all("/webhooks/fal/" in line or "webhooks" not in line for line in lines)
    assert not [line for line in lines if "n0nc3Secret" in line], lines
