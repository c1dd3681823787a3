"""Rules that turn one sentence of a 居民医保 page into facts.

Each rule reads a `Sentence` (its text, span and the document context) and
yields (kind, value, plan_year, offset) tuples; `document.extract` adds region
and evidence. Rules are small regex grammars, written to be read.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Iterator

from extractors.dates import DateMention, YearResolver, find_dates, find_ranges
from extractors.numbers import NUMBER, halfwidth, parse_int, parse_number

# -- shared vocabulary ----------------------------------------------------------------
# (patterns used inside the hot per-sentence rules are compiled once here)
_TOP_MARK = re.compile(r"[一二三四五六七八九十]+、")
_SINGLE_GROUP = re.compile(r"^\s*(?:答[:：])?(?P<name>[^，。；、]{2,30}?)(?:也|都|均)?(?:可以|可)(?:参保|参加(?:城乡)?居民医保)")
_JOIN_INCLUDES = re.compile(r"(?:覆盖|参加|参保)[^。]{0,40}?(?=包括)")
_PAY_WORD = re.compile(r"缴|交费|交纳|参保")
_INTRO_END = re.compile(r"[:：？?]\s*$|如下|以下|下列|包括|参保对象|参保范围|缴费渠道|缴费方式")
_CHANNEL_HEAD = re.compile(r"(?:线上|线下)(?:渠道|方式)[:：]")
_ANSWER = re.compile(r"^\s*(?:答|回答)[:：]")
_CHANNEL_SUFFIX = re.compile(r"(?:缴费|渠道|方式|平台)$")
_STATISTIC = re.compile(r"统计|参保人数|参保率|覆盖")
_CLAUSE_REST = re.compile(r"[^，,；;。]{0,12}")

# Words that put a sentence outside resident medical insurance contributions.
OTHER_PROGRAMME = re.compile(
    r"大病保险|职工(?:基本)?医(?:疗)?保|职工医疗|公共卫生|养老|低保标准|每人每月|每月|长期护理|补充医疗|个人账户|"
    r"救助标准|生育保险|失业|工伤|公积金|商业保险|惠民保|城市定制|照护|护理保险")
FUNDS_FLOW = re.compile(r"拨付|资金到位|财政专户|上解|清算|预拨|下达")
PLAN_YEAR = re.compile(r"((?:19|20)\d\d)\s*年(?:度)?(?!\s*\d{1,2}\s*月)(?!\s*[底末])")
AMOUNT = re.compile(rf"(?P<num>{NUMBER})\s*元")
PERCENT = re.compile(rf"(?P<num>{NUMBER})\s*[%％]")


@dataclass
class Context:
    """What a rule needs to know about the document."""

    published: date | None
    plan_year: int | None
    resolver: YearResolver


@dataclass
class Sentence:
    text: str  # original characters
    start: int  # offset in the document text
    ctx: Context
    prev: tuple[str, ...] = ()  # the sentences just before this one, nearest last
    work: str = ""  # the text with half-width digits (same length, so spans are unchanged)

    def __post_init__(self) -> None:
        if not self.work:
            self.work = halfwidth(self.text)


Found = tuple[str, dict, int | None, int]  # kind, value, plan year, offset in sentence


COMPARISON_YEAR_BEFORE = re.compile(r"(?:较|比|由|从|在|同)\s*$")
COMPARISON_YEAR_AFTER = re.compile(r"^\s*(?:基础上|的\s*\d|标准的|水平)")


def plan_year_at(sentence: Sentence, pos: int) -> int | None:
    """The plan year stated closest before `pos` in the sentence (2025年度…), else the document's.

    Years of comparison (较2022年度的320元, 在2020年度基础上) are not plan years.
    """
    best = None
    work = sentence.work
    for m in PLAN_YEAR.finditer(work):
        if COMPARISON_YEAR_BEFORE.search(work[max(0, m.start() - 2):m.start()]) or \
                COMPARISON_YEAR_AFTER.match(work[m.end():]):
            continue
        if m.start() <= pos:
            best = int(m.group(1))
    if best is None:
        m = PLAN_YEAR.search(sentence.work)
        if m and m.start() < len(sentence.work):
            best = int(m.group(1)) if m.start() > pos and not AMOUNT.search(sentence.work[pos:m.start()]) else None
    return best or sentence.ctx.plan_year


# -- amounts: personal contribution and fiscal subsidy -------------------------------
PERSONAL_KEY = re.compile(r"个人(?:缴费|缴纳|筹资|负担)?(?:标准)?|(?<!筹资)缴费标准|居民缴费")
SUBSIDY_KEY = re.compile(r"(?:各级)?(?:财政|政府)(?:人均)?(?:补助|补贴)(?:标准)?|人均财政补助")
TOTAL_KEY = re.compile(r"筹资(?:总额|标准|水平)")
_PER_HEAD = r"\s*(?:为|达到|达)?\s*(?:每人每年|每人|人均|每年)?\s*$"
AT_LEAST = re.compile(r"(?:不低于|不少于|至少|最低|以上)" + _PER_HEAD)
AT_MOST = re.compile(r"(?:最高|不超过|不高于|最多|以内)" + _PER_HEAD)
APPROX = re.compile(r"(?:约|大约|左右|近|预计)" + _PER_HEAD)
CHANGE_BEFORE = re.compile(r"(?:增加|新增|增长|上调|提高|提升|减少|降低|下调|下降|多交|多缴|少交|少缴)(?:了)?\s*$")
DECREASE = re.compile(r"减少|降低|下调|下降|少交|少缴")
FROM_TO = re.compile(rf"(?:从|由)\s*(?:(?:19|20)\d\d\s*年度?的|上年的|去年的|上一年度的)?\s*(?:每人每年)?\s*(?P<a>{NUMBER})\s*元"
                     rf"\s*(?:/人/年)?\s*(?:提高|增加|上调|调整|提升|降低|下调|减少)(?:到|至|为)"
                     rf"\s*(?:每人每年)?\s*(?:不低于|不少于)?\s*(?P<b>{NUMBER})\s*元")
COMPARED_TO = re.compile(rf"(?:较|比)\s*(?:(?:19|20)\d\d\s*年度?的|上年的|去年的|上一年度的)\s*(?P<a>{NUMBER})\s*元")
UNCHANGED = re.compile(r"与上(?:一)?年(?:度)?(?:保持)?(?:一致|相同|持平)|保持不变|维持[^，。]{0,16}不变|不作调整|标准不变")
RESPECTIVELY = re.compile(r"分别(?:为|是|不低于|不少于|达到|提高到|提高至)?")


def _qualifier(before: str, after: str) -> str:
    if AT_LEAST.search(before) or after.startswith("以上"):
        return "at_least"
    if AT_MOST.search(before) or after.startswith("以内"):
        return "at_most"
    if APPROX.search(before) or after.startswith("左右"):
        return "approx"
    return "exact"


CHANGE_STATED = re.compile(rf"(?:增加|新增|增长|上调|提高|减少|降低|下调)(?:了)?\s*(?P<num>{NUMBER})\s*元(?!\s*/)")
PER_HEAD_AMOUNT = re.compile(rf"(?:每人每年|每人|人均)\s*(?P<num>{NUMBER})\s*元|(?P<num2>{NUMBER})\s*元\s*/\s*人\s*/\s*年")


def _listed_amounts(s: Sentence) -> Iterator[Found]:
    """"成年居民：每人每年680元" lines under a heading about the personal contribution."""
    work = s.work
    if len(work.strip()) > 40 or OTHER_PROGRAMME.search(work):
        return
    m = PER_HEAD_AMOUNT.search(work)
    if not m:
        return
    for previous in reversed(s.prev[-3:]):
        if PERSONAL_KEY.search(previous) and not SUBSIDY_KEY.search(previous) and not OTHER_PROGRAMME.search(previous):
            num = m.group("num") or m.group("num2")
            pos = m.start("num") if m.group("num") else m.start("num2")
            before = work[max(0, pos - 8):pos]
            change = CHANGE_STATED.search(work)
            delta = None
            if change:
                delta = parse_int(change.group("num")) * (-1 if DECREASE.search(change.group()) else 1)
            elif UNCHANGED.search(work):
                delta = 0
            yield "personal_contribution", {"amount": parse_int(num), "qualifier": _qualifier(before, ""),
                                            "change": delta}, plan_year_at(s, pos), pos
            return
        if len(previous.strip()) > 40:
            return


def amounts(s: Sentence) -> Iterator[Found]:
    work = s.work
    if OTHER_PROGRAMME.search(work) or "资助" in work:
        return
    if not (PERSONAL_KEY.search(work) or SUBSIDY_KEY.search(work)):
        yield from _listed_amounts(s)
        return
    keys = sorted([(m.start(), m.end(), "personal_contribution") for m in PERSONAL_KEY.finditer(work)]
                  + [(m.start(), m.end(), "fiscal_subsidy") for m in SUBSIDY_KEY.finditer(work)]
                  + [(m.start(), m.end(), None) for m in TOTAL_KEY.finditer(work)])
    # 从450元提高到610元: the first amount is last year's value.
    previous: dict[int, int] = {}
    skip: set[int] = set()
    for m in FROM_TO.finditer(work):
        previous[m.start("b")] = parse_int(m.group("a"))
        skip.add(m.start("a"))
    for m in COMPARED_TO.finditer(work):  # 350元，较2022年度的320元提高了30元: 320 is last year's
        skip.add(m.start("a"))
    standards: list[list] = []  # [kind, amount, qualifier, change, pos]
    changes: list[tuple[int, int]] = []  # (pos, signed amount)
    for m in AMOUNT.finditer(work):
        pos = m.start("num")
        if pos in skip:
            continue
        before, after = work[max(0, pos - 8):pos], work[m.end():m.end() + 6]
        if after.startswith(("/月", "每月", "/人/月")):
            continue
        try:
            value = parse_int(m.group("num"))
        except ValueError:
            continue
        if CHANGE_BEFORE.search(before) and not re.search(r"(?:到|至|为)\s*$", before):
            changes.append((pos, -value if DECREASE.search(before) else value))
            continue
        standards.append([None, value, _qualifier(before, after), previous.get(pos), pos])
    if not standards:
        return
    # Which keyword does each amount belong to?
    resp = RESPECTIVELY.search(work)
    if resp and len(standards) >= 2:
        named = [k for k in keys if k[1] <= resp.start() and k[2]]
        # keep the keyword order as written, one per amount ("财政补助和个人缴费…分别…670元和400元")
        order = []
        for k in named:
            if k[2] not in order:
                order.append(k[2])
        after_resp = [st for st in standards if st[4] >= resp.start()]
        for st, kind in zip(after_resp, order):
            st[0] = kind
        resp_qual = _qualifier(work[:resp.end()], "")
        for st in after_resp:
            if st[2] == "exact" and resp_qual != "exact":
                st[2] = resp_qual
    for st in standards:
        if st[0] is None:
            preceding = [k for k in keys if k[1] <= st[4]]
            if preceding:
                st[0] = preceding[-1][2]
    for pos, change in changes:
        # A change belongs to the nearest standard of the sentence (before or after it).
        target = min((st for st in standards if st[0]), key=lambda st: abs(st[4] - pos), default=None)
        if target is not None and target[3] is None:
            target[3] = change
    if UNCHANGED.search(work):
        for st in standards:
            if st[3] is None:
                st[3] = 0
    for kind, value, qualifier, change, pos in standards:
        if kind is None or value < 10:
            continue
        if change is not None and pos in previous:
            change = value - previous[pos]
        yield kind, {"amount": value, "qualifier": qualifier, "change": change}, plan_year_at(s, pos), pos


# -- dates: payment window, deadline, coverage period, monthly window ----------------
COVERAGE_KEY = re.compile(r"待遇享受期|享受(?:居民医保|医保|相应的|当年|医疗保险)?待遇|待遇(?:享受)?(?:期|时间)|保障期|享受期")
PAYMENT_KEY = re.compile(r"缴费|征缴|缴纳|收缴|补缴|缴交|交费|参保登记|参保缴费|集中参保|缴费期")
DEADLINE_BEFORE = re.compile(r"(?:截止|截至|延长至|延至|顺延至|延期至|推迟至|最后期限)[^，。；]{0,8}$")
DEADLINE_AFTER = re.compile(r"^\s*(?:24\s*时|二十四时)?\s*(?:前|之前|以前|为止|截止)")
SUPERSEDED = re.compile(r"(?:由|从|原定的?|原来的?|原)\s*$")
START_PHRASE = re.compile(r"(?:于|从|自)\s*$")
START_AFTER = re.compile(r"^\s*(?:起|开始|正式开始|启动)")
MONTHLY = re.compile(r"每月\s*(\d{1,2})\s*[日号]?\s*(?:至|到|-|—|~|～)\s*(\d{1,2})\s*[日号]")
RECURRING = re.compile(r"每年(?:的)?\s*$")


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
    if FUNDS_FLOW.search(work) and not PAYMENT_KEY.search(work):
        return
    dates = find_dates(work, converted=True)
    ranges = find_ranges(work, dates)
    in_range = set()
    for rg in ranges:
        in_range.update({id(rg.start), id(rg.end)})
        head = work[:rg.span[0]]
        kind = _range_kind(work, rg.span, s.prev)
        if kind is None:
            continue
        plan_year = plan_year_at(s, rg.span[0])
        if rg.start is not None and RECURRING.search(head) and rg.start.year is None and rg.end.year is None:
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
    if PAYMENT_KEY.search(work) and not _STATISTIC.search(work):
        context_year = None
        start_date = None
        for d in dates:
            if d.year:
                context_year = d.year
            if id(d) in in_range:
                continue
            if START_PHRASE.search(work[max(0, d.start - 3):d.start]) and START_AFTER.match(work[d.end:]):
                start_date = s.ctx.resolver.resolve(d, context_year=None if d.year else context_year)
                continue
            if not (DEADLINE_BEFORE.search(work[max(0, d.start - 14):d.start]) or DEADLINE_AFTER.match(work[d.end:])):
                continue
            if SUPERSEDED.search(work[max(0, d.start - 6):d.start]):  # 由原定的2月25日顺延至3月31日
                continue
            clause = _clause_at(work, d.start)
            if COVERAGE_KEY.search(clause) and not PAYMENT_KEY.search(clause):
                continue
            if re.search(r"宣传|动员|部署|报送|上报|统计|总结|报告", clause):  # a deadline for officials, not payers
                continue
            resolved = s.ctx.resolver.resolve(d, context_year=None if d.year else context_year,
                                              not_before=start_date, deadline_like=True)
            if resolved is None:
                continue
            if start_date and start_date <= resolved:
                yield "payment_window", {"start": start_date.isoformat(), "end": resolved.isoformat()}, \
                    plan_year_at(s, d.start), d.start
            yield "payment_deadline", {"date": resolved.isoformat()}, plan_year_at(s, d.start), d.start
    coverage = COVERAGE_SPLIT.search(work)
    starts, ends = (find_dates(coverage.group("a")), find_dates(coverage.group("b"))) if coverage else ([], [])
    if starts and ends:
        first = s.ctx.resolver.resolve(starts[0])
        last = s.ctx.resolver.resolve(ends[0], context_year=first.year if first else None, not_before=first)
        if first and last and first <= last:
            yield "coverage_period", {"start": first.isoformat(), "end": last.isoformat()}, \
                plan_year_at(s, coverage.start()), coverage.start()
    for m in MONTHLY.finditer(work):
        if PAYMENT_KEY.search(work):
            a, b = int(m.group(1)), int(m.group(2))
            if 1 <= a <= b <= 31:
                yield "monthly_window", {"start_day": a, "end_day": b}, plan_year_at(s, m.start()), m.start()


COVERAGE_SPLIT = re.compile(r"(?:自|从)(?P<a>[^，。；]{4,16}?)起享受[^，。；]{0,10}待遇[^。；]{0,12}?待遇(?:享受)?期(?:至|到)"
                            r"(?P<b>[^，。；]{4,16}?日)")


def _clause_at(work: str, pos: int) -> str:
    start = max(work.rfind(c, 0, pos) for c in "，,；;：:") + 1
    ends = [i for i in (work.find(c, pos) for c in "，,；;。") if i != -1]
    return work[start:min(ends) if ends else len(work)]


def _range_kind(work: str, span: tuple[int, int], prev: tuple[str, ...]) -> str | None:
    """payment_window or coverage_period, judged by the range's own clause, then the sentence, then the heading."""
    clause = _clause_at(work, span[0])
    after = _CLAUSE_REST.match(work[span[1]:]).group()
    if COVERAGE_KEY.search(clause) or (re.search(r"享受\s*$", work[:span[0]]) and "待遇" in after):
        return "coverage_period"
    if PAYMENT_KEY.search(clause):
        return "payment_window"
    if FUNDS_FLOW.search(work):
        return None
    if COVERAGE_KEY.search(work) and not PAYMENT_KEY.search(work):
        return "coverage_period"
    if PAYMENT_KEY.search(work):
        return "payment_window"
    heading = prev[-1] if prev else ""
    if len(work.strip()) <= 30 and COVERAGE_KEY.search(heading):
        return "coverage_period"
    if len(work.strip()) <= 30 and PAYMENT_KEY.search(heading):
        return "payment_window"
    return None


