"""What the simulator received, one entry per request, for tests and the bench to read back."""

from __future__ import annotations

import copy
import threading
import time
from typing import Any


class RequestLog:
    """What the simulator received, one entry per request; thread-safe; never holds a credential."""

    def __init__(self) -> None:
        self._entries: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def open(self, method: str, path: str, query: dict[str, str]) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "method": method,
            "path": path,
            "query": query,
            "time": time.time(),
            "status": None,
        }
        with self._lock:
            self._entries.append(entry)
        return entry

    def note(self, entry: dict[str, Any], **fields: Any) -> None:
        with self._lock:
            entry.update(fields)

    def entries(self) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
