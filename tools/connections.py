"""What the server remembers per connection to a host.

The SDK builds a session object for every message it receives; the connection's `initialize`
parameters are the one public object all of a connection's messages share, so they stand for the
connection. A stateless HTTP request has none: nothing is remembered for it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from mcp.server.session import ServerSession

T = TypeVar("T")

KEPT = 256  # connections remembered; the oldest is forgotten past this


class PerConnection(Generic[T]):
    """One `T` per connection, made by `factory` on first use."""

    def __init__(self, factory: Callable[[], T]) -> None:
        self._factory = factory
        self._kept: dict[int, tuple[object, T]] = {}  # id → (the parameters, held so the id stays theirs)

    def get(self, session: ServerSession) -> T | None:
        hello = session.client_params
        if hello is None:
            return None
        entry = self._kept.pop(id(hello), None)
        if entry is None or entry[0] is not hello:
            entry = (hello, self._factory())
        self._kept[id(hello)] = entry  # most recent last
        while len(self._kept) > KEPT:
            self._kept.pop(next(iter(self._kept)))
        return entry[1]
