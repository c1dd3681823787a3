"""Server-side timeline charts of the date kinds (缴费时间, 缴费截止日期, 待遇享受期) for the 地区 page: one row per
plan year, one lane per source, each window a bar from its start to its end and each deadline a diamond,
placed by the day relative to 1 January of the plan year; rows where sources state different dates at the
same time are shaded 来源不一致. SVG geometry only: the template draws it, no script."""
from __future__ import annotations

import json
from datetime import date, datetime

from monitor.alerts import format_value
from monitor.options import display_zone

TIMELINE_KINDS = ("payment_window", "payment_deadline", "coverage_period")
WIDTH = 720
LEFT, RIGHT, TOP, BOTTOM = 76, 16, 12, 36
LANE = 16  # pixels per source within a plan year's row
ROW_GAP = 10
COLORS = ("#2e86c1", "#c0392b", "#27ae60", "#8e44ad", "#d68910", "#16a085", "#7f8c8d", "#2c3e50")


def _value(row: dict) -> dict | None:
    value = json.loads(row["value"]) if isinstance(row["value"], str) else row["value"]
    return value if isinstance(value, dict) else None


def _day(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:  # a recurring "--09-01" has no year: not placed on a plan year's row
        return None


def _span(kind: str, value: dict) -> tuple[date, date] | None:
    if kind == "payment_deadline":
        d = _day(value.get("date"))
        return (d, d) if d else None
    start, end = _day(value.get("start")), _day(value.get("end"))
    if start is None and end is None:
        return None
    return (start or end, end or start)


def _local(t: datetime) -> str:
    return t.astimezone(display_zone()).strftime("%Y-%m-%d")


def timeline_groups(rows: list[dict]) -> list[dict]:
    """fact_history rows → one timeline chart per (region, date kind) that has dated values with a plan year:
    {"region", "kind", "chart"} in region and kind order."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        if r["kind"] in TIMELINE_KINDS and r["plan_year"] and (v := _value(r)) and _span(r["kind"], v):
            groups.setdefault((r["region"] or "", TIMELINE_KINDS.index(r["kind"])), []).append(r)
    return [dict(region=region or None, kind=TIMELINE_KINDS[k], chart=timeline_chart(items))
            for (region, k), items in sorted(groups.items())]


def overlapping_disagreements(items: list[tuple[str, datetime, datetime, str]]) -> list[str]:
    """(source, from, until, value text) runs → descriptions of the pairs of sources holding different values
    at the same time, e.g. ``甲 2025-02-25、乙 2025-03-31（2024-10-01 起）``; empty when they always agree."""
    found = []
    for i, (sa, fa, ua, va) in enumerate(items):
        for sb, fb, ub, vb in items[i + 1:]:
            if sa != sb and va != vb and fa < ub and fb < ua:
                text = f"{sa} {va}、{sb} {vb}（{_local(max(fa, fb))} 起）"
                if text not in found:
                    found.append(text)
    return found


def timeline_chart(rows: list[dict]) -> dict:
    """The geometry of one timeline over fact_history rows of one date kind: {"width", "height", "rows":
    [{"label", "y", "height", "conflict", "bars": [{"x", "y", "w", "color", "ended", "deadline", "title"}]}],
    "x_ticks", "sources": [(source, color)]}."""
    kind = rows[0]["kind"]
    sources = sorted({r["source"] for r in rows})
    color = {s: COLORS[i % len(COLORS)] for i, s in enumerate(sources)}
    years = sorted({r["plan_year"] for r in rows})
    placed = []
    for r in rows:
        value = _value(r)
        start, end = _span(kind, value)
        jan1 = date(r["plan_year"], 1, 1)
        placed.append((r, value, (start - jan1).days, (end - jan1).days))
    lo = min(a for _, _, a, _ in placed)
    hi = max(b for _, _, _, b in placed)
    lo_month, hi_month = _month_index(lo), _month_index(hi) + 1  # whole months around the data
    lo_day, hi_day = _month_start(lo_month), _month_start(hi_month)
    span = max(hi_day - lo_day, 1)

    def x(day: int) -> float:
        return round(LEFT + (day - lo_day) / span * (WIDTH - LEFT - RIGHT), 1)

    out_rows, y = [], TOP
    for year in years:
        mine = [p for p in placed if p[0]["plan_year"] == year]
        lanes = sorted({p[0]["source"] for p in mine})
        height = LANE * len(lanes)
        bars = []
        for r, value, a, b in sorted(mine, key=lambda p: (bool(p[0].get("is_current")), p[0]["first_seen"])):
            lane_y = y + LANE * lanes.index(r["source"])
            ended = not r.get("is_current")
            title = (f"{r['source']}：{format_value(kind, value)}（{_local(r['first_seen'])} 起"
                     + (f"，{_local(r['last_seen'] or r['first_seen'])} 后不再出现）" if ended else "，当前）"))
            bars.append(dict(x=x(a), y=lane_y + 2, w=max(x(b + 1) - x(a), 3.0), h=LANE - 4, cx=x(a) + 0.5,
                             cy=lane_y + LANE / 2, color=color[r["source"]], ended=ended,
                             deadline=kind == "payment_deadline", title=title))
        held = [(r["source"], r["first_seen"], r["last_seen"] if not r.get("is_current") else datetime.max.replace(
                 tzinfo=r["first_seen"].tzinfo), format_value(kind, v)) for r, v, _, _ in mine]
        conflict = overlapping_disagreements(held)
        out_rows.append(dict(label=f"{year}年度", y=y, height=height, label_y=y + height / 2 + 4, bars=bars,
                             conflict="来源不一致：" + "；".join(conflict) if conflict else None))
        y += height + ROW_GAP
    bottom = y - ROW_GAP
    ticks = []
    for m in range(lo_month, hi_month + 1, 3 if hi_month - lo_month > 8 else 1):
        ticks.append((x(_month_start(m)), _month_label(m)))
    return dict(width=WIDTH, height=bottom + BOTTOM, left=LEFT, right=WIDTH - RIGHT, top=TOP, bottom=bottom,
                rows=out_rows, x_ticks=ticks, sources=[(s, color[s]) for s in sources])


def _month_index(day: int) -> int:
    """Months since January of the plan year (−4 = the previous September) of a day offset from 1 January."""
    d = date.fromordinal(date(2001, 1, 1).toordinal() + day) if -365 * 3 < day < 365 * 3 else date(2001, 1, 1)
    return (d.year - 2001) * 12 + d.month - 1


def _month_start(m: int) -> int:
    year, month = 2001 + m // 12, m % 12 + 1
    return (date(year, month, 1) - date(2001, 1, 1)).days


def _month_label(m: int) -> str:
    month = m % 12 + 1
    return {-1: f"上年{month}月", 0: f"{month}月", 1: f"次年{month}月"}.get(m // 12, f"{month}月")
