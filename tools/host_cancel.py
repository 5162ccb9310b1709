"""Telling the user's cancel apart from every other way a tool call can end early.

A waiting call is cancelled (its task gets a cancellation) when the host sends
`notifications/cancelled`, but also when a 2026-07-28 HTTP response stream drops, and when the server
shuts down. Only the first is the user's decision. `record_host_cancels`, a server middleware (the SDK's
public hook, which sees inbound notifications too), notes the request ids each connection's host cancelled.
The SDK cancels the handler before it hands the notification on, so `host_cancelled` waits briefly for
the note. The HTTP entry of 2026-07-28 has no `notifications/cancelled` (a client there cancels by
closing the stream, which a network blip does too), so on that path nothing counts as the user's cancel.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import anyio
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.types import RequestId

from .connections import PerConnection

if TYPE_CHECKING:  # the answer-making machinery loads with the tools, after the list went out
    from .results import ToolContext

# How long a cancelled call waits for the host's notification to be noted. It only waits this long
# when the host did not cancel (a dropped stream, a shutdown), and then nothing else is waiting on it.
NOTE_WAIT_SECONDS = 0.5
KEPT_PER_CONNECTION = 256  # cancels of calls that never asked (already finished) are forgotten past this


class _Cancels:
    """The cancels one connection's host sent, by request id."""

    def __init__(self) -> None:
        self.events: dict[RequestId, anyio.Event] = {}

    def event(self, request_id: RequestId) -> anyio.Event:
        if request_id not in self.events:
            while len(self.events) >= KEPT_PER_CONNECTION:
                self.events.pop(next(iter(self.events)))
            self.events[request_id] = anyio.Event()
        return self.events[request_id]


_cancels: PerConnection[_Cancels] = PerConnection(_Cancels)


async def record_host_cancels(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
    """Middleware: note `notifications/cancelled` per connection, then pass every message on."""
    if ctx.method == "notifications/cancelled" and ctx.params is not None:
        request_id = ctx.params.get("requestId")
        cancels = _cancels.get(ctx.session)
        if cancels is not None and isinstance(request_id, (str, int)) and not isinstance(request_id, bool):
            cancels.event(request_id).set()
    return await call_next(ctx)


async def host_cancelled(ctx: ToolContext) -> bool:
    """True only when the host sent `notifications/cancelled` for this tool call. Call it shielded:
    the call is being cancelled when this is asked."""
    request = ctx.request_context
    cancels = _cancels.get(request.session)
    if cancels is None or request.request_id is None:  # no handshake: no `notifications/cancelled`
        return False
    event = cancels.event(request.request_id)
    with anyio.move_on_after(NOTE_WAIT_SECONDS):
        await event.wait()
    cancels.events.pop(request.request_id, None)
    return event.is_set()
