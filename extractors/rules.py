"""Rules that turn one sentence of a 居民医保 page into facts.

Each rule reads a `Sentence` (its text, span and the document context) and
yields (kind, value, plan_year, offset) tuples; `document.extract` adds region
and evidence. Rules are small regex grammars, written to be read.
"""
from __future__ import annotations

import re
from typing import Callable

from extractors.amounts import amounts
from extractors.groups import (
                               ENUM_MARK,
                               channels,
                               eligible_groups,
                               enumerated_items,
                               subsidized_groups,
                               waiting_exemptions,
)
from extractors.ratios import ratios
from extractors.sentence import Context, Sentence
from extractors.windows import windows

__all__ = ["ENUM_MARK", "RULES", "Context", "Sentence", "ANY_TRIGGER", "may_hold_fact", "rules_for"]

# Each rule with the words it needs: a sentence with none of them cannot fire the rule, so the document is
# scanned once per rule and only sentences with a trigger are read (most sentences of a page state no fact).
# None: the rule reads sentences that start with an enumeration mark (checked per sentence).
_DATE_HINT = re.compile(r"月|年底|年末|\d{4}[-/.]\d")
RULES: tuple[tuple[Callable, re.Pattern | None], ...] = (
    (amounts, re.compile("元")),
    (windows, _DATE_HINT),
    (channels, re.compile("、|渠道|方式")),
    (eligible_groups, re.compile("、|参保|参加")),
    (subsidized_groups, re.compile("资助|代缴|补助")),
    (waiting_exemptions, re.compile("等待期")),
    (enumerated_items, None),
    (ratios, re.compile("[%％]|封顶|起付|最高")),
)

# All trigger words in one pattern: one scan of a page finds the sentences that can hold a fact. The others
# (plain prose: no amount, date, percentage, list or rule word, most sentences of a long page) cost the rules
# nothing. A bare number is no trigger: without 元, %, 月… no rule reads it.
ANY_TRIGGER = re.compile("|".join(f"(?:{trigger.pattern})" for _, trigger in RULES if trigger is not None))
_ENUM_FIRST = frozenset("（(一二三四五六七八九十0123456789①②③④⑤⑥⑦⑧⑨⑩-•·●▪")


def opens_enumeration(work: str) -> bool:
    """Whether a sentence (half-width text) starts with an enumeration mark (（一）, 1., ①, •…)."""
    first = work[:1]
    return (first in _ENUM_FIRST or first.isspace()) and ENUM_MARK.match(work) is not None


def may_hold_fact(work: str) -> bool:
    """Whether any rule may fire on a sentence (half-width text): it holds a trigger word or opens an enumeration."""
    return ANY_TRIGGER.search(work) is not None or opens_enumeration(work)


def rules_for(work: str) -> list[Callable]:
    """The rules that may fire on a sentence (half-width text), in RULES order."""
    return [rule for rule, trigger in RULES
            if (trigger.search(work) is not None if trigger is not None else opens_enumeration(work))]