def _month_end(month: int) -> int:
    return {2: 28, 4: 30, 6: 30, 9: 30, 11: 30}.get(month, 31)


# -- lists: channels and groups --------------------------------------------------------------
CHANNEL_TRIGGER = re.compile(r"(?:缴费|线上|线下)(?:渠道|方式|途径)(?:有|为|包括|主要有)?[:：]?|(?:可|可以|能|均可)?(?:通过|选择|使用|登录)")
LIST_THEN_PAY = re.compile(r"(?:^|[:：])\s*(?P<list>[^，。；：:]{2,80}?)(?:等(?:方式|渠道)?)?(?:都|均)?(?:可以|可)(?:在线)?(?:缴费|缴纳|办理缴费)")
CHANNEL_WORD = re.compile(
    r"微信|支付宝|APP|App|app|银行|POS|pos|线下|窗口|柜台|终端|小程序|公众号|网上|手机|第三方|税务|代收|代办|"
    r"云闪付|电子税务局|掌上|服务号|服务厅|营业厅|网点|村委|社区|政务服务|一网通办|办税|扫码")
CHANNEL_BAD = re.compile(r"推进|并行|坚持|创新|提供|实现|措施|一站式|一厅|便民|优化|完善|加强|智能化|传统|积极|持续|多种|以下|"
                         r"向|发送|提醒|通知|宣传|告知")
