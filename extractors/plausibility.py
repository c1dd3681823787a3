"""Plausibility of extracted facts: a `confidence` per fact, and a page's standards below the national minimum.

Pure: facts and the national minimum table (``data/national_minimums.tsv``) in, numbers out. The scale
(a float in [0, 1], 2 decimals; see docs/plausibility.md):

* ``PLAUSIBLE`` 0.9 — checked against its plan year and inside the usual range;
* ``DEFAULT`` 0.8 — no rule for this kind, or nothing to check it against (no plan year, a yearly date);
* ``UNUSUAL`` 0.6 — outside the usual range but still seen on real pages (Shanghai's 大学生 rate);
* ``IMPLAUSIBLE`` 0.3 — far outside what the kind can be for its plan year: a misread or another programme.

A fact below ``LOW_CONFIDENCE`` (0.5) is low confidence: the diff never alerts a change built on one as high.
"""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from datetime import date
from functools import cache, lru_cache
from operator import attrgetter
from pathlib import Path
from typing import Iterable, Mapping

from extractors.fastre import guarded
from extractors.model import Document, Fact
from extractors.numbers import halfwidth

DATA_FILE = Path(__file__).parent / "data" / "national_minimums.tsv"

PLAUSIBLE, DEFAULT, UNUSUAL, IMPLAUSIBLE = 0.9, 0.8, 0.6, 0.3
LOW_CONFIDENCE = 0.5

AMOUNT_KINDS = ("personal_contribution", "fiscal_subsidy")
# (usual low, usual high, possible low, possible high) as multiples of the national minimum: the low ends of
# the binding floor (previous year's notice), the high ends of the plan year's own notice. Rich cities ask
# up to ~3x the minimum of adults (天津 高档 1150 in 2024) and far less of students (上海 大学生 160 in 2024);
# their fiscal subsidy reaches several times the minimum (上海, 北京).
BANDS = {
    "personal_contribution": (0.3, 3.0, 0.15, 4.0),
    "fiscal_subsidy": (0.9, 3.0, 0.6, 10.0),
}
WIDEN_PER_YEAR = 0.1  # years outside the table: the nearest year's band, 10 % wider per year of distance
MAX_PERIOD_DAYS = 425  # ~14 months: a longer payment window or coverage period is not one plan year's
UNUSUAL_DAYS = 183  # a date up to half a year outside its plan year's span is unusual, further is implausible
# Rates of special groups may lie below the national minimum (cities with a higher subsidy ask less of them).
SPECIAL_GROUP = guarded(r"学生|儿童|少儿|婴幼儿|幼儿|新生儿|未成年|中小学|大学生|在校生|老年|老人|"
                           r"(?:60|六十|65|70|七十|80|八十)周?岁(?:及|以)上|低保|特困|残疾|重残|困难|优抚|脱贫|监测")
CLAUSE_END = re.compile(r"[，,；;。！？!?\n]")


@dataclass(frozen=True)
class Assessment:
    """A fact's confidence and, when it is not plausible, why (a reason code, see REASONS in docs)."""

    confidence: float
    reason: str | None = None


_DEFAULT, _PLAUSIBLE = Assessment(DEFAULT), Assessment(PLAUSIBLE)  # the common verdicts, built once
_CONFIDENCE = attrgetter("confidence")


class NationalMinimums:
    """The national minimum standards per year (人均财政补助 / 个人缴费, yuan per person and year)."""

    def __init__(self, rows: dict[int, dict[str, int]], sources: dict[int, str]) -> None:
        self.rows, self.sources = rows, sources
        self.first, self.last = min(rows), max(rows)

    @classmethod
    def from_tsv(cls, path: Path) -> "NationalMinimums":
        rows, sources = {}, {}
        with path.open(encoding="utf-8", newline="") as fh:
            for rec in csv.DictReader(fh, delimiter="\t"):
                year = int(rec["year"])
                rows[year] = {"fiscal_subsidy": int(rec["fiscal_subsidy_min"]),
                              "personal_contribution": int(rec["personal_contribution_min"])}
                sources[year] = rec.get("source") or ""
        return cls(rows, sources)

    def nearest(self, year: int, kind: str) -> int:
        """The minimum of `kind` in `year`, or in the nearest year of the table."""
        return self.rows[min(max(year, self.first), self.last)][kind]

    def floor(self, plan_year: int, kind: str) -> tuple[int, int] | None:
        """(minimum, notice year) binding on plan year Y: the notice of Y-1, whose standard is collected in the
        autumn before Y (a province applying notice Y to Y pays more); after the table, its last year
        (minimums never fall); None before the table."""
        year = plan_year - 1
        if year < self.first:
            return None
        year = min(year, self.last)
        return self.rows[year][kind], year


