"""Local paths (absolute, `~`, `file://`): the one door for every path a user gives, in any tool.

`user_path` reads what was written (refusing names no file system holds), `open_user_file` what it
names: only a regular file inside the allowed folders, never a hidden one, a device, nor a file with
a second name (hard link) that may lie elsewhere. `check_path` adds the media checks of an input.
Every refusal is an `InputError` naming the field and the fix."""

from __future__ import annotations

import os
import stat
import urllib.parse
from collections.abc import Sequence
from pathlib import Path

from ..errors import InputError
from ..media.probe import MediaError, MediaInfo, probe, sniff_kind
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

# Linux's limits: a longer path or name is refused by the OS with an error no user should see.
MAX_PATH_CHARS = 4096
MAX_NAME_BYTES = 255


def user_path(field: str, given: str) -> Path | None:
    """The path `given` names (absolute, `~`, `file://`), or None when it is not written as a local path.
    Names no file system can hold (a NUL byte, an unknown `~user`, an over-long path) are refused here."""
    lowered = given[:16].lower()
    if lowered.startswith("file:"):
        parts = urllib.parse.urlsplit(given)
        if parts.netloc not in ("", "localhost"):
            raise InputError(
                field, f"file:// URLs must point at this machine, not {parts.netloc!r}; give a local path"
            )
        text = urllib.parse.unquote(parts.path)
    elif given.startswith("~") or given.startswith("/"):
        text = given
    else:
        return None
    _check_name(field, text)
    try:
        path = Path(text).expanduser()
    except RuntimeError:  # "~someone" with no such user on this machine
        user = text[1:].split("/", 1)[0].split("\\", 1)[0]
        raise InputError(
            field,
            f"there is no user named {user[:40]!r} on this machine (from ~{user[:40]}); give the full path, "
            "or ~/ for your own home folder",
        ) from None
    _check_name(field, str(path))
    return path


def _check_name(field: str, text: str) -> None:
    if "\x00" in text:
        raise InputError(
            field, "contains a NUL character (\\0), which no path or URL can hold; pass the name without it"
        )
    longest = max((len(part.encode("utf-8", "surrogateescape")) for part in text.split("/")), default=0)
    if len(text) > MAX_PATH_CHARS or longest > MAX_NAME_BYTES:
        raise InputError(
            field,
            f"the path is too long ({len(text)} characters; paths hold at most {MAX_PATH_CHARS} and each "
            f"name at most {MAX_NAME_BYTES} bytes); move or rename the file and pass the shorter path",
        )


def open_user_file(
    field: str, given: str, path: Path, allowed_dirs: Sequence[Path], what: str
) -> tuple[Path, int]:
    """The real path and size of the regular file `path` (from `user_path`), refused unless it lies in an
    allowed folder, outside hidden ones, and has one name only (no hard link from elsewhere)."""
    try:
        real = Path(os.path.realpath(path))
        _check_allowed(field, given, real, tuple(allowed_dirs))
        st = os.stat(real)
    except InputError:
        raise
    except FileNotFoundError:
        raise InputError(
            field, f"no file at {given}; check the path (absolute, ~ or file://) and spelling"
        ) from None
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise InputError(
            field, f"{given} cannot be read ({reason}); check the path and its permissions"
        ) from None
    if stat.S_ISDIR(st.st_mode):
        raise InputError(
            field, f"{given} is a folder, not a file; give the path of one {what} file inside it"
        )
    if not stat.S_ISREG(st.st_mode):
        raise InputError(
            field,
            f"{given} is not a regular file (a device, pipe or socket); give the path of "
            f"{a_or_an(what)} file",
        )
    if st.st_nlink > 1:
        # Another name of the same file may lie outside the allowed folders: a hard link would let
        # the allowed folders reach any file its maker could link, so hard-linked files are refused.
        raise InputError(
            field,
            f"{given} has {st.st_nlink} hard links (names for the same file), and another one may lie "
            "outside the allowed folders, so it is not read. Copy the file (cp, not ln) and pass the copy.",
        )
    return real, st.st_size


def check_path(
    field: str, given: str, path: Path, rules: Rules, allowed_dirs: tuple[Path, ...]
) -> MediaInput:
    real, size = open_user_file(field, given, path, allowed_dirs, rules.kind)
    if size > rules.max_bytes:
        raise InputError(field, too_big_message(f"{given} is", size, rules))
    try:
        with real.open("rb") as handle:
            head = handle.read(64)
    except OSError as exc:
        raise InputError(field, f"{given} cannot be read ({exc.strerror}); check its permissions") from None
    fmt = sniff_kind(head)
    if fmt is None:
        raise InputError(
            field,
            f"{given} is not {a_or_an(rules.kind)} file: its content matches no media format, whatever its "
            f"name says. {rules.what.capitalize()}s must be {names(rules.formats)}.",
        )
    if fmt not in rules.formats:
        raise InputError(field, wrong_format_message(f"{given} is {a_or_an(describe(fmt))}", fmt, rules))
    info = probe_file(field, real, given)
    check_info(field, info, rules, given)
    return MediaInput(
        field=field,
        param=rules.param,
        kind=rules.kind,
        source="path",
        value=str(real),
        info=info,
        many=rules.many,
    )


def _check_allowed(field: str, given: str, real: Path, allowed_dirs: tuple[Path, ...]) -> None:
    if not allowed_dirs:
        raise InputError(
            field,
            "local files are switched off (SEEDANCE_ALLOWED_DIRS is empty); set it to the folders media "
            "may come from, or pass an https:// URL",
        )
    for allowed in allowed_dirs:
        root = Path(os.path.realpath(allowed.expanduser()))
        try:
            inside = real.relative_to(root)
        except ValueError:
            continue
        hidden = next((part for part in inside.parts if part.startswith(".")), None)
        if hidden is not None:
            raise InputError(
                field,
                f"{given} is, or lies in, a hidden file or folder ({hidden}); hidden files are never read. "
                "Copy the media into a visible folder and pass that path.",
            )
        return
    shown = ", ".join(str(d) for d in allowed_dirs)
    raise InputError(
        field,
        f"{given} is outside the folders local files may come from ({shown}); move the file into one of "
        "them, or add its folder to SEEDANCE_ALLOWED_DIRS.",
    )


def probe_file(field: str, path: Path, shown: str) -> MediaInfo:
    try:
        return probe(path)
    except MediaError as exc:
        raise InputError(
            field, f"{shown} cannot be used: {exc}. Export or download the file again."
        ) from None


def local_file(field: str, given: str, allowed_dirs: Sequence[Path]) -> Path | None:
    """The real path of a local file named by `given` (absolute, `~` or `file://`), or None if `given`
    is not written as a local path. Refused as any user path is (see `open_user_file`)."""
    path = user_path(field, given)
    if path is None:
        return None
    return open_user_file(field, given, path, allowed_dirs, "video")[0]