LIST_SPLIT = re.compile(r"、|，|,|/|以及|及|和|或者|或")
LIST_END = re.compile(r"等(?:多种|线上|线下|渠道|方式|途径|多|各类|特殊|群体|人员)?|进行|办理|即可|完成|缴纳|参保|[。；;，,]")
PAYING_AFTER = re.compile(r"缴费|缴纳|交费|交纳|缴|支付")
LIST_BEFORE_KIND = re.compile(r"(?P<list>[^，。；：:,]{2,80}?)等(?:多种|多个|线上|线下|便捷|各类)?(?:缴费)?(?:渠道|方式|途径)")
ITEM_TRIM = re.compile(r"^(?:选择|使用|登录|通过|在|到|可|可以|包括|如|例如|像|前往|以及|及|和|或|其中|各类|是)+|(?:等|等等|进行|即可|的)+$")


def _split_items(segment: str, splitter: re.Pattern = LIST_SPLIT) -> list[tuple[str, int]]:
    items, pos = [], 0
    for part in splitter.split(segment):
        start = segment.find(part, pos)
        pos = start + len(part)
        clean = ITEM_TRIM.sub("", part.strip().strip("“”\"'「」《》【】（）()"))
        clean = clean.replace("“", "").replace("”", "").replace('"', "")
        if clean:
            items.append((clean, start))
    return items


