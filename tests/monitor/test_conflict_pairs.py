"""Conflicts are found by region buckets: the same changes, in the same order, as comparing every pair of facts."""
from __future__ import annotations

import json
import random

from extractors.regions import load_regions
from monitor.diff import conflicts

# 山西省, two of its cities, 北京市, 全国, and a code the region table does not know
REGIONS = ["140000", "140100", "140800", "110000", "000000", "999999"]
VALUES = [{"amount": 380, "qualifier": "exact", "change": None}, {"amount": 400, "qualifier": "exact", "change": None},
          {"amount": 400.0, "qualifier": "exact", "change": None}]  # equal to the 400 above: never a conflict


def every_pair(latest: list[dict], known: set[str]) -> list[tuple]:
    """The definition: every two facts of a kind and plan year, in order, from different sources, with
    different values, in one region or a province and its prefecture, neither national, each once."""
    regions = load_regions()
    newest = {}
    for snap in sorted(latest, key=lambda x: x["id"]):
        for f in snap["facts"]:
            newest[(snap["source_id"], f["kind"], f["plan_year"], f["region"])] = (snap, f)
    by_key: dict[tuple, list] = {}
    for (_, kind, year, _), item in newest.items():
        by_key.setdefault((kind, year), []).append(item)
    found = []
    for (kind, year), items in by_key.items():
        for i, (sa, a) in enumerate(items):
            for sb, b in items[i + 1:]:
                ra, rb = regions.by_code(a["region"]), regions.by_code(b["region"])
                related = a["region"] == b["region"] or (ra and rb and (regions.contains(ra, rb)
                                                                          or regions.contains(rb, ra)))
                if sa["source_id"] == sb["source_id"] or a["value"] == b["value"] or not related \
                        or "000000" in (a["region"], b["region"]):
                    continue
                pair = sorted([(sa["source_id"], json.dumps(a["value"], sort_keys=True)),
                               (sb["source_id"], json.dumps(b["value"], sort_keys=True))])
                if (kind, year, str(pair)) in known:
                    continue
                known.add((kind, year, str(pair)))
                found.append((sa["id"], sb["id"], kind, year, a["region"], b["region"]))
    return found


def random_history(rng: random.Random, pages: int) -> list[dict]:
    latest = []
    for page in range(pages):
        facts = [dict(kind=rng.choice(["personal_contribution", "fiscal_subsidy"]), plan_year=rng.choice([2025, 2026]),
                      region=rng.choice(REGIONS), value=rng.choice(VALUES), evidence=f"第{page}页", confidence=0.9)
                 for _ in range(rng.randint(1, 3))]
        latest.append(dict(id=100 + page, page_id=page, source_id=rng.randint(1, pages // 2 + 1),
                           source=f"来源{page}", url=f"http://127.0.0.1/{page}.html", facts=facts))
    return latest


def test_bucketed_conflicts_equal_every_pair_on_random_histories():
    rng = random.Random(20261204)
    for _ in range(200):
        latest = random_history(rng, rng.randint(2, 14))
        known: set = set()
        found = [(c["snapshot_before"], c["snapshot_after"], c["kind"], c["plan_year"], c["detail"]["regions"][0],
                  c["detail"]["regions"][1]) for c in conflicts(latest, set())]
        assert found == every_pair(latest, known)


def test_many_pages_of_one_city_with_one_value_are_no_conflict_and_one_different_page_is_one_each():
    same = {"amount": 400, "qualifier": "exact", "change": None}
    latest = [dict(id=i + 1, page_id=i, source_id=i, source=f"来源{i}", url=f"http://127.0.0.1/{i}.html",
                   facts=[dict(kind="personal_contribution", plan_year=2026, region="140100", value=same,
                               evidence="个人缴费400元", confidence=0.9)]) for i in range(3000)]
    assert conflicts(latest, set()) == []
    odd = dict(latest[0], id=5000, source_id=9999, facts=[dict(latest[0]["facts"][0], value=dict(same, amount=420))])
    assert len(conflicts(latest + [odd], set())) == 3000
