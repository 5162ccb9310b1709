"""A real HTTP server on loopback serving a folder, as media hosts do: ranges, redirects, misbehaviour.

`serve(folder)` yields the base URL. Paths under special prefixes change the behaviour:
`/noranges/x` ignores Range headers (answers 200 with everything), `/redirect/x` answers 302 to `/x`,
`/goto/<quoted URL>` answers 302 to that URL,
`/slow/x` waits before answering, `/html/x` serves the file as `text/html`, and an unknown name
answers 404. Every request line is recorded in `Served.requests` so tests can assert what was read.
"""

from __future__ import annotations

import re
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

SLOW_SECONDS = 30.0


@dataclass
class Served:
    url: str
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)  # method, path, Range
    bytes_sent: int = 0


@contextmanager
def serve(folder: Path) -> Iterator[Served]:
    served = Served(url="")
    stop = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:  # quiet
            pass

        def do_HEAD(self) -> None:
            self._answer(body=False)

        def do_GET(self) -> None:
            self._answer(body=True)

        def _answer(self, *, body: bool) -> None:
            path = self.path.split("?", 1)[0]
            served.requests.append((self.command, path, self.headers.get("Range")))
            mode, _, rest = path.lstrip("/").partition("/")
            if mode in ("redirect", "goto"):
                self.send_response(302)
                self.send_header("Location", urllib.parse.unquote(rest) if mode == "goto" else "/" + rest)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if mode == "slow":
                stop.wait(SLOW_SECONDS)
            if mode not in ("noranges", "slow", "html"):  # a plain file name
                rest = path.lstrip("/")
            target = folder / rest
            if not rest or not target.is_file():
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            size = target.stat().st_size
            kind = "text/html" if mode == "html" else "application/octet-stream"
            wanted = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range") or "")
            first, last = 0, size - 1
            if wanted and mode != "noranges":
                first = int(wanted.group(1))
                last = min(int(wanted.group(2) or size - 1), size - 1)
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {first}-{last}/{size}")
            else:
                self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(last - first + 1))
            self.send_header("Accept-Ranges", "bytes")
            self.end_headers()
            if body:
                self._send_file(target, first, last - first + 1)

        def _send_file(self, target: Path, offset: int, count: int) -> None:
            try:
                with target.open("rb") as handle:
                    handle.seek(offset)
                    while count > 0:
                        chunk = handle.read(min(count, 256 * 1024))
                        if not chunk:
                            break
                        self.wfile.write(chunk)
                        served.bytes_sent += len(chunk)
                        count -= len(chunk)
            except (BrokenPipeError, ConnectionResetError):  # the client read what it needed
                pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request: object, client_address: object) -> None:
            pass  # a client that hangs up once it has read enough is normal here

    server = Server(("127.0.0.1", 0), Handler)
    served.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield served
    finally:
        stop.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


if __name__ == "__main__":  # python tests/media_server.py FOLDER: serve it from another process
    import sys

    with serve(Path(sys.argv[1])) as running:
        print(running.url, flush=True)
        sys.stdin.read()  # until the parent closes our stdin
