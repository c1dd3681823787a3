"""Rules that turn one sentence of a 居民医保 page into facts.

Each rule reads a `Sentence` (its text, span and the document context) and
yields (kind, value, plan_year, offset) tuples; `document.extract` adds region
and evidence. Rules are small regex grammars, written to be read.
"""
from __future__ import annotations

import re
from typing import Callable

from extractors.amounts import amounts
from extractors.exemptions import waiting_exemptions
from extractors.groups import (
                               ENUM_FIRST,
                               ENUM_MARK,
                               channels,
                               eligible_groups,
                               enumerated_items,
                               subsidized_groups,
)
from extractors.ratios import ratios
from extractors.sentence import Context, Sentence
from extractors.windows import windows

__all__ = ["ENUM_FIRST", "ENUM_MARK", "RULES", "TRIGGER_MASKS", "TRIGGER_SCAN", "TRIGGER_SCANS", "TRIGGER_WORDS",
           "Context", "Sentence", "may_hold_fact", "opens_enumeration"]

# Each rule with the words it needs: a sentence with none of them cannot fire the rule, so the document is
# scanned for them and only sentences with a trigger are read (most sentences of a page state no fact; plain
# prose, with no amount, date, percentage, list or rule word, costs the rules nothing; a bare number is no
# trigger either: without 元, %, 月… no rule reads it). Every pattern opens with one literal character, which
# the regex engine finds by a fast scan (≈ 1 µs per 1,000 characters; a pattern that opens with a character
# set tests every character against it, 20-30 times slower). None: the rule reads sentences that start with
# an enumeration mark (checked per sentence).
_TRIGGERS: tuple[tuple[Callable, tuple[str, ...] | None], ...] = (
    (amounts, ("元",)),
    # 月, 年底/年末, an ISO date (2025-09-01: its separator, found after four digits)
    (windows, ("月", "年[底末]", r"-(?<=\d{4}-)\d", r"/(?<=\d{4}/)\d", r"\.(?<=\d{4}\.)\d")),
    (channels, ("、", "渠道", "方式")),
    (eligible_groups, ("、", "参[保加]")),
    (subsidized_groups, ("资助", "代缴", "补助")),
    (waiting_exemptions, ("等待期",)),
    (enumerated_items, None),
    (ratios, ("%", "％", "封顶", "起付", "最高")),
)
# (rule, one pattern for all its trigger words): whether a sentence holds one
RULES: tuple[tuple[Callable, re.Pattern | None], ...] = tuple(
    (rule, re.compile("|".join(words)) if words is not None else None) for rule, words in _TRIGGERS)
# (index in RULES, one trigger word's pattern): what a document is scanned for
TRIGGER_SCANS: tuple[tuple[int, re.Pattern], ...] = tuple(
    (number, re.compile(word)) for number, (_, words) in enumerate(_TRIGGERS) for word in words or ())
# Every distinct trigger word once, in one alternation: one scan of the document finds them all. The words
# start with distinct characters (which name the word matched) and no word's match holds another's first
# character after its own first (tests/extractors/test_cost.py), so the scan misses no occurrence.
TRIGGER_WORDS: tuple[str, ...] = tuple(dict.fromkeys(word for _, words in _TRIGGERS for word in words or ()))
TRIGGER_SCAN = re.compile("|".join(TRIGGER_WORDS))
# a word's first character → bit mask of the rules it triggers (bit n: RULES[n])
TRIGGER_MASKS: dict[str, int] = {
    word.lstrip("\\")[0]: sum(1 << n for n, (_, words) in enumerate(_TRIGGERS) if words and word in words)
    for word in TRIGGER_WORDS}


def opens_enumeration(work: str, start: int = 0, end: int | None = None) -> bool:
    """Whether a sentence (half-width text, or work[start:end]) starts with an enumeration mark (（一）, 1., ①…)."""
    first = work[start:start + 1]
    # ENUM_MARK's ^ anchors at the string's start, never at a pos: it reads a slice, and only when the first
    # character can open a mark at all
    return (first in ENUM_FIRST or first.isspace()) and ENUM_MARK.match(work[start:end]) is not None


def may_hold_fact(work: str) -> bool:
    """Whether any rule may fire on a sentence (half-width text): it holds a trigger word or opens an enumeration."""
    return any(pattern.search(work) for _, pattern in TRIGGER_SCANS) or opens_enumeration(work)
