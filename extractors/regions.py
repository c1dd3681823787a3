"""Chinese administrative regions (GB/T 2260, provincial and prefecture level): lookup and detection in text.

The table lives in ``data/regions.tsv`` (code, name, short, level, parent, aliases, 本地宝 subdomains).
Standard library only, like the rest of ``extractors``.
"""
from __future__ import annotations

import csv
import re
from collections import Counter
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Iterable, Iterator
from urllib.parse import urlsplit

DATA_FILE = Path(__file__).parent / "data" / "regions.tsv"

COUNTRY, PROVINCE, PREFECTURE = "country", "province", "prefecture"
BENDIBAO = "bendibao.com"
TEXT_WINDOW = 1000  # detect_region looks at this many leading characters of the body text

# Short names that are mostly ordinary words in running text (来宾 "guests", 安康 "well-being", 白银 "silver",
# 阿里 Alibaba, 日照 "sunshine", 朝阳 "rising"/Beijing's 朝阳区): find_mentions only accepts their full names.
WEAK_SHORT_NAMES = frozenset({"来宾", "安康", "白银", "阿里", "日照", "朝阳"})

# Phrases containing a place name that are not about the place; matched and discarded.
NOT_PLACES = (
    "长治久安", "大同小异", "世界大同", "三明治", "四平八稳", "大理石", "哈密瓜", "普洱茶", "文山会海",
    "白山黑水", "平安顺", "新乡村", "隆重庆", "幸福建", "出海口", "入海口", "开封后", "广安门",
    "中山大学", "中山医院", "中山公园", "中山陵", "玉树临风", "淮南子",
)

# A short name directly followed by these is a district, road or street name (朝阳区, 中山路, 南京东路), not the city.
_SHORT_GUARD = r"(?![东西南北中]?(?:路|街|大道|大街)|区(?!域))"

# National bodies and the country itself; 国家税务总局江苏省税务局 is a provincial office, 各地 a province's cities.
NATIONAL_BODIES = re.compile(r"国家医保局|国家医疗保障局|国务院|财政部|国家税务总局(?![\u4e00-\u9fff]{0,6}?[省市区]税务局)|"
                             r"国家卫生健康委|全国|我国")

LOCAL_SELF = re.compile(r"[我本全](?:省|市|区|州|盟|县)")

_LEVEL_RANK = {COUNTRY: 0, PROVINCE: 1, PREFECTURE: 2}
_CODE = re.compile(r"\d{6}")
_HOST_SKIP = {"m", "www", "wap"}
_END = ""  # trie key marking the end of a name


# (the names' regex, name → region (None: a phrase that is no place), a name's possible first characters,
# a name's possible first two characters)
_Matcher = tuple[re.Pattern[str], dict[str, "Region | None"], re.Pattern[str], frozenset[str]]


@dataclass(frozen=True)
class Region:
    """One administrative division: 6-digit code, full and short name, level and parent code."""

    code: str
    name: str
    short: str
    level: str
    parent: str | None


