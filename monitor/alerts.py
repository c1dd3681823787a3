"""Alerts: render detected changes as one Chinese message per run and target and queue them in the outbox.

Targets (``${ENV}`` expansion, outbox key, redaction) are in monitor/targets.py; delivery with Apprise is in
monitor/delivery.py.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from datetime import datetime, timezone
from functools import cache
from typing import Any, Iterable, Mapping, Sequence
from zoneinfo import ZoneInfo

from extractors.regions import load_regions
from monitor.targets import configured_targets, expand_target, redact_target, target_key

__all__ = ["ALERT_SEVERITIES", "KIND_NAMES", "change_line", "configured_targets", "dedupe_key", "expand_target",
           "format_value", "queue_for_run", "redact_target", "render", "target_key"]

TZ = ZoneInfo("Asia/Shanghai")
ALERT_SEVERITIES = ("high", "medium")  # low (text_changed) is recorded, not alerted
EVIDENCE_MAX = 200

KIND_NAMES = {
    "payment_deadline": "缴费截止日期",
    "payment_window": "缴费时间",
    "personal_contribution": "个人缴费",
    "fiscal_subsidy": "财政补助",
    "monthly_window": "每月缴费日",
    "coverage_period": "待遇享受期",
    "payment_channel": "缴费渠道",
    "eligible_group": "参保对象",
    "subsidized_group": "资助参保对象",
    "waiting_period_exemption": "免等待期人群",
    "reimbursement_ratio": "报销比例",
    "annual_cap": "年度封顶线",
    "deductible": "起付线",
}
TYPE_NAMES = {
    "fact_added": "新增",
    "fact_removed": "删除",
    "fact_changed": "变更",
    "conflict": "来源不一致",
    "revert": "恢复",
    "text_changed": "正文变化",
    "source_failing": "来源异常",
    "source_recovered": "来源恢复",
}
UNITS = {"personal_contribution": "元/人/年", "fiscal_subsidy": "元/人/年", "annual_cap": "元", "deductible": "元"}
QUALIFIERS = {"exact": "", "at_least": "不低于", "at_most": "不超过", "approx": "约"}
SUBSIDY_MODES = {"full": "全额资助", "fixed": "定额资助", "partial": "部分资助", "full_or_fixed": "全额或定额资助"}
NO_REGION = "未注明地区"
# Why a fact is low confidence (extractors.plausibility reason codes), in the alert's note.
LOW_CONFIDENCE_REASONS = {
    "amount_out_of_range": "金额超出该年度合理范围",
    "period_too_long": "缴费期超过14个月",
    "period_reversed": "起止日期颠倒",
    "date_far_from_plan_year": "日期与所属年度相距过远",
    "day_out_of_range": "每月缴费日超出1至31日",
}

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#|])")


# -- rendering ---------------------------------------------------------------------------
@cache
def region_name(code: str | None) -> str:
    """The Chinese name of a GB/T 2260 code (the code itself if unknown)."""
    if not code:
        return NO_REGION
    region = load_regions().by_code(code)
    return region.name if region else code


def _md(text: str) -> str:
    """`text` with Markdown's special characters escaped."""
    return _MD_SPECIAL.sub(r"\\\1", text)


def _date(text: str | None) -> str:
    """ISO dates as they are; yearly dates (``--09-20``) as 9月20日."""
    if not text:
        return "?"
    m = re.fullmatch(r"--(\d\d)-(\d\d)", str(text))
    return f"{int(m.group(1))}月{int(m.group(2))}日" if m else str(text)


def format_value(kind: str | None, value: Any) -> str:
    """A fact value in Chinese, without its unit (e.g. 不低于640, 2024-09-01 至 2025-02-25, 支付宝)."""
    if value is None:
        return "（无）"
    if not isinstance(value, dict):
        return str(value)
    if isinstance(value.get("value"), dict):  # a whole fact was given
        value = value["value"]
    if "amount" in value and kind in ("personal_contribution", "fiscal_subsidy"):
        return QUALIFIERS.get(value.get("qualifier") or "exact", "") + str(value["amount"])
    if "amount" in value:
        return str(value["amount"])
    if "date" in value:
        return _date(value["date"])
    if "start" in value or "end" in value:
        prefix = "每年" if value.get("recurring") == "yearly" else ""
        return f"{prefix}{_date(value.get('start'))} 至 {_date(value.get('end'))}"
    if "start_day" in value or "end_day" in value:
        return f"每月{value.get('start_day', '?')}日至{value.get('end_day', '?')}日"
    if "min" in value and "max" in value:
        return f"{value['min']}%" if value["min"] == value["max"] else f"{value['min']}%–{value['max']}%"
    if "name" in value:
        mode = SUBSIDY_MODES.get(value.get("mode") or "", value.get("mode"))
        return f"{value['name']}（{mode}）" if mode else str(value["name"])
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def unit_of(kind: str | None) -> str:
    """The unit shown after a value of `kind`, with its leading space."""
    unit = UNITS.get(kind or "")
    return f" {unit}" if unit else ""


