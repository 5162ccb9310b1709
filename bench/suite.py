"""The whole test suite's wall time, against an earlier commit's suite on the same machine, same run.

Each commit is cloned into a temporary folder and installed in a venv of its own (not timed); then
the README's test command (`python -m pytest`) runs there, with the system parts required as in CI.
The baseline runs first, then this checkout's HEAD. The issue's goal: at most half the baseline's
wall time, with no test dropped (compare the counts).

    .venv/bin/python bench/suite.py                      # baseline: the previous round's landing
    .venv/bin/python bench/suite.py --baseline <commit>  # another baseline
    .venv/bin/python bench/suite.py --no-baseline        # HEAD alone

It takes as long as both suites together (about 20 minutes on 2 CPUs) and wants a quiet machine.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, figure, load_average, note

PREVIOUS_LANDING = "3891b48"  # round 2's last landing: 617 tests, one process, 11 min 4 s in its CI


def run_suite(commit: str, work: Path) -> tuple[float, dict[str, int]]:
    """Clone `commit`, install it, run its tests: (wall seconds, counts by outcome)."""
    checkout = work / commit
    subprocess.run(["git", "clone", "-q", str(ROOT), str(checkout)], check=True)
    subprocess.run(["git", "-C", str(checkout), "checkout", "-q", commit], check=True)
    subprocess.run([sys.executable, "-m", "venv", str(checkout / ".venv")], check=True)
    pip = [str(checkout / ".venv/bin/pip"), "install", "--quiet"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "-e", ".[dev]"], check=True, cwd=checkout)
    env = {**os.environ, "SEEDANCE_REQUIRE_SYSTEM_TESTS": "1"}
    note(f"{commit}: tests start, {load_average()}")
    started = time.monotonic()
    done = subprocess.run(
        [str(checkout / ".venv/bin/python"), "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
    )
    wall = time.monotonic() - started
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-500:]
    note(f"{commit}: {summary}, {load_average()}")
    counts = {kind: int(n) for n, kind in re.findall(r"(\d+) (passed|failed|skipped|errors?)", summary)}
    return wall, counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default=PREVIOUS_LANDING)
    parser.add_argument("--no-baseline", action="store_true")
    args = parser.parse_args()
    head = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="seedance-suite-") as tmp:
        before = None if args.no_baseline else run_suite(args.baseline, Path(tmp))
        after = run_suite(head, Path(tmp))
    if before is not None:
        figure("suite_wall_baseline", before[0], f"s ({args.baseline}: {before[1]})", "baseline")
    figure("suite_wall", after[0], f"s ({head}: {after[1]})")
    if before is not None:
        figure("suite_wall_ratio", after[0] / before[0], "x baseline", "<= 0.5")


if __name__ == "__main__":
    main()
