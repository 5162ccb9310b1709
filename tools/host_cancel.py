"""Telling the user's cancel apart from every other way a tool call can end early.

A waiting call is cancelled (its task gets a cancellation) when the host sends
`notifications/cancelled`, but also when a 2026-07-28 HTTP response stream drops, and when the
server shuts down. Only the first is the user's decision. The SDK's dispatcher marks it: it sets the
request's `cancel_requested` event before it cancels the handler. The HTTP entry of 2026-07-28 never
sets it (a client there cancels by closing the stream, which a network blip does too), so on that
path nothing counts as the user's cancel.
"""

from __future__ import annotations

from typing import Any

from .results import ToolContext


def host_cancelled(ctx: ToolContext) -> bool:
    """True only when the host sent `notifications/cancelled` for this tool call."""
    # mcp 2.x hands tools no public handle on the request's dispatch context; the session holds it.
    # If a later SDK moves it, this answers False: a job is then never cancelled by accident.
    session: Any = ctx.request_context.session
    dispatch = getattr(session, "_request_outbound", None)
    event = getattr(dispatch, "cancel_requested", None)
    return bool(event is not None and event.is_set())
