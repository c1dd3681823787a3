"""Secondary amounts of resident insurance: reimbursement ratios (报销比例), annual caps (封顶线), deductibles (起付线)."""
from __future__ import annotations

import re
from typing import Iterator

from extractors.numbers import NUMBER, parse_int, parse_number
from extractors.sentence import OTHER_PROGRAMME, Found, Sentence, clause_bounds, plan_year_at

# patterns of the rules below, compiled once
_NOT_RESIDENT = re.compile(r"职工|退休|救助|参保人数|参保率")
_RESIDENT_BENEFIT = re.compile(r"住院|门诊|基本医保|居民医保|统筹|医保基金|医疗保险")

# -- ratios, caps, deductibles ---------------------------------------------------------------
RATIO_KEY = re.compile(r"报销比例|支付比例|报销|支付")
RATIO = re.compile(rf"(?P<a>{NUMBER})\s*[%％]?\s*(?:-|—|~|～|至|到)\s*(?P<b>{NUMBER})\s*[%％]|(?P<c>{NUMBER})\s*[%％]")
CAP = re.compile(rf"(?:封顶线|最高支付限额|年度最高支付|最高限额)[^0-9一二三四五六七八九十]{{0,8}}(?P<n>{NUMBER})\s*(?P<u>万元|元)")
DEDUCTIBLE = re.compile(rf"(?:起付线|起付标准)[^0-9一二三四五六七八九十]{{0,8}}(?P<n>{NUMBER})\s*元")


def _outpatient(work: str, pos: int) -> bool:
    """Whether the clause at `pos` (or the clauses of its sentence before it, up to one naming 住院) is about
    outpatient care (门诊): its ratios, caps and deductibles are not the inpatient ones these kinds hold."""
    if "门诊" not in work:
        return False
    start, end = clause_bounds(work, pos)
    clause = work[start:end]
    if "住院" in clause:
        return False
    if "门诊" in clause:
        return True
    inpatient, outpatient = work.rfind("住院", 0, start), work.rfind("门诊", 0, start)
    return outpatient > inpatient  # 门诊报销比例为55%，起付标准为每次20元: the clause continues the earlier one


def ratios(s: Sentence) -> Iterator[Found]:
    work = s.work
    # Secondary kinds: only for resident insurance itself, never employees', retirees' or medical assistance's.
    if OTHER_PROGRAMME.search(work) or "个百分点" in work or _NOT_RESIDENT.search(work):
        return
    if RATIO_KEY.search(work) and ("医保" in work or "住院" in work or "门诊" in work or "统筹" in work):
        for m in RATIO.finditer(work):
            if not RATIO_KEY.search(work[:m.start()]) or _outpatient(work, m.start()):
                continue
            if m.group("c"):
                v = parse_int(m.group("c"))
                value = {"min": v, "max": v}
            else:
                value = {"min": parse_int(m.group("a")), "max": parse_int(m.group("b"))}
            if 0 < value["min"] <= value["max"] <= 100:
                yield "reimbursement_ratio", value, plan_year_at(s, m.start()), m.start()
    if not _RESIDENT_BENEFIT.search(work):
        return
    for m in CAP.finditer(work):
        if _outpatient(work, m.start()):
            continue
        amount = parse_number(m.group("n")) * (10_000 if m.group("u") == "万元" else 1)
        yield "annual_cap", {"amount": int(amount)}, plan_year_at(s, m.start()), m.start()
    for m in DEDUCTIBLE.finditer(work):
        if _outpatient(work, m.start()):
            continue
        yield "deductible", {"amount": parse_int(m.group("n"))}, plan_year_at(s, m.start()), m.start()
