"""Run every benchmark, each in its own process, and print every figure.

    .venv/bin/python bench/run.py            # all but the suite (about 15 minutes)
    .venv/bin/python bench/run.py cold_start # just the ones named (`suite`: ~20 minutes more)

Each benchmark prints `name: value unit (goal ...)` lines on stdout and notes on stderr; this
script passes both through and ends with the figures together, plus the date, the machine and the
load average (1 and 5 minutes) when each benchmark began and ended: on a shared machine absolute
times mean little, the ratio to the baseline measured in the same run means more.
"""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from _common import load_average

HERE = Path(__file__).resolve().parent
BENCHMARKS = (
    "cold_start",
    "completion",
    "requests_per_job",
    "concurrency",
    "thousand_jobs",
    "upload_memory",
    "validation",
    "processes",
    "url_checks",
    "stitch",
    "long_takes",
    "team",  # needs PostgreSQL's server binaries
)
ON_REQUEST = ("suite",)  # the whole test suite against an earlier commit's: run it by name


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    system = f"{platform.system()} {platform.release()}"
    return f"{cpu}, {os.cpu_count()} CPUs, {system}, Python {platform.python_version()}"


def main(names: list[str]) -> int:
    unknown = set(names) - set(BENCHMARKS) - set(ON_REQUEST)
    if unknown:
        known = ", ".join(BENCHMARKS + ON_REQUEST)
        print(f"unknown benchmark(s): {', '.join(sorted(unknown))}; choose from {known}")
        return 2
    figures: list[str] = []
    failed: list[str] = []
    started = time.monotonic()
    for name in names or BENCHMARKS:
        print(f"== {name} ({load_average()})", flush=True)
        begun, load_before = time.monotonic(), load_average()
        proc = subprocess.Popen(
            [sys.executable, str(HERE / f"{name}.py")], stdout=subprocess.PIPE, text=True, cwd=HERE.parent
        )
        assert proc.stdout is not None
        for line in proc.stdout:
            print(line, end="", flush=True)
            if ": " in line and not line.startswith(" "):
                figures.append(f"{line.rstrip()}  [{name}]")
        if proc.wait() != 0:
            failed.append(name)
        print(f"   ({time.monotonic() - begun:.0f} s, {load_average()})", flush=True)
        figures.append(f"  {name}: {load_before} -> {load_average()}")
    print()
    print(f"== figures, {datetime.date.today().isoformat()}, {machine()}")
    for line in figures:
        print(line)
    print(f"total {time.monotonic() - started:.0f} s" + (f"; FAILED: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
