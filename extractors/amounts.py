"""Amount rules: the personal contribution (个人缴费) and the fiscal subsidy (财政补助) per person and year.

An amount is a standard only when its own subject says so: the key word nearest before it in its clause
(个人缴费…380元, 财政补助…640元), or, when its clause names no subject of its own, the key word of the clause it
continues (…财政补助标准再增加30元，达到每人每年700元). Other subjects with an amount (起付标准, 中央补助, 统筹标准,
一次性四年…) stop that inheritance, and numbers of another programme (养老, 大病保险, 职工医保…) are never read.
"""
from __future__ import annotations

import re
from typing import Iterator

from extractors.fastre import guarded
from extractors.numbers import NUMBER, parse_int
from extractors.sentence import (
    AMOUNT,
    OTHER_PROGRAMME,
    Found,
    Sentence,
    clause_bounds,
    other_programme_at,
    plan_year_at,
)

# patterns of the rules below, compiled once
_TO_BEFORE = re.compile(r"(?:到|至|为)\s*$")

# -- the subjects an amount can belong to --------------------------------------------------------------
# Contribution wording, never a bare 个人 (个人承担/个人支付/个人…支出 are costs, not contributions).
PERSONAL_KEY = guarded(
    r"个人(?:最低|年|每年)?(?:缴费|缴纳|交费|交纳|筹资|出资)(?:的|部分)?(?:标准)?|"
    r"个人(?:每人)?(?:每年)?(?:需要?|应当?|须)(?:缴纳|缴费|交纳|交费|缴|交)|个人(?:每人)?每年(?:缴纳|缴费|交纳|交费|缴|交)|"
    r"(?<!筹资)(?<!单位)(?<!最高)缴费标准|居民(?:个人)?(?:缴费|缴纳)|参保(?:缴)?费(?!用)|医保费(?!用)")
SUBSIDY_KEY = guarded(r"(?:各级|各地)?(?:财政|政府)(?:人均)?(?:补助|补贴)(?:标准)?|人均财政补助|"
                         r"(?:财政|政府)对[^，,。；;、\n]{0,12}?(?:补助|补贴)")
_SUBJECT_WORDS = ("个人", "缴费标准", "居民", "参保", "医保费", "财政", "政府")  # one is in every match of the two
_SUBJECT_WORD = re.compile("|".join(_SUBJECT_WORDS))  # (one search: three times as fast as any() over `in` tests)
# Subjects with an amount that is not a per-person standard: totals, shares of one government level,
# lump sums, costs and benefits, tax deductions, instalments. An amount after one of these (in its clause) belongs to nothing.
OTHER_SUBJECT = guarded(
    r"(?<!个人)筹资(?:总额|标准|水平)|统筹标准|总额|合计|共计|总计|累计|一次性|筹集|"
    r"(?:中央|省级|(?<![全各])省|市级|市县(?:两级)?|县区|区县|县级|(?<![全各])县|区级|地方|自治区|两级|三级)"
    r"(?:财政)?(?:补助|补贴|承担|分担|负担|补)|"
    r"起付|支出|费用|报销|支付|花费|自付|承担|收入|基金|资金|补偿|奖励|限额|封顶|药费|价格|每针|一针|涨幅|增幅|扣除|抵扣|首期|另行|额外")
_PER_HEAD = r"\s*(?:为|达到|达|是)?\s*(?:每人每年|每人|人均|每年)?\s*$"
AT_LEAST = re.compile(r"(?:不低于|不少于|至少|最低|以上)" + _PER_HEAD)
AT_MOST = re.compile(r"(?:最高|不超过|不高于|最多|以内)" + _PER_HEAD)
APPROX = re.compile(r"(?:约|大约|左右|近|预计)" + _PER_HEAD)
CHANGE_BEFORE = re.compile(r"(?:增加|新增|增长|上调|提高|提升|减少|降低|下调|下降|多交|多缴|少交|少缴)(?:了)?\s*$")
DECREASE = re.compile(r"减少|降低|下调|下降|少交|少缴")
# the year a standard is stated for, in a change of standard: 由2024年的380元调整为2025年的400元
_YEAR_OF = r"(?:(?:19|20)\d\d\s*年度?的?|上一?年度?的|去年的|本年度的?|今年的)?"
_RAISED = r"(?:提高|增加|上调|调整|提升|降低|下调|减少|上涨|涨|增长|下降)了?"
FROM_TO = re.compile(rf"(?:从|由)\s*{_YEAR_OF}\s*(?:每人每年)?\s*(?P<a>{NUMBER})\s*元"
                     rf"\s*(?:/人/年)?\s*{_RAISED}(?:到|至|为)了?"
                     rf"\s*{_YEAR_OF}\s*(?:每人每年)?\s*(?:不低于|不少于)?\s*(?P<b>{NUMBER})\s*元")
