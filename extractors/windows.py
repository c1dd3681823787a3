"""Date rules: payment window (缴费时间), deadline (缴费截止日期), coverage period (待遇享受期), monthly window."""
from __future__ import annotations

import re
from bisect import bisect_left
from datetime import date
from functools import lru_cache
from typing import Iterator

from extractors.dates import DateMention, find_dates, find_ranges
from extractors.sentence import (
    _CLAUSE_REST,
    _STATISTIC,
    FUNDS_FLOW,
    OTHER_PROGRAMME_NAME,
    Found,
    Sentence,
    other_programme_at,
    plan_year_at,
)

# -- dates: payment window, deadline, coverage period, monthly window ----------------
COVERAGE_KEY = re.compile(r"待遇享受期|享受(?:居民医保|医保|相应的|当年|医疗保险)?待遇|待遇(?:享受)?(?:期|时间)|保障期|享受期")
PAYMENT_KEY = re.compile(r"缴费|征缴|缴纳|收缴|补缴|缴交|交费|参保登记|参保缴费|集中参保|缴费期")
DEADLINE_BEFORE = re.compile(r"(?:截止|截至|延长至|延至|顺延至|延期至|推迟至|最后期限)[^，,。；;]{0,8}$")
DEADLINE_AFTER = re.compile(r"^\s*(?:24\s*时|二十四时)?\s*(?:前|之前|以前|为止|截止|结束)")
SUPERSEDED = re.compile(r"(?:由|从|原定的?|原来的?|原)(?:缴费)?(?:截止|截至)?(?:时间|日期)?(?:为|是)?\s*$")
START_PHRASE = re.compile(r"(?:于|从|自)\s*$")
START_AFTER = re.compile(r"^\s*(?:起|开始|正式开始|启动)")
MONTHLY = re.compile(r"每月\s*(\d{1,2})\s*[日号]?\s*(?:至|到|-|—|~|～)\s*(\d{1,2})\s*[日号]")
RECURRING = re.compile(r"每年(?:的)?\s*$")
# Periods when paying is NOT possible, or that pay back: never a payment window or deadline.
SUSPENDED = re.compile(r"暂停|停止(?:受理|办理|缴费|征收|服务|参保|收费)|暂不(?:办理|受理)|不予?受理|"
                       r"系统(?:升级|维护|切换|割接|调试|停机)|停机|退费|退保|无法(?:办理|缴费)")
CONDITIONAL = re.compile(r"如遇|若遇|遇有|如有|如需")
OFFICIALS = re.compile(r"宣传|动员|部署|报送|上报|统计|总结|报告|任务|进度|考核|督导|调度|报(?:省|市|县|区|国家)")
# A period of another activity named in the date's own clause (a 公示期, a campaign, a vaccination drive):
# the sentence may speak of paying elsewhere, the period is still not one for paying.
OTHER_ACTIVITY = re.compile(r"公示|征求意见|听证|活动|评选|培训|接种|体检|宣传|动员|调研|督查|考核")
_ENJOY_BEFORE = re.compile(r"享受\s*$")


@lru_cache(maxsize=16)
def _keys(work: str) -> tuple[bool, bool, bool]:
    """Whether a sentence names a flow of funds, a payment, a coverage period (FUNDS_FLOW, PAYMENT_KEY,
    COVERAGE_KEY), each asked several times per sentence."""
    # (every COVERAGE_KEY match holds one of 待遇, 保障期, 享受期: a regex call costs as much as a dozen `in` tests)
    return FUNDS_FLOW.search(work) is not None, PAYMENT_KEY.search(work) is not None, \
        ("待遇" in work or "保障期" in work or "享受期" in work) and COVERAGE_KEY.search(work) is not None


@lru_cache(maxsize=16)
def _suspended(work: str) -> bool:
    """Whether a sentence speaks of a suspension or refund (not only of what to do if one happens)."""
    return SUSPENDED.search(work) is not None and CONDITIONAL.search(work) is None


def _not_payable(work: str, pos: int) -> bool:
    """A date at `pos` that cannot start or end a payment period: a suspension, a refund, another programme."""
    return _suspended(work) or other_programme_at(work, pos)


def _iso(d: date | None) -> str | None:
    return d.isoformat() if d else None


def _resolve_range(s: Sentence, start: DateMention | None, end: DateMention) -> tuple[date | None, date | None]:
    r = s.ctx.resolver
    if start is None:
        first = s.ctx.published
    else:
        first = r.resolve(start)
    context_year = first.year if first else None
    last = r.resolve(end, context_year=context_year, not_before=first,
                     deadline_like=first is None)
    return first, last


