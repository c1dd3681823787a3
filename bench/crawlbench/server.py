"""The benchmark's page server on 127.0.0.1: nginx when installed, else bench/pageserver.py."""
from __future__ import annotations

import http.client
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

from crawlbench import BENCH


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port: int, proc: subprocess.Popen, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"page server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("page server did not start listening")


NGINX_CONF = """worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    types {{ text/html html; text/plain txt; }}
    default_type application/octet-stream;
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 65;
    keepalive_requests 100000;
    etag on;
    open_file_cache max=20000 inactive=120s;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    server {{
        listen 127.0.0.1:{port};
        server_name localhost;
        root {root};
    }}
}}
"""


class PageServer:
    """Serves the files under root on 127.0.0.1 in its own process."""

    def __init__(self, root: Path, work: Path, kind: str = "auto") -> None:
        self.port = free_port()
        nginx = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.path.exists(p)), None)
        if kind == "nginx" and not nginx:
            raise SystemExit("--server nginx: nginx is not installed (apt-get install -y nginx)")
        if nginx and kind in ("auto", "nginx"):
            tmp = work / "nginx"
            tmp.mkdir()
            conf = tmp / "nginx.conf"
            conf.write_text(NGINX_CONF.format(tmp=tmp, port=self.port, root=root))
            version = subprocess.run([nginx, "-v"], capture_output=True, text=True).stderr.strip()
            self.name = f"nginx ({version.split('/')[-1]}, 1 worker, etag on)"
            self.proc = subprocess.Popen([nginx, "-p", str(tmp), "-e", str(tmp / "error.log"), "-c", str(conf)],
                                         stdout=subprocess.DEVNULL, stderr=open(tmp / "stderr.log", "w"))
        else:
            self.name = "bench/pageserver.py (asyncio, in-memory, ETag/304)"
            self.proc = subprocess.Popen([sys.executable, str(BENCH / "pageserver.py"), str(root), str(self.port)],
                                         stdout=subprocess.DEVNULL)
        wait_listening(self.port, self.proc)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def check(self, path: str) -> None:
        """One GET and one conditional GET: 200 with validators, then 304."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        conn.request("GET", path)
        r = conn.getresponse()
        r.read()
        etag, lm = r.getheader("ETag"), r.getheader("Last-Modified")
        if r.status != 200 or not etag or not lm:
            raise RuntimeError(f"page server: GET {path} gave {r.status}, ETag={etag}, Last-Modified={lm}")
        conn.request("GET", path, headers={"If-None-Match": etag, "If-Modified-Since": lm})
        r = conn.getresponse()
        r.read()
        if r.status != 304:
            raise RuntimeError(f"page server: conditional GET gave {r.status}, not 304")
        conn.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
