"""The diff stage: compare each new snapshot's facts with the page's previous healthy snapshot.

Page health is judged first (a soft-404, a maintenance or captcha page, a page
whose facts vanished while its text shrank sharply is never diffed), content
returning to an earlier state is a revert, and two sources disagreeing on the
same fact is a conflict, recorded once. A change resting on a low-confidence fact
(extractors.plausibility) is never high: medium, with detail["low_confidence"].
"""
from __future__ import annotations

import difflib
import hashlib
import json
import re
from dataclasses import dataclass, field

from extractors import EXTRACTOR_VERSION
from extractors.plausibility import assess, is_low
from extractors.regions import load_regions
from extractors.scope import source_region
from storage.diffdata import DiffData

SEVERITY = {
    "payment_deadline": "high", "payment_window": "high", "monthly_window": "high",
    "personal_contribution": "high", "fiscal_subsidy": "high", "coverage_period": "high",
    "payment_channel": "medium", "eligible_group": "medium", "subsidized_group": "medium",
    "waiting_period_exemption": "medium",
    "reimbursement_ratio": "medium", "annual_cap": "medium", "deductible": "medium",
}
NAME_KINDS = {"payment_channel", "eligible_group", "subsidized_group", "waiting_period_exemption"}
NATIONAL_CODE = "000000"  # national floors are not local rules: they never conflict with a local value
# Kinds compared across sources for conflicts.
CONFLICT_KINDS = ("payment_deadline", "personal_contribution", "fiscal_subsidy", "payment_window")
# Bump when conflicts() would find other conflicts among the same facts: the next check then searches again
# instead of trusting the previous run's conflicts_token.
CONFLICTS_VERSION = 1
_IDENTITY_JSON = json.JSONEncoder(ensure_ascii=False)  # json.dumps(…, ensure_ascii=False), made once

UNHEALTHY_TEXT = [
    ("soft 404", re.compile(r"页面不存在|找不到(?:该|您要的)?页面|404\s*(?:Not Found|错误)|页面已(?:删除|失效)|信息已(?:删除|撤销)")),
    ("maintenance page", re.compile(r"系统(?:正在)?维护|维护中|升级维护|暂停服务|网站升级")),
    ("captcha or block page", re.compile(r"验证码|人机验证|访问过于频繁|请完成(?:安全)?验证|访问受限|安全验证")),
]
MIN_TEXT = 40  # characters: shorter main text is an empty or truncated page
SHRINK = 0.5   # facts all gone while the text shrank below half: a broken page, not a policy change
REVERT_WINDOW = 5


def judge_health(text: str, facts: list[dict], previous_text: str | None, previous_facts: list[dict]) -> str:
    """'ok', or why this snapshot is not a real version of the page."""
    stripped = re.sub(r"\s", "", text)
    if len(stripped) < 600:  # real notices that merely mention 维护 are long
        for reason, pattern in UNHEALTHY_TEXT:
            if pattern.search(text):
                return reason
    if len(stripped) < MIN_TEXT:
        return "empty or truncated page"
    if previous_text is not None and previous_facts and not facts and \
            len(stripped) < SHRINK * len(re.sub(r"\s", "", previous_text)):
        return "facts vanished and text shrank"
    return "ok"


def identity(fact: dict) -> tuple:
    """What makes two facts 'the same fact' across versions: kind, plan year, region, and the name for lists."""
    name = fact["value"].get("name") if fact["kind"] in NAME_KINDS else None
    return (fact["kind"], fact.get("plan_year"), fact.get("region"), name)


