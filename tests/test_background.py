"""Background threads (previews, simulated renders) run at a lower priority than the event loop's
thread, and only they do."""

from __future__ import annotations

import os
import sys
import threading

import pytest

from seedance_mcp.server.background import BACKGROUND_NICE, background_pool


def _own_nice() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice values are Linux's")
def test_background_threads_are_niced_and_the_caller_is_not() -> None:
    before = _own_nice()
    with background_pool(1, "test-background") as pool:
        niced = pool.submit(_own_nice).result(timeout=10)
    assert niced == max(before, BACKGROUND_NICE)
    assert _own_nice() == before
