"""The 事实 page's province × kind roll-up: per province and fact kind, the province's own current value and a
summary of its cities' (the range of amounts or the number of distinct values, how many cities state it, how
many of them have sources that disagree), built from the region × kind matrix of render.fact_matrix."""
from __future__ import annotations

from extractors.regions import load_regions
from monitor.alerts import unit_of

RANGE_KINDS = ("payment_deadline",)  # values whose text sorts as they do (ISO dates): shown earliest ～ latest
HOVER_CITIES = 30  # cities listed in a cell's hover text


def _province_of(code: str | None) -> str | None:
    if not code or code == "000000" or len(code) != 6:
        return None
    return code[:2] + "0000"


def _texts(cell: dict | None) -> list[str]:
    return list(dict.fromkeys(e["text"] for e in cell["entries"])) if cell else []


def _summary(kind: str, cities: list[tuple[str, dict]]) -> dict | None:
    """The cities' part of one roll-up cell: {"text", "count", "conflicts", "title"}; None without cities."""
    if not cities:
        return None
    amounts = [a for _, c in cities for a in c.get("amounts", ())]  # every source's: a disagreement widens it
    texts = sorted({t for _, c in cities for t in _texts(c)})
    if amounts and all(c.get("amounts") for _, c in cities):
        lo, hi = min(amounts), max(amounts)
        text = (f"{lo:g}" if lo == hi else f"{lo:g}–{hi:g}") + unit_of(kind)
    elif len(texts) == 1:
        text = texts[0]
    elif kind in RANGE_KINDS:
        text = f"{texts[0]} ～ {texts[-1]}"
    else:
        text = f"{len(texts)} 种取值"
    hover = [f"{name}：{'、'.join(_texts(c))}{'（来源不一致）' if c['conflict'] else ''}"
             for name, c in cities[:HOVER_CITIES]]
    if len(cities) > HOVER_CITIES:
        hover.append(f"…另有 {len(cities) - HOVER_CITIES} 个")
    return dict(text=text, count=len(cities), conflicts=sum(1 for _, c in cities if c["conflict"]),
                title="\n".join(hover), amount=max(amounts) if amounts else None)


def province_rollup(matrix: dict, sort: str | None = None) -> dict:
    """A region × kind matrix (render.fact_matrix) rolled up by province: {"kinds", "rows": [{"region",
    "region_name", "cells": {kind: {"own": [texts], "own_conflict", "cities": summary | None}}, "n_cities"}]};
    by province code, or by the largest city amount (else the province's own) in column `sort`."""
    regions = load_regions()
    provinces: dict[str, dict] = {}
    for row in matrix["rows"]:
        code = _province_of(row["region"])
        if code is None:
            continue
        found = regions.by_code(code)
        entry = provinces.setdefault(code, dict(region=code, region_name=found.name if found else code,
                                                own={}, cities={}, n_cities=0))
        if row["region"] == code:
            entry["own"] = row["cells"]
        else:
            entry["n_cities"] += 1
            for kind, cell in row["cells"].items():
                entry["cities"].setdefault(kind, []).append((row["region_name"], cell))
    out = []
    for code, p in sorted(provinces.items()):
        cells = {}
        for kind in matrix["kinds"]:
            own = p["own"].get(kind)
            cities = _summary(kind, p["cities"].get(kind, []))
            if own or cities:
                cells[kind] = dict(own=_texts(own), own_conflict=bool(own and own["conflict"]), cities=cities,
                                   amount=(cities or {}).get("amount") or (own or {}).get("amount"))
        out.append(dict(region=code, region_name=p["region_name"], cells=cells, n_cities=p["n_cities"]))
    return sort_rollup(dict(kinds=matrix["kinds"], rows=out), sort)


def sort_rollup(rollup: dict, sort: str | None) -> dict:
    """A roll-up by province code ordered by the largest amount in column `sort` (stable); as it is when `sort` is
    not one of its kinds."""
    if sort not in rollup["kinds"]:
        return rollup

    def key(row: dict) -> tuple:
        value = (row["cells"].get(sort) or {}).get("amount")
        return (value is None, -(value or 0))
    return dict(rollup, rows=sorted(rollup["rows"], key=key))
