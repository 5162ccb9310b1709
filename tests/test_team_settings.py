"""Team settings on one process: URL-only results (SEEDANCE_SAVE_VIDEOS=false), /healthz and the
webhook route open without the bearer token while /mcp keeps it, and the settings' own checks."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from mcp.client import Client

from seedance_mcp.server.app import create_server
from seedance_mcp.server.config import Settings
from seedance_mcp.server.errors import ConfigError
from seedance_mcp.server.http_pool import tls_context
from tests.replicas import free_port, replicas

pytestmark = pytest.mark.anyio
TOKEN = "http-token-0123456789abcdef"


async def test_urls_only_when_saving_is_off(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SEEDANCE_SAVE_VIDEOS", "false")
    settings = Settings.from_env()
    async with Client(create_server(settings)) as client:
        result = await client.call_tool(
            "generate_video",
            {"prompt": "a kite over dunes", "duration": "4", "resolution": "480p", "wait_seconds": 60},
        )
    answer = result.structured_content
    assert answer is not None and answer["state"] == "completed", result.content
    assert answer["video_url"] and answer["video_path"] is None
    assert answer["saved"] is None and "URLs only" in answer["next_step"], "no failure to retry"
    assert not list(settings.output_dir.rglob("*.mp4"))  # nothing downloaded


def test_team_settings_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEEDANCE_DATABASE_URL", "mysql://x@y/z")
    with pytest.raises(ConfigError, match="PostgreSQL URL"):
        Settings.from_env()
    monkeypatch.setenv("SEEDANCE_DATABASE_URL", "postgresql://u:p@h/db")
    monkeypatch.setenv("SEEDANCE_PUBLIC_URL", "https://videos.example.com")
    with pytest.raises(ConfigError, match="SEEDANCE_TEAM_SECRET"):
        Settings.from_env()
    monkeypatch.setenv("SEEDANCE_TEAM_SECRET", "short")
    with pytest.raises(ConfigError, match="at least 16"):
        Settings.from_env()
    monkeypatch.setenv("SEEDANCE_TEAM_SECRET", "s" * 32)
    assert "u:p" not in repr(Settings.from_env())


async def test_health_and_webhooks_skip_the_token_mcp_does_not(tmp_path: Path) -> None:
    port = free_port()
    env = {
        "SEEDANCE_HTTP_TOKEN": TOKEN,
        "_PORT": str(port),
        "SEEDANCE_PUBLIC_URL": f"http://127.0.0.1:{port}",
    }
    async with replicas([env], tmp_path) as [server], httpx.AsyncClient(verify=tls_context()) as raw:
        health = await raw.get(server.base + "/healthz")
        assert health.status_code == 200 and health.json()["journal"] == "sqlite"
        forged = await raw.post(server.base + "/webhooks/fal/made-up", json={"request_id": "r"})
        assert forged.status_code == 404  # reached the route (no 403), refused by its token check
        assert (await raw.post(server.url, json={})).status_code == 403  # wrong or missing token


async def test_a_confirmation_answered_through_another_replica(tmp_path: Path) -> None:
    """Protocol 2026-07-28: the question's sealed state comes back with the answer, here to the other
    replica; with the shared SEEDANCE_TEAM_SECRET it unseals there and the job is made once."""
    from mcp import types
    from mcp.client.context import ClientRequestContext

    from tests.replicas import RoundRobinProxy

    asked: list[str] = []

    async def confirm(context: ClientRequestContext, params: types.ElicitRequestParams) -> types.ElicitResult:
        asked.append(params.message)
        return types.ElicitResult(action="accept", content={"confirm": True})

    env = {
        "SEEDANCE_CONFIRM_ABOVE_USD": "0.01",
        "SEEDANCE_TEAM_SECRET": "t" * 32,
        "SEEDANCE_PROVIDER": "simulator",
    }
    async with replicas([dict(env), dict(env)], tmp_path) as team:
        proxy = RoundRobinProxy([r.base for r in team]).start()
        try:
            async with Client(proxy.url, mode="auto", elicitation_callback=confirm) as client:
                assert client.protocol_version == "2026-07-28"
                before = dict(proxy.sent)
                result = await client.call_tool(
                    "generate_video",
                    {"prompt": "a red kite", "duration": "4", "resolution": "480p", "wait_seconds": 0},
                )
                after = dict(proxy.sent)
        finally:
            proxy.stop()
    assert not result.is_error, result.content
    assert len(asked) == 1 and "Spend up to" in asked[0]
    # The call and its answered retry went to both replicas.
    assert all(after[r.base] > before[r.base] for r in team), (before, after)
