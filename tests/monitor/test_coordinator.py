"""The coordinator's queue order: pages round-robin by site, so no worker takes a block of one site."""
from __future__ import annotations

from monitor.coordinator import interleaved


def test_pages_are_queued_round_robin_by_host():
    pages = [(1, "http://a.gov.cn/1"), (2, "http://a.gov.cn/2"), (3, "http://a.gov.cn/3"),
             (4, "https://B.gov.cn/1"), (5, "http://c.gov.cn:8080/1"), (6, "http://b.gov.cn/2")]
    assert [p for p, _ in interleaved(pages)] == [1, 4, 5, 2, 6, 3]


def test_interleaving_keeps_every_page_once():
    pages = [(i, f"http://s{i % 7}.example.cn/{i}") for i in range(100)]
    assert sorted(interleaved(pages)) == sorted(pages) and interleaved([]) == []