# 由380元提高…: the first amount of a change is the old standard even when the new one is not read
FROM_ALONE = re.compile(rf"(?:从|由)\s*{_YEAR_OF}\s*(?:每人每年)?\s*(?P<a>{NUMBER})\s*元\s*(?:/人/年)?\s*{_RAISED}")
COMPARED_TO = re.compile(rf"(?:较|比)\s*(?:(?:19|20)\d\d\s*年度?的|上年的|去年的|上一年度的)\s*(?P<a>{NUMBER})\s*元")
# what a group of payers gets or actually pays (脱贫人口…给予补贴，个人实际缴纳200元): never the standard
GROUP_AID = re.compile(r"给予(?:定额|全额|部分)?补贴|代缴|减免|实际(?:缴纳|缴费|负担)")
# （上年为380元）, 去年是380元: last year's standard quoted beside this year's
PREVIOUS_STATED = re.compile(rf"(?:上一?年度?|去年)(?:的)?(?:标准)?(?:为|是)\s*(?:每人每年)?\s*(?P<a>{NUMBER})\s*元")
UNCHANGED = re.compile(r"与(?:上(?:一)?年|(?:19|20)\d\d\s*年)(?:度)?(?:保持)?(?:一致|相同|持平)|保持不变|(?:维持|保持)[^，,。；;]{0,16}不变|不作调整|标准不变")
RESPECTIVELY = re.compile(r"分别")
LIST_JOIN = re.compile(r"\s*(?:和|、|与|及|以及)\s*(?:每人每年)?\s*$")
PER_MONTH = re.compile(r"每月|月人均|每人每月|/月")


def _qualifier(before: str, after: str) -> str:
    # (a regex call costs as much as a dozen `in` tests: each pattern is tried only when a character every match
    # of it holds is there)
    bound = "不" in before or "最" in before or "以" in before or "至" in before  # one is in every AT_LEAST, AT_MOST
    if bound and AT_LEAST.search(before) or after.startswith("以上"):
        return "at_least"
    if bound and AT_MOST.search(before) or after.startswith("以内"):
        return "at_most"
    if ("约" in before or "近" in before or "左" in before or "预" in before) and APPROX.search(before) or \
            after.startswith("左右"):
        return "approx"
    return "exact"


CHANGE_STATED = re.compile(rf"(?:增加|新增|增长|上调|提高|减少|降低|下调)(?:了)?\s*(?P<num>{NUMBER})\s*元(?!\s*/)")
PER_HEAD_AMOUNT = guarded(rf"(?:每人每年|每人|人均)\s*(?P<num>{NUMBER})\s*元|(?P<num2>{NUMBER})\s*元\s*/\s*人\s*/\s*年")


_FUNDER = re.compile(r"财政|政府|补助|补贴|资助")
QUESTION = re.compile(r"^\s*(?:问|Q)[:：]|[？?]\s*$")


def _listed_amounts(s: Sentence) -> Iterator[Found]:
    """Per-head amounts with no subject of their own under a heading or question about the personal contribution:
    "成年居民：每人每年680元" lines under 个人缴费标准, or the answer to 问：个人需要缴纳多少钱？"""
    work = s.work
    if OTHER_PROGRAMME.search(work) or _FUNDER.search(work):  # 省财政按照每人每年150元的标准…给予补助: not paid by residents
        return
    found = list(PER_HEAD_AMOUNT.finditer(work))
    if not found:
        return
    question = next((p for p in reversed(s.prev[-3:]) if QUESTION.search(p)), None)  # the answer may span sentences
    answer = question is not None and PERSONAL_KEY.search(question) is not None
    if not answer:
        if len(work.strip()) > 40:
            return
        for previous in reversed(s.prev[-3:]):
            if PERSONAL_KEY.search(previous) and not SUBSIDY_KEY.search(previous) and \
                    not OTHER_PROGRAMME.search(previous):
                found = found[:1]
                break
            if len(previous.strip()) > 40:
                return
        else:
            return
    change = CHANGE_STATED.search(work)
    delta = None
    if change:
        delta = parse_int(change.group("num")) * (-1 if DECREASE.search(change.group()) else 1)
    elif UNCHANGED.search(work):
        delta = 0
    for m in found:
        num = m.group("num") or m.group("num2")
        pos = m.start("num") if m.group("num") else m.start("num2")
        start, _ = clause_bounds(work, pos)
        if OTHER_SUBJECT.search(work, start, pos) or PER_MONTH.search(work, start, pos) or num[-1] in "万萬亿":
            continue
        before = work[max(0, pos - 8):pos]
        yield "personal_contribution", {"amount": parse_int(num), "qualifier": _qualifier(before, ""),
                                        "change": delta}, plan_year_at(s, pos), pos