def windows(s: Sentence) -> Iterator[Found]:
    work = s.work
    funds, payment, _coverage = _keys(work)
    if funds and not payment:
        return
    if not payment and not _coverage and len(work.strip()) <= 40 and s.prev and _asks_when_to_pay(s.prev[-1]):
        payment = True  # 问：…什么时候交？ 答：从10月1日开始，到12月31日截止。
    dates = find_dates(work, converted=True)
    ranges = find_ranges(work, dates)
    in_range = set()
    for rg in ranges:
        in_range.update({id(rg.start), id(rg.end)})
        if _YEAR_GLOSS.search(work, 0, rg.span[0]) and work.startswith(("）", ")"), rg.span[1]):
            continue  # 2026年度（2026年1月1日至12月31日）: the span of the year named, not a period of paying
        kind = _range_kind(work, rg.span, s)
        if kind is None or (kind == "payment_window" and (
                _not_payable(work, rg.span[0]) or OTHER_ACTIVITY.search(_clause_at(work, rg.span[0])))):
            continue
        plan_year = plan_year_at(s, rg.span[0])
        if rg.start is not None and rg.start.year is None and rg.end.year is None and \
                RECURRING.search(work, 0, rg.span[0]):
            yield kind, {"start": f"--{rg.start.month:02d}-{rg.start.day or 1:02d}",
                         "end": f"--{rg.end.month:02d}-{rg.end.day or _month_end(rg.end.month):02d}",
                         "recurring": "yearly"}, None, rg.span[0]
            continue
        first, last = _resolve_range(s, rg.start, rg.end)
        if last is None or (first and last < first):
            continue
        yield kind, {"start": _iso(first), "end": _iso(last)}, plan_year, rg.span[0]
        if kind == "payment_window":
            yield "payment_deadline", {"date": _iso(last)}, plan_year, rg.span[0]
    # explicit deadlines: a single date after 截止/截至/延长至 or before 前/为止, in a payment sentence;
    # a start date stated in the same sentence (已于9月1日开始，截止…) makes it a window too.
    in_range.discard(id(None))  # (a 即日起 range's start)
    if payment and len(dates) > len(in_range) and not _STATISTIC.search(work):  # (a date outside the ranges)
        context_year = None
        start_date = None
        # which of the patterns below can match at all: each match holds one of these words (a regex call costs
        # as much as a dozen `in` tests)
        may_start = ("于" in work or "从" in work or "自" in work) and \
            ("起" in work or "开始" in work or "启动" in work)
        may_end_before = "截" in work or "延" in work or "推迟至" in work or "最后期限" in work
        may_end_after = "前" in work or "止" in work or "结束" in work
        may_supersede = "由" in work or "从" in work or "原" in work
        for d in dates:
            if d.year:
                context_year = d.year
            if id(d) in in_range:
                continue
            if may_start and START_PHRASE.search(work, max(0, d.start - 3), d.start) and \
                    START_AFTER.match(work[d.end:]):
                start_date = s.ctx.resolver.resolve(d, context_year=None if d.year else context_year)
                continue
            if not (may_end_before and DEADLINE_BEFORE.search(work, max(0, d.start - 14), d.start) or
                    may_end_after and DEADLINE_AFTER.match(work[d.end:])):
                continue
            if may_supersede and SUPERSEDED.search(work, max(0, d.start - 10), d.start):  # 由原定的2月25日顺延至3月31日, （原截止时间为…）
                continue
            if _ALREADY_PAID.match(work, d.end):  # 11月20日前已缴费的，无需重复缴纳: who paid, not until when
                continue
            if _not_payable(work, d.start):
                continue
            clause = _clause_at(work, d.start)
            if len(clause.strip()) <= d.end - d.start + 3:  # "2025年12月15日前，…": the date leads the next clause
                clause = _clause_at(work, d.start) + _clause_at(work, _LEADING_DATE_REST.match(work, d.end).end())
            # (payment is true here; a clause holds a key only when its sentence does: _keys)
            if _coverage and COVERAGE_KEY.search(clause) and not PAYMENT_KEY.search(clause):
                continue
            if OFFICIALS.search(clause) or OTHER_ACTIVITY.search(clause):  # for officials, or another activity
                continue
            resolved = s.ctx.resolver.resolve(d, context_year=None if d.year else context_year,
                                              not_before=start_date, deadline_like=True)
            if resolved is None:
                continue
            if start_date and start_date <= resolved:
                yield "payment_window", {"start": start_date.isoformat(), "end": resolved.isoformat()}, \
                    plan_year_at(s, d.start), d.start
            yield "payment_deadline", {"date": resolved.isoformat()}, plan_year_at(s, d.start), d.start
    coverage = COVERAGE_SPLIT.search(work) if "起享受" in work else None  # a literal of every match
    starts, ends = (find_dates(coverage.group("a")), find_dates(coverage.group("b"))) if coverage else ([], [])
    if starts and ends:
        first = s.ctx.resolver.resolve(starts[0])
        last = s.ctx.resolver.resolve(ends[0], context_year=first.year if first else None, not_before=first)
        if first and last and first <= last:
            yield "coverage_period", {"start": first.isoformat(), "end": last.isoformat()}, \
                plan_year_at(s, coverage.start()), coverage.start()
    for m in MONTHLY.finditer(work) if payment and "每月" in work else ():
        # 灵活就业人员…职工医保，缴费时间为每月1日至25日 (a 对账期 beside it, 暂停缴费, does not stop the window)
        if payment and not other_programme_at(work, m.start()):
            a, b = int(m.group(1)), int(m.group(2))
            if 1 <= a <= b <= 31:
                yield "monthly_window", {"start_day": a, "end_day": b}, plan_year_at(s, m.start()), m.start()


