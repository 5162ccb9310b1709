"""`https://` inputs: the checks that need no network, then ranged reads of every URL at once
(`seedance_mcp.server.media.remote`); one that cannot be read is passed on with a warning."""

from __future__ import annotations

import dataclasses
import logging
import urllib.parse
from typing import Final

import anyio

from ..errors import InputError
from ..media.remote import (
    UrlPolicy,
    UrlProbe,
    UrlRefused,
    credentials_refusal,
    probe_url,
    shared_client,
)
from ..outbound import plain_http_refusal
from .checked import MediaInput
from .rules import (
    Rules,
    a_or_an,
    check_info,
    describe,
    names,
    too_big_message,
    wrong_format_message,
)

log = logging.getLogger(__name__)

# The format a URL's file name names, when it names one: refused early when the parameter takes another.
_EXTENSIONS: Final[dict[str, str]] = {
    **dict.fromkeys(("jpg", "jpeg", "jpe", "jfif"), "jpeg"),
    "png": "png",
    "webp": "webp",
    "gif": "gif",
    "avif": "avif",
    **dict.fromkeys(("heic", "heif"), "heic"),
    "bmp": "bmp",
    **dict.fromkeys(("tif", "tiff"), "tiff"),
    **dict.fromkeys(("mp4", "m4v"), "mp4"),
    **dict.fromkeys(("mov", "qt"), "mov"),
    **dict.fromkeys(("webm", "mkv"), "webm"),
    "avi": "avi",
    **dict.fromkeys(("3gp", "3g2"), "3gp"),
    "mp3": "mp3",
    **dict.fromkeys(("wav", "wave"), "wav"),
    **dict.fromkeys(("m4a", "aac"), "m4a"),
    **dict.fromkeys(("ogg", "oga", "opus"), "ogg"),
    "flac": "flac",
    "pdf": "pdf",
}
# Extensions that can never name media, whatever server sits behind the URL.
_NOT_MEDIA: Final = frozenset(
    {"txt", "md", "html", "htm", "json", "xml", "csv", "zip", "gz", "tar", "js", "css", "doc", "docx", "exe"}
)


async def probe_urls(values: list[tuple[str, str, Rules]], policy: UrlPolicy) -> list[UrlProbe]:
    """Probe every (field, URL, rules) in parallel, each in a worker thread, all within the policy's time."""
    results: list[UrlProbe | UrlRefused | None] = [None] * len(values)
    client = await anyio.to_thread.run_sync(shared_client)

    async def one(index: int) -> None:
        try:
            _, value, rules = values[index]
            results[index] = await anyio.to_thread.run_sync(
                probe_url, value, policy, client, rules.max_bytes, abandon_on_cancel=True
            )
        except UrlRefused as exc:
            results[index] = exc
        except Exception as exc:  # never fail open: what could not be checked safely is not submitted
            log.warning("probing %s failed", values[index][0], exc_info=True)
            results[index] = UrlRefused(f"it could not be checked safely ({type(exc).__name__})")

    with anyio.move_on_after(policy.seconds + 1.0):  # each probe keeps its own deadline; this is a net
        async with anyio.create_task_group() as group:
            for index in range(len(values)):
                group.start_soon(one, index)
    for (field, _, _), result in zip(values, results, strict=True):
        if isinstance(result, UrlRefused):
            raise InputError(field, f"{result}.")
    return [
        r if isinstance(r, UrlProbe) else UrlProbe(None, None, None, "it did not answer in time")
        for r in results
    ]


def check_probe(item: MediaInput, probe: UrlProbe, rules: Rules) -> MediaInput:
    if probe.format is not None and probe.format not in rules.formats:
        raise InputError(
            item.field,
            wrong_format_message(f"the URL serves {a_or_an(describe(probe.format))}", probe.format, rules),
        )
    if probe.size_bytes is not None and probe.size_bytes > rules.max_bytes:
        raise InputError(item.field, too_big_message("the file behind the URL is", probe.size_bytes, rules))
    if probe.info is not None:
        check_info(item.field, probe.info, rules, "the file behind the URL")
    return dataclasses.replace(item, info=probe.info)


def check_url(field: str, value: str, scheme: str, rules: Rules) -> MediaInput:
    parts = urllib.parse.urlsplit(value)
    host = (parts.hostname or "").lower()
    if scheme not in ("https", "http"):
        raise InputError(
            field,
            f"URL scheme {scheme!r} is not supported: the provider fetches inputs over https. "
            "Use an https:// URL, a data: URI, or a local file path (it will be uploaded).",
        )
    if not host:
        raise InputError(field, f"{value!r} has no host name; give a full https:// URL")
    if (refusal := credentials_refusal(value)) is not None:
        raise InputError(field, refusal)
    if scheme == "http" and (reason := plain_http_refusal(host)) is not None:
        raise InputError(
            field, f"{reason}. Use the https:// address, or download the file and pass its path."
        )
    name = urllib.parse.unquote(parts.path.rsplit("/", 1)[-1])
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if ext in _NOT_MEDIA:
        raise InputError(
            field,
            f"the URL ends in .{ext}, which is not {a_or_an(rules.kind)} file; {rules.param} takes "
            f"{names(rules.formats)} {rules.kind}s. Link to the media file itself.",
        )
    fmt = _EXTENSIONS.get(ext)
    if fmt is not None and fmt not in rules.formats:
        raise InputError(
            field, wrong_format_message(f"the URL names a .{ext} file ({describe(fmt)})", fmt, rules)
        )
    return MediaInput(
        field=field, param=rules.param, kind=rules.kind, source="url", value=value, info=None, many=rules.many
    )
