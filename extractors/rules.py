"""Rules that turn one sentence of a 居民医保 page into facts.

Each rule reads a `Sentence` (its text, span and the document context) and
yields (kind, value, plan_year, offset) tuples; `document.extract` adds region
and evidence. Rules are small regex grammars, written to be read.
"""
from __future__ import annotations

import re

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

__all__ = ["RULES", "Context", "Sentence"]

# Each rule with a cheap test of whether it can possibly fire on a sentence (most sentences state no fact).
_DATE_HINT = re.compile(r"月|年底|年末|\d{4}[-/.]\d")
RULES = (
    (amounts, lambda w: "元" in w),
    (windows, lambda w: _DATE_HINT.search(w) is not None),
    (channels, lambda w: "、" in w or "渠道" in w or "方式" in w),
    (eligible_groups, lambda w: "、" in w or "参保" in w or "参加" in w),
    (subsidized_groups, lambda w: "资助" in w or "代缴" in w or "补助" in w),
    (waiting_exemptions, lambda w: "等待期" in w),
    (enumerated_items, lambda w: ENUM_MARK.match(w) is not None),
    (ratios, lambda w: "%" in w or "％" in w or "封顶" in w or "起付" in w or "最高" in w),
)
