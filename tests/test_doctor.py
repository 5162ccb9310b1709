"""`seedance-mcp doctor`: every check against a temp environment, hosts probed over real loopback HTTP."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from seedance_mcp.server.doctor import run_doctor
from seedance_mcp.server.simulator import Simulator, SimulatorOptions

ROOT = Path(__file__).resolve().parent.parent
SECRET = "doctor-key-id:doctor-key-secret-4f2a"


def doctor(env: dict[str, str]) -> tuple[int, str]:
    out = io.StringIO()
    code = run_doctor(None, env, out=out, timeout=3.0)
    return code, out.getvalue()


def lines_for(report: str, name: str) -> list[str]:
    return [line for line in report.splitlines() if f"] {name}:" in line]


@pytest.fixture
def env() -> dict[str, str]:
    return dict(os.environ)  # the isolated settings from conftest


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(SimulatorOptions(queue_seconds=0.1, run_seconds=0.2)) as running:
        yield running


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_simulator_setup_is_healthy(env: dict[str, str]) -> None:
    code, report = doctor(env)
    assert code == 0, report
    assert "[FAIL]" not in report
    assert "simulator (auto: no API key is set)" in report
    assert lines_for(report, "simulator")[0].startswith("[  ok]")
    assert "libx264 encoder" in report
    assert "All good" in report


def test_fal_hosts_reachable_and_key_never_shown(env: dict[str, str], sim: Simulator) -> None:
    env.update(
        FAL_KEY=SECRET,
        SEEDANCE_FAL_QUEUE_URL=sim.url,
        SEEDANCE_FAL_REST_URL=sim.url,
        SEEDANCE_FAL_CDN_URL=sim.url,
    )
    code, report = doctor(env)
    assert code == 0, report
    assert "provider: fal (auto: FAL_KEY is set)" in report
    assert lines_for(report, "FAL_KEY") == ["[  ok] FAL_KEY: set"]
    assert len(lines_for(report, "fal queue")) == 1 and "reachable" in report
    # Not the key, nor any recognisable part of it.
    for fragment in (SECRET, "doctor-key-id", "4f2a"):
        assert fragment not in report
    # The probe sent no credentials either.
    assert all("Authorization" not in str(entry) for entry in sim.request_log())


def test_unreachable_host_fails_with_a_fix(env: dict[str, str], sim: Simulator) -> None:
    dead = f"http://127.0.0.1:{closed_port()}"
    env.update(
        FAL_KEY=SECRET,
        SEEDANCE_FAL_QUEUE_URL=dead,
        SEEDANCE_FAL_REST_URL=sim.url,
        SEEDANCE_FAL_CDN_URL=sim.url,
    )
    code, report = doctor(env)
    assert code == 1
    assert lines_for(report, "fal queue")[0].startswith("[FAIL]")
    assert lines_for(report, "fal REST")[0].startswith("[  ok]")
    assert "correct SEEDANCE_FAL_QUEUE_URL" in report


def test_folders_checked(env: dict[str, str], tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    env.update(
        SEEDANCE_OUTPUT_DIR=str(blocker / "videos"),
        SEEDANCE_ALLOWED_DIRS=os.pathsep.join([str(tmp_path), str(tmp_path / "missing")]),
    )
    code, report = doctor(env)
    assert code == 1
    assert lines_for(report, "output folder")[0].startswith("[FAIL]")
    assert "point SEEDANCE_OUTPUT_DIR at a folder" in report
    inputs = lines_for(report, "input folder")
    assert [line[:6] for line in inputs] == ["[  ok]", "[FAIL]"]
    assert "missing does not exist" in inputs[1]
    assert lines_for(report, "journal folder")[0].startswith("[  ok]")


def test_missing_key_for_chosen_provider(env: dict[str, str]) -> None:
    # Settings refuse SEEDANCE_PROVIDER=fal without a key; the doctor reports it instead of crashing.
    env["SEEDANCE_PROVIDER"] = "fal"
    code, report = doctor(env)
    assert code == 1
    assert "[FAIL] settings: SEEDANCE_PROVIDER=fal needs FAL_KEY" in report
    assert "PyAV" in report  # the rest of the machine is still checked


def test_unparsable_setting_and_placeholder(env: dict[str, str]) -> None:
    env.update(SEEDANCE_WAIT_SECONDS="soon", OXEN_API_KEY="${user_config.oxen_api_key}")
    code, report = doctor(env)
    assert code == 1
    assert "SEEDANCE_WAIT_SECONDS" in lines_for(report, "settings")[0]
    assert lines_for(report, "OXEN_API_KEY")[0].startswith("[FAIL]")


def test_long_wait_warns_but_passes(env: dict[str, str]) -> None:
    env["SEEDANCE_WAIT_SECONDS"] = "120"
    code, report = doctor(env)
    assert code == 0, report
    assert lines_for(report, "wait per call")[0].startswith("[warn]")


def test_cli_doctor_command(env: dict[str, str], sim: Simulator) -> None:
    env.update(FAL_KEY=SECRET, **{f"SEEDANCE_FAL_{k}_URL": sim.url for k in ("QUEUE", "REST", "CDN")})
    done = subprocess.run(
        [sys.executable, "-m", "seedance_mcp.server", "doctor"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "All good" in done.stdout
    assert SECRET not in done.stdout + done.stderr
