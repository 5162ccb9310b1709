"""The official MCP Inspector's CLI (`@modelcontextprotocol/inspector` from npm), for tests that drive
the server the way its users check it.

Installed once with npm into a cache folder (like `bundle/check.py` does for the bundle tools). Where node
or npm is missing the tests skip with the reason, unless `SEEDANCE_REQUIRE_SYSTEM_TESTS=1` (set by
`.ci/run`), which turns the skip into a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

INSPECTOR_VERSION = "2.12.0"
PACKAGE = "@modelcontextprotocol/inspector"

# Arguments that make each tool do real work on the simulator; `{job}` is a job made by generate_video.
# A tool added to the server needs a line here, or the Inspector tests fail naming it.
TOOL_CALLS: dict[str, dict[str, Any]] = {
    "estimate_cost": {"duration": "5", "resolution": "480p"},
    "generate_video": {"prompt": "Waves on a pebble beach", "duration": "4", "resolution": "480p"},
    "reference_video": {
        "prompt": "The lighthouse from @Image1 at dusk",
        "image_urls": ["{image}"],
        "duration": "4",
        "resolution": "480p",
    },
    "check_status": {"job_id": "{job}", "wait_seconds": 0},
    "list_jobs": {"limit": 5},
    "stitch_videos": {"clips": ["{job}", "{job}"]},
    "cancel_job": {"job_id": "{job}"},
}


def _require(reason: str) -> None:
    if os.environ.get("SEEDANCE_REQUIRE_SYSTEM_TESTS") == "1":
        pytest.fail(f"{reason} (SEEDANCE_REQUIRE_SYSTEM_TESTS=1 makes this mandatory)")
    pytest.skip(reason)


def inspector() -> list[str]:
    """The command that runs the Inspector CLI, installing it on first use."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        _require("node and npm are needed for the MCP Inspector tests (apt-get install nodejs npm)")
    assert node is not None and npm is not None
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    folder = cache / "seedance-mcp" / f"inspector-{INSPECTOR_VERSION}"
    package = folder / "node_modules" / PACKAGE
    launcher = package / "clients" / "launcher" / "build" / "index.js"
    if not launcher.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            [
                npm,
                "install",
                "--no-audit",
                "--no-fund",
                "--prefix",
                str(folder),
                f"{PACKAGE}@{INSPECTOR_VERSION}",
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
        if done.returncode != 0 or not launcher.is_file():
            _require(f"could not install {PACKAGE}@{INSPECTOR_VERSION} with npm:\n{done.stderr[-2000:]}")
    return [node, str(launcher), "--cli"]


def run(target: list[str], *args: str, env: dict[str, str] | None = None, timeout: float = 300) -> Any:
    """Run one Inspector CLI method against `target` (a command or a URL); return its JSON result.
    Any schema-portability finding of `--strict` (printed on stderr) fails the test."""
    done = subprocess.run(
        # A patient connect timeout: a shared CI machine may take many seconds to start Python.
        [*inspector(), *target, "--format", "json", "--connect-timeout", "120000", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, (
        f"Inspector exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    )
    assert "Issue:" not in done.stderr, done.stderr[-3000:]
    return json.loads(done.stdout)["result"]


def call_every_tool(
    target: list[str], image: Path, *extra: str, env: dict[str, str] | None = None
) -> set[str]:
    """List the tools, then call each with `TOOL_CALLS`; return the names called. Fails on any error."""
    listed = run(target, "--method", "tools/list", "--strict", *extra, env=env)
    names = [tool["name"] for tool in listed["tools"]]
    unknown = sorted(set(names) - set(TOOL_CALLS))
    assert not unknown, f"add Inspector arguments for {unknown} to tests/inspector_cli.py TOOL_CALLS"
    job = ""
    order = sorted(names, key=lambda name: list(TOOL_CALLS).index(name))  # generate before the job tools
    for name in order:
        arguments = json.loads(
            json.dumps(TOOL_CALLS[name]).replace("{job}", job).replace("{image}", str(image))
        )
        result = run(
            target,
            "--method",
            "tools/call",
            "--tool-name",
            name,
            "--tool-args-json",
            json.dumps(arguments),
            *extra,
            env=env,
        )
        assert not result.get("isError"), f"{name}: {json.dumps(result)[:2000]}"
        assert result.get("structuredContent") is not None, name
        if name == "generate_video":
            job = result["structuredContent"]["job_id"]
    return set(order)
