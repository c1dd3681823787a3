"""The waiting-period exemption rule (不设等待期): the groups named in the clauses just before it."""
from __future__ import annotations

import re
from typing import Iterator

from extractors.groups import _CLAUSE_MARK, ENUM_MARK, _split_items, _trim_group
from extractors.sentence import Found, Sentence

_NO_WAITING = re.compile(r"不设(?:置)?(?:待遇(?:享受)?)?等待期|免(?:除)?(?:待遇)?等待期|无(?:待遇)?等待期")
_CONNECTIVE = re.compile(r"^(?:需要注意的是|注意|另外|此外|同时|其中|对此)$")
# 按时参保的, 刑满释放人员在取得相应身份后3个月内参保的: the condition after a group's name (a name that is
# only a condition, 在职工医保中断缴费3个月内参加居民医保的人员, stays whole)
_IN_TIME = re.compile(r"(?:在规定(?:时间|期限)内|按时|及时|(?<=[^、，,]{2})(?:在|于)[^、，,]{1,20}?(?:日|天|月|年)(?:之)?内)"
                      r"(?:参保|缴费|参加)[^、，,]*$")
_TWO_JOINED = re.compile(r"[^、]{2,}和[^、]{2,}")
_JOIN_LEAD = re.compile(r"^(?:以及|和|及|对|对于)")
_EXEMPT_SPLIT = re.compile(r"、|以及|和|及")


def waiting_exemptions(s: Sentence) -> Iterator[Found]:
    """The groups listed before 不设等待期 / 免等待期 in the sentence (conditions after a name left out)."""
    work = s.work
    if work.rstrip().endswith(("？", "?")):
        return
    m = _NO_WAITING.search(work)
    if not m:
        return
    head = work[:m.start()]
    parts = _CLAUSE_MARK.split(head)
    pos = len(head)
    collected: list[tuple[str, int]] = []
    for part in reversed(parts):
        pos -= len(part)
        stripped = ENUM_MARK.sub("", part.strip(), count=1) if ENUM_MARK.match(part.strip()) else part.strip()
        looks_like_groups = "、" in stripped or stripped.endswith(("的", "群体", "人员", "人口", "患者", "儿", "对象"))
        if not stripped or _CONNECTIVE.match(stripped):
            if collected:
                break
            pos -= 1
            continue
        if not looks_like_groups:
            break
        stripped = _IN_TIME.sub("", stripped)
        if "、" in stripped or _TWO_JOINED.search(stripped):
            for name, offset in _split_items(stripped, _EXEMPT_SPLIT):
                name = _trim_group(_JOIN_LEAD.sub("", name))
                if 2 <= len(name) <= 40:
                    collected.append((name, pos + offset))
        else:
            name = _JOIN_LEAD.sub("", stripped)
            if 2 <= len(name) <= 40:
                collected.append((name, pos))
        pos -= 1
    for name, offset in sorted(collected, key=lambda x: x[1]):
        yield "waiting_period_exemption", {"name": name}, s.ctx.plan_year, max(offset, 0)