def _subjects(work: str) -> list[tuple[int, int, str | None]]:
    """Every subject word of the sentence as (start, end, kind); kind None for OTHER_SUBJECT."""
    others = [(m.start(), m.end(), None) for m in OTHER_SUBJECT.finditer(work)]
    # (each key is looked for only when one of the words all its matches hold is there: _SUBJECT_WORDS)
    keys = [(m.start(), m.end(), "personal_contribution") for m in PERSONAL_KEY.finditer(work)] if (
        "个人" in work or "缴费标准" in work or "居民" in work or "参保" in work or "医保费" in work) else []
    if "财政" in work or "政府" in work:
        keys += [(m.start(), m.end(), "fiscal_subsidy") for m in SUBSIDY_KEY.finditer(work)]
    # 中央财政补贴 is a share although it holds 财政补贴: where the two overlap, the other subject wins
    if others:
        keys = [k for k in keys if not any(a < k[1] and k[0] < b and a <= k[0] for a, b, _ in others)]
    return sorted(keys + others)


def _subject_of(work: str, subjects: list, pos: int) -> str | None:
    """The kind an amount at `pos` is the standard of: see the module docstring."""
    start, _ = clause_bounds(work, pos)
    own = [k for k in subjects if start <= k[0] and k[1] <= pos]
    if own:
        return own[-1][2]
    earlier = [k for k in subjects if k[1] <= start]
    return earlier[-1][2] if earlier else None


def _lists(standards: list[list], changes: list[tuple[int, int, int]], work: str, after: int) -> list[list]:
    """Amounts after `after` grouped into 分别 lists: 670元和400元 is one list; each item is a standard or a change."""
    items = sorted([("standard", st[4], st[5], st) for st in standards if st[4] >= after]
                   + [("change", pos, end, value) for pos, end, value in changes if pos >= after],
                   key=lambda item: item[1])
    groups: list[list] = []
    for item in items:
        if groups and groups[-1][-1][0] == item[0] and LIST_JOIN.fullmatch(work[groups[-1][-1][2]:item[1]]):
            groups[-1].append(item)
        else:
            groups.append([item])
    return groups


def _respectively(work: str, subjects: list, standards: list[list], changes: list[tuple[int, int, int]]) -> set[int]:
    """Align each list after 分别 with the subjects named before it, in order; returns the changes used up."""
    used: set[int] = set()
    resp = RESPECTIVELY.search(work) if "分别" in work else None
    if not resp:
        return used
    order: list[str] = []
    for _, end, kind in subjects:
        if end <= resp.start() and kind and kind not in order:
            order.append(kind)
    if len(order) < 2:
        return used
    std_lists, chg_lists = [], []
    for group in _lists(standards, changes, work, resp.start()):
        if len(group) == len(order):
            (std_lists if group[0][0] == "standard" else chg_lists).append(group)
    for group in std_lists:
        qualifier = next((st[2] for _, _, _, st in group if st[2] != "exact"), "exact")
        for (_, _, _, st), kind in zip(group, order):
            st[0] = kind
            st[2] = qualifier if st[2] == "exact" else st[2]
            st[6] = True
    if std_lists and chg_lists:
        for (_, pos, _, value), (_, _, _, st) in zip(chg_lists[0], std_lists[0]):
            st[3] = value if st[3] is None else st[3]
            used.add(pos)
    for group in chg_lists:
        used.update(item[1] for item in group)
    return used


_WHEN_AMOUNT = re.compile(rf"{NUMBER}\s*元\s*(?:时|的时候)")
_YEAR4 = re.compile(r"(?:19|20)\d\d")
_OVER_YEARS = re.compile(r"[\d一二三四五六七八九十几两]+年(?:间|来)|多年|以来|历年")


