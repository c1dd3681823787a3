"""Scope a page's facts to its source's region: a fact about another place is not the page's fact.

A source configured with `region = "忻州市"` speaks for 忻州市. Of the facts extracted from one of its pages
(each carries the region code its sentence is about, see extractors.document), those are kept whose region is:

* unknown (None) — nothing says it is about another place;
* the source's region itself;
* a region containing it — its province, or 全国 (000000): a city page quoting the provincial or national rule;
* a region inside it — a province source stating its cities' figures (a provincial notice listing each
  city's standard speaks for those cities with the province's authority).

Every other fact — a neighbouring city's fee in a 热点政策 sidebar, another province's deadline — is *foreign*:
it is not stored as the page's fact. When most core facts of a cut are foreign (at least FLAG_MIN and at least
half of them), the cut is probably taking the wrong block; `foreign_warning` describes it for `status`.
Pure functions over the extraction record's fact dicts (the JSON shape of `Fact.to_json`).
"""
from __future__ import annotations

from typing import Iterable

from extractors.regions import Region, RegionTable, load_regions

# The kinds the monitor alerts on most (high severity): the ones a wrong cut must not invent.
CORE_KINDS = frozenset({"personal_contribution", "fiscal_subsidy", "payment_window", "payment_deadline",
                        "coverage_period", "monthly_window"})
FLAG_MIN = 2  # a cut is flagged when at least this many core facts are foreign…
FLAG_SHARE = 0.5  # …and they are at least this share of its core facts
WARNING_CODE = "foreign_facts"


def source_region(name: str | None, table: RegionTable | None = None) -> Region | None:
    """The region a source's configured `region` names (full or short name, alias, code, or a longer
    name starting with one, e.g. 山西省忻州市); None when it is empty or names no known region."""
    if not name or not name.strip():
        return None
    table = table or load_regions()
    found = table.lookup(name)
    if found is not None:
        return found
    mentions = table.find_mentions(name)
    return table.main_region(mentions) if mentions else None


def is_foreign(fact_region: str | None, source: Region, table: RegionTable | None = None) -> bool:
    """Whether a fact about `fact_region` (a code) is about another place than `source` (see the module doc)."""
    if not fact_region:
        return False
    table = table or load_regions()
    region = table.by_code(fact_region)
    if region is None:
        return False
    return not (table.contains(region, source) or table.contains(source, region))


def scope_facts(facts: Iterable[dict], region_name: str | None) -> tuple[list[dict], list[dict]]:
    """(kept, foreign) facts of a page for a source whose configured region is `region_name`.

    Without a (known) source region every fact is kept.
    """
    facts = list(facts)
    table = load_regions()
    source = source_region(region_name, table)
    if source is None:
        return facts, []
    kept, foreign = [], []
    for fact in facts:
        (foreign if is_foreign(fact.get("region"), source, table) else kept).append(fact)
    return kept, foreign


def foreign_warning(kept: Iterable[dict], foreign: Iterable[dict]) -> dict | None:
    """A warning when most core facts of a cut were foreign (≥ FLAG_MIN and ≥ FLAG_SHARE of them), else None.

    {"code": "foreign_facts", "regions": [names of the other regions, most facts first], "foreign": n,
     "core_foreign": n, "core": n} — `core` counts the core facts before scoping.
    """
    kept, foreign = list(kept), list(foreign)
    core_foreign = [f for f in foreign if f.get("kind") in CORE_KINDS]
    core = len(core_foreign) + sum(1 for f in kept if f.get("kind") in CORE_KINDS)
    if len(core_foreign) < FLAG_MIN or len(core_foreign) < FLAG_SHARE * core:
        return None
    table = load_regions()
    counts: dict[str, int] = {}
    for f in foreign:
        region = table.by_code(f["region"])
        name = region.name if region else f["region"]
        counts[name] = counts.get(name, 0) + 1
    regions = sorted(counts, key=lambda n: -counts[n])  # stable: ties keep text order
    return {"code": WARNING_CODE, "regions": regions, "foreign": len(foreign), "core_foreign": len(core_foreign),
            "core": core}