def channels(s: Sentence) -> Iterator[Found]:
    work = s.work
    if OTHER_PROGRAMME.search(work):
        return
    if not _PAY_WORD.search(work) and not _CHANNEL_HEAD.search(work):
        # an answer line under a question about where to pay: "浙里办APP、支付宝、银行柜台。"
        heading = s.prev[-1] if s.prev else ""
        if _is_bare_list(work) and (CHANNEL_INTRO.search(heading) or re.search(r"缴|交费", heading)):
            yield from _channel_items(s, [(work.rstrip("。；;！ "), 0)])
        return
    candidates = []  # (segment, offset in sentence)
    for m in CHANNEL_TRIGGER.finditer(work):
        tail = work[m.end():]
        end = LIST_END.search(tail)
        segment = tail[:end.start()] if end else tail
        base = m.end()
        inner = list(re.finditer(r"通过|选择|使用|登录|借助|(?:可以|可|能)用", segment))
        if inner:  # "缴费方式：居民可以通过A、B" → the list starts after the verb
            base += inner[-1].end()
            segment = segment[inner[-1].end():]
        explicit = "渠道" in m.group() or "方式" in m.group() or "途径" in m.group()
        paying = PAYING_AFTER.search(tail[len(segment):len(segment) + 14])
        trailing = re.search(r"(?:等)?(?:方式|渠道)?(?:进行|办理)?(?:缴费|缴纳|交费|参保缴费)(?:[^、]{0,4})$", segment)
        if trailing and not re.search(r"(?:^|、)(?:线下|线上|现场|上门|窗口)缴费$", segment):
            segment, paying = segment[:trailing.start()], True
        elif trailing:
            paying = True
        if not (explicit or paying):
            continue
        lead = ENUM_MARK.match(segment)
        if lead:
            segment, base = segment[lead.end():], base + lead.end()
        if "、" not in segment and (len(segment) > (20 if explicit else 8) or not CHANNEL_WORD.search(segment)):
            continue
        candidates.append((segment, base))
    for m in LIST_THEN_PAY.finditer(work):
        if "、" in m.group("list"):
            candidates.append((re.sub(r"^(?:答|回答)[:：]?", "", m.group("list")), m.start("list")))
    for m in LIST_BEFORE_KIND.finditer(work):
        if re.search(r"宣传|告知|提醒|通知|解读", work[:m.end()]):
            continue
        if "、" in m.group("list"):
            inner = list(re.finditer(r"通过|选择|使用|登录|完善|利用|支持|包括|推广|推动|开通|(?:可以|可|能)用|借助", m.group("list")))
            cut = inner[-1].end() if inner else 0
            candidates.append((m.group("list")[cut:], m.start("list") + cut))
    yield from _channel_items(s, candidates)