def _from_last_year(s: Sentence, m: re.Match) -> bool:
    """Whether a 从A元…到B元 change starts from last year's standard (its difference is then the year's change):
    not 从2015年的120元涨到了今年的400元, nor 十年间从180元涨到400元."""
    work = s.work
    if _OVER_YEARS.search(work, max(0, m.start() - 12), m.start()):
        return False
    old = _YEAR4.search(work, m.start(), m.start("a"))
    if old is None:
        return True
    new = _YEAR4.search(work, m.end("a"), m.start("b"))
    if new is not None:
        return int(new.group()) - int(old.group()) == 1
    this_year = s.ctx.plan_year or (s.ctx.published.year if s.ctx.published else None)
    return this_year is not None and this_year - int(old.group()) <= 1  # unknown: no change is claimed


def amounts(s: Sentence) -> Iterator[Found]:
    work = s.work
    if "资助" in work or ("给予" in work or "代缴" in work or "减免" in work or "实际" in work) and \
            GROUP_AID.search(work) or ("时" in work and _WHEN_AMOUNT.search(work)):
        # (one of those words is in every GROUP_AID match; …标准只有15元时，财政补助不少于40元: the state of a time
        # gone by, or of a supposition)
        return
    # PERSONAL_KEY and SUBSIDY_KEY each need one of these words: without them no subject has a kind
    subjects = _subjects(work) if _SUBJECT_WORD.search(work) else []
    if not any(kind for _, _, kind in subjects):
        yield from _listed_amounts(s)
        return
    # 从450元提高到610元: the first amount is last year's value.
    previous: dict[int, int] = {}
    skip: set[int] = set()
    # (each pattern opens with one of the words tested before it)
    if "从" in work or "由" in work:
        for m in FROM_TO.finditer(work):
            if _from_last_year(s, m):
                previous[m.start("b")] = parse_int(m.group("a"))
            skip.add(m.start("a"))
        for m in FROM_ALONE.finditer(work):
            skip.add(m.start("a"))
    for m in COMPARED_TO.finditer(work) if "较" in work or "比" in work else ():
        skip.add(m.start("a"))  # 350元，较2022年度的320元提高了30元: 320 is last year's
    for m in PREVIOUS_STATED.finditer(work) if "上" in work or "去" in work else ():
        skip.add(m.start("a"))
    standards: list[list] = []  # [kind, amount, qualifier, change, pos, end, aligned]
    changes: list[tuple[int, int, int]] = []  # (pos, end, signed amount)
    last_end = -1
    monthly = "月" in work  # (in every PER_MONTH match)
    for m in AMOUNT.finditer(work):
        pos = m.start("num")
        if pos in skip or m.group("num")[-1] in "万萬亿":  # per-person standards are never stated in 万 or 亿
            continue
        before, after = work[max(0, pos - 8):pos], work[m.end():m.end() + 6]
        clause_start, _ = clause_bounds(work, pos)
        if after.startswith(("/月", "每月", "/人/月")) or monthly and PER_MONTH.search(work, clause_start, pos) or \
                other_programme_at(work, pos):
            continue
        try:
            value = parse_int(m.group("num"))
        except ValueError:
            continue
        # 增加了30元和20元: the second amount of a list of changes is a change too
        listed_change = bool(changes) and changes[-1][1] == last_end and LIST_JOIN.fullmatch(work[last_end:pos])
        last_end = m.end()
        if listed_change or CHANGE_BEFORE.search(before) and not _TO_BEFORE.search(before):
            sign = -1 if DECREASE.search(before) or (listed_change and changes[-1][2] < 0) else 1
            changes.append((pos, m.end(), sign * value))
            continue
        standards.append([None, value, _qualifier(before, after), previous.get(pos), pos, m.end(), False])
    if not standards:
        return
    used = _respectively(work, subjects, standards, changes)
    for st in standards:
        if not st[6]:
            st[0] = _subject_of(work, subjects, st[4])
    for pos, _, change in changes:
        if pos in used:
            continue
        # A change belongs to the nearest standard of the sentence (before or after it).
        target = min((st for st in standards if st[0]), key=lambda st: abs(st[4] - pos), default=None)
        if target is not None and target[3] is None:
            target[3] = change
    if ("与" in work or "不" in work) and UNCHANGED.search(work):  # (one of the two is in every match)
        for st in standards:
            if st[3] is None:
                st[3] = 0
    for kind, value, qualifier, change, pos, _, _ in standards:
        if kind is None or value < 10:
            continue
        if change is not None and pos in previous:
            change = value - previous[pos]
        yield kind, {"amount": value, "qualifier": qualifier, "change": change}, plan_year_at(s, pos), pos
