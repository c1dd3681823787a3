"""Amount rules: the personal contribution (个人缴费) and the fiscal subsidy (财政补助) per person and year."""
from __future__ import annotations

import re
from typing import Iterator

from extractors.numbers import NUMBER, parse_int
from extractors.sentence import AMOUNT, OTHER_PROGRAMME, Found, Sentence, plan_year_at

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
