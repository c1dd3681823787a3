"""Dates as notices write them, resolved to calendar dates.

Handles 2024年9月1日, 2024-09-01, 二〇二四年九月一日, year-less 2月25日 (resolved
after the publish date), 次年/当年/上年/今年/明年, 月底/年底, 24时, and ranges
joined by 至/到/—/-/~/起至, including 即日起至….
"""
from __future__ import annotations

import calendar
import re
from datetime import date
from typing import NamedTuple

from extractors.fastre import guarded
from extractors.numbers import halfwidth, parse_int

_CN_YEAR = "[一二〇零○][〇零○一二三四五六七八九]{3}"
_CN_MONTH = "十[一二]?|[一二三四五六七八九]"
_CN_DAY = "[一二三]?十[一二三四五六七八九]?|[一二三四五六七八九]"
_REL = "次年|当年|上年|今年|明年|同年|翌年|去年|下一年|下年"
_REL_OFFSET = {"次年": 1, "明年": 1, "翌年": 1, "下一年": 1, "下年": 1, "当年": 0, "今年": 0, "同年": 0,
               "上年": -1, "去年": -1}

# guarded: most positions of a sentence cannot start a date, and the engine sees no prefix to skip them by
DATE_RE = guarded(
    rf"(?:(?P<iy>(?:19|20)\d\d)[-/.](?P<im>\d{{1,2}})[-/.](?P<id>\d{{1,2}})(?![\d.]))"
    rf"|(?:(?:(?P<y>(?:19|20)\d\d|{_CN_YEAR})\s*年(?!度)|(?P<rel>{_REL}))?\s*"
    rf"(?:(?P<m>\d{{1,2}}|{_CN_MONTH})\s*月\s*(?:(?P<d>\d{{1,2}}|{_CN_DAY})\s*[日号]|(?P<eom>底|末|份?末|份?底))))"
    rf"|(?:(?P<ey>(?:19|20)\d\d)\s*年(?P<eoy>底|末))"
    rf"|(?:(?P<rely>{_REL})\s*年?(?P<reoy>底|末))"
)
# find_dates reads DATE_RE's groups by position
assert tuple(DATE_RE.groupindex) == ("iy", "im", "id", "y", "rel", "m", "d", "eom", "ey", "eoy", "rely", "reoy")
RANGE_MARK = re.compile(r"^\s*(?:起|开始)?\s*(?:[（(][^）)]{0,12}[）)])?\s*[，,]?\s*(?:至|到|—+|–|-|~|～|起至|一直到)\s*$")
TODAY_RE = re.compile(r"即日起|自即日起|从即日起|即日开始")
_TO_ONLY = re.compile(r"\s*至\s*")


class DateMention(NamedTuple):
    """A date found in text; `year` may be None (year-less) and `relative` an offset word such as 次年.

    (A named tuple, not a frozen dataclass: a dense page builds dozens, and a frozen dataclass costs three
    times as much to build.)"""

    start: int
    end: int
    year: int | None
    month: int
    day: int | None  # None: end of month (月底)
    relative: int | None = None

    def resolve(self, year: int) -> date | None:
        try:
            day = self.day or calendar.monthrange(year, self.month)[1]
            return date(year, self.month, day)
        except ValueError:
            return None


# Every DATE_RE match holds one of these characters (月, 底/末, an ISO separator), and what comes before the
# first of them in a match is a run of _LEAD characters (year and month digits or numerals, 年, 次/当/上…, spaces).
_LEAD = "一二三四五六七八九十〇零○年次当上今明同翌去下"
# a run of _LEAD characters, digits and spaces that ends at a key character: where a date may be
_CANDIDATE = re.compile(rf"[{_LEAD}\d\s]*+[月底末\-/.]")
# DATE_RE tried at each start of such a run, first start first: the lazy lead (group 1) is what it skipped
_DATE_IN_RUN = re.compile(rf"([{_LEAD}\d\s]*?)(?:{DATE_RE.pattern})")


