"""Web view pages timed (and optionally profiled) in process, without HTTP: the app's ASGI callable is driven
directly, so a page's server time is split from the client's.

    .venv/bin/python bench/web_profile.py --db URL --sources FILE [--only LABEL] [--runs 5] [--profile]
                                          [--uncached | --after-commit | --facts-changed]

The pages are bench/web.py's (same targets). Prints per page: the first call (after the app's start-up
warming) and the best of --runs; --profile prints cProfile's top functions of one more call. --uncached: every
request without the cache (everything computed anew); --after-commit: as the first after a commit that left the
current facts as they were (a crawl storing checks); --facts-changed: as the first after a diff stage judged a
new snapshot of one page (its current_facts rows stored again under new ids before each request: this writes to
the database).
"""
from __future__ import annotations

import argparse
import asyncio
import cProfile
import itertools
import pstats
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.web import pages, targets  # noqa: E402
from storage.db import Database  # noqa: E402


def asgi_get(app, path: str) -> tuple[int, bytes]:
    """(status, body) of one GET through the ASGI app, in this process (no HTTP)."""
    target, _, query = path.partition("?")
    from urllib.parse import unquote
    scope = dict(type="http", http_version="1.1", method="GET", scheme="http", path=unquote(target),
                 raw_path=target.encode(), query_string=query.encode(), root_path="", headers=[],
                 client=("127.0.0.1", 1), server=("127.0.0.1", 80))
    out = {"status": 0, "body": b""}

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        if message["type"] == "http.response.start":
            out["status"] = message["status"]
        elif message["type"] == "http.response.body":
            out["body"] += message.get("body", b"")

    asyncio.run(app(scope, receive, send))
    return out["status"], out["body"]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True)
    ap.add_argument("--sources", required=True)
    ap.add_argument("--only")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--uncached", action="store_true",
                    help="turn the whole-history cache off after start: every request as the first after a commit")
    ap.add_argument("--after-commit", action="store_true",
                    help="every request sees a new database version, the current facts unchanged")
    ap.add_argument("--facts-changed", action="store_true",
                    help="before every request, one page's current facts are stored again (writes to the database)")
    args = ap.parse_args()
    from monitor.cliutil import load_config
    from monitor.web.app import create_app
    db = Database(args.db)
    t = targets(db)
    t0 = time.perf_counter()
    app = create_app(db, load_config(args.sources))
    print(f"start-up {1000 * (time.perf_counter() - t0):.0f} ms", flush=True)
    view = next(r.endpoint.__self__ for r in app.app.routes if hasattr(getattr(r, "endpoint", None), "__self__"))
    if args.uncached:
        view.cache.enabled = False
    if args.after_commit:
        real, commits = view.cache.version.current, itertools.count()
        view.cache.version.current = lambda: f"{real()}+{next(commits)}"
    before = _renewer(db) if args.facts_changed else (lambda: None)
    for label, path in pages(t):
        if args.only and args.only not in label:
            continue
        before()
        t0 = time.perf_counter()
        status, body = asgi_get(app, path)
        size = len(body)
        first = time.perf_counter() - t0
        best = min(_timed(app, path, before) for _ in range(args.runs)) if args.runs else first
        print(f"{label:<32}{status:>4}{size / 1000:>9.0f} kB{first * 1000:>9.0f}{best * 1000:>9.0f} ms", flush=True)
        if args.profile:
            endpoint, request = handler(app, path)
            prof = cProfile.Profile()
            prof.enable()
            endpoint(request)
            prof.disable()
            pstats.Stats(prof).sort_stats("cumulative").print_stats(35)
    return 0


def handler(app, path: str):
    """(the route's endpoint, a Request for `path`): called in this thread, so cProfile sees it."""
    from urllib.parse import unquote
    from starlette.requests import Request
    from starlette.routing import Match
    target, _, query = path.partition("?")
    scope = dict(type="http", method="GET", path=unquote(target), query_string=query.encode(), headers=[],
                 root_path="")
    for route in app.app.routes:
        match, child = route.matches(scope)
        if match == Match.FULL:
            return route.endpoint, Request({**scope, **child})
    raise LookupError(path)


def _renewer(db: Database):
    """A function storing the current facts of the next page (round robin) again, in its own transaction."""
    from storage.currentfacts import pages_with_facts, renew_pages
    with db.engine.begin() as conn:
        pages = itertools.cycle(pages_with_facts(conn))

    def renew() -> None:
        with db.engine.begin() as conn:
            renew_pages(conn, [next(pages)])
    return renew


def _timed(app, path: str, before=lambda: None) -> float:
    before()
    t0 = time.perf_counter()
    asgi_get(app, path)
    return time.perf_counter() - t0


if __name__ == "__main__":
    sys.exit(main())