def diff_facts(old: list[dict], new: list[dict]) -> list[tuple[str, dict | None, dict | None]]:
    """(type, old fact, new fact) for every difference; a single fact per identity on both sides is a change."""
    def group(facts):
        out: dict[tuple, list[dict]] = {}
        for f in facts:
            out.setdefault(identity(f), []).append(f)
        return out
    before, after = group(old), group(new)
    result = []
    for key in list(dict.fromkeys([*before, *after])):
        a, b = before.get(key, []), after.get(key, [])
        a_vals = [json.dumps(f["value"], sort_keys=True) for f in a]
        b_vals = [json.dumps(f["value"], sort_keys=True) for f in b]
        a_left = [f for f, v in zip(a, a_vals) if v not in b_vals]
        b_left = [f for f, v in zip(b, b_vals) if v not in a_vals]
        if len(a_left) == 1 and len(b_left) == 1:
            result.append(("fact_changed", a_left[0], b_left[0]))
            continue
        result += [("fact_removed", f, None) for f in a_left] + [("fact_added", None, f) for f in b_left]
    return result


_SENTENCE = re.compile(r"[^。！？；\n]+[。！？；]?")


PAIR_WINDOW = 8        # an edited sentence is looked for this many places around its own position
PAIR_MIN_RATIO = 0.6   # how alike two sentences must be to be shown as one edited sentence
CHAR_DIFF_MAX = 2000   # longer sentences are shown as removed + added, not diffed character by character


def text_diff(old: str, new: str, limit: int = 20) -> list[str]:
    """A readable Chinese-aware diff: sentences compared, changed characters marked [-旧-]{+新+}; at most
    `limit` lines. Bounded work: it stops at `limit`, pairs an old sentence only with new ones near its
    position, and never diffs sentences longer than CHAR_DIFF_MAX by character (a 2,000-row table that
    changed took 169 s before, issue 16)."""
    a = [s.strip() for s in _SENTENCE.findall(old) if s.strip()]
    b = [s.strip() for s in _SENTENCE.findall(new) if s.strip()]
    # The unchanged head and tail are cut off first: a repeated line (附件。 ×5000) made the matcher quadratic.
    head = 0
    while head < min(len(a), len(b)) and a[head] == b[head]:
        head += 1
    tail = 0
    while tail < min(len(a), len(b)) - head and a[-1 - tail] == b[-1 - tail]:
        tail += 1
    a, b = a[head:len(a) - tail], b[head:len(b) - tail]
    lines: list[str] = []
    # Past ~2,000 × 2,000 sentences, lines frequent in the new text are not used as anchors (coarser, bounded).
    matcher = difflib.SequenceMatcher(a=a, b=b, autojunk=len(a) * len(b) > 4_000_000)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            continue
        old_part, new_part = a[i1:i2], b[j1:j2]
        taken: set[int] = set()
        for k, x in enumerate(old_part):  # a sentence that was edited, not replaced: show the changed characters
            if len(lines) >= limit:
                return lines
            m = _edited_partner(x, new_part, taken, round(k * len(new_part) / len(old_part)))
            if m is None:
                lines.append("- " + x)
            else:
                taken.add(m)
                lines.append("~ " + _char_diff(x, new_part[m]))
        lines += ["+ " + y for m, y in enumerate(new_part) if m not in taken]
        if len(lines) >= limit:
            break
    return lines[:limit]


def _edited_partner(x: str, candidates: list[str], taken: set[int], centre: int) -> int | None:
    """The index of the most alike untaken candidate within PAIR_WINDOW of `centre` (first of equals), if
    alike enough to be the same sentence edited."""
    if len(x) > CHAR_DIFF_MAX:
        return None
    best, best_ratio = None, PAIR_MIN_RATIO
    for m in range(max(0, centre - PAIR_WINDOW), min(len(candidates), centre + PAIR_WINDOW + 1)):
        y = candidates[m]
        if m in taken or len(y) > CHAR_DIFF_MAX:
            continue
        matcher = difflib.SequenceMatcher(a=x, b=y, autojunk=False)
        if matcher.real_quick_ratio() < best_ratio or matcher.quick_ratio() < best_ratio:
            continue  # upper bounds of ratio(), cheap
        ratio = matcher.ratio()
        if ratio > best_ratio or (best is None and ratio >= best_ratio):
            best, best_ratio = m, ratio
    return best


def _char_diff(a: str, b: str) -> str:
    out = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if op == "equal":
            out.append(a[i1:i2])
        else:
            if i2 > i1:
                out.append(f"[-{a[i1:i2]}-]")
            if j2 > j1:
                out.append(f"{{+{b[j1:j2]}+}}")
    return "".join(out)


