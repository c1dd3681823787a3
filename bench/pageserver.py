"""A fast static HTTP/1.1 server for the benchmark when nginx is not installed.

Serves every file under ROOT from memory (pre-rendered 200 and 304 answers),
keep-alive, ETag / Last-Modified with 304 for If-None-Match / If-Modified-Since.
Listens on 127.0.0.1 only. Run in its own process:

    python bench/pageserver.py ROOT PORT
"""
from __future__ import annotations

import asyncio
import hashlib
import signal
import sys
from email.utils import formatdate
from pathlib import Path

CTYPES = {".html": b"text/html", ".txt": b"text/plain"}


def load(root: Path) -> dict[bytes, tuple[bytes, bytes, bytes, bytes, bytes]]:
    """path → (200 head+body, 304 answer, etag, last-modified, HEAD answer)."""
    table = {}
    for f in root.rglob("*"):
        if not f.is_file():
            continue
        body = f.read_bytes()
        etag = b'"' + hashlib.sha1(body).hexdigest()[:16].encode() + b'"'
        lm = formatdate(f.stat().st_mtime, usegmt=True).encode()
        ctype = CTYPES.get(f.suffix, b"application/octet-stream")
        head = (b"HTTP/1.1 200 OK\r\nServer: pwbench\r\nContent-Type: " + ctype + b"\r\nContent-Length: "
                + str(len(body)).encode() + b"\r\nETag: " + etag + b"\r\nLast-Modified: " + lm + b"\r\n\r\n")
        not_mod = (b"HTTP/1.1 304 Not Modified\r\nServer: pwbench\r\nETag: " + etag + b"\r\nLast-Modified: "
                   + lm + b"\r\n\r\n")
        path = ("/" + f.relative_to(root).as_posix()).encode()
        table[path] = (head + body, not_mod, etag, lm, head)
    return table


NOT_FOUND = b"HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\nContent-Length: 9\r\n\r\nnot found"


class Http(asyncio.Protocol):
    table: dict = {}

    def connection_made(self, transport) -> None:
        self.transport = transport
        self.buf = b""

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buf) > 65536:
                    self.transport.close()
                return
            raw, self.buf = self.buf[:end], self.buf[end + 4:]
            lines = raw.split(b"\r\n")
            parts = lines[0].split()
            if len(parts) != 3:
                self.transport.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                self.transport.close()
                return
            method, target, version = parts
            headers = {}
            for line in lines[1:]:
                k, _, v = line.partition(b":")
                headers[k.strip().lower()] = v.strip()
            entry = self.table.get(target.split(b"?", 1)[0])
            if entry is None:
                out = NOT_FOUND
            else:
                full, not_mod, etag, lm, head = entry
                inm, ims = headers.get(b"if-none-match"), headers.get(b"if-modified-since")
                if (inm is not None and (inm == b"*" or etag in [t.strip() for t in inm.split(b",")])) or \
                        (inm is None and ims is not None and ims == lm):
                    out = not_mod
                else:
                    out = head if method == b"HEAD" else full
            self.transport.write(out)
            conn = headers.get(b"connection", b"").lower()
            if conn == b"close" or (version == b"HTTP/1.0" and conn != b"keep-alive"):
                self.transport.close()
                return


async def serve(root: Path, port: int) -> None:
    Http.table = load(root)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Http, "127.0.0.1", port, backlog=1024)
    stop = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set_result, None)
    print(f"serving {len(Http.table)} files on 127.0.0.1:{port}", flush=True)
    async with server:
        await stop


if __name__ == "__main__":
    asyncio.run(serve(Path(sys.argv[1]), int(sys.argv[2])))
