"""Numbers as Chinese notices write them: full-width digits, Chinese numerals, 万/亿."""
from __future__ import annotations

import re

# patterns of the rules below, compiled once
_DECIMAL = re.compile(r"[0-9]+(?:\.[0-9]+)?")

_FULL = str.maketrans("０１２３４５６７８９．，％～－", "0123456789.,%~-")
_DIGITS = {"零": 0, "〇": 0, "○": 0, "Ｏ": 0, "一": 1, "壹": 1, "二": 2, "两": 2, "贰": 2, "三": 3, "叁": 3,
           "四": 4, "肆": 4, "五": 5, "伍": 5, "六": 6, "陆": 6, "七": 7, "柒": 7, "八": 8, "捌": 8,
           "九": 9, "玖": 9}
_UNITS = {"十": 10, "拾": 10, "百": 100, "佰": 100, "千": 1000, "仟": 1000}
_BIG = {"万": 10_000, "萬": 10_000, "亿": 100_000_000}

CN_DIGITS = "零〇○一壹二两贰三叁四肆五伍六陆七柒八捌九玖"
CN_NUMERAL = f"[{CN_DIGITS}十拾百佰千仟]+"
# A number as written: Arabic (half or full width, with decimals) or Chinese numerals; optional 万/亿.
NUMBER = rf"(?:[0-9０-９]+(?:[.．][0-9０-９]+)?|{CN_NUMERAL})(?:[万萬亿])?"


_FULL_CHARS = {chr(k): chr(v) for k, v in _FULL.items()}


def halfwidth(text: str) -> str:
    """Full-width digits and marks to ASCII, one character for one (spans stay valid)."""
    # str.translate walks every character of a non-ASCII text through a dict (≈ 1 ms for 3,000 characters), and
    # a regex over a character set tests each character against the set (≈ 0.8 ms for 30,000); finding one
    # character is a fast C scan, so the few kinds present are replaced one after the other (ASCII is never
    # replaced, so the order does not matter).
    for full, half in _FULL_CHARS.items():
        if full in text:
            text = text.replace(full, half)
    return text


def _small_chinese(text: str) -> int:
    """A Chinese numeral below 10,000: 三百八十 → 380, 二〇二四 → 2024, 十五 → 15."""
    if text and all(c in _DIGITS for c in text):  # digit by digit: 二〇二四
        return int("".join(str(_DIGITS[c]) for c in text))
    total, current = 0, 0
    for c in text:
        if c in _DIGITS:
            current = _DIGITS[c]
        elif c in _UNITS:
            total += (current or 1) * _UNITS[c]
            current = 0
        else:
            raise ValueError(f"not a Chinese numeral: {text!r}")
    return total + current


def parse_number(text: str) -> float:
    """Value of a number written as in NUMBER: '380', '３８０', '三百八十', '叁佰捌拾', '30万', '1.5万'."""
    if text.isascii() and text.isdigit():
        return float(text)
    s = halfwidth(text.strip())
    multiplier = 1
    while s and s[-1] in _BIG:
        multiplier *= _BIG[s[-1]]
        s = s[:-1]
    if not s:
        raise ValueError(f"not a number: {text!r}")
    if _DECIMAL.fullmatch(s):
        return float(s) * multiplier
    # 一万二千 style: split on 万 inside
    if "万" in s:
        high, _, low = s.partition("万")
        return (_small_chinese(high) * 10_000 + (_small_chinese(low) if low else 0)) * multiplier
    return float(_small_chinese(s)) * multiplier


def parse_int(text: str) -> int:
    if text.isascii() and text.isdigit():
        return int(text)
    value = parse_number(text)
    return int(round(value))
