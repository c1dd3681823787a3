"""Server-side step charts (SVG geometry for the templates, no JavaScript or chart library): one line per source
of an amount over time, the national minimum as a dashed line, and the spans where sources state different
values at the same time shaded 来源不一致."""
from __future__ import annotations

import json
from datetime import datetime, timedelta

from extractors.plausibility import AMOUNT_KINDS, load_minimums
from monitor.options import display_zone

WIDTH, HEIGHT = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 16, 40
COLORS = ("#2e86c1", "#c0392b", "#27ae60", "#8e44ad", "#d68910", "#16a085", "#7f8c8d", "#2c3e50")


def _amount(row: dict) -> float | None:
    value = json.loads(row["value"]) if isinstance(row["value"], str) else row["value"]
    amount = value.get("amount") if isinstance(value, dict) else None
    return amount if isinstance(amount, (int, float)) else None


def chart_groups(rows: list[dict]) -> list[dict]:
    """fact_history rows → one chart per (region, kind, plan year) of an amount kind: {"region", "kind",
    "plan_year", "chart"} in region, kind and year order."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        if r["kind"] in AMOUNT_KINDS and _amount(r) is not None:
            groups.setdefault((r["region"] or "", r["kind"], r["plan_year"] or 0), []).append(r)
    out = []
    for (region, kind, year), items in sorted(groups.items()):
        floor = load_minimums().floor(year, kind) if year else None
        out.append(dict(region=region or None, kind=kind, plan_year=year or None,
                        chart=step_chart(items, floor[0] if floor else None)))
    return out


def step_chart(rows: list[dict], minimum: float | None = None) -> dict:
    """The geometry of one step chart over fact_history rows of one kind: {"width", "height", "series":
    [{"source", "color", "d" (an SVG path), "points": [(x, y, label)]}], "y_ticks", "x_ticks", "minimum"}."""
    series: dict[str, list[tuple[datetime, datetime, float, bool]]] = {}
    for r in rows:
        series.setdefault(r["source"], []).append((r["first_seen"], r["last_seen"] or r["first_seen"], _amount(r),
                                                   bool(r.get("is_current"))))
    start = min(s for runs in series.values() for s, _, _, _ in runs)
    end = max(e for runs in series.values() for _, e, _, _ in runs)
    if end - start < timedelta(days=1):
        start, end = start - timedelta(hours=12), end + timedelta(hours=12)
    top = max([a for runs in series.values() for _, _, a, _ in runs] + ([minimum] if minimum else [])) * 1.15 or 1
    span = (end - start).total_seconds()

    def x(t: datetime) -> float:
        return round(LEFT + (t - start).total_seconds() / span * (WIDTH - LEFT - RIGHT), 1)

    def y(v: float) -> float:
        return round(HEIGHT - BOTTOM - v / top * (HEIGHT - TOP - BOTTOM), 1)

    out, held = [], []
    for i, (source, runs) in enumerate(sorted(series.items())):
        runs.sort()
        d, points = [], []
        for k, (s, e, a, current) in enumerate(runs):
            # A value holds until the next one appears; the current one reaches the chart's right edge.
            until = max(runs[k + 1][0] if k + 1 < len(runs) else (end if current else e), e)
            held.append((source, s, until, a))
            d.append(f"{'M' if k == 0 else 'L'}{x(s)},{y(a)} H{x(until)}")
            points.append((x(s), y(a), f"{source}：{a:g}（{s.astimezone(display_zone()):%Y-%m-%d} 起）"))
        out.append(dict(source=source, color=COLORS[i % len(COLORS)], d=" ".join(d), points=points))
    y_ticks = [(y(top * f / 4), f"{top * f / 4:.0f}") for f in range(5)]
    anchors = ("start", "middle", "middle", "end")  # the edge labels stay inside the chart
    stamp = "%m-%d %H:%M" if end - start < timedelta(days=4) else "%Y-%m-%d"
    x_ticks = [(x(start + (end - start) * f / 3),
                (start + (end - start) * f / 3).astimezone(display_zone()).strftime(stamp), anchors[f])
               for f in range(4)]
    conflicts = [dict(x=min(x(a), WIDTH - RIGHT - 6), w=max(x(b) - x(a), 6.0), title=title)
                 for a, b, title in disagreements(held, end)]
    return dict(width=WIDTH, height=HEIGHT, left=LEFT, right=WIDTH - RIGHT, top=TOP, bottom=HEIGHT - BOTTOM,
                series=out, y_ticks=y_ticks, x_ticks=x_ticks, conflicts=conflicts,
                minimum=dict(y=y(minimum), label_y=y(minimum) + 14, label=f"国家最低 {minimum:g}") if minimum else None)


def disagreements(held: list[tuple[str, datetime, datetime, float]],
                  end: datetime) -> list[tuple[datetime, datetime, str]]:
    """(source, from, until, amount) runs → the spans where two sources held different amounts at the same
    time, overlapping spans merged: (from, until, hover text 来源不一致：甲 400、乙 420（dates）). Two values
    both current at the chart's `end` disagree even when the newer one was first seen at the last check."""
    spans = []
    for i, (sa, fa, ua, va) in enumerate(held):
        for sb, fb, ub, vb in held[i + 1:]:
            if sa != sb and va != vb and (max(fa, fb) < min(ua, ub) or ua == ub == end):
                spans.append((max(fa, fb), min(ua, ub), {(sa, va), (sb, vb)}))
    spans.sort(key=lambda t: t[0])
    merged: list[list] = []
    for a, b, who in spans:
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
            merged[-1][2] |= who
        else:
            merged.append([a, b, set(who)])
    zone = display_zone()
    return [(a, b, "来源不一致：" + "、".join(f"{s} {v:g}" for s, v in sorted(who))
             + f"（{a.astimezone(zone):%Y-%m-%d} 至 {b.astimezone(zone):%Y-%m-%d}）") for a, b, who in merged]
