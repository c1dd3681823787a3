"""Regexes that reject impossible start positions at once.

Python's regex engine skips ahead quickly only when a pattern opens with a literal or a character set it
can see. A pattern that opens with an optional part, a lookbehind or an alternation of mixed branches is
tried in full at every position of the text. `guarded()` works out the set of characters any match can
start with and puts a lookahead testing that set in front: the matches are exactly the same, and the
positions that cannot start one cost a single set test.
"""
from __future__ import annotations

import re
from re import _constants as c  # the parser's own opcodes (private, stable since 3.11)
from re import _parser as parser

_CATEGORY = {c.CATEGORY_DIGIT: r"\d", c.CATEGORY_NOT_DIGIT: r"\D", c.CATEGORY_SPACE: r"\s",
             c.CATEGORY_NOT_SPACE: r"\S", c.CATEGORY_WORD: r"\w", c.CATEGORY_NOT_WORD: r"\W"}
_ZERO_WIDTH = (c.AT, c.ASSERT, c.ASSERT_NOT)
_REPEATS = (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT)


def _char(code: int) -> str:
    return re.escape(chr(code))


def _set_items(items: list) -> list[str] | None:
    out = []
    for op, av in items:
        if op is c.LITERAL:
            out.append(_char(av))
        elif op is c.RANGE:
            out.append(f"{_char(av[0])}-{_char(av[1])}")
        elif op is c.CATEGORY and av in _CATEGORY:
            out.append(_CATEGORY[av])
        else:  # NEGATE and anything unusual: no finite first set
            return None
    return out


def _first_of_item(op, av) -> tuple[list[str] | None, bool]:
    if op is c.LITERAL:
        return [_char(av)], False
    if op is c.IN:
        return _set_items(av), False
    if op is c.BRANCH:
        chars, nullable = [], False
        for seq in av[1]:
            first, empty = first_chars(seq)
            if first is None:
                return None, False
            chars += first
            nullable = nullable or empty
        return chars, nullable
    if op is c.SUBPATTERN:
        _group, add_flags, _del_flags, seq = av
        if add_flags & re.IGNORECASE:
            return None, False
        return first_chars(seq)
    if op is c.ATOMIC_GROUP:
        return first_chars(av)
    if op in _REPEATS:
        low, _high, seq = av
        first, empty = first_chars(seq)
        return first, empty or low == 0
    return None, False  # ANY, NOT_LITERAL, group references: any character may start a match


def first_chars(seq) -> tuple[list[str] | None, bool]:
    """(character-set fragments a match of the parsed sequence can start with, whether it can match
    empty); None when any character may start it."""
    chars: list[str] = []
    for op, av in seq:
        if op in _ZERO_WIDTH:
            continue
        first, empty = _first_of_item(op, av)
        if first is None:
            return None, False
        chars += first
        if not empty:
            return chars, False
    return chars, True


def guarded(pattern: str, flags: int = 0) -> re.Pattern[str]:
    """`re.compile(pattern, flags)` with a first-character lookahead in front when one can be worked out."""
    if flags & re.IGNORECASE:
        return re.compile(pattern, flags)
    first, empty = first_chars(parser.parse(pattern, flags))
    if first is None or empty:
        return re.compile(pattern, flags)
    return re.compile(f"(?=[{''.join(dict.fromkeys(first))}])(?:{pattern})", flags)