def _kind_name(kind: str | None) -> str:
    """The Chinese name of a fact kind (the kind itself if unknown)."""
    return KIND_NAMES.get(kind or "", kind or "")


def _arrow(kind: str | None, old: Any, new: Any) -> str:
    """``old → new unit`` for values of `kind`."""
    return f"{format_value(kind, old)} → {format_value(kind, new)}{unit_of(kind)}"


def change_line(change: dict) -> str:
    """One line describing a change, e.g. ``个人缴费 380 → 400 元/人/年（2025年度）`` or ``新增缴费渠道：支付宝``,
    with a note when it rests on a low-confidence fact (``（置信度低：金额超出该年度合理范围，请人工核对）``)."""
    return _line(change) + confidence_note(change)


def confidence_note(change: dict) -> str:
    """``（置信度低：…，请人工核对）`` for a change whose detail names low-confidence facts, else ''."""
    detail = change.get("detail") if isinstance(change.get("detail"), dict) else {}
    notes = [n for n in detail.get("low_confidence") or [] if isinstance(n, dict)]
    if not notes:
        return ""
    reasons = dict.fromkeys(LOW_CONFIDENCE_REASONS.get(n.get("reason") or "", "与该年度常见范围不符") for n in notes)
    return f"（置信度低：{'；'.join(reasons)}，请人工核对）"


def _line(change: dict) -> str:
    type_, kind, old, new = change.get("type"), change.get("kind"), change.get("old"), change.get("new")
    name, unit, label = _kind_name(kind), unit_of(kind), TYPE_NAMES.get(type_ or "", type_ or "变化")
    year = f"（{change['plan_year']}年度）" if change.get("plan_year") else ""
    detail = change.get("detail") if isinstance(change.get("detail"), dict) else {}
    if type_ == "fact_changed":
        return f"{name} {_arrow(kind, old, new)}{year}"
    if type_ == "fact_added":
        step = new.get("change") if isinstance(new, dict) else None
        more = f"（比上年{'增加' if step > 0 else '减少'}{abs(step)}元）" if isinstance(step, (int, float)) and step else ""
        return f"{label}{name}：{format_value(kind, new)}{unit}{year}{more}"
    if type_ == "fact_removed":
        return f"{name}{label}：{format_value(kind, old)}{unit}{year}"
    if type_ == "conflict":
        sources = detail.get("sources") or ["一处来源", "另一处来源"]
        return (f"{name}{label}：{sources[0]} {format_value(kind, old)}{unit}，"
                f"{sources[-1]} {format_value(kind, new)}{unit}{year}")
    if type_ == "revert":
        facts = [f for f in detail.get("facts") or [] if isinstance(f, dict)]
        inner = "；".join(f"{_kind_name(f.get('kind'))} {_arrow(f.get('kind'), f.get('old'), f.get('new'))}"
                         for f in facts)
        return f"页面{label}为此前版本" + (f"：{inner}" if inner else "")
    if type_ in ("source_failing", "source_recovered"):
        line = f"{label}：{change.get('source') or change.get('url') or ''}".rstrip("：")
        error = detail.get("error") or detail.get("reason")
        checks = f"连续{detail['checks']}次" if type_ == "source_failing" and detail.get("checks") else ""
        return line + (f"（{checks}{error}）" if type_ == "source_failing" and error else "")
    if kind:
        return f"{name}{label}：{_arrow(kind, old, new)}{year}"
    return label


def change_evidence(change: dict) -> str | None:
    """The evidence sentence of a change (after, else before), shortened; none for a source's health change,
    whose error is part of its line, not a sentence of the page."""
    if change.get("type") in ("source_failing", "source_recovered"):
        return None
    return short_evidence(change.get("evidence_after") or change.get("evidence_before"))


def short_evidence(text: str | None) -> str | None:
    """An evidence sentence on one line, cut to EVIDENCE_MAX characters (None for none)."""
    if not text:
        return None
    text = re.sub(r"\s+", " ", str(text)).strip()
    return text if len(text) <= EVIDENCE_MAX else text[:EVIDENCE_MAX - 1] + "…"


