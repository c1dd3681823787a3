"""`guarded()` regexes find exactly what the plain ones find, on our own texts and on corner cases."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from extractors import amounts, dates, groups, plausibility, segment
from extractors.fastre import first_chars, guarded
from extractors.numbers import halfwidth

CORPUS = Path(__file__).parent / "corpus"
GUARDED = [dates.DATE_RE, amounts.OTHER_SUBJECT, amounts.PERSONAL_KEY, amounts.SUBSIDY_KEY,
           amounts.PER_HEAD_AMOUNT, segment._SUBJECT, segment._VALUE, groups.CHANNEL_TRIGGER,
           groups.ELIGIBLE_TAIL, groups.ITEM_TRIM, plausibility.SPECIAL_GROUP]


def _matches(pattern: re.Pattern, text: str) -> list:
    return [(m.span(), m.groupdict() or m.groups()) for m in pattern.finditer(text)]


def _plain(pattern: re.Pattern) -> re.Pattern:
    """The pattern without the guard guarded() put in front."""
    match = re.fullmatch(r"\(\?=\[[^\]]*(?:\\.[^\]]*)*\]\)\(\?:(.*)\)", pattern.pattern, re.S)
    assert match, f"{pattern.pattern[:40]}… is not guarded"
    return re.compile(match.group(1), pattern.flags)


def test_first_chars_of_alternation_with_lookbehind_and_optional_prefix() -> None:
    from re import _parser
    chars, empty = first_chars(_parser.parse(r"(?<!个人)筹资|(?:省级|市)?补助|\d+元"))
    assert not empty
    assert re.fullmatch(f"[{''.join(chars)}]+", "筹省市补7")
    assert not re.search(f"[{''.join(chars)}]", "个人缴费")


@pytest.mark.parametrize("pattern", [r"a*", r"(?:x|)", r".b", r"[^，]{2,9}等", r"(?P<x>a)?(?P=x)?c", r"$"])
def test_patterns_without_a_finite_first_set_stay_unguarded(pattern: str) -> None:
    assert guarded(pattern).pattern == pattern


def test_ignorecase_pattern_stays_unguarded() -> None:
    assert guarded("abc", re.IGNORECASE).pattern == "abc"


@pytest.mark.parametrize("pattern", GUARDED, ids=lambda p: p.pattern[:24])
def test_guarded_rule_pattern_matches_like_plain_one_on_corpus(pattern: re.Pattern) -> None:
    plain = _plain(pattern)
    for path in sorted(CORPUS.glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        for variant in (text, halfwidth(text)):
            assert _matches(pattern, variant) == _matches(plain, variant), path.name


@pytest.mark.parametrize("text", ["缴费期为\u30002025年1月1日至3月31日", "１２月３１日前缴纳", "自次年1月1日起",
                                  "二〇二五年九月一日", "十二月底前", "2025-09-01至2025-12-31", "下一年底"])
def test_dates_after_unusual_leading_characters_are_found(text: str) -> None:
    assert _matches(dates.DATE_RE, text) == _matches(_plain(dates.DATE_RE), text)
    assert dates.find_dates(text)
