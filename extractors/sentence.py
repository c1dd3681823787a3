"""What every rule reads: one sentence with its document context, and the vocabulary rules share."""
from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from functools import lru_cache
from datetime import date

from extractors.dates import YearResolver
from extractors.numbers import NUMBER, halfwidth

# -- shared vocabulary ----------------------------------------------------------------
# (patterns used inside the hot per-sentence rules are compiled once here)
_TOP_MARK = re.compile(r"[一二三四五六七八九十]+、")
_SINGLE_GROUP = re.compile(r"^\s*(?:答[:：])?(?P<name>[^，,。；;、]{2,30}?)(?:也|都|均)?(?:可以|可)(?:参保|参加(?:城乡)?居民医保)")
_JOIN_INCLUDES = re.compile(r"(?:覆盖|参加|参保)[^。]{0,40}?(?=包括)")
_PAY_WORD = re.compile(r"缴|交费|交纳|参保")
_INTRO_END = re.compile(r"[:：？?]\s*$|如下|以下|下列|包括|参保对象|参保范围|缴费渠道|缴费方式")
_CHANNEL_HEAD = re.compile(r"(?:线上|线下)(?:渠道|方式)[:：]")
_ANSWER = re.compile(r"^\s*(?:答|回答)[:：]")
_CHANNEL_SUFFIX = re.compile(r"(?:缴费|渠道|方式|平台)$")
# a statistic: 截至10月31日，全市已有126万人完成缴费 (a count of people or households) dates no deadline
# (the count opens with 人 or 户, looking behind for its digits: a pattern whose every branch opens with a character
# set lets sre scan for those characters instead of trying every position)
_STATISTIC = re.compile(r"统计|参保人数|缴费人数|参保率|覆盖|[人户](?:(?<=\d[人户])|(?<=\d万[人户]))(?![均民])")
_CLAUSE_REST = re.compile(r"[^，,；;。]{0,12}")

# Words that put a sentence outside resident medical insurance contributions.
OTHER_PROGRAMME = re.compile(
    r"大病保险|职工(?:基本)?医(?:疗)?保|职工医疗|公共卫生|养老|低保标准|每人每月|每月|长期护理|补充医疗|个人账户|"
    r"救助标准|生育保险|失业|工伤|公积金|商业保险|惠民保|城市定制|照护|护理保险")
# Programme names: a number belongs to the programme named last before it (per clause, never per sentence:
# "退休人员基本养老金将适当提高，城乡居民医保人均财政补助标准再增加30元" states a resident insurance fact).
OTHER_PROGRAMME_NAME = re.compile(
    r"大病保险|职工(?:基本)?医(?:疗)?保|职工医疗|公共卫生|养老|低保|长期护理|长护险|补充医疗|个人账户|救助|生育保险|失业|"
    r"工伤|公积金|商业保险|惠民保|城市定制|照护|护理保险|学前教育|育儿补贴|教育支出|意外(?:伤害)?保险|门诊共济")
RESIDENT_PROGRAMME = re.compile(r"居民医保|居民(?:基本)?医疗保险|城乡居民(?:基本)?医|城乡医保|新农合|新型农村合作医疗|"
                                r"居民基本医保|少儿(?:及大学生)?医保|大学生医保|少儿医疗保险|成乡医保|居民参保")
_INCLUDED = re.compile(r"(?:含|包括|包含)\s*$")  # 400元（含大病保险）: a part of the resident premium, not another one
CLAUSE_END = re.compile(r"[，,；;：:。！？!?\n]")


# What the per-number helpers below read of a sentence, worked out once per sentence: rules ask about one
# sentence many times before the next (a small cache of the last few sentences is enough, and never
# outlives the document by much).
@lru_cache(maxsize=16)
def _clause_ends(work: str) -> tuple[int, ...]:
    return tuple(m.start() for m in CLAUSE_END.finditer(work))


def clause_bounds(work: str, pos: int) -> tuple[int, int]:
    """(start, end) of the clause of `work` holding `pos` (clauses end at ，；：。 and line breaks)."""
    ends = _clause_ends(work)
    i = bisect_left(ends, pos)
    return (ends[i - 1] + 1 if i else 0), (ends[i] if i < len(ends) else len(work))


@lru_cache(maxsize=16)
def _programmes(work: str) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """(starts of other programmes' names not after 含/包括, starts and ends of resident insurance's names)."""
    others = tuple(m.start() for m in OTHER_PROGRAMME_NAME.finditer(work)
                   if not _INCLUDED.search(work, 0, m.start()))
    resident = [m.span() for m in RESIDENT_PROGRAMME.finditer(work)]
    return others, tuple(a for a, _ in resident), tuple(b for _, b in resident)


