"""A 429/503 with Retry-After is retried after the delay the server asked for, capped by RETRY_AFTER_MAX."""
from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from conftest import check, write_sources
from spiders.middlewares import retry_after_seconds

PAGE = ("<html><head><title>缴费通知</title></head><body><div class='article'><h1>2026年度居民医保缴费通知</h1>"
        "<p>2026年度个人缴费标准为每人每年400元。</p></div></body></html>").encode("utf-8")


class BusyThenOk:
    """A real HTTP server on 127.0.0.1: the first GET of /p.html gets 503 + Retry-After, the next 200."""

    def __init__(self, retry_after: str) -> None:
        self.times: list[float] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                if self.path != "/p.html":
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                server.times.append(time.monotonic())
                busy = len(server.times) == 1
                body = b"busy" if busy else PAGE
                self.send_response(503 if busy else 200)
                if busy:
                    self.send_header("Retry-After", retry_after)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/p.html"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def test_retry_after_seconds_and_http_dates_are_read():
    now = datetime(2026, 12, 2, 8, 0, tzinfo=timezone.utc)
    assert retry_after_seconds(b"7") == 7.0
    assert retry_after_seconds(format_datetime(now + timedelta(seconds=90), usegmt=True), now=now) == 90.0
    assert retry_after_seconds(format_datetime(now - timedelta(seconds=5), usegmt=True), now=now) == 0.0
    assert retry_after_seconds(b"soon") is None and retry_after_seconds(None) is None


def test_503_with_retry_after_is_retried_after_the_asked_delay(tmp_path):
    server = BusyThenOk("2")
    try:
        sources = write_sources(tmp_path / "sources.toml", f'[[source]]\nname = "甲"\nurl = "{server.url}"\n')
        proc = check(sources, f"sqlite:///{tmp_path / 'h.db'}", "-s", "RETRY_TIMES=1")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert len(server.times) == 2
        # the test settings' backoff is 0.05 s: only Retry-After explains a 2 s wait
        assert server.times[1] - server.times[0] >= 1.9
    finally:
        server.stop()


def test_a_longer_retry_after_is_capped_by_retry_after_max(tmp_path):
    server = BusyThenOk("3600")
    try:
        sources = write_sources(tmp_path / "sources.toml", f'[[source]]\nname = "甲"\nurl = "{server.url}"\n')
        proc = check(sources, f"sqlite:///{tmp_path / 'h.db'}", "-s", "RETRY_TIMES=1", "-s", "RETRY_AFTER_MAX=0.5")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert len(server.times) == 2 and server.times[1] - server.times[0] >= 0.45
    finally:
        server.stop()