def _date_matches(work: str) -> list[re.Match]:
    """What DATE_RE.finditer(work) finds (each match's date starts at group 1's end), tried only where a match
    can start: from the run of _LEAD characters, digits and spaces before each key character on (the guarded
    pattern has no fast scan of its own: trying every position costs ≈ 30,000 instructions per 40-character
    sentence)."""
    found: list[re.Match] = []
    search, match = _CANDIDATE.search, _DATE_IN_RUN.match
    pos = 0
    while (run := search(work, pos)) is not None:
        m = match(work, run.start())
        if m is not None:
            found.append(m)
            pos = m.end()
        else:
            pos = run.end()
    return found


def find_dates(text: str, converted: bool = False) -> list[DateMention]:
    """All date mentions in the text, in order. `text` may contain full-width digits (`converted`: already not)."""
    work = text if converted else halfwidth(text)
    found = []
    for m in _date_matches(work):
        _lead, iy, im, iday, y, rel_word, mon, d, _eom, ey, _eoy, rely, _reoy = m.groups()  # DATE_RE's, in order
        start, end = m.end(1), m.end()
        try:
            if iy:
                found.append(DateMention(start, end, int(iy), int(im), int(iday)))
            elif ey:
                found.append(DateMention(start, end, int(ey), 12, 31))
            elif rely:
                found.append(DateMention(start, end, None, 12, 31, _REL_OFFSET[rely]))
            elif mon:
                year = parse_int(y) if y else None
                rel = _REL_OFFSET.get(rel_word) if rel_word else None
                month = parse_int(mon)
                day = parse_int(d) if d else None
                if not 1 <= month <= 12 or (day is not None and not 1 <= day <= 31):
                    continue
                found.append(DateMention(start, end, year, month, day, rel))
        except ValueError:
            continue
    return found


class DateRange(NamedTuple):
    start: DateMention | None  # None: 即日起 (from the publish date)
    end: DateMention
    span: tuple[int, int]


def find_ranges(text: str, dates: list[DateMention] | None = None) -> list[DateRange]:
    """Date ranges: two dates joined by a range mark, or 即日起 + a range mark + a date."""
    dates = find_dates(text) if dates is None else dates
    ranges = []
    used = set()
    for a, b in zip(dates, dates[1:]):
        if RANGE_MARK.match(text[a.end:b.start]):
            ranges.append(DateRange(a, b, (a.start, b.end)))
            used.update({id(a), id(b)})
    for m in TODAY_RE.finditer(text) if "即日" in text else ():  # every match holds 即日
        for d in dates:
            if d.start >= m.end() and id(d) not in used:
                if RANGE_MARK.match(text[m.end():d.start]) or _TO_ONLY.fullmatch(text[m.end():d.start]):
                    ranges.append(DateRange(None, d, (m.start(), d.end)))
                    used.add(id(d))
                break
    return sorted(ranges, key=lambda r: r.span)


class YearResolver:
    """Gives year-less dates a year: from the sentence's own dates, else after the publish date, else by plan year."""

    def __init__(self, published: date | None, plan_year: int | None) -> None:
        self.published = published
        self.plan_year = plan_year

    def base_year(self) -> int | None:
        if self.published:
            return self.published.year
        return self.plan_year - 1 if self.plan_year else None

    def resolve(self, mention: DateMention, context_year: int | None = None, not_before: date | None = None,
                deadline_like: bool = False) -> date | None:
        if mention.year:
            return mention.resolve(mention.year)
        if mention.relative is not None:
            base = context_year or self.base_year()
            return mention.resolve(base + mention.relative) if base else None
        if context_year:
            d = mention.resolve(context_year)
            if d and not_before and d < not_before:
                d = mention.resolve(context_year + 1)
            return d
        if not_before:
            d = mention.resolve(not_before.year)
            if d and d < not_before:
                d = mention.resolve(not_before.year + 1)
            return d
        if self.published:
            d = mention.resolve(self.published.year)
            # A deadline stated before its date has passed: the next occurrence after publication.
            if d and deadline_like and d < self.published:
                d = mention.resolve(self.published.year + 1)
            return d
        if self.plan_year:
            # Payment periods run from autumn of the year before the plan year into the plan year.
            return mention.resolve(self.plan_year - 1 if mention.month >= 7 else self.plan_year)
        return None