@cache
def load_minimums() -> NationalMinimums:
    """The bundled table (extractors/data/national_minimums.tsv)."""
    return NationalMinimums.from_tsv(DATA_FILE)


def _amount(kind: str, value: Mapping, plan_year: int | None) -> Assessment:
    amount = value.get("amount")
    if not isinstance(amount, (int, float)) or isinstance(amount, bool):
        return _DEFAULT
    table = load_minimums()
    lo_usual, hi_usual, lo_possible, hi_possible = BANDS[kind]
    if plan_year is None:  # any year of the table
        low, high, widen, inside = table.nearest(table.first, kind), table.nearest(table.last, kind), 1.0, _DEFAULT
    else:
        low, high = table.nearest(plan_year - 1, kind), table.nearest(plan_year, kind)
        distance = max(0, table.first - (plan_year - 1), plan_year - table.last)
        widen, inside = 1 + WIDEN_PER_YEAR * distance, _PLAUSIBLE
    if low * lo_usual / widen <= amount <= high * hi_usual * widen:
        return inside
    if low * lo_possible / widen <= amount <= high * hi_possible * widen:
        return Assessment(UNUSUAL, "amount_unusual")
    return Assessment(IMPLAUSIBLE, "amount_out_of_range")


def _iso(text) -> date | None:
    try:
        return date.fromisoformat(text) if isinstance(text, str) and not text.startswith("--") else None
    except ValueError:
        return None


@lru_cache(maxsize=64)
def _plan_year_span(plan_year: int, years_after: int) -> tuple[date, date]:
    """1 January of Y-1 and 31 December of Y (+ `years_after`): where the dates of plan year Y belong."""
    return date(plan_year - 1, 1, 1), date(plan_year + years_after, 12, 31)


def _near(day: date, plan_year: int, years_after: int) -> Assessment:
    """A date of plan year Y belongs between 1 January of Y-1 and 31 December of Y (+ `years_after`)."""
    start, end = _plan_year_span(plan_year, years_after)
    outside = (start - day).days if day < start else (day - end).days if day > end else 0
    if outside == 0:
        return _PLAUSIBLE
    if outside <= UNUSUAL_DAYS:
        return Assessment(UNUSUAL, "date_unusual")
    return Assessment(IMPLAUSIBLE, "date_far_from_plan_year")


def _dates(kind: str, value: Mapping, plan_year: int | None) -> Assessment:
    if kind == "monthly_window":
        days = [value.get("start_day"), value.get("end_day")]
        ok = all(isinstance(d, int) and 1 <= d <= 31 for d in days if d is not None)
        return _DEFAULT if ok else Assessment(IMPLAUSIBLE, "day_out_of_range")
    if kind == "payment_deadline":
        days = [_iso(value.get("date"))]
    else:
        days = [_iso(value.get("start")), _iso(value.get("end"))]
    checks: list[Assessment] = []
    if kind != "payment_deadline" and days[0] and days[1]:
        if days[1] < days[0]:
            checks.append(Assessment(IMPLAUSIBLE, "period_reversed"))
        elif (days[1] - days[0]).days > MAX_PERIOD_DAYS:
            checks.append(Assessment(IMPLAUSIBLE, "period_too_long"))
    if plan_year is not None:
        checks += [_near(d, plan_year, 1 if kind == "coverage_period" else 0) for d in days if d]
    if not checks:
        return _DEFAULT
    return min(checks, key=_CONFIDENCE)


DATE_KINDS = ("payment_window", "payment_deadline", "coverage_period", "monthly_window")


def assess(kind: str, value: Mapping, plan_year: int | None) -> Assessment:
    """How plausible a fact of `kind` with `value` is for its plan year."""
    if kind in AMOUNT_KINDS:
        return _amount(kind, value, plan_year)
    if kind in DATE_KINDS:
        return _dates(kind, value, plan_year)
    return _DEFAULT


def confidence(kind: str, value: Mapping, plan_year: int | None) -> float:
    """The `confidence` a fact of `kind` with `value` is stored with (assess's, to 2 decimals)."""
    # (assess's verdict without building it: extract scores every fact of a page; test_plausibility keeps the two
    # equal)
    if kind in AMOUNT_KINDS:
        amount = value.get("amount")
        if not isinstance(amount, (int, float)) or isinstance(amount, bool):
            return DEFAULT
        usual_low, usual_high, possible_low, possible_high, inside = _amount_bounds(kind, plan_year)
        if usual_low <= amount <= usual_high:
            return inside
        return UNUSUAL if possible_low <= amount <= possible_high else IMPLAUSIBLE
    if kind in DATE_KINDS:
        return _date_confidence(kind, value, plan_year)
    return DEFAULT


