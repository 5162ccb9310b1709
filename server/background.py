"""Threads for CPU-heavy batch work (preview frames, the simulator's renders), run at a lower priority.

A dozen jobs finishing together each decode their video for a preview (~0.15 s of CPU each). At the
default priority that work shares the CPUs evenly with the event loops that carry webhooks, journal
notices and tool answers, so every wake-up waited behind other jobs' previews. Run at a higher nice
value, it still uses every idle cycle but yields the CPU at once to latency-sensitive work. The
decoders release the GIL while they work, so the event loop is not held behind a low-priority thread.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import sys
import threading

# Linux nice value for background threads (0 is normal, 19 the lowest priority). 10 leaves a
# background thread about a tenth of the CPU while normal threads want it, all of it when they do not.
BACKGROUND_NICE = 10


def lower_thread_priority() -> None:
    """Give the calling thread the background nice value (Linux sets it per thread; elsewhere, no-op).

    A thread can lower its own priority without privileges, never raise it back: use it only on
    threads that do nothing else."""
    if not sys.platform.startswith("linux"):
        return  # elsewhere the id would name a process, not this thread
    with contextlib.suppress(AttributeError, OSError):
        current = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), max(current, BACKGROUND_NICE))


def background_pool(workers: int, name: str) -> concurrent.futures.ThreadPoolExecutor:
    """A thread pool whose threads run at the background priority."""
    return concurrent.futures.ThreadPoolExecutor(
        max_workers=workers, thread_name_prefix=name, initializer=lower_thread_priority
    )
