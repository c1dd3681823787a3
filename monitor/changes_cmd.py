"""`policywatch changes`: the detected changes, written the way alerts write them (Chinese lines, evidence,
link), or as JSON for scripts."""
from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime

from monitor.options import iso, local_minute

JSON_KEYS = ("id", "source", "url", "type", "kind", "old", "new", "severity", "detected_at",
             "evidence_before", "evidence_after")
DIFF_LINES = 3  # text diff lines shown under a text_changed row (all of them are in --json's detail)


def change_json(row: dict) -> dict:
    """One change in the documented `changes --json` shape (extended with `line` and `detail`)."""
    from monitor.alerts import change_line
    detail = row["detail"] or {}
    return {**{k: iso(row[k]) if k == "detected_at" else row[k] for k in JSON_KEYS},
            "low_confidence": detail.get("low_confidence"), "region": row.get("region"),
            "plan_year": row.get("plan_year"), "line": change_line(row), "detail": detail}


def change_block(row: dict) -> list[str]:
    """The lines `changes` prints for one change: header with the Chinese line, then evidence, diff, link."""
    from monitor.alerts import change_evidence, region_name, change_line, short_evidence
    detail = row["detail"] or {}
    where = region_name(row.get("region"))
    lines = [f"#{row['id']}  {local_minute(row['detected_at'])}  {row['severity']}  {row['source']}  [{where}]  "
             f"{change_line(row)}"]
    if row["type"] in ("source_failing", "source_recovered"):
        pass  # the error is part of the line; there is no page sentence to quote
    elif row["type"] == "text_changed":
        diff = detail.get("diff") or []
        lines += [f"    {d}" for d in diff[:DIFF_LINES]]
        if len(diff) > DIFF_LINES:
            lines.append(f"    …（另有{len(diff) - DIFF_LINES}处，见 --json 的 detail.diff）")
    else:
        evidence = change_evidence(row)
        if row.get("evidence_before") and row.get("evidence_after") and row["type"] == "fact_changed":
            lines.append(f"    原文（此前）：{short_evidence(row['evidence_before'])}")
            lines.append(f"    原文（现在）：{short_evidence(row['evidence_after'])}")
        elif evidence:
            lines.append(f"    原文：{evidence}")
    if row.get("url"):
        lines.append(f"    链接：{row['url']}")
    return lines


def cmd_changes(args: argparse.Namespace, since: datetime | None, db) -> int:
    """Print the changes (oldest first) as text blocks or, with --json, as a JSON list."""
    from storage import ChangeStore
    rows = ChangeStore(db).changes(since=since, source=args.source)
    if args.json:
        print(json.dumps([change_json(r) for r in rows], ensure_ascii=False, indent=2))
        return 0
    out = []
    for r in rows:
        out += change_block(r) + [""]
    sys.stdout.write("\n".join(out) if out else "no changes\n")
    return 0