def _channel_items(s: Sentence, candidates: list[tuple[str, int]]) -> Iterator[Found]:
    seen = set()
    for segment, base in candidates:
        items = _split_items(segment)
        # In a list, names without a channel word (豫事办, 天府通办) count when their neighbours are channels.
        listed = sum(1 for name, _ in items if CHANNEL_WORD.search(name)) >= 2
        for name, offset in items:
            name = _CHANNEL_SUFFIX.sub("", name) if len(name) > 4 and not name.endswith("线下缴费") else name
            if 2 <= len(name) <= 20 and (CHANNEL_WORD.search(name) or (listed and len(name) <= 10)) \
                    and not CHANNEL_BAD.search(name) and name not in seen:
                seen.add(name)
                yield "payment_channel", {"name": name}, s.ctx.plan_year, base + offset


def _is_bare_list(work: str) -> bool:
    work = _ANSWER.sub("", work)
    items = [i for i in re.split(r"、", work.strip().rstrip("。；;！ ")) if i]
    return len(items) >= 3 and all(len(i) <= 15 for i in items) and \
        sum(1 for i in items if CHANNEL_WORD.search(i)) >= 2 and not re.search(r"[，,：:]", work)


ELIGIBLE_TRIGGER = re.compile(r"(?:参保|覆盖)(?:对象|范围|人员范围)(?:为|是|包括|主要包括)?[:：]?")
ELIGIBLE_TAIL = re.compile(r"(?:等|等人员)?[，,]?\s*(?:均|都|也)?(?:可以|可|应当|应|须|需)(?:按规定|在.{0,8})?(?:参加|参保)")
GROUP_BAD = re.compile(r"\d|缴费|(?:可以|均可|可|应当|按规定)参加|参加(?:居民|城乡)|规定|标准|待遇|办理(?:参保|登记|手续)|以外|之外|"
                       r"除|应当|可以|按照|参保范围|参保对象|不属于|覆盖|制度|行政区域")


