"""Paging for the web view's long pages (来源, 全部地区, a province's every city): the page number of the query
string, validated, and the links of a page bar."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping
from urllib.parse import urlencode

from monitor.web.render import BadRequest

WINDOW = 4  # page links either side of the current one


@dataclass(frozen=True)
class Pager:
    """Page `number` (from 1) of `pages`, `size` items each, over `total` items."""

    number: int
    size: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def start(self) -> int:
        return (self.number - 1) * self.size

    def slice(self, items: list) -> list:
        """The items of this page."""
        return items[self.start:self.start + self.size]

    def links(self, path: str, params: Mapping[str, str]) -> list[dict]:
        """The page bar: {"label", "href" (None for the current page and gaps), "here"}: first, previous,
        the pages around this one, next, last; `params` are kept in every link."""
        def href(n: int) -> str:
            kept = {k: v for k, v in params.items() if k not in ("page", "token")}
            return f"{path}?{urlencode({**kept, 'page': n})}"
        if self.pages == 1:
            return []
        lo, hi = max(1, self.number - WINDOW), min(self.pages, self.number + WINDOW)
        out = []
        if self.number > 1:
            out.append(dict(label="上一页", href=href(self.number - 1), here=False))
        if lo > 1:
            out.append(dict(label="1", href=href(1), here=False))
            if lo > 2:
                out.append(dict(label="…", href=None, here=False))
        for n in range(lo, hi + 1):
            out.append(dict(label=str(n), href=None if n == self.number else href(n), here=n == self.number))
        if hi < self.pages:
            if hi < self.pages - 1:
                out.append(dict(label="…", href=None, here=False))
            out.append(dict(label=str(self.pages), href=href(self.pages), here=False))
        if self.number < self.pages:
            out.append(dict(label="下一页", href=href(self.number + 1), here=False))
        return out


def pager(params: Mapping[str, str], total: int, size: int) -> Pager:
    """The page `?page=N` asks for (1 when absent); BadRequest(400) when malformed, 404 past the last page."""
    given = (params.get("page") or "").strip()
    if not given:
        return Pager(1, size, total)
    if not given.isdigit() or int(given) < 1:
        raise BadRequest(400, f"页码 {given!r} 格式不对：应为从 1 开始的整数")
    found = Pager(int(given), size, total)
    if found.number > found.pages:
        raise BadRequest(404, f"没有第 {found.number} 页：共 {found.pages} 页")
    return found
