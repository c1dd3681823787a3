"""Secondary amounts (reimbursement_ratio, annual_cap, deductible) are those of inpatient care: an outpatient
(门诊) ratio, cap or deductible is another figure and never read as one of them."""
from __future__ import annotations

from extractors import extract

TOPIC = "城乡居民医保参保缴费工作要点。\n"
SECONDARY = ("reimbursement_ratio", "annual_cap", "deductible")


def secondary(text: str) -> list[tuple]:
    return sorted((f.kind, tuple(sorted(f.value.items()))) for f in extract(TOPIC + text).facts
                  if f.kind in SECONDARY)


def test_an_outpatient_cap_is_not_the_annual_cap():
    assert secondary("普通门诊统筹年度最高支付限额为每人450元。") == []


def test_outpatient_figures_beside_inpatient_ones_leave_only_the_inpatient_ones():
    assert secondary("门诊报销比例为55%，起付标准为每次20元；住院报销比例为75%，起付标准为650元。") == [
        ("deductible", (("amount", 650),)), ("reimbursement_ratio", (("max", 75), ("min", 75)))]


def test_an_inpatient_cap_is_read():
    assert secondary("参保居民住院年度最高支付限额为16万元。") == [("annual_cap", (("amount", 160000),))]