class RegionTable:
    """All regions, with name/code/host lookup and a precompiled matcher for running text."""

    def __init__(self, rows: Iterable[dict[str, str]]):
        self._by_code: dict[str, Region] = {}
        self._aliases: dict[str, list[str]] = {}
        self._by_subdomain: dict[str, Region] = {}
        for row in rows:
            region = Region(row["code"], row["name"], row["short"], row["level"], row["parent"] or None)
            if region.code in self._by_code:
                raise ValueError(f"duplicate region code {region.code}")
            self._by_code[region.code] = region
            self._aliases[region.code] = _split(row.get("aliases"))
            for sub in _split(row.get("subdomains")):
                self._by_subdomain[sub.lower()] = region
        self._by_name = self._build_names()
        self._mentions: _Matcher | None = None  # built when first needed

    @classmethod
    def from_tsv(cls, path: Path) -> RegionTable:
        """Read a table in the ``regions.tsv`` format."""
        with path.open(encoding="utf-8", newline="") as f:
            return cls(csv.DictReader(f, delimiter="\t"))

    # -- building ---------------------------------------------------------------
    def _build_names(self) -> dict[str, Region]:
        """Name → region; earlier wins: full names, then short names (provinces first), then aliases."""
        names: dict[str, Region] = {}
        ordered = sorted(self._by_code.values(), key=lambda r: (_LEVEL_RANK[r.level], r.code))
        for region in ordered:
            names.setdefault(region.name, region)
        for region in ordered:
            names.setdefault(region.short, region)
        for region in ordered:
            for alias in self._aliases[region.code]:
                names.setdefault(alias, region)
        return names

    def _build_matcher(self) -> _Matcher:
        """All names as one trie-shaped regex (leftmost-longest); short names carry the district/road guard.
        With it, what a match must start with: a name's first character, and its first two."""
        shorts = {r.short for r in self._by_code.values()} - {r.name for r in self._by_code.values()}
        mention: dict[str, Region | None] = {}
        for name, region in self._by_name.items():
            if len(name) >= 2 and not (name in shorts and name in WEAK_SHORT_NAMES):
                mention[name] = region
        for phrase in NOT_PLACES:
            mention.setdefault(phrase, None)
        trie: dict[str, Any] = {}
        for name, region in mention.items():
            node = trie
            for char in name:
                node = node.setdefault(char, {})
            node[_END] = _SHORT_GUARD if name in shorts and region is not None else ""
        assert all(len(name) >= 2 for name in mention)  # find_mentions tries only where a name's first two are
        firsts = "".join(sorted({re.escape(name[0]) for name in mention}))
        return re.compile(_trie_pattern(trie)), mention, re.compile(f"[{firsts}]"), frozenset(n[:2] for n in mention)

    # -- access -------------------------------------------------------------------
    def __iter__(self) -> Iterator[Region]:
        return iter(self._by_code.values())

    def __len__(self) -> int:
        return len(self._by_code)

    def by_code(self, code: str) -> Region | None:
        """The region with this 6-digit code."""
        return self._by_code.get(code.strip())

    def aliases(self, region: Region) -> list[str]:
        """Extra names of ``region`` (beyond its full and short name)."""
        return list(self._aliases.get(region.code, ()))

    def lookup(self, name_or_code: str) -> Region | None:
        """Region by full name, short name, alias or code; a bare ambiguous short name (吉林) means the province."""
        key = name_or_code.strip()
        if _CODE.fullmatch(key):
            return self._by_code.get(key)
        return self._by_name.get(key)

    def province_of(self, region: Region) -> Region:
        """The provincial-level region containing ``region`` (itself for provinces and for 全国)."""
        if region.level == PREFECTURE and region.parent:
            return self._by_code[region.parent]
        return region

    def contains(self, ancestor: Region | str, region: Region | str) -> bool:
        """Whether ``region`` lies in ``ancestor`` (a region contains itself; 全国 contains all)."""
        outer, inner = self._resolve(ancestor), self._resolve(region)
        if outer is None or inner is None:
            return False
        if outer == inner or outer.level == COUNTRY:
            return True
        return outer.level == PROVINCE and inner.level == PREFECTURE and inner.parent == outer.code

    def _resolve(self, region: Region | str) -> Region | None:
        return region if isinstance(region, Region) else self.lookup(region)

    def from_host(self, host: str) -> Region | None:
        """Region of a 本地宝 host (``ty.bendibao.com``, ``m.ty.bendibao.com``, ``m.bendibao.com/ty/…``).

        Only bendibao.com is mapped; other hosts (``*.gov.cn`` included) give None.
        """
        text = host.strip().lower()
        if not text:
            return None
        parts = urlsplit(text if "//" in text else "//" + text)
        hostname = parts.hostname or ""
        if hostname != BENDIBAO and not hostname.endswith("." + BENDIBAO):
            return None
        labels = [label for label in hostname[: -len(BENDIBAO)].split(".") if label]
        while labels and labels[0] in _HOST_SKIP:
            labels.pop(0)
        if labels:
            return self._by_subdomain.get(labels[0])
        segments = [s for s in parts.path.split("/") if s]
        return self._by_subdomain.get(segments[0]) if segments else None

    # -- text ---------------------------------------------------------------------
    def find_mentions(self, text: str) -> list[tuple[int, int, Region]]:
        """Non-overlapping region names in ``text`` as (start, end, region), leftmost-longest."""
        if self._mentions is None:  # compiling it is most of the load time; lookups by code never need it
            self._mentions = self._build_matcher()
        matcher, names, firsts, prefixes = self._mentions
        # what matcher.finditer finds, tried only where a name's first two characters are (the trie's first
        # branch is a choice among hundreds of characters: trying it everywhere is most of the cost)
        found: list[tuple[int, int, Region]] = []
        end = 0
        for c in firsts.finditer(text):
            start = c.start()
            if start < end or text[start:start + 2] not in prefixes:
                continue
            m = matcher.match(text, start)
            if m is not None:
                end = m.end()
                region = names[m.group()]
                if region is not None:
                    found.append((start, end, region))
        return found

    def main_region(self, mentions: list[tuple[int, int, Region]]) -> Region | None:
        """The region a list of mentions is about.

        Mentions are grouped by province; the strongest province wins (ties: earliest). Within it, a
        prefecture is preferred over the province itself when one prefecture outweighs the others.
        全国 only counts when nothing else is mentioned.
        """
        if not mentions:
            return None
        counts: Counter[Region] = Counter()
        first: dict[Region, int] = {}
        for start, _end, region in mentions:
            counts[region] += 1
            first.setdefault(region, start)
        local = [r for r in counts if r.level != COUNTRY]
        if not local:
            return min(counts, key=first.__getitem__)
        groups: Counter[Region] = Counter()
        group_first: dict[Region, int] = {}
        for region in local:
            province = self.province_of(region)
            groups[province] += counts[region]
            group_first[province] = min(group_first.get(province, first[region]), first[region])
        province = max(groups, key=lambda p: (groups[p], -group_first[p]))
        prefectures = sorted((r for r in local if r.level == PREFECTURE and r.parent == province.code),
                             key=lambda r: (-counts[r], first[r]))
        if not prefectures:
            return province
        top = prefectures[0]
        if counts[top] > sum(counts[r] for r in prefectures[1:]):
            return top
        return province

    def _bendibao_name(self, text: str) -> Region | None:
        """Region named right before "本地宝" (太原本地宝 → 太原市)."""
        for m in re.finditer("本地宝", text):
            for length in range(min(m.start(), 6), 1, -1):
                name = text[m.start() - length:m.start()]
                region = self.lookup(name + "市") or self.lookup(name)  # 本地宝 sites are cities: 吉林 → 吉林市
                if region is not None:
                    return region
        return None

    def detect(self, text: str, title: str | None = None, url: str | None = None,
               breadcrumb: str | None = None) -> Region | None:
        """The page's main region: breadcrumb, then title, then 本地宝 host, then the start of the text."""
        for label in (breadcrumb, title):
            if label:
                region = self._bendibao_name(label) or self.main_region(self.find_mentions(label))
                if region is not None:
                    return region
        if url:
            region = self.from_host(url)
            if region is not None:
                return region
        if not text:
            return None
        window = text[:TEXT_WINDOW]
        mentions = self.find_mentions(window)
        region = self.main_region(mentions)
        # A national story names places in passing (one item of a news bundle, a person's home town):
        # national bodies named more often than the strongest province make it the country's.
        # So do places spread over several provinces with none of them the main one (a news digest).
        if region is None or region.level == COUNTRY:
            return region
        provinces = Counter(self.province_of(r) for _, _, r in mentions if r.level != COUNTRY)
        strongest = max(provinces.values(), default=0)
        if len(provinces) >= 3 and 2 * strongest <= sum(provinces.values()):
            return self.lookup("000000") if _at_least(NATIONAL_BODIES.finditer(text), 2) else None
        # 我市/全省… say the page speaks for its own place, however often it cites the national bodies
        if not LOCAL_SELF.search(window) and len(NATIONAL_BODIES.findall(window)) > max(strongest, 1):
            return self.lookup("000000")
        return region


def _at_least(matches: Iterator[re.Match], count: int) -> bool:
    """Whether `matches` yields `count` matches (found without scanning the rest of the text)."""
    for found, _ in enumerate(matches, 1):
        if found >= count:
            return True
    return False


def _trie_pattern(node: dict[str, Any]) -> str:
    """Regex for a character trie: longer continuations before the end of a name, so the longest name wins."""
    alternatives = [re.escape(char) + _trie_pattern(child) for char, child in sorted(node.items()) if char != _END]
    if _END in node:
        alternatives.append(node[_END])
    return alternatives[0] if len(alternatives) == 1 else "(?:" + "|".join(alternatives) + ")"


def _split(field: str | None) -> list[str]:
    return [part.strip() for part in (field or "").split(",") if part.strip()]


@cache
def load_regions() -> RegionTable:
    """The packaged region table (read once)."""
    return RegionTable.from_tsv(DATA_FILE)


def detect_region(text: str, title: str | None = None, url: str | None = None,
                  breadcrumb: str | None = None) -> Region | None:
    """The page's main region (see ``RegionTable.detect``), or None."""
    return load_regions().detect(text, title=title, url=url, breadcrumb=breadcrumb)