def low_confidence(kind: str | None, old: dict | None, new: dict | None) -> list[dict]:
    """The low-confidence sides of a change: [{"side", "kind", "confidence", "reason"}] (empty when none)."""
    notes = []
    for side, f in (("old", old), ("new", new)):
        if f and is_low(f.get("confidence")):
            reason = assess(f["kind"], f["value"], f.get("plan_year")).reason
            notes.append({"side": side, "kind": kind or f["kind"], "confidence": f["confidence"], "reason": reason})
    return notes


def severity_of(kind: str | None, old: dict | None, new: dict | None) -> str:
    """The kind's severity, except that a change built on a low-confidence fact is never high (medium)."""
    severity = SEVERITY.get(kind or "", "low")
    return "medium" if severity == "high" and low_confidence(kind, old, new) else severity


def _with_note(detail: dict | None, notes: list[dict]) -> dict | None:
    return {**(detail or {}), "low_confidence": notes} if notes else detail


@dataclass
class DiffResult:
    changes: list[dict] = field(default_factory=list)
    health: dict[int, str] = field(default_factory=dict)  # snapshot id → health
    conflicts_token: str | None = None  # what the conflict search covered (searched now or settled before)


def _change(type_: str, page: dict, kind: str | None, old: dict | None, new: dict | None, *,
            severity: str, before: dict | None, after: dict, detail: dict | None = None) -> dict:
    fact = new or old or {}
    if kind is not None:  # a revert (kind None) gathers the notes of its facts itself
        detail = _with_note(detail, low_confidence(kind, old, new))
    return dict(source_id=page["source_id"], page_id=page["page_id"], type=type_, kind=kind,
                identity=_IDENTITY_JSON.encode(identity(fact)) if fact else None,
                old=old["value"] if old else None, new=new["value"] if new else None, severity=severity,
                region=fact.get("region"), plan_year=fact.get("plan_year"),
                snapshot_before=before["id"] if before else None, snapshot_after=after["id"],
                evidence_before=old.get("evidence") if old else None,
                evidence_after=new.get("evidence") if new else None, url=after["url"], detail=detail)


def diff_page(page: dict, history: list[dict], snapshot: dict) -> tuple[str, list[dict]]:
    """Health of `snapshot` and its changes against the page's earlier healthy `history` (newest last)."""
    previous = history[-1] if history else None
    health = judge_health(snapshot["main_text"], snapshot["facts"],
                          previous["main_text"] if previous else None, previous["facts"] if previous else [])
    if health != "ok":
        return health, []
    if previous is None:
        if page.get("discovered") and snapshot["facts"]:  # a new article on a watched list: its facts are news
            return health, [_change("fact_added", page, f["kind"], None, f, severity=severity_of(f["kind"], None, f),
                                    before=None, after=snapshot) for f in snapshot["facts"]]
        return health, []  # the first version of a watched page is the baseline
    if snapshot["content_hash"] == previous["content_hash"]:
        return health, []
    fact_changes = diff_facts(previous["facts"], snapshot["facts"])
    earlier = [h for h in history[-REVERT_WINDOW:-1] if h["content_hash"] == snapshot["content_hash"]]
    if earlier:  # A → B → A: one revert, not a new change
        detail = {"reverted_to_snapshot": earlier[-1]["id"],
                  "facts": [{"type": t, "kind": (o or n)["kind"], "old": o and o["value"], "new": n and n["value"]}
                            for t, o, n in fact_changes]}
        # high when a core fact changes back; medium when every such change rests on a low-confidence fact
        severities = {severity_of((o or n)["kind"], o, n) for _, o, n in fact_changes
                      if SEVERITY.get((o or n)["kind"]) == "high"}
        severity = "high" if "high" in severities else "medium" if severities else "low"
        notes = [note for _, o, n in fact_changes for note in low_confidence((o or n)["kind"], o, n)]
        detail = _with_note(detail, notes)
        return health, [_change("revert", page, None, None, None, severity=severity, before=previous,
                                after=snapshot, detail=detail)]
    changes = [_change(t, page, (o or n)["kind"], o, n, severity=severity_of((o or n)["kind"], o, n),
                       before=previous, after=snapshot) for t, o, n in fact_changes]
    changes.append(_change("text_changed", page, None, None, None, severity="low", before=previous, after=snapshot,
                           detail={"diff": text_diff(previous["main_text"], snapshot["main_text"])}))
    return health, changes


