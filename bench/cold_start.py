"""Cold start over stdio: spawn → initialize → tools/list answered, against a bare MCPServer.

The baseline (`bare_server.py`) is an MCPServer with one trivial tool on the same SDK. Runs are
interleaved (bare, ours with a key, ours on the embedded simulator, rotating the order) after one
warm-up each, so disk caches and machine noise hit all alike. A start lists the tools from the
catalogue an earlier start kept (`server/tool_list_cache.py`); the fourth kind of run, a first start,
has a new SEEDANCE_HOME every time, so it builds the tools before answering, as right after an install.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

from _common import PYTHON, ROOT, bench_folder, clean_env, figure, keyed_env, median, note

RUNS = 15


def start_once(args: list[str], env: dict[str, str]) -> float:
    """Seconds from spawning the process until its answer to tools/list arrives."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, cwd=ROOT
    )
    assert proc.stdin is not None and proc.stdout is not None

    def send(message: dict[str, object]) -> None:
        assert proc.stdin is not None
        proc.stdin.write(json.dumps(message).encode() + b"\n")
        proc.stdin.flush()

    try:
        send(
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "initialize",
                "params": {
                    "protocolVersion": "2025-11-25",
                    "capabilities": {},
                    "clientInfo": {"name": "bench", "version": "0"},
                },
            }
        )
        if "result" not in json.loads(proc.stdout.readline()):
            raise RuntimeError(f"{args}: initialize failed")
        send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        send({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
        answer = json.loads(proc.stdout.readline())
        elapsed = time.perf_counter() - started
        if not answer.get("result", {}).get("tools"):
            raise RuntimeError(f"{args}: tools/list failed: {answer}")
        return elapsed
    finally:
        proc.stdin.close()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main() -> None:
    home = bench_folder("seedance-bench-cold-")
    bare = ([PYTHON, str(ROOT / "bench" / "bare_server.py")], clean_env(home / "bare"))
    # With a key the server opens no simulator; the URL is never contacted while starting.
    keyed = ([PYTHON, "-m", "seedance_mcp.server"], keyed_env(home / "keyed", "http://127.0.0.1:9"))
    simulated = ([PYTHON, "-m", "seedance_mcp.server"], clean_env(home / "sim"))
    configs = {"bare": bare, "keyed": keyed, "simulator": simulated}
    times: dict[str, list[float]] = {name: [] for name in [*configs, "first start"]}
    for args, env in configs.values():
        start_once(args, env)  # warm-up: caches, bytecode, the journal's first migration
    for i in range(RUNS):
        names = [*configs, "first start"]
        names = names[i % 4 :] + names[: i % 4]
        for name in names:
            if name == "first start":
                first = clean_env(home / f"first-{i}")
                times[name].append(start_once(simulated[0], first))
            else:
                times[name].append(start_once(*configs[name]))
    base = median(times["bare"])
    for name, values in times.items():
        note(f"{name}: median {median(values) * 1000:.0f} ms, runs {[round(v * 1000) for v in values]}")
    figure("cold_start_bare_ms", base * 1000, "ms", "baseline")
    figure("cold_start_ratio", median(times["keyed"]) / base, "x bare MCPServer", "<= 1.10")
    figure(
        "cold_start_ratio_embedded_simulator",
        median(times["simulator"]) / base,
        "x bare MCPServer",
        "<= 1.10",
    )
    figure("cold_start_ratio_first_start", median(times["first start"]) / base, "x bare MCPServer", "<= 1.10")


if __name__ == "__main__":
    sys.exit(main())
