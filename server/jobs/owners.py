"""Who a process is on leases and half-written files, and whether an owner is gone.

An owner id is `p<pid>-<place>-<random>`: the process id, a mark of where that id means something
(this boot of this machine and its process namespace, so two containers on one machine differ) and
32 random bits (file-name safe). Another process in the same place knows at once that an owner is
gone when its pid no longer runs; elsewhere only the lapse of its lease tells.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import re
import secrets
import socket
from pathlib import Path

# Also the ids of earlier versions (`p<pid>-<random>`), whose place is unknown.
OWNER_PATTERN = r"p\d+(?:-[0-9a-f]{8})?-[0-9a-f]{8}"
_OWNER = re.compile(r"p(?P<pid>\d+)-(?P<place>[0-9a-f]{8})-[0-9a-f]{8}")


@functools.cache
def place_mark() -> str:
    """8 hex digits naming where this process's pid is meaningful: machine, boot, pid namespace."""
    facts = [socket.gethostname()]
    with contextlib.suppress(OSError):
        facts.append(Path("/proc/sys/kernel/random/boot_id").read_text().strip())
    with contextlib.suppress(OSError):
        facts.append(os.readlink("/proc/self/ns/pid"))
    return hashlib.sha256("\0".join(facts).encode()).hexdigest()[:8]


def new_owner_id() -> str:
    """A new owner name for this process."""
    return f"p{os.getpid()}-{place_mark()}-{secrets.token_hex(4)}"


def owner_gone(owner: str) -> bool:
    """True when `owner` surely no longer runs: it lived here and its process has exited. False when
    it runs, or when that cannot be known from here (another machine or container, an older id)."""
    match = _OWNER.fullmatch(owner)
    if match is None or match["place"] != place_mark():
        return False
    pid = int(match["pid"])
    if pid == os.getpid():
        return False  # this process (tests run several owners in one)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # another user's process runs under that pid
    return _zombie(pid)


def _zombie(pid: int) -> bool:
    """A killed process its parent has not reaped yet holds its pid but runs nothing (Linux)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[:1] == ["Z"]