GROUP_SPLIT = re.compile(r"、|，|,|以及")
GROUP_TAIL = re.compile(r"(?:等特殊群体|等困难群体|等困难群众|等群体|等人员|等)$")


def _trim_group(name: str) -> str:
    """A list item without its trailing 等/等特殊群体."""
    return GROUP_TAIL.sub("", name)


def _groups(segment: str) -> list[tuple[str, int]]:
    out = []
    for name, offset in _split_items(segment, GROUP_SPLIT):
        name = re.sub(r"^(?:对|对于|给|为|其中|另外|以及|包括)", "", name)
        name = re.sub(r"(?:这|那)?(?:几|两|三|四|五)?类?(?:特殊|困难)?(?:群体|人群)(?:参加|参保).*$", "", name)
        name = _trim_group(name)
        if 2 <= len(name) <= 40 and not GROUP_BAD.search(name):
            out.append((name, offset))
    return out


PERSON_LIKE = re.compile(r"居民|学生|儿童|人员|人口|对象|群体|老人|农民|职工|家庭|子女|人士|生$|高中|中专|技校|学校|院校|婴|孩")


def eligible_groups(s: Sentence) -> Iterator[Found]:
    work = s.work
    if "资助" in work or "等待期" in work:
        return
    segment, base = None, 0
    m = ELIGIBLE_TRIGGER.search(work) or _JOIN_INCLUDES.search(work)
    if m:
        inc = None if re.search(r"(?:包括|[:：])$", m.group()) else re.search(r"包括|主要有|分为|[:：]", work[m.end():])
        if inc or re.search(r"(?:包括|[:：])$", m.group()):
            base = m.end() + (inc.end() if inc else 0)
            end = re.search(r"等(?:人员|群体)?[，,。；]|[。；]|[，,]\s*(?:均|都|也)?(?:可|可以)", work[base:])
            segment = work[base:base + end.start()] if end else work[base:]
    if segment is None:
        t = ELIGIBLE_TAIL.search(work)
        if t and "居民医保" in work[t.end():t.end() + 20] + work[t.start():t.end() + 20] or (
                t and re.search(r"居民(?:基本)?医(?:疗)?保", work[t.end():])):
            head = work[:t.start()]
            cut = max(head.rfind("，"), head.rfind(","), head.rfind("："), head.rfind(":"))
            base = cut + 1
            segment = head[base:]
            segment = re.sub(r"^(?:包括|凡是|凡|所有|具有.{0,10}的)", "", segment)
    if segment is None:
        single = _SINGLE_GROUP.match(work)
        if single and GROUP_SUFFIX.search(single.group("name")) and not GROUP_BAD.search(single.group("name")):
            yield "eligible_group", {"name": single.group("name")}, s.ctx.plan_year, single.start("name")
        return
    if "、" not in segment:
        return
    for name, offset in _groups(segment):
        if PERSON_LIKE.search(name):
            yield "eligible_group", {"name": name}, s.ctx.plan_year, base + offset


SUBSIDY_MODE = [
    (re.compile(r"全额(?:或|和|、)定额|定额(?:或|和|、)全额"), "full_or_fixed"),
    (re.compile(r"全额"), "full"),
    (re.compile(r"定额|资助\s*\d+\s*元|\d+\s*元(?:给予|的)?(?:定额)?资助|资助标准为"), "fixed"),
    (re.compile(r"部分|按比例|比例|一定|\d+\s*[%％]|差额|适当|减半"), "partial"),
]
SUBSIDY_TRIGGER = re.compile(r"资助|代缴|(?:全额|定额|部分)补助|补助[^，。]{0,8}个人缴费|个人缴费[^，。]{0,12}补助")
GROUP_CUT = re.compile(r"由|按|给予|予以|参加|参保|个人缴费|的个人|实行|享受|均|全额|定额|部分|每人|可|通过|纳入")
GROUP_SUFFIX = re.compile(r"(?:人员|对象|人口|儿童|孤儿|成员|家庭|户|者|群体|学生|老人|居民|农民|人士|残疾人|军人|家属|子女|"
                          r"青少年|新生儿|婴儿|妇女|病人|患者|群众|老年人)$")
