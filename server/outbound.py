"""The one door for URLs we did not choose: user media, provider result URLs, every redirect hop.

Each hop is checked before any byte is sent: http(s) only, no user:pass, plain http only to a
loopback name, and the host resolved ONCE, every address it resolves to checked (public, or
loopback when the provider itself runs here, or any for an origin the operator configured). The
request then connects to the checked address (the URL's host is replaced by it; `Host` and the TLS
server name stay the name, so the certificate is still verified for the name): a name cannot answer
the check with one address and the connection with another (DNS rebinding). Redirects are followed
here, hop by hop, with the same checks. Bodies are asked for with `Accept-Encoding: identity` and read
raw, so a compressed answer is refused instead of growing in memory (a gzip bomb).

Refusals (`Refused`: certainly not to be fetched) and network failures (`Unreachable`: worth another
try) carry sentences safe to show: they name the rule, never what a non-public host answered.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import urllib.parse
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

import anyio.to_thread
import httpx

LOOPBACK_HOSTS: Final = frozenset({"127.0.0.1", "localhost", "::1"})
MAX_REDIRECTS: Final = 5
REDIRECTS: Final = frozenset({301, 302, 303, 307, 308})
IDENTITY: Final = {"Accept-Encoding": "identity"}

Resolver = Callable[[str, int], Sequence[str]]


def system_resolver(host: str, port: int) -> list[str]:
    return [str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]


class Refused(Exception):
    """The URL (or a hop of it) is not fetched, for good; the text says why (no field, no fix)."""


class Unreachable(Exception):
    """The URL could not be reached now (no answer, no name, a broken connection)."""


@dataclass(frozen=True)
class AddressPolicy:
    """Where outside URLs may lead. `trusted_origins` are the operator's configured provider origins
    ("scheme://host:port"), fetched wherever they resolve; everything else must be public, or loopback
    when `allow_loopback` (the provider runs on this machine, so it could fetch such a URL too)."""

    allow_loopback: bool = False
    trusted_origins: frozenset[str] = frozenset()
    resolve: Resolver = field(default=system_resolver, compare=False)


def origin_of(url: str) -> str:
    """`scheme://host:port` of `url`, lowercased, with the default port spelled out; "" if unparsable."""
    try:
        parts = urllib.parse.urlsplit(url)
        scheme = parts.scheme.lower()
        port = parts.port or {"https": 443, "http": 80}.get(scheme, 0)
    except ValueError:
        return ""
    host = (parts.hostname or "").lower()
    return f"{scheme}://{host}:{port}" if host else ""


def on_origins(url: str, origins: frozenset[str]) -> bool:
    """Whether `url` is on one of `origins` (as made by `origin_of`): where a key may be sent."""
    found = origin_of(url)
    return bool(found) and found in origins


def credentials_refusal(url: str) -> str | None:
    try:
        parts = urllib.parse.urlsplit(url)
        has_userinfo = parts.username is not None or parts.password is not None
    except ValueError:
        has_userinfo = "@" in url.partition("?")[0]
    if not has_userinfo:
        return None
    return (
        "the URL carries a user name or password (user:pass@host), which would be sent to the provider and "
        "kept in the job's records. Use a signed URL without user:pass (e.g. a pre-signed S3 or GCS link), "
        "or pass the file's local path"
    )


PUBLIC_ONLY: Final = AddressPolicy()


@dataclass(frozen=True)
class Hop:
    """One checked URL and the address its connection must go to."""

    url: str  # as written (name-based): redirects are joined onto it
    host: str
    address: str
    port: int
    describable: bool  # whether what it answers may be described to the user (not an internal host)

    def connect_url(self) -> httpx.URL:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return httpx.URL(self.url).copy_with(host=host.strip("[]"), port=self.port)

    def headers(self) -> dict[str, str]:
        default = 443 if self.url.lower().startswith("https:") else 80
        name = f"[{self.host}]" if ":" in self.host else self.host
        return {"Host": name if self.port == default else f"{name}:{self.port}", **IDENTITY}

    def extensions(self) -> dict[str, str]:
        return {"sni_hostname": self.host} if self.url.lower().startswith("https:") else {}


def plain_http_refusal(host: str) -> str | None:
    """Why `http://host` may not be fetched, or None: plain http only to this machine, by its name, on
    every hop (anything else could be read or changed on the way)."""
    if host.lower() in LOOPBACK_HOSTS:
        return None
    return (
        f"plain http:// is accepted only for this machine (127.0.0.1, localhost); {host} must be reached "
        "over https://"
    )


def check_hop(url: str, policy: AddressPolicy) -> Hop:
    """Check `url` against `policy` and resolve its host once. Raises `Refused` or `Unreachable`."""
    try:
        parts = urllib.parse.urlsplit(url)
        scheme = parts.scheme.lower()
        host = (parts.hostname or "").lower()
        port = parts.port or (443 if scheme == "https" else 80)
        httpx.URL(url)
    except (ValueError, httpx.InvalidURL):
        raise Refused("the URL is malformed") from None
    if scheme not in ("http", "https"):
        shown = scheme if scheme.isalnum() and len(scheme) < 20 else "non-web"
        raise Refused(f"the URL leads to a {shown}: address; only http(s) is fetched")
    if (reason := credentials_refusal(url)) is not None:
        raise Refused(reason)
    if not host:
        raise Refused("the URL has no host name")
    trusted = f"{scheme}://{host}:{port}" in policy.trusted_origins
    literal = _ip(host)
    if scheme == "http" and not trusted and (reason := plain_http_refusal(host)) is not None:
        raise Refused(reason)
    if literal is not None:
        addresses = [str(literal)]
    else:
        try:
            addresses = [str(a) for a in policy.resolve(host, port)]
        except (OSError, ValueError, UnicodeError):
            raise Unreachable(f"its host {host} does not resolve from here") from None
        if not addresses:
            raise Unreachable(f"its host {host} does not resolve from here")
    public = True
    for address in addresses:
        ip = _ip(address.split("%", 1)[0])
        if ip is None:
            raise Refused(f"its host {host} resolves to something that is not an address")
        is_public = ip.is_global and not ip.is_multicast
        public = public and is_public
        if trusted or is_public or (ip.is_loopback and policy.allow_loopback):
            continue
        where = "this machine" if ip.is_loopback else "a private or local network"
        raise Refused(
            f"its host {host} is on {where} ({ip}), which the provider cannot reach and this server does "
            "not fetch"
        )
    if scheme == "http" and not trusted and literal is not None and not literal.is_loopback:
        raise Refused(
            f"plain http:// is fetched only from this machine; {host} must be reached over https://"
        )
    return Hop(url, host, addresses[0], port, describable=public or trusted or policy.allow_loopback)


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        ip = ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    return ip


def redirect_target(hop: Hop, response: httpx.Response) -> str | None:
    """Where a redirect answer points (joined onto the hop's URL), or None when it is no redirect."""
    if response.status_code not in REDIRECTS or "location" not in response.headers:
        return None
    try:
        return urllib.parse.urljoin(hop.url, response.headers["location"])
    except ValueError:
        raise Refused("the URL redirects to a malformed address") from None


def refuse_encoded(response: httpx.Response) -> None:
    """Bodies are read raw: a compressed one (sent although identity was asked for) is refused."""
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        raise Refused("the server sent a compressed body although an uncompressed one was asked for")


def _build(
    client: httpx.Client | httpx.AsyncClient,
    hop: Hop,
    method: str,
    headers: Mapping[str, str],
    timeout: float | None,
) -> httpx.Request:
    return client.build_request(
        method,
        hop.connect_url(),
        headers={**headers, **hop.headers()},
        extensions=hop.extensions(),
        timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT,
    )


def _unreachable(exc: Exception) -> Exception:
    if isinstance(exc, (httpx.InvalidURL, httpx.UnsupportedProtocol)):
        # httpx reads a redirect's Location even when not following it: a data: or other non-web target
        return Refused("the URL redirects to an address that is not http(s), which is never fetched")
    if isinstance(exc, httpx.TimeoutException):
        return Unreachable("it did not answer in time")
    if isinstance(exc, httpx.HTTPError):
        return Unreachable(f"it could not be reached from here ({type(exc).__name__})")
    return Refused(f"it could not be fetched safely ({type(exc).__name__})")


@contextlib.contextmanager
def open_sync(
    client: httpx.Client,
    url: str,
    policy: AddressPolicy,
    *,
    headers: Mapping[str, str] = {},
    timeout: Callable[[], float],
    hop: Hop | None = None,
) -> Iterator[tuple[Hop, httpx.Response]]:
    """GET `url` (or the already checked `hop`), following checked redirects; yields the final hop and
    its open response (status not a redirect). `timeout()` is called before each request."""
    current = hop or check_hop(url, policy)
    for _ in range(MAX_REDIRECTS + 1):
        left = timeout()
        if left <= 0:
            raise Unreachable("it did not answer in time")
        try:
            response = client.send(_build(client, current, "GET", headers, left), stream=True)
        except Exception as exc:
            raise _unreachable(exc) from None
        try:
            target = redirect_target(current, response)
            if target is None:
                refuse_encoded(response)
                yield current, response
                return
        finally:
            response.close()
        current = check_hop(target, policy)
    raise Refused(f"the URL redirects more than {MAX_REDIRECTS} times")


async def _check_hop_async(url: str, policy: AddressPolicy) -> Hop:
    """`check_hop` from the event loop: in a worker thread when it looks a name up (that blocks), at
    once when the host is an address (nothing to wait for, so no trip to a thread)."""
    try:
        literal = _ip(urllib.parse.urlsplit(url).hostname or "") is not None
    except ValueError:
        literal = True  # malformed: refused without a lookup
    if literal:
        return check_hop(url, policy)
    return await anyio.to_thread.run_sync(check_hop, url, policy)


@contextlib.asynccontextmanager
async def open_async(
    client: httpx.AsyncClient,
    url: str,
    policy: AddressPolicy,
    *,
    first_headers: Mapping[str, str] = {},
) -> AsyncIterator[tuple[Hop, httpx.Response]]:
    """`open_sync` for the event loop; `first_headers` (a provider's key) go to the first hop only."""
    current = await _check_hop_async(url, policy)
    headers = first_headers
    for _ in range(MAX_REDIRECTS + 1):
        try:
            response = await client.send(_build(client, current, "GET", headers, None), stream=True)
        except Exception as exc:
            raise _unreachable(exc) from None
        try:
            target = redirect_target(current, response)
            if target is None:
                refuse_encoded(response)
                yield current, response
                return
        finally:
            await response.aclose()
        current, headers = await _check_hop_async(target, policy), {}
    raise Refused(f"the URL redirects more than {MAX_REDIRECTS} times")


__all__ = [
    "LOOPBACK_HOSTS",
    "PUBLIC_ONLY",
    "AddressPolicy",
    "Hop",
    "Refused",
    "Unreachable",
    "check_hop",
    "credentials_refusal",
    "on_origins",
    "open_async",
    "open_sync",
    "origin_of",
    "system_resolver",
]
