"""PageCutter: the first pages of a crawl are cut inline, the rest in worker processes, with the same result."""
from __future__ import annotations

import asyncio
import os

from spiders.processing import PageCutter, cut_page

PAGE = ('<html><head><meta charset="utf-8"><title>缴费通知</title></head><body><div id="zoom">'
        '<p>2026年度城乡居民医保个人缴费标准为每人每年420元。</p></div></body></html>').encode("utf-8")


def cut_all(cutter: PageCutter, count: int) -> list:
    async def run():
        return [await cutter.cut(PAGE, "text/html", f"http://127.0.0.1/p{i}.html", None, None) for i in range(count)]
    return asyncio.run(run())


def test_a_small_crawl_cuts_inline_and_starts_no_worker_process():
    cutter = PageCutter(1, inline_pages=3)
    try:
        pages = cut_all(cutter, 3)
        assert cutter.pool is None
    finally:
        cutter.close()
    assert {p.main_text for p in pages} == {cut_page(PAGE, "text/html", "http://127.0.0.1/p0.html").main_text}


def test_the_page_after_the_inline_ones_starts_the_pool_and_is_cut_the_same_in_a_worker():
    cutter = PageCutter(1, inline_pages=2)
    try:
        pages = cut_all(cutter, 4)
        assert cutter.pool is not None
        pids = set(cutter.pool.submit(os.getpid).result() for _ in range(2))
        assert os.getpid() not in pids
    finally:
        cutter.close()
    assert cutter.pool is None
    assert len({(p.main_text, p.content_hash, p.raw_sha256) for p in pages}) == 1 and "420元" in pages[0].main_text