CLAUSE = re.compile(r"[^，,；;。：:]+")


def _leading_groups(clause: str) -> list[tuple[str, int]]:
    """Group names at the start of a clause: "对特困人员、孤儿按…给予全额资助" → 特困人员, 孤儿."""
    lead = re.match(r"^\s*(?:[（(][一二三四五六七八九十\d]{1,3}[）)]|\d{1,2}[.、．])?\s*(?:其中|另外|同时|此外)?"
                    r"(?:对于|对|将)?", clause)
    base = lead.end()
    cut = GROUP_CUT.search(clause, base + 2)
    segment = clause[base:cut.start() if cut else len(clause)]
    for splitter in (re.compile(r"、|以及|及|和"), re.compile(r"、")):
        items = [(_trim_group(n), base + o) for n, o in _split_items(segment, splitter)]
        if items and all(GROUP_SUFFIX.search(n) and 2 <= len(n) <= 30 for n, _ in items):
            return items
    return []


def subsidized_groups(s: Sentence) -> Iterator[Found]:
    work = s.work
    if not SUBSIDY_TRIGGER.search(work):
        return
    pending: list[tuple[str, int]] = []
    for m in CLAUSE.finditer(work):
        clause = m.group()
        mode = next((md for rx, md in SUBSIDY_MODE if rx.search(clause)), None) \
            if SUBSIDY_TRIGGER.search(clause) or re.search(r"资助|补助|代缴", clause) else None
        groups = [(n, m.start() + o) for n, o in _leading_groups(clause)]
        if mode is None:
            if groups:
                pending = groups
            continue
        for name, offset in groups or pending:
            yield "subsidized_group", {"name": name, "mode": mode}, s.ctx.plan_year, offset
        pending = []


def waiting_exemptions(s: Sentence) -> Iterator[Found]:
    work = s.work
    if work.rstrip().endswith(("？", "?")):
        return
    m = re.search(r"不设(?:置)?(?:待遇享受)?等待期|免(?:除)?(?:待遇)?等待期|无(?:待遇)?等待期", work)
    if not m:
        return
    head = work[:m.start()]
    parts = re.split(r"[，,：:]", head)
    pos = len(head)
    collected: list[tuple[str, int]] = []
    for part in reversed(parts):
        pos -= len(part)
        stripped = ENUM_MARK.sub("", part.strip(), count=1) if ENUM_MARK.match(part.strip()) else part.strip()
        looks_like_groups = "、" in stripped or stripped.endswith(("的", "群体", "人员", "人口", "患者", "儿", "对象"))
        if not stripped or re.match(r"^(?:需要注意的是|注意|另外|此外|同时|其中|对此)$", stripped):
            if collected:
                break
            pos -= 1
            continue
        if not looks_like_groups:
            break
        stripped = re.sub(r"(?:在规定(?:时间|期限)内|按时|及时)(?:参保|缴费|参加)[^、，]*$", "", stripped)
        if "、" in stripped or re.search(r"[^、]{2,}和[^、]{2,}", stripped):
            for name, offset in _split_items(stripped, re.compile(r"、|以及|和|及")):
                name = _trim_group(re.sub(r"^(?:以及|和|及|对|对于)", "", name))
                if 2 <= len(name) <= 40:
                    collected.append((name, pos + offset))
        else:
            name = re.sub(r"^(?:以及|和|及|对|对于)", "", stripped)
            if 2 <= len(name) <= 40:
                collected.append((name, pos))
        pos -= 1
    for name, offset in sorted(collected, key=lambda x: x[1]):
        yield "waiting_period_exemption", {"name": name}, s.ctx.plan_year, max(offset, 0)


# -- enumerated lines under an introducing sentence ------------------------------------------
ENUM_MARK = re.compile(r"^\s*(?:[（(][一二三四五六七八九十\d]{1,3}[）)]|[一二三四五六七八九十]{1,3}、|\d{1,2}\s*[.、．)）]|"
                       r"[①②③④⑤⑥⑦⑧⑨⑩]|[-•·●▪])\s*")
ELIGIBLE_INTRO = re.compile(r"参保(?:对象|范围|人员)|下列人员|以下人员|哪些人(?:可以|能)?(?:参保|参加)|可以参加.{0,10}居民医保")
CHANNEL_INTRO = re.compile(r"缴费(?:渠道|方式|途径)|以下(?:方式|渠道)|(?:在)?哪里(?:缴|交)|怎么(?:缴|交)|如何(?:缴|交)|"
                           r"哪些(?:渠道|方式)")