def conflicts(latest: list[dict], known: set[str]) -> list[dict]:
    """Different values for the same fact (kind, plan year; same region or a province and its city)
    from different sources, each reported once: `known` holds the identities already recorded."""
    regions = load_regions()
    # A source's newest statement wins over its older pages (a later notice extending the deadline).
    newest: dict[tuple, tuple[dict, dict]] = {}
    for snap in sorted(latest, key=lambda x: x["id"]):
        for f in snap["facts"]:
            if f["kind"] in CONFLICT_KINDS and f.get("plan_year") and f.get("region"):
                newest[(snap["source_id"], f["kind"], f["plan_year"], f["region"])] = (snap, f)
    by_key: dict[tuple, list[tuple[dict, dict]]] = {}
    for (_, kind, plan_year, _), item in newest.items():
        by_key.setdefault((kind, plan_year), []).append(item)
    found = []
    for (kind, plan_year), items in by_key.items():
        values = [json.dumps(f["value"], sort_keys=True) for _, f in items]
        for i, j in _related_pairs([f["region"] for _, f in items], values, regions):
            (snap_a, a), (snap_b, b) = items[i], items[j]
            if snap_a["source_id"] == snap_b["source_id"] or a["value"] == b["value"]:
                continue
            pair = sorted([(snap_a["source_id"], values[i]), (snap_b["source_id"], values[j])])
            key = hashlib.sha256(json.dumps([kind, plan_year, pair]).encode()).hexdigest()[:40]
            if key in known:
                continue
            known.add(key)
            notes = low_confidence(kind, a, b)
            found.append(dict(source_id=snap_b["source_id"], page_id=snap_b["page_id"], type="conflict",
                              kind=kind, identity=key, old=a["value"], new=b["value"],
                              severity="medium" if notes else "high",
                              region=b["region"], plan_year=plan_year, snapshot_before=snap_a["id"],
                              snapshot_after=snap_b["id"], evidence_before=a["evidence"],
                              evidence_after=b["evidence"], url=snap_b["url"],
                              detail=_with_note({"sources": [snap_a["source"], snap_b["source"]],
                                                 "urls": [snap_a["url"], snap_b["url"]],
                                                 "regions": [a["region"], b["region"]]}, notes)))
    return found


def _related_pairs(codes: list[str], values: list[str], regions) -> list[tuple[int, int]]:
    """The index pairs (i < j, ascending) of facts that can conflict: different values, and the same region or
    a province and one of its prefectures (national floors never). Facts are bucketed by region and value,
    so the work follows the pairs that can conflict, not the square of a kind's facts (600 pages of one
    city stating the same fee are no pair at all)."""
    buckets: dict[str, dict[str, list[int]]] = {}
    for i, (code, value) in enumerate(zip(codes, values)):
        buckets.setdefault(code, {}).setdefault(value, []).append(i)
    pairs: list[tuple[int, int]] = []

    def cross(left: dict[str, list[int]], right: dict[str, list[int]], same_bucket: bool) -> None:
        for va, xs in left.items():
            for vb, ys in right.items():
                if va == vb or (same_bucket and va > vb):
                    continue
                pairs.extend((min(x, y), max(x, y)) for x in xs for y in ys)

    for code, by_value in buckets.items():
        if code == NATIONAL_CODE:
            continue
        cross(by_value, by_value, True)
        region = regions.by_code(code)
        parent = regions.by_code(region.parent) if region and region.parent else None
        if parent is not None and parent.code != NATIONAL_CODE and parent.code in buckets and regions.contains(parent, region):
            cross(by_value, buckets[parent.code], False)
    pairs.sort()
    return pairs