COVERAGE_SPLIT = re.compile(r"(?:自|从)(?P<a>[^，,。；;]{4,16}?)起享受[^，,。；;]{0,10}待遇[^。；]{0,12}?待遇(?:享受)?期(?:至|到)"
                            r"(?P<b>[^，,。；;]{4,16}?日)")


_LEADING_DATE_REST = re.compile(r"[^，,；;。]*[，,]?")  # to the start of the clause after a date's own
_LABEL = re.compile(r"\s*[^，,；;：:。]{2,12}[：:]")  # a sentence opening with "待遇享受期：", "缴费时间："
_ALREADY_PAID = re.compile(r"\s*(?:24\s*时)?\s*(?:前|之前|以前)\s*(?:已经?|业已)")
_YEAR_GLOSS = re.compile(r"(?:19|20)\d\d\s*年度?\s*[（(]\s*$")
_NAMED_PERIOD = re.compile(r"\s*(?:为|是)\s*([^，,；;。]{1,20}?(?:期|阶段))(?:[，,；;。]|$)")
_CLAUSE_START = re.compile(r"[，,；;：:]")  # a clause starts after one of these…
_CLAUSE_STOP = re.compile(r"[，,；;。]")  # …and ends before one of these


@lru_cache(maxsize=16)
def _clause_marks(work: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    return tuple(m.start() for m in _CLAUSE_START.finditer(work)), tuple(m.start() for m in _CLAUSE_STOP.finditer(work))


def _clause_at(work: str, pos: int) -> str:
    starts, stops = _clause_marks(work)
    i = bisect_left(starts, pos)  # the last start mark before `pos`
    j = bisect_left(stops, pos)  # the first stop mark at or after `pos`
    return work[(starts[i - 1] + 1 if i else 0):(stops[j] if j < len(stops) else len(work))]


def _range_kind(work: str, span: tuple[int, int], s: Sentence) -> str | None:
    """payment_window or coverage_period, judged by the range's own clause, then the sentence, then the heading."""
    clause = _clause_at(work, span[0])
    funds, payment, coverage = _keys(work)  # a clause holds a key only when its sentence does
    label = _LABEL.match(work, 0, span[0])  # 待遇享受期：缴费当年的次年1月1日至12月31日 — the label says what it is
    if label is not None:
        if coverage and COVERAGE_KEY.search(label.group()) and not PAYMENT_KEY.search(label.group()):
            return "coverage_period"
        if payment and PAYMENT_KEY.search(label.group()) and not COVERAGE_KEY.search(label.group()):
            return "payment_window"
    named = _NAMED_PERIOD.match(work, span[1])  # 9月5日至9月25日为参保信息核对期: the name after it says what it is
    if named is not None and not PAYMENT_KEY.search(named.group(1)) and not COVERAGE_KEY.search(named.group(1)):
        return None
    if (coverage and COVERAGE_KEY.search(clause)) or ("享受" in work and _ENJOY_BEFORE.search(work, 0, span[0]) and
                                                      "待遇" in _CLAUSE_REST.match(work, span[1]).group()):
        return "coverage_period"
    if payment and PAYMENT_KEY.search(clause):
        return "payment_window"
    if funds:
        return None
    if coverage and not payment:
        return "coverage_period"
    if payment:
        return "payment_window"
    if len(work.strip()) > 30:
        return None
    prev = s.prev  # (read only here: the heading decides only a short sentence's range)
    heading = prev[-1] if prev else ""
    if COVERAGE_KEY.search(heading):
        return "coverage_period"
    if PAYMENT_KEY.search(heading) or _asks_when_to_pay(heading):
        return "payment_window"
    return None


_WHEN_TO_PAY = re.compile(r"(?:什么时候|何时|哪天|几号|时间|截止)[^？?]{0,10}(?:交|缴)|(?:交|缴)[^？?]{0,10}(?:什么时候|何时|哪天|几号|时间|截止)")
_ASKED = re.compile(r"^\s*(?:问|Q)\s*[:：]|[？?]\s*$")


def _asks_when_to_pay(text: str) -> bool:
    """Whether `text` is a question asking when to pay (问：2026年医保什么时候交？): its answer's dates are payment dates."""
    return _ASKED.search(text) is not None and _WHEN_TO_PAY.search(text) is not None and \
        OTHER_PROGRAMME_NAME.search(text) is None


def _month_end(month: int) -> int:
    return {2: 28, 4: 30, 6: 30, 9: 30, 11: 30}.get(month, 31)
