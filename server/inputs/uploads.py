"""Local files and data URIs turned into public URLs through the provider's upload; URLs pass through."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Final

import anyio

from .checked import CheckedInputs, MediaInput, release

UPLOAD_CONCURRENCY: Final = 4  # a few parallel uploads fill a home uplink; more only queue at the router


async def upload_inputs(checked: CheckedInputs, upload: Callable[[Path, str], Awaitable[str]]) -> list[str]:
    """The public URL of each input, in order. Local files and data URIs are uploaded (a few at a time,
    each file once); URLs pass through."""
    pending: dict[str, MediaInput] = {}
    for item in checked.inputs:
        if item.source != "url":
            pending.setdefault(item.value, item)
    uploaded: dict[str, str] = {}
    failures: list[BaseException] = []
    limiter = anyio.CapacityLimiter(UPLOAD_CONCURRENCY)

    async def one(item: MediaInput) -> None:
        assert item.info is not None
        async with limiter:
            if failures:  # one failed: the request cannot go ahead, so spare the rest
                return
            try:
                uploaded[item.value] = await upload(Path(item.value), item.info.mime)
            except Exception as exc:
                failures.append(exc)

    async with anyio.create_task_group() as group:
        for item in pending.values():
            group.start_soon(one, item)
    if failures:
        raise failures[0]
    release(checked)
    return [item.value if item.source == "url" else uploaded[item.value] for item in checked.inputs]
