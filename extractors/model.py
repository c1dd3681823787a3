"""The typed output of extraction: facts with evidence, and the document that holds them."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

FACT_KINDS = (
    "personal_contribution", "fiscal_subsidy", "payment_window", "payment_deadline", "monthly_window",
    "coverage_period", "payment_channel", "eligible_group", "subsidized_group", "waiting_period_exemption",
    "reimbursement_ratio", "annual_cap", "deductible",
)


@dataclass(frozen=True)
class Fact:
    """One statement of a page: what (`kind`, `value`), for which plan year and region, and where it is said."""

    kind: str
    value: dict
    plan_year: int | None
    region: str | None
    evidence: str
    span: tuple[int, int] | None  # character offsets in the main text; None when the evidence is the title
    # How plausible the value is for its plan year, in [0, 1] (extractors.plausibility); None: not assessed.
    confidence: float | None = None

    @property
    def key(self) -> tuple:
        """Identity for de-duplication: same kind, value, plan year and region (never the confidence)."""
        return Fact.identity(self.kind, self.value, self.plan_year, self.region)

    @staticmethod
    def identity(kind: str, value: dict, plan_year: int | None, region: str | None) -> tuple:
        """The `key` of a fact with these fields, without building it."""
        return (kind, tuple(sorted(value.items())), plan_year, region)

    def to_json(self) -> dict:
        return {"kind": self.kind, "value": self.value, "plan_year": self.plan_year, "region": self.region,
                "evidence": self.evidence, "span": list(self.span) if self.span else None,
                "confidence": self.confidence}


_new_object = object.__new__
_set_attribute = object.__setattr__


def build_fact(kind: str, value: dict, plan_year: int | None, region: str | None, evidence: str,
               span: tuple[int, int] | None, confidence: float | None) -> Fact:
    """`Fact(kind, value, plan_year, region, evidence, span, confidence)`, built at once: the frozen dataclass's
    __init__ sets each of the seven fields through object.__setattr__ (extract builds dozens of facts per page)."""
    fact = _new_object(Fact)
    _set_attribute(fact, "__dict__", {"kind": kind, "value": value, "plan_year": plan_year, "region": region,
                                      "evidence": evidence, "span": span, "confidence": confidence})
    return fact


@dataclass
class Document:
    """The extraction result for one page (the JSON shape of `policywatch extract`)."""

    url: str | None
    title: str | None
    published_at: datetime | None
    region: dict | None  # {"name": "太原市", "code": "140100"}
    plan_year: int | None
    facts: list[Fact] = field(default_factory=list)
    # The page's own standards below the national minimum for their plan year (extractors.plausibility).
    below_national_minimum: list[dict] = field(default_factory=list)

    def to_json(self) -> dict:
        published = None
        if self.published_at is not None:
            published = self.published_at.strftime("%Y-%m-%dT%H:%M") if (
                self.published_at.hour or self.published_at.minute) else self.published_at.strftime("%Y-%m-%d")
        return {"url": self.url, "title": self.title, "published_at": published, "region": self.region,
                "plan_year": self.plan_year, "facts": [f.to_json() for f in self.facts],
                "below_national_minimum": self.below_national_minimum}
