"""A small HTTP server for a local copy of a site: the demo, the tests and offline trials.

Serves a directory with ETag / Last-Modified validators and 304 answers, like
the static servers real CMS sites sit behind, plus programmable routes
(status codes, redirects, delays, raw bytes with any Content-Type).
Binds to loopback only.
"""
from __future__ import annotations

import hashlib
import json
import mimetypes
import threading
import time
from dataclasses import dataclass, field
from email.utils import formatdate, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

CONTENT_TYPES = {".html": "text/html", ".htm": "text/html", ".shtml": "text/html", ".shtm": "text/html",
                 ".txt": "text/plain", ".pdf": "application/pdf"}


@dataclass
class Route:
    """A programmed answer for one path."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        # A client that hangs up early (a timeout, a size limit) is normal here.
        import sys
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


class LocalSite:
    """Serve `root` on 127.0.0.1:<random port> in a background thread; use as a context manager."""

    def __init__(self, root: str | Path, host: str = "127.0.0.1", port: int = 0,
                 validators: bool = True, latency: float = 0.0) -> None:
        """`latency`: seconds every file's answer takes (a slow government site); `peak_in_flight` then
        records the most requests the site served at once."""
        self.root = Path(root)
        self.latency = latency
        self.in_flight = self.peak_in_flight = 0
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.validators = validators
        self._lock = threading.Lock()
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, fmt, *args):  # keep test and demo output clean
                pass

            def do_HEAD(self):
                self.do_GET(head=True)

            def do_GET(self, head: bool = False):
                with site._lock:
                    site.in_flight += 1
                    site.peak_in_flight = max(site.peak_in_flight, site.in_flight)
                try:
                    self._get(head)
                finally:
                    with site._lock:
                        site.in_flight -= 1

            def _get(self, head: bool) -> None:
                path = urlsplit(self.path).path
                with site._lock:
                    site.requests.append((self.path, {k: v for k, v in self.headers.items()}))
                if site.latency and not path.endswith("robots.txt"):
                    time.sleep(site.latency)
                route = site.routes.get(path)
                if route is not None:
                    if route.delay:
                        time.sleep(route.delay)
                    return self._send(route.status, route.body, route.headers, head)
                file = site._resolve(path)
                if file is None:
                    return self._send(404, b"<html><body><h1>404 Not Found</h1></body></html>",
                                      {"Content-Type": "text/html; charset=utf-8"}, head)
                body = file.read_bytes()
                ctype = CONTENT_TYPES.get(file.suffix.lower()) or mimetypes.guess_type(file.name)[0] \
                    or "application/octet-stream"
                headers = {"Content-Type": ctype}
                if site.validators:
                    etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
                    mtime = file.stat().st_mtime
                    headers.update({"ETag": etag, "Last-Modified": formatdate(mtime, usegmt=True)})
                    if self._not_modified(etag, mtime):
                        return self._send(304, b"", {"ETag": etag}, head)
                self._send(200, body, headers, head)

            def _not_modified(self, etag: str, mtime: float) -> bool:
                inm = self.headers.get("If-None-Match")
                if inm is not None:
                    return etag in [t.strip() for t in inm.split(",")] or inm.strip() == "*"
                ims = self.headers.get("If-Modified-Since")
                if ims:
                    try:
                        return int(mtime) <= parsedate_to_datetime(ims).timestamp()
                    except (TypeError, ValueError):
                        return False
                return False

            def _send(self, status, body, headers, head):
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                if "Content-Length" not in headers:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if not head and status != 304:
                    try:
                        self.wfile.write(body)
                    except (BrokenPipeError, ConnectionResetError):
                        pass

        self.server = _QuietServer((host, port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="localsite", daemon=True)

    def _resolve(self, path: str) -> Path | None:
        rel = unquote(path).lstrip("/")
        file = (self.root / rel).resolve()
        if not str(file).startswith(str(self.root.resolve())):
            return None
        if file.is_dir():
            file = file / "index.html"
        return file if file.is_file() else None

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        return self.base_url + "/" + path.lstrip("/")

    def route(self, path: str, status: int = 200, body: bytes | str = b"", headers: dict | None = None,
              delay: float = 0.0, content_type: str | None = "text/html; charset=utf-8") -> str:
        """Program an answer for `path`; returns its full URL."""
        if isinstance(body, str):
            body = body.encode("utf-8")
        headers = dict(headers or {})
        if content_type and "Content-Type" not in headers:
            headers["Content-Type"] = content_type
        self.routes["/" + path.lstrip("/")] = Route(status, body, headers, delay)
        return self.url(path)

    def requests_for_prefix(self, prefix: str) -> list[str]:
        """The paths requested so far that start with `prefix`, in order."""
        with self._lock:
            return [urlsplit(p).path for p, _ in self.requests if urlsplit(p).path.startswith(prefix)]

    def requests_for(self, path: str) -> list[dict[str, str]]:
        with self._lock:
            return [h for p, h in self.requests if urlsplit(p).path == "/" + path.lstrip("/")]

    def start(self) -> "LocalSite":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> "LocalSite":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class WebhookReceiver:
    """An HTTP server on 127.0.0.1 recording the JSON bodies POSTed to it; can be stopped and restarted.

    With `hold=True` it records each POST, sets `received`, and answers only once `release` is set, so a
    test can kill the sender while its request is in flight (the receiver already has the message).
    With `delay` it answers each POST that many seconds after recording it, like a slow webhook.
    """

    def __init__(self, port: int = 0, hold: bool = False, delay: float = 0.0) -> None:
        self.port, self.posts, self.server = port, [], None
        self.hold, self.received, self.release = hold, threading.Event(), threading.Event()
        self.delay = delay

    def start(self) -> "WebhookReceiver":
        posts, receiver = self.posts, self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                posts.append((self.path, json.loads(body)))
                receiver.received.set()
                if receiver.hold:
                    receiver.release.wait(120)
                elif receiver.delay:
                    receiver.release.wait(receiver.delay)
                try:
                    self.send_response(200)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:  # the sender is gone
                    pass

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.release.set()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def url(self, path: str = "/hook") -> str:
        return f"json://127.0.0.1:{self.port}{path}"