def _last_resident(work: str, pos: int) -> int:
    """Start of the last resident-insurance name found in work[:pos] (-1: none)."""
    _, starts, ends = _programmes(work)
    i = bisect_right(ends, pos)  # the names ending by `pos`: the scan of work[:pos] finds the same ones…
    if i < len(starts) and starts[i] < pos:  # …unless the next one runs across `pos`: scan as before
        return max((m.start() for m in RESIDENT_PROGRAMME.finditer(work, 0, pos)), default=-1)
    return starts[i - 1] if i else -1


def other_programme_at(work: str, pos: int) -> bool:
    """Whether the number at `pos` belongs to another programme than resident medical insurance.

    The programme named last before it in the sentence decides; one named anywhere in its own clause, with
    resident insurance not named there, decides too ("每人每年60元的大病保险").
    """
    others = _programmes(work)[0]
    if not others:  # (most sentences name no other programme: nothing below can hold then)
        return False
    i = bisect_left(others, pos)
    last_other = others[i - 1] if i else -1
    if last_other > _last_resident(work, pos):
        return True
    start, end = clause_bounds(work, pos)
    j = bisect_left(others, start)
    return j < len(others) and others[j] < end and RESIDENT_PROGRAMME.search(work, start, end) is None


FUNDS_FLOW = re.compile(r"拨付|资金到位|财政专户|上解|清算|预拨|下达")
PLAN_YEAR = re.compile(r"((?:19|20)\d\d)\s*年(?:度)?(?!\s*\d{1,2}\s*月)(?!\s*[底末])")
AMOUNT = re.compile(rf"(?P<num>{NUMBER})\s*元")
PERCENT = re.compile(rf"(?P<num>{NUMBER})\s*[%％]")


@dataclass(slots=True)
class Context:
    """What a rule needs to know about the document."""

    published: date | None
    plan_year: int | None
    resolver: YearResolver


class Sentence:
    """One sentence as the rules read it: its text, offset in the document text, the document context, the
    sentences just before it (nearest last) and its text with half-width digits (same length, so spans are
    unchanged). `read_prev` records whether a rule asked for `prev`: a rule that did not read it found what it
    found in the sentence's own text."""

    __slots__ = ("text", "start", "ctx", "_prev", "work", "read_prev")

    def __init__(self, text: str, start: int, ctx: Context, prev: tuple[str, ...] = (), work: str = "") -> None:
        self.text = text
        self.start = start
        self.ctx = ctx
        self._prev = prev
        self.work = work or halfwidth(text)
        self.read_prev = False

    @property
    def prev(self) -> tuple[str, ...]:
        """The sentences just before this one, nearest last (reading them sets `read_prev`)."""
        self.read_prev = True
        return self._prev


Found = tuple[str, dict, int | None, int]  # kind, value, plan year, offset in sentence


# 较2022年度, 在2020年度基础上; 暂按2025年标准执行, 参照2025年度标准: a year compared with, or whose standard is followed
COMPARISON_YEAR_BEFORE = re.compile(r"(?:较|比|由|从|在|同|按|照|沿用)\s*$")
COMPARISON_YEAR_AFTER = re.compile(r"^\s*(?:基础上|的\s*\d|标准的|水平)")


def plan_year_at(sentence: Sentence, pos: int) -> int | None:
    """The plan year stated closest before `pos` in the sentence (2025年度…), else the document's.

    Years of comparison (较2022年度的320元, 在2020年度基础上) are not plan years.
    """
    work = sentence.work
    stated, first = _plan_years(work)
    i = bisect_right(stated, (pos, _LAST))
    best = stated[i - 1][1] if i else None
    if best is None and first is not None:
        best = first[1] if first[0] > pos and not AMOUNT.search(work[pos:first[0]]) else None
    return best or sentence.ctx.plan_year


_CITED_TITLE = re.compile(r"《[^《》]{0,80}》")
_LAST = 10_000  # above any year: (pos, _LAST) sorts after every (pos, year)


@lru_cache(maxsize=16)
def _plan_years(work: str) -> tuple[tuple[tuple[int, int], ...], tuple[int, int] | None]:
    """((start, year) of each plan year stated in `work`, comparisons left out; (start, year) of the first year
    written, comparison or not, or None)."""
    stated, first = [], None
    cited = [m.span() for m in _CITED_TITLE.finditer(work)] if "《" in work else ()
    for m in PLAN_YEAR.finditer(work):
        if first is None:
            first = (m.start(), int(m.group(1)))
        if any(a < m.start() < b for a, b in cited):  # 根据《关于做好2024年…的通知》，本年度…: a cited title's year
            continue
        if COMPARISON_YEAR_BEFORE.search(work[max(0, m.start() - 2):m.start()]) or \
                COMPARISON_YEAR_AFTER.match(work[m.end():]):
            continue
        stated.append((m.start(), int(m.group(1))))
    return tuple(stated), first
