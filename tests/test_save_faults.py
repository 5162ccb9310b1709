"""A full disk and a read-only folder, for real: the server runs over stdio in its own mount
namespace (`unshare -Urm`, no root needed) with a tiny tmpfs as its output folder.

Permissions cannot stand in for these (root, as in CI, ignores them), and a tmpfs is a real
filesystem, so the errors are the kernel's own ENOSPC and EROFS. The test frees space from outside
through `/proc/<pid>/root`, which shows the server's mounts.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, TextIO

import anyio
import pytest
from mcp.client import Client
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.types import CallToolResult

pytestmark = pytest.mark.anyio

REPO = Path(__file__).resolve().parent.parent


def _namespaces_work() -> str | None:
    """Why a tmpfs cannot be mounted in a user namespace here, or None when it can."""
    if sys.platform != "linux" or shutil.which("unshare") is None:
        return "needs Linux and util-linux's unshare"
    probe = subprocess.run(
        ["unshare", "-Urm", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"],
        capture_output=True,
        check=False,
    )
    if probe.returncode != 0:
        return f"user namespaces cannot mount a tmpfs here: {probe.stderr.decode(errors='replace').strip()}"
    return None


REASON = _namespaces_work()
if REASON is not None and os.environ.get("SEEDANCE_REQUIRE_SYSTEM_TESTS") == "1":
    raise RuntimeError(f"SEEDANCE_REQUIRE_SYSTEM_TESTS=1 but {REASON}")
pytestmark = [pytest.mark.anyio, pytest.mark.skipif(REASON is not None, reason=REASON or "")]


def data(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return dict(result.structured_content)


def launch(tmp_path: Path, errlog: TextIO, mount: str, fill_kb: int = 0) -> tuple[Client, Path]:
    """The server (embedded simulator, no key) with a tmpfs mounted on its output folder."""
    out = tmp_path / "videos"
    out.mkdir()
    pidfile = tmp_path / "server.pid"
    fill = f' && dd if=/dev/zero of="$OUT/filler" bs=1k count={fill_kb} 2>/dev/null' if fill_kb else ""
    script = (
        f'mount -t tmpfs -o {mount} tmpfs "$OUT"{fill} && echo $$ > "$PIDFILE" && '
        f"exec {sys.executable} -m seedance_mcp.server"
    )
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "OUT": str(out),
        "PIDFILE": str(pidfile),
        "SEEDANCE_HOME": str(tmp_path / "state"),
        "SEEDANCE_OUTPUT_DIR": str(out),
        "SEEDANCE_ALLOWED_DIRS": str(tmp_path),
        "SEEDANCE_SIM_QUEUE_SECONDS": "0.3",
        "SEEDANCE_SIM_RUN_SECONDS": "1.0",
    }
    params = StdioServerParameters(
        command="unshare", args=["-Urm", "sh", "-c", script], env=env, cwd=str(REPO)
    )
    return Client(stdio_client(params, errlog=errlog)), pidfile


VIDEO = {"prompt": "A glass of water on a table", "duration": "4", "resolution": "480p", "wait_seconds": 60}


@pytest.mark.slow
async def test_a_full_disk_keeps_the_url_and_the_video_is_saved_once_space_is_freed(tmp_path: Path) -> None:
    # 512 KiB with 500 of them taken: the ~120 KB video cannot fit.
    with (tmp_path / "stderr.log").open("w") as errlog:
        client, pidfile = launch(tmp_path, errlog, "size=512k", fill_kb=500)
        await full_disk_then_freed(client, pidfile, tmp_path)


async def full_disk_then_freed(client: Client, pidfile: Path, tmp_path: Path) -> None:
    async with client:
        with anyio.fail_after(90):
            job = data(await client.call_tool("generate_video", VIDEO))
        assert job["state"] == "completed" and job["saved"] is False and job["video_path"] is None
        assert "No space left on device" in job["save_error"] and "SEEDANCE_OUTPUT_DIR" in job["save_error"]
        assert job["video_url"] and "Done" not in job["next_step"]
        # No partial file is left taking the little space there is.
        inside = Path(f"/proc/{pidfile.read_text().strip()}/root") / str(tmp_path / "videos").lstrip("/")
        assert sorted(p.name for p in inside.iterdir()) == ["filler"]

        (inside / "filler").unlink()  # the user frees space
        with anyio.fail_after(60):
            saved = data(await client.call_tool("check_status", {"job_id": job["job_id"], "wait_seconds": 0}))
        assert saved["saved"] is True and saved["next_step"].startswith("Done. Show the user the saved file")
        assert (inside / Path(saved["video_path"]).name).stat().st_size > 0


@pytest.mark.slow
async def test_a_read_only_folder_is_a_video_not_saved_yet_never_a_failed_job(tmp_path: Path) -> None:
    with (tmp_path / "stderr.log").open("w") as errlog:
        client, _ = launch(tmp_path, errlog, "ro,size=1m")
        async with client:
            with anyio.fail_after(90):
                job = data(await client.call_tool("generate_video", VIDEO))
            listed = data(await client.call_tool("list_jobs", {}))
    assert job["state"] == "completed" and job["saved"] is False and job["error"] is None
    assert "Read-only file system" in job["save_error"] and job["video_url"]
    assert "not saved" in job["next_step"] and "tries again" in job["next_step"]
    assert [j["state"] for j in listed["jobs"]] == ["completed"]