@lru_cache(maxsize=256)
def _amount_bounds(kind: str, plan_year: int | None) -> tuple[float, float, float, float, float]:
    """_amount's usual and possible range of `kind` in `plan_year` and the confidence inside the usual one."""
    table = load_minimums()
    lo_usual, hi_usual, lo_possible, hi_possible = BANDS[kind]
    if plan_year is None:
        low, high, widen, inside = table.nearest(table.first, kind), table.nearest(table.last, kind), 1.0, DEFAULT
    else:
        low, high = table.nearest(plan_year - 1, kind), table.nearest(plan_year, kind)
        distance = max(0, table.first - (plan_year - 1), plan_year - table.last)
        widen, inside = 1 + WIDEN_PER_YEAR * distance, PLAUSIBLE
    return (low * lo_usual / widen, high * hi_usual * widen, low * lo_possible / widen, high * hi_possible * widen,
            inside)


def _date_confidence(kind: str, value: Mapping, plan_year: int | None) -> float:
    """The confidence of _dates's verdict (the lowest of its checks)."""
    if kind == "monthly_window":
        ok = all(isinstance(d, int) and 1 <= d <= 31 for d in (value.get("start_day"), value.get("end_day"))
                 if d is not None)
        return DEFAULT if ok else IMPLAUSIBLE
    if kind == "payment_deadline":
        days: tuple = (_iso(value.get("date")),)
    else:
        first, last = days = (_iso(value.get("start")), _iso(value.get("end")))
        if first and last and (last < first or (last - first).days > MAX_PERIOD_DAYS):
            return IMPLAUSIBLE  # (the lowest confidence there is)
    if plan_year is None:
        return DEFAULT
    start, end = _plan_year_span(plan_year, 1 if kind == "coverage_period" else 0)
    lowest = None
    for day in days:
        if day:
            outside = (start - day).days if day < start else (day - end).days if day > end else 0
            found = PLAUSIBLE if outside == 0 else UNUSUAL if outside <= UNUSUAL_DAYS else IMPLAUSIBLE
            lowest = found if lowest is None or found < lowest else lowest
    return DEFAULT if lowest is None else lowest


def is_low(confidence: float | None) -> bool:
    """Whether a stored confidence is low; None (not assessed: stored before confidence existed) is not."""
    return confidence is not None and confidence < LOW_CONFIDENCE


def _clause(evidence: str, amount) -> str:
    """The clause of `evidence` stating `amount` (the whole sentence when the amount is not written in digits)."""
    text = halfwidth(evidence or "")
    m = re.search(rf"(?<![\d.]){re.escape(str(amount))}(?:\.0+)?(?![\d.])", text)
    if not m:
        return text
    starts = [e.end() for e in CLAUSE_END.finditer(text, 0, m.start())]
    end = CLAUSE_END.search(text, m.end())
    return text[starts[-1] if starts else 0:end.start() if end else len(text)]


def special_group_rate(fact: Mapping) -> bool:
    """Whether an amount fact is the rate of a special group (students, children, elders, …) per its clause."""
    return bool(SPECIAL_GROUP.search(_clause(fact.get("evidence") or "", (fact.get("value") or {}).get("amount"))))


def below_national_minimum(facts: Iterable[Mapping], page_region: str | None) -> list[dict]:
    """The page's own standards (region = the page's, not national or quoted ones; qualifier exact or
    at_least; not a special group's rate; not low confidence) below the national minimum for their plan year."""
    if not page_region or page_region == "000000":
        return []
    table, found, seen = load_minimums(), [], set()
    for f in facts:
        value = f.get("value") or {}
        amount, year = value.get("amount"), f.get("plan_year")
        if f.get("kind") not in AMOUNT_KINDS or f.get("region") != page_region or year is None or \
                value.get("qualifier") not in ("exact", "at_least") or not isinstance(amount, (int, float)) or \
                is_low(f.get("confidence")):
            continue
        floor = table.floor(year, f["kind"])
        key = (f["kind"], year, amount)
        # (the clause of a special group's rate is read last: only for an amount below the floor)
        if floor is None or amount >= floor[0] or key in seen or special_group_rate(f):
            continue
        seen.add(key)
        found.append({"kind": f["kind"], "plan_year": year, "amount": amount, "qualifier": value["qualifier"],
                      "minimum": floor[0], "national_year": floor[1], "evidence": f.get("evidence")})
    return found


def assess_document(doc: Document) -> Document:
    """Set every fact's confidence and the document's `below_national_minimum`; returns the same document."""
    doc.facts = [Fact(f.kind, f.value, f.plan_year, f.region, f.evidence, f.span,
                      confidence(f.kind, f.value, f.plan_year)) for f in doc.facts]
    doc.below_national_minimum = below_national_minimum([f.to_json() for f in doc.facts if f.kind in AMOUNT_KINDS],
                                                        (doc.region or {}).get("code"))
    return doc