def _grouped(changes: Sequence[dict]) -> list[tuple[str, list[dict]]]:
    """Changes grouped by region (by code; no region last), with the region names."""
    groups: dict[str | None, list[dict]] = {}
    for c in changes:
        groups.setdefault(c.get("region") or None, []).append(c)
    order = sorted(groups, key=lambda code: (code is None, code or ""))
    return [(region_name(code), groups[code]) for code in order]


def render(changes: list[dict], when: datetime) -> tuple[str, str, str]:
    """(title, plain text, markdown) of one Chinese message about `changes`, grouped by region."""
    if when.tzinfo is None:
        raise ValueError("render: `when` must be timezone-aware")
    stamp = when.astimezone(TZ).strftime("%Y-%m-%d %H:%M") + "（北京时间）"
    groups = _grouped(changes)
    names = [name for name, _ in groups]
    where = "、".join(names[:3]) + (f"等{len(names)}地" if len(names) > 3 else "")
    if len(changes) == 1:
        title = f"医保政策变化｜{where}：{change_line(changes[0])}"
    else:
        title = f"医保政策变化｜{where}：{len(changes)}项"
    title = title if len(title) <= 120 else title[:119] + "…"

    text = [f"城乡居民医保政策变化 {len(changes)} 项，检测时间 {stamp}", ""]
    md = [f"### 城乡居民医保政策变化（{len(changes)}项）", ""]
    for name, items in groups:
        text.append(f"【{name}】")
        md += [f"#### {_md(name)}", ""]
        for i, c in enumerate(items, 1):
            line, evidence, url, source = change_line(c), change_evidence(c), c.get("url"), c.get("source")
            text.append(f"{i}. {line}")
            md_item = [f"{i}. **{_md(line)}**"]
            if evidence:
                text.append(f"   原文：{evidence}")
                md_item.append(f"   原文：{_md(evidence)}")
            if url:
                text.append(f"   链接：{url}" + (f"（{source}）" if source else ""))
                md_item.append(f"   链接：[{_md(source or url)}]({url})")
            elif source:
                text.append(f"   来源：{source}")
                md_item.append(f"   来源：{_md(source)}")
            md.append("  \n".join(md_item))
        text.append("")
        md.append("")
    text.append(f"检测时间：{stamp}")
    md.append(f"检测时间：{stamp}")
    return title, "\n".join(text), "\n".join(md)


# -- queueing ------------------------------------------------------------------------------
_IDENTITY_KEYS = ("type", "kind", "identity", "region", "plan_year", "old", "new", "page_id", "url",
                  "snapshot_before", "snapshot_after")
# json.dumps(…, ensure_ascii=False, sort_keys=True, default=str), its encoder made once (10,000 conflicts, one each)
_IDENTITY_JSON = json.JSONEncoder(ensure_ascii=False, sort_keys=True, default=str)


def change_identity(change: dict) -> str:
    """What makes two change rows the same change: type, fact identity and values, page and snapshots."""
    return _IDENTITY_JSON.encode([change.get(k) for k in _IDENTITY_KEYS])


def dedupe_key(changes: Iterable[dict]) -> str:
    """SHA-256 over the sorted identities of a set of changes."""
    identities = sorted({change_identity(c) for c in changes})
    return hashlib.sha256(json.dumps(identities, ensure_ascii=False).encode("utf-8")).hexdigest()


def queue_for_run(changes: list[dict], targets: list[str], run_id: int | None,
                  severities: Sequence[str] = ALERT_SEVERITIES, env: Mapping[str, str] = os.environ) -> list[dict]:
    """Alert rows for `ChangeStore.record_changes(changes, alerts=…)`: one message per target, high/medium changes."""
    index = [i for i, c in enumerate(changes) if c.get("severity") in severities]
    if not index or not targets:
        return []
    chosen = [changes[i] for i in index]
    title, body_text, body_markdown = render(chosen, datetime.now(timezone.utc))
    if run_id is not None:
        body_text += f"\n（policywatch 第 {run_id} 次检查）"
        body_markdown += f"  \n（policywatch 第 {run_id} 次检查）"
    key = dedupe_key(chosen)
    recorded = all(c.get("id") is not None for c in chosen)  # rows read back from ChangeStore.changes()
    rows: dict[str, dict] = {}
    for target in targets:
        url = expand_target(target, env)
        row = dict(target_key=target_key(url), target_label=redact_target(url), dedupe_key=key, title=title,
                   body_text=body_text, body_markdown=body_markdown)
        if recorded:
            row["change_ids"] = [c["id"] for c in chosen]
        else:
            row["change_index"] = list(index)
        rows.setdefault(row["target_key"], row)
    return list(rows.values())
