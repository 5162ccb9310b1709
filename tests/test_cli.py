"""The `seedance-mcp` command as a person meets it: version, help, terminal hint, settings errors, demo."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time

import pytest

from seedance_mcp import __version__
from seedance_mcp.server.__main__ import build_parser

COMMAND = [sys.executable, "-m", "seedance_mcp.server"]


def run(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*COMMAND, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
    )


def test_version_is_the_package_version() -> None:
    done = run("--version")
    assert done.returncode == 0 and done.stdout.strip() == f"seedance-mcp {__version__}"


@pytest.mark.parametrize("command", ["serve", "demo", "simulator", "doctor"])
def test_every_flag_is_described_with_its_default_and_an_example(command: str) -> None:
    done = run(command, "--help")
    assert done.returncode == 0
    text = " ".join(done.stdout.split())
    assert "example" in text and f"seedance-mcp {command}" in text.split("example", 1)[1]
    parser = build_parser()
    sub = next(a for a in parser._subparsers._group_actions if a.choices)  # type: ignore[union-attr]
    for action in sub.choices[command]._actions:  # type: ignore[index]
        if action.dest == "help":
            continue
        assert action.help and len(action.help.split()) >= 3, f"{command} {action.option_strings}: say what"
        flag = action.option_strings[-1] if action.option_strings else action.dest
        assert flag in text
        if action.option_strings and action.default is not None:
            assert "(default:" in action.help, f"{command} {flag}: name the default"
        if action.choices and action.metavar is None:  # else the help words the range itself
            assert all(str(choice) in text for choice in action.choices)


def test_plain_command_on_a_terminal_says_what_it_is() -> None:
    # stdin is a terminal, as when a person types `seedance-mcp`: one line on stderr says what to do.
    controller, terminal = pty.openpty()
    with subprocess.Popen(
        COMMAND, stdin=terminal, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ)
    ) as process:
        os.close(terminal)
        assert process.stderr is not None
        deadline, said = time.monotonic() + 60, b""
        try:
            while b"doctor" not in said and time.monotonic() < deadline:
                ready, _, _ = select.select([process.stderr], [], [], 1.0)
                if ready:
                    said += os.read(process.stderr.fileno(), 4096)
        finally:
            process.terminate()
            process.wait(timeout=30)
            os.close(controller)
    hint = next(line for line in said.decode().splitlines() if "MCP server" in line)
    assert "waiting for an MCP host" in hint and "seedance-mcp demo" in hint and "seedance-mcp doctor" in hint


def test_settings_errors_name_the_variable() -> None:
    assert run("doctor", env={"SEEDANCE_LOG_LEVEL": "debug"}).returncode == 0
    for variable, value in (("SEEDANCE_MAX_COST_USD", "-1"), ("SEEDANCE_DAILY_BUDGET_USD", "-5")):
        done = run("demo", env={variable: value})
        assert done.returncode == 2 and variable in done.stderr and "Traceback" not in done.stderr
        # Serving goes on (until the host hangs up), so the host hears the reason from every call
        # (tests/test_stdio.py); the log says it too.
        done = run("serve", env={variable: value})
        assert done.returncode == 0 and variable in done.stderr and "Traceback" not in done.stderr
    done = run("simulator", "--port", "70000")
    assert done.returncode == 2 and "1 to 65535" in done.stderr


@pytest.mark.slow
def test_demo_output_is_for_a_person() -> None:
    done = run("demo", "--duration", "4", "--resolution", "480p", timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stderr == "", "logs only with -v"
    assert "\r" not in done.stdout, "not a terminal: one line per update"
    bars = [line for line in done.stdout.splitlines() if line.startswith("[")]
    percents = [int(m.group(1)) for line in bars if (m := re.search(r"\]\s+(\d+)%", line))]
    assert len(percents) >= 3 and percents == sorted(percents) and percents[-1] == 100
    assert len(set(percents)) >= 3, "the bar moves with time, not only at the end"
    assert "Saved file:" in done.stdout and "SIMULATED" not in done.stdout
    for sentence in ("check_status", "Show the user", "next_step"):
        assert sentence not in done.stdout, "no sentences meant for the assistant"


def test_a_mistyped_command_gets_the_closest_one() -> None:
    done = run("serv")
    assert done.returncode == 2 and "Did you mean `seedance-mcp serve`?" in done.stderr
    assert "serve, demo, simulator, doctor" in done.stderr and "Traceback" not in done.stderr