def _level(mark: str) -> int:
    mark = mark.strip()
    if _TOP_MARK.match(mark):
        return 1
    if mark.startswith(("（", "(")):
        return 2
    if mark[:1].isdigit():
        return 3
    return 4


def enumerated_items(s: Sentence) -> Iterator[Found]:
    work = s.work.strip()
    mark = ENUM_MARK.match(work)
    if not mark or len(work) > 60:
        return
    level = _level(mark.group())
    intro = None
    for previous in reversed(s.prev):
        prev_mark = ENUM_MARK.match(previous.strip())
        if prev_mark and _level(prev_mark.group()) == level:
            continue  # a sibling item
        if prev_mark and _level(prev_mark.group()) > level:
            return
        intro = previous
        break
    if intro is None or not _INTRO_END.search(intro):
        return
    item = work[mark.end():]
    name = re.split(r"[：:，,。；;（(]", item, maxsplit=1)[0].strip() if not re.match(r"^[^：:]*[（(]", item) else \
        re.split(r"[：:，,。；;]", item, maxsplit=1)[0].strip()
    name = re.sub(r"(?:等)$", "", name).replace("“", "").replace("”", "").replace('"', "")
    if not 2 <= len(name) <= 30:
        return
    offset = s.work.find(name)
    if ELIGIBLE_INTRO.search(intro) and not CHANNEL_INTRO.search(intro) and not GROUP_BAD.search(name) \
            and re.search(r"居民|学生|儿童|人员|人口|对象|群体|老人|农民|职工|家庭|子女|生$", name):
        yield "eligible_group", {"name": name}, s.ctx.plan_year, offset
    elif CHANNEL_INTRO.search(intro) and (CHANNEL_WORD.search(name) or len(name) <= 8) and not CHANNEL_BAD.search(name):
        yield "payment_channel", {"name": name}, s.ctx.plan_year, offset


# -- ratios, caps, deductibles ---------------------------------------------------------------
RATIO_KEY = re.compile(r"报销比例|支付比例|报销|支付")
RATIO = re.compile(rf"(?P<a>{NUMBER})\s*[%％]?\s*(?:-|—|~|～|至|到)\s*(?P<b>{NUMBER})\s*[%％]|(?P<c>{NUMBER})\s*[%％]")
CAP = re.compile(rf"(?:封顶线|最高支付限额|年度最高支付|最高限额)[^0-9一二三四五六七八九十]{{0,8}}(?P<n>{NUMBER})\s*(?P<u>万元|元)")
DEDUCTIBLE = re.compile(rf"(?:起付线|起付标准)[^0-9一二三四五六七八九十]{{0,8}}(?P<n>{NUMBER})\s*元")


def ratios(s: Sentence) -> Iterator[Found]:
    work = s.work
    # Secondary kinds: only for resident insurance itself, never employees', retirees' or medical assistance's.
    if OTHER_PROGRAMME.search(work) or "个百分点" in work or re.search(r"职工|退休|救助|参保人数|参保率", work):
        return
    if RATIO_KEY.search(work) and ("医保" in work or "住院" in work or "门诊" in work or "统筹" in work):
        for m in RATIO.finditer(work):
            if not RATIO_KEY.search(work[:m.start()]):
                continue
            if m.group("c"):
                v = parse_int(m.group("c"))
                value = {"min": v, "max": v}
            else:
                value = {"min": parse_int(m.group("a")), "max": parse_int(m.group("b"))}
            if 0 < value["min"] <= value["max"] <= 100:
                yield "reimbursement_ratio", value, plan_year_at(s, m.start()), m.start()
    if not re.search(r"住院|门诊|基本医保|居民医保|统筹|医保基金|医疗保险", work):
        return
    for m in CAP.finditer(work):
        amount = parse_number(m.group("n")) * (10_000 if m.group("u") == "万元" else 1)
        yield "annual_cap", {"amount": int(amount)}, plan_year_at(s, m.start()), m.start()
    for m in DEDUCTIBLE.finditer(work):
        yield "deductible", {"amount": parse_int(m.group("n"))}, plan_year_at(s, m.start()), m.start()


# Each rule with a cheap test of whether it can possibly fire on a sentence (most sentences state no fact).
_DATE_HINT = re.compile(r"月|年底|年末|\d{4}[-/.]\d")
RULES = (
    (amounts, lambda w: "元" in w),
    (windows, lambda w: _DATE_HINT.search(w) is not None),
    (channels, lambda w: "、" in w or "渠道" in w or "方式" in w),
    (eligible_groups, lambda w: "、" in w or "参保" in w or "参加" in w),
    (subsidized_groups, lambda w: "资助" in w or "代缴" in w or "补助" in w),
    (waiting_exemptions, lambda w: "等待期" in w),
    (enumerated_items, lambda w: ENUM_MARK.match(w) is not None),
    (ratios, lambda w: "%" in w or "％" in w or "封顶" in w or "起付" in w or "最高" in w),
)