FAILING_AFTER = 3  # consecutive unhealthy checks before a "source failing" alert


def _source_region_code(name: str | None) -> str | None:
    """The GB/T 2260 code of a source's configured `region` (运城市 → 140800), as its facts are scoped
    (extractors.scope.source_region), so its health alerts are grouped under it instead of 未注明地区."""
    found = source_region(name)
    return found.code if found else None


def health_changes(page: dict, states: list[tuple], last: tuple[str, int] | None = None,
                   failing_after: int = FAILING_AFTER) -> list[dict]:
    """The health transitions of a page not recorded yet, judged from its stored checks.

    `states`: its recent checks oldest first, each (healthy, reason[, check id]); `last`: its newest recorded
    transition as (type, index of the last check it covers; -1 = before `states`), None when there is none.
    A `source_recovered` follows a recorded `source_failing` at the first healthy check after it; a
    `source_failing` comes once per run of at least `failing_after` unhealthy checks, however many checks
    (or interrupted runs) it took to notice, so a run killed before its diff stage loses nothing."""
    def trailing_unhealthy(seq):
        n = 0
        for state in reversed(seq):
            if state[0]:
                break
            n += 1
        return n
    def check_id(state):
        return state[2] if len(state) > 2 else None
    base = dict(source_id=page["source_id"], page_id=page["page_id"], kind=None, identity=None, old=None, new=None,
                severity="high", region=_source_region_code(page.get("source_region")), plan_year=None,
                snapshot_before=None, snapshot_after=None, evidence_before=None, evidence_after=None, url=page["url"])
    reported, covered = last if last else (None, -1)
    out = []
    if reported == "source_failing":
        for i in range(covered + 1, len(states)):
            if states[i][0]:
                out.append(dict(base, type="source_recovered", severity="medium",
                                detail={"after_checks": trailing_unhealthy(states[:i]), "check_id": check_id(states[i])}))
                reported, covered = "source_recovered", i
                break
    if reported != "source_failing":
        run = trailing_unhealthy(states[covered + 1:])
        if run >= failing_after:
            out.append(dict(base, type="source_failing", evidence_after=states[-1][1],
                            detail={"reason": states[-1][1], "checks": run, "check_id": check_id(states[-1])}))
    return out


def run_diff(data: DiffData, run_id: int | None = None) -> DiffResult:
    """Judge and diff every snapshot not judged yet (oldest first), then look for new conflicts."""
    result = DiffResult()
    for page, history, pending in data.pages_to_diff(EXTRACTOR_VERSION):
        for snapshot in pending:
            health, changes = diff_page(page, history, snapshot)
            result.health[snapshot["id"]] = health
            for c in changes:
                c["run_id"] = run_id
            result.changes += changes
            if health == "ok":
                history.append(snapshot)
    if run_id is not None:
        # health judged in this pass is not stored yet: it is passed along
        for page, states, last in data.check_health(run_id, result.health):
            result.changes += [dict(c, run_id=run_id) for c in health_changes(page, states, last)]
    token = conflicts_token(data.enabled_sources())
    if run_id is not None and not result.health and data.conflicts_settled(run_id, token):
        # Nothing judged since a finished check searched the same sources' facts: it would find nothing new.
        result.conflicts_token = token
        return result
    latest = data.latest_healthy(EXTRACTOR_VERSION, pending_health=result.health, kinds=CONFLICT_KINDS)
    for c in conflicts(latest, data.known_conflicts()):
        c["run_id"] = run_id
        result.changes.append(c)
    result.conflicts_token = token
    return result


def conflicts_token(enabled_sources: list[tuple[int, str]]) -> str:
    """What a conflict search covers besides the facts judged (runs.conflicts_token): the extractor version, the
    conflict rules' version and the enabled sources."""
    data = json.dumps([EXTRACTOR_VERSION, CONFLICTS_VERSION, enabled_sources], ensure_ascii=False)
    return hashlib.sha256(data.encode()).hexdigest()[:40]
