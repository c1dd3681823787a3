"""Page processing off the crawl's event loop: decode, cut, hash and compress in worker processes.

Scrapy's engine runs on one core; parsing a 30 KB page costs about as much as
fetching it. Worker processes (POLICYWATCH_WORKERS, default: cores - 1) do the
CPU work so the crawl keeps its pace; 0 processes inline (tests, debugging).
"""
from __future__ import annotations

import asyncio
import hashlib
import multiprocessing
import os
import threading
import time
import zlib
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

from extractors import EXTRACTOR_VERSION, extract
from extractors.scope import WARNING_CODE, foreign_warning, scope_facts
from spiders.content import CHINA_TZ, extract_main
from spiders.encoding import decode_html, unreadable
from spiders.profiles import load_profiles


@dataclass
class CutPage:
    """What a worker sends back: the main content plus precomputed hashes and compressed raw bytes."""

    main_text: str
    title: str | None
    published_at: datetime | None
    profile: str
    encoding: str
    meta: dict = field(default_factory=dict)
    content_hash: str = ""
    raw_sha256: str = ""
    raw_zlib: bytes = b""
    unreadable: str | None = None  # why the decoded bytes are no page (spiders.encoding.unreadable)
    extraction: dict | None = None  # facts_of the page's snapshot, when cut_and_extract computed it


def facts_of(main_text: str, url: str, title: str | None, published: datetime | None,
             breadcrumb: str | None, source_region: str | None = None) -> dict:
    """The extraction record stored with a snapshot, computed from the snapshot's own fields and its source's
    configured region only: facts about other places are left out (extractors.scope), `warnings` says when
    most core facts were."""
    if published is not None:
        published = published.astimezone(CHINA_TZ)  # dates on the page are China time
    doc = extract(main_text, url=url, title=title, published=published, breadcrumb=breadcrumb)
    return scoped({"version": EXTRACTOR_VERSION, "region": doc.region, "plan_year": doc.plan_year,
                   "facts": [f.to_json() for f in doc.facts]}, source_region)


def scoped(record: dict, source_region: str | None) -> dict:
    """An extraction record with the facts foreign to `source_region` removed and the foreign-facts warning
    set (`warnings`: a list, empty when none); idempotent, so a record scoped twice is unchanged."""
    kept, foreign = scope_facts(record["facts"], source_region)
    if not foreign:  # nothing left out (or scoped already): the record's own warnings stand
        return dict(record, facts=kept, warnings=list(record.get("warnings") or ()))
    others = [w for w in record.get("warnings") or () if w.get("code") != WARNING_CODE]
    warning = foreign_warning(kept, foreign)
    return dict(record, facts=kept, warnings=others + ([warning] if warning else []))


def cut_page(body: bytes, content_type: str | None, url: str, encoding: str | None = None,
             profile: str | None = None, profiles_path: str | None = None) -> CutPage:
    """Decode and cut one page; pure, so it runs the same in a worker or inline."""
    html, used = decode_html(body, content_type, encoding)
    if reason := unreadable(html):
        return CutPage(main_text="", title=None, published_at=None, profile="", encoding=used, unreadable=reason)
    main = extract_main(html, url, profile, load_profiles(profiles_path))
    return CutPage(main_text=main.main_text, title=main.title, published_at=main.published_at,
                   profile=main.profile, encoding=used, meta=main.meta,
                   content_hash=hashlib.sha256(main.main_text.encode("utf-8")).hexdigest(),
                   raw_sha256=hashlib.sha256(body).hexdigest(), raw_zlib=zlib.compress(body, 6))


def cut_and_extract(body: bytes, content_type: str | None, url: str, encoding: str | None = None,
                    profile: str | None = None, profiles_path: str | None = None,
                    source_region: str | None = None) -> CutPage:
    """cut_page plus the extraction record of the snapshot it would make (`url` its final URL), from exactly
    the fields the extract stage reads back from that snapshot: the worker holding the text extracts it."""
    cut = cut_page(body, content_type, url, encoding, profile, profiles_path)
    if cut.main_text and not cut.unreadable:  # anything else is stored as an error, without a snapshot
        try:
            cut.extraction = facts_of(cut.main_text, url, cut.title, cut.published_at, cut.meta.get("breadcrumb"),
                                      source_region)
        except Exception:  # an extractor bug must not lose the snapshot: the extract stage meets it as before
            cut.extraction = None
    return cut


def _warm(profiles_path: str | None) -> bool:
    load_profiles(profiles_path)
    return True


def watch_parent(parent_pid: int, every: float = 0.5) -> None:
    """Worker initializer: exit when the process that started the pool is gone (killed with -9, say), never
    linger. A thread polls the parent pid: once the parent dies the worker is re-parented (init or a subreaper),
    and it exits at once even in the middle of a task. Give it ``initargs=(os.getpid(),)``."""
    def watch() -> None:
        while True:
            time.sleep(every)
            if os.getppid() != parent_pid:
                os._exit(0)
    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def worker_pool(workers: int, **kwargs) -> ProcessPoolExecutor:
    """A spawn process pool whose workers die with this process (watch_parent)."""
    # spawn: never fork the caller itself (threads, open database connections, the reactor).
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=watch_parent, initargs=(os.getpid(),), **kwargs)


def default_workers(extract: bool = False) -> int:
    """Cores - 1 cut workers (the crawl keeps one core); every core when they also extract, the heavier part
    of a new page's work, which would otherwise follow the crawl on all cores."""
    cores = os.cpu_count() or 1
    return cores if extract else max(1, cores - 1)


class PageCutter:
    """Runs cut_page in a process pool (or inline with 0 workers) and awaits it on the asyncio loop; with
    `extract` cut_and_extract, so a new page's facts are ready with its cut (the extract stage has none left).

    The pool starts with the page after the first `inline_pages`, which are cut inline: a check of a few pages
    (a cron job's single notice, most tests) never pays the start-up of a worker process (about 0.8 s of CPU,
    more than cutting those pages costs), while a long crawl has its workers from its ninth page on."""

    INLINE_PAGES = 8

    def __init__(self, workers: int, profiles_path: str | None = None, inline_pages: int = INLINE_PAGES,
                 extract: bool = False) -> None:
        self.profiles_path = profiles_path
        self.extract = extract
        self.workers = workers
        self.inline_left = inline_pages if workers > 0 else 0
        self.pool = None

    def _start_pool(self) -> None:
        self.pool = worker_pool(self.workers)
        for _ in range(self.workers):
            self.pool.submit(_warm, self.profiles_path)

    async def cut(self, body: bytes, content_type: str | None, url: str, encoding: str | None,
                  profile: str | None, profiles_path: str | None = None, source_region: str | None = None) -> CutPage:
        """Cut one page (and extract it, scoped to `source_region`, with `extract`); `profiles_path` overrides
        the cutter's user profiles (a cluster run's own)."""
        profiles_path = profiles_path or self.profiles_path
        job, args = cut_page, (body, content_type, url, encoding, profile, profiles_path)
        if self.extract:
            job, args = cut_and_extract, args + (source_region,)
        if self.pool is None and (self.workers == 0 or self.inline_left > 0):
            self.inline_left -= 1
            return job(*args)
        if self.pool is None:
            self._start_pool()
        future = self.pool.submit(job, *args)
        return await asyncio.wrap_future(future)

    def close(self) -> None:
        self.workers = 0  # a page arriving after the close is cut inline, never starts a new pool
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None
