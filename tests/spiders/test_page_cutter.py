"""PageCutter: the first pages of a crawl are cut inline, the rest in worker processes, with the same result."""
from __future__ import annotations

import asyncio
import os

from spiders.processing import PageCutter, cut_page, facts_of

PAGE = ('<html><head><meta charset="utf-8"><title>缴费通知</title></head><body><div id="zoom">'
        '<p>2026年度城乡居民医保个人缴费标准为每人每年420元。</p></div></body></html>').encode("utf-8")


def cut_all(cutter: PageCutter, count: int, body: bytes = PAGE, region: str | None = None) -> list:
    async def run():
        return [await cutter.cut(body, "text/html", f"http://127.0.0.1/p{i}.html", None, None, source_region=region)
                for i in range(count)]
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


def test_an_extracting_cutter_returns_the_facts_the_extract_stage_computes_inline_and_in_a_worker():
    cutter = PageCutter(1, inline_pages=1, extract=True)
    try:
        pages = cut_all(cutter, 2, region="北京市")
        assert cutter.pool is not None
    finally:
        cutter.close()
    for i, page in enumerate(pages):
        assert page.extraction == facts_of(page.main_text, f"http://127.0.0.1/p{i}.html", page.title,
                                           page.published_at, page.meta.get("breadcrumb"), "北京市")
    assert [f["kind"] for f in pages[0].extraction["facts"]] == ["personal_contribution"]


def test_an_unreadable_page_and_a_cutter_that_does_not_extract_carry_no_facts():
    (garbled,) = cut_all(PageCutter(0, extract=True), 1, body=b"\x7fELF\x02\x01\x01\x00" * 40)
    (plain,) = cut_all(PageCutter(0), 1)
    assert garbled.unreadable and garbled.extraction is None
    assert plain.main_text and plain.extraction is None
