"""What the web view's templates show: changes as display data (line, region name, evidence pair, the stored
text diff as segments), the query-string filters of the change feed, validated, and the current-facts table."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Mapping
from urllib.parse import quote, urlsplit

from extractors import FACT_KINDS
from extractors.regions import COUNTRY, PROVINCE, load_regions
from monitor.alerts import KIND_NAMES, TYPE_NAMES, region_name, unit_of, change_line, format_value
from monitor.diff import CONFLICT_KINDS
from monitor.options import display_zone, local_minute
from storage.webqueries import ChangeFilter

SEVERITY_NAMES = {"high": "高", "medium": "中", "low": "低"}
OUTCOME_NAMES = {"new": "新页面", "changed": "有变化", "unchanged": "无变化", "not_modified": "未修改(304)",
                 "error": "出错"}
_MARK = re.compile(r"\[-(.*?)-\]|\{\+(.*?)\+\}", re.S)
DIFF_PREFIXES = {"~ ": "edit", "- ": "removed", "+ ": "added"}


class BadRequest(Exception):
    """A query the view cannot answer: `status` 400 (malformed) or 404 (an unknown source, region or kind),
    with a message for the page (Chinese) or the API."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def diff_segments(text: str) -> list[tuple[str, str]]:
    """A char-level diff line's body (``缴费截止日期为[-2-]{+3+}月``) as (kind, text) segments, kind one of
    ``same`` / ``del`` / ``ins``; the markers themselves are not shown."""
    out, pos = [], 0
    for m in _MARK.finditer(text):
        if m.start() > pos:
            out.append(("same", text[pos:m.start()]))
        out.append(("del", m.group(1)) if m.group(1) is not None else ("ins", m.group(2)))
        pos = m.end()
    if pos < len(text):
        out.append(("same", text[pos:]))
    return out


def diff_line(line: str) -> dict:
    """One stored text-diff line (``~ …`` edited, ``- …`` removed, ``+ …`` added) as {"op", "segments"}."""
    op = DIFF_PREFIXES.get(line[:2])
    if op is None:
        return {"op": "edit", "segments": diff_segments(line)}
    body = line[2:]
    if op == "edit":
        return {"op": op, "segments": diff_segments(body)}
    return {"op": op, "segments": [("del" if op == "removed" else "ins", body)]}


def safe_href(url: str | None) -> str | None:
    """`url` when it is an http(s) link, else None: a stored `javascript:` or `data:` URL never becomes a link."""
    if not url:
        return None
    return url if urlsplit(url.strip()).scheme.lower() in ("http", "https") else None


def source_path(name: str) -> str:
    """The page of one source: /sources/NAME with the name percent-encoded."""
    return "/sources/" + quote(name, safe="")


def change_view(row: dict) -> dict:
    """A change row as the templates show it."""
    detail = row.get("detail") if isinstance(row.get("detail"), dict) else {}
    source = row["source"]
    return dict(id=row["id"], when=local_minute(row["detected_at"]), severity=row["severity"],
                severity_name=SEVERITY_NAMES.get(row["severity"], row["severity"]),
                type=row["type"], type_name=TYPE_NAMES.get(row["type"], row["type"]),
                kind_name=KIND_NAMES.get(row.get("kind") or "", row.get("kind") or ""),
                source=source, source_path=source_path(source), region_name=region_name(row.get("region")),
                region=row.get("region"),
                line=change_line(row), href=safe_href(row.get("url")), url=row.get("url"),
                evidence_before=row.get("evidence_before"), evidence_after=row.get("evidence_after"),
                diff=[diff_line(str(d)) for d in detail.get("diff") or []],
                before=row.get("snapshot_before"), after=row.get("snapshot_after"),
                health=row["type"] in ("source_failing", "source_recovered"))


@dataclass(frozen=True)
class FeedQuery:
    """The change feed's filters as given (for the form) and as a ChangeFilter."""

    given: dict
    filter: ChangeFilter


