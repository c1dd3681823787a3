"""The rules read text whose full-width comma is half-width (numbers.halfwidth maps ， to ,): a pattern that
stops at a clause end must stop at both, or it reads across clauses."""
from __future__ import annotations

import importlib
import re

import pytest

from extractors import extract

MODULES = ("amounts", "dates", "document", "exemptions", "groups", "plausibility", "ratios", "regions", "scope", "segment",
           "sentence", "windows")
_CLASS = re.compile(r"\[(\^?)((?:\\.|[^\]\\])*)\]")


def _patterns():
    for name in MODULES:
        module = importlib.import_module(f"extractors.{name}")
        for attr, value in vars(module).items():
            if isinstance(value, re.Pattern):
                yield f"{name}.{attr}", value.pattern
            elif hasattr(value, "pattern") and isinstance(getattr(value, "pattern"), str):
                yield f"{name}.{attr}", value.pattern  # guarded() patterns


PATTERNS = dict(_patterns())


@pytest.mark.parametrize("name", sorted(PATTERNS))
def test_a_character_class_with_the_full_width_comma_holds_the_half_width_one(name):
    for m in _CLASS.finditer(PATTERNS[name]):
        assert "，" not in m.group(2) or "," in m.group(2), f"{name}: [{m.group(1)}{m.group(2)}]"


def test_a_date_after_the_clause_that_says_the_deadline_passed_is_no_deadline():
    doc = extract("城乡居民医保参保缴费工作要点。\n缴费截止后，系统将于2026年1月6日统一核对扣款。")
    assert [f for f in doc.facts if f.kind == "payment_deadline"] == []
