"""`policywatch serve`: the options, the safety rule (a non-loopback bind needs a token) and the uvicorn server."""
from __future__ import annotations

import argparse
import ipaddress
import os
import socket
import sys
from pathlib import Path

from monitor.config import ConfigError
from monitor.options import add_common_options

TOKEN_ENV = "POLICYWATCH_TOKEN"
DEFAULT_PORT = 8787


def _host(value: str) -> str:
    if value == "localhost":
        return "127.0.0.1"
    try:
        return str(ipaddress.ip_address(value.strip("[]")))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an IP address such as 127.0.0.1, ::1 or 0.0.0.0, "
                                         f"got {value!r}") from None


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {value!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 1–65535 (or 0 for any free port), got {port}")
    return port


def add_serve_parser(sub) -> None:
    """The `serve` command's options."""
    p = sub.add_parser("serve", help="a read-only web view of the history (概览, 变化, 来源) and a JSON API")
    add_common_options(p)
    p.add_argument("--host", type=_host, default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1); any non-loopback address needs --token")
    p.add_argument("--port", type=_port, default=DEFAULT_PORT,
                   help=f"port (default {DEFAULT_PORT}; 0 = any free port, printed on start)")
    p.add_argument("--token", metavar="FILE",
                   help=f"file holding the access token (default: ${TOKEN_ENV}); every request must then send "
                        "`Authorization: Bearer TOKEN` or ?token=TOKEN")


def is_loopback(host: str) -> bool:
    """Whether `host` (an IP address) only accepts connections from this machine."""
    return ipaddress.ip_address(host).is_loopback


def read_token(path: str | None, env: dict | os._Environ = os.environ) -> str | None:
    """The token from --token FILE (first line, stripped), else from $POLICYWATCH_TOKEN; None when neither.
    An unreadable or empty file is a ConfigError."""
    if path is None:
        return env.get(TOKEN_ENV, "").strip() or None
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"--token {path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"--token {path}: not UTF-8 text") from None
    token = text.strip().splitlines()[0].strip() if text.strip() else ""
    if not token:
        raise ConfigError(f"--token {path}: the file is empty")
    return token


def listen(host: str, port: int) -> socket.socket:
    """A listening socket on host:port; a busy port or an address not on this machine is a ConfigError."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise ConfigError(f"serve: cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock


def cmd_serve(args: argparse.Namespace) -> int:
    """Check the sources file, the safety rule and the database, bind, then serve until stopped."""
    import uvicorn
    from monitor.cliutil import load_config, open_db
    from monitor.web.app import create_app
    config = load_config(args.sources)
    token = read_token(args.token)
    if token is None and not is_loopback(args.host):
        raise ConfigError(f"serve: refusing to listen on {args.host} without a token: anyone on the network could "
                          f"read the history; pass --token FILE (or set ${TOKEN_ENV}), or bind 127.0.0.1")
    db = open_db(args.db, create=False)
    sock = listen(args.host, args.port)
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    app = create_app(db, config, token)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                                           server_header=False, proxy_headers=False))
    print(f"policywatch serve: http://{shown}:{port}/ (read-only{', token required' if token else ''}; "
          "Ctrl-C stops)", file=sys.stderr, flush=True)
    server.run(sockets=[sock])
    return 0