def parse_feed_query(params: Mapping[str, str], source_names: list[str]) -> FeedQuery:
    """The filters of /changes and /api/changes (severity, type, region, kind, source, since) validated; a
    malformed one raises BadRequest(400), an unknown source, region or kind BadRequest(404)."""
    given = {k: (params.get(k) or "").strip() for k in ("severity", "type", "region", "kind", "source", "since")}
    severity = given["severity"] or None
    if severity is not None and severity not in SEVERITY_NAMES:
        raise BadRequest(400, f"未知的严重程度 {severity!r}：应为 high / medium / low")
    type_ = given["type"] or None
    if type_ is not None and type_ not in TYPE_NAMES:
        raise BadRequest(400, f"未知的变化类型 {type_!r}")
    kind = given["kind"] or None
    if kind is not None and kind not in FACT_KINDS:
        raise BadRequest(404, f"未知的事实类型 {kind!r}")
    source = given["source"] or None
    if source is not None and source not in source_names:
        raise BadRequest(404, f"数据库中没有名为 {source!r} 的来源")
    region = prefix = None
    if given["region"]:
        found = load_regions().lookup(given["region"])
        if found is None:
            raise BadRequest(404, f"未知地区 {given['region']!r}：请填写名称（山西、太原市）或区划代码（140000）")
        if found.level == PROVINCE:
            prefix = found.code[:2]  # a province with its cities
        elif found.level != COUNTRY:
            region = found.code
    since = None
    if given["since"]:
        try:
            since = datetime.strptime(given["since"], "%Y-%m-%d").replace(tzinfo=display_zone())
        except ValueError:
            raise BadRequest(400, f"日期 {given['since']!r} 格式不对：应为 YYYY-MM-DD") from None
    return FeedQuery(given, ChangeFilter(severity=severity, type=type_, kind=kind, source=source, since=since,
                                         region=region, region_prefix=prefix))


def check_cell(check: dict) -> dict:
    """One check of a source's history strip: outcome, its Chinese name and a hover text."""
    what = OUTCOME_NAMES.get(check["outcome"], check["outcome"])
    extra = f"：{check['error']}" if check.get("error") else (f"（HTTP {check['http_status']}）"
                                                                if check.get("http_status") else "")
    return dict(outcome=check["outcome"], name=what, title=f"{local_minute(check['checked_at'])} {what}{extra}",
                snapshot_id=check.get("snapshot_id"))


def fact_matrix(rows: list[dict], sort: str | None = None) -> dict:
    """The current facts (latest_facts rows) as a region × kind table: {"kinds": [kind, …] in KIND_NAMES order,
    "rows": [{"region", "region_name", "cells": {kind: {"entries": [{"text", "source", "evidence"}],
    "conflict": bool, "amount": the first amount, "amounts": every source's}}}]}; by region code, or by the first amount in column `sort` (largest first)."""
    present = {r["kind"] for r in rows}
    kinds = [k for k in KIND_NAMES if k in present]
    regions: dict[str | None, dict] = {}
    shown: dict[tuple, tuple] = {}  # (kind, JSON text) → (text with unit, amount): values repeat across sources
    for r in rows:  # 22 k rows for the roll-up: no work per row that a cached value or a lookup can spare
        kind, raw = r["kind"], r["value"]
        key = (kind, raw if isinstance(raw, str) else json.dumps(raw, sort_keys=True))
        found = shown.get(key)
        if found is None:
            value = json.loads(raw) if isinstance(raw, str) else raw
            amount = value.get("amount") if isinstance(value, dict) else None
            found = shown[key] = (format_value(kind, value) + unit_of(kind),
                                  amount if isinstance(amount, (int, float)) else None)
        text, amount = found
        entry = regions.get(r["region"])
        if entry is None:
            entry = regions[r["region"]] = dict(region=r["region"], region_name=region_name(r["region"]), cells={})
        cell = entry["cells"].get(kind)
        if cell is None:
            cell = entry["cells"][kind] = dict(entries=[], conflict=False, amount=None, amounts=[])
        cell["entries"].append(dict(text=text, source=r["source"], evidence=r["evidence"]))
        if amount is not None:
            cell["amounts"].append(amount)
            if cell["amount"] is None:
                cell["amount"] = amount
    for entry in regions.values():
        for kind, cell in entry["cells"].items():
            # As the diff stage's conflicts: different values from different sources, for the single-valued kinds
            # (a page listing three payment channels does not disagree with itself or with one listing two).
            by_source: dict[str, set] = {}
            for v in cell["entries"]:
                by_source.setdefault(v["source"], set()).add(v["text"])
            cell["conflict"] = kind in CONFLICT_KINDS and len({frozenset(t) for t in by_source.values()}) > 1
    ordered = sorted(regions.values(), key=lambda e: (e["region"] is None, e["region"] or ""))
    return sort_matrix(dict(kinds=kinds, rows=ordered), sort)


def sort_matrix(matrix: dict, sort: str | None) -> dict:
    """A fact_matrix by region code re-ordered by the first amount in column `sort`, largest first (stable:
    equal amounts keep region order); unchanged when `sort` is not one of its kinds. The rows are shared."""
    if sort not in matrix["kinds"]:
        return matrix
    def amount(entry: dict) -> tuple:
        value = (entry["cells"].get(sort) or {}).get("amount")
        return (value is None, -(value or 0))
    return dict(matrix, rows=sorted(matrix["rows"], key=amount))
