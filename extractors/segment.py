"""Cutting a page's main text into the sentences the rules read.

Written notices end sentences with 。！？； or a line break. Speech-to-text transcripts have no sentence
punctuation at all: one clause per line, and a subject (财政补助和个人缴费的标准) on one line with its value
(分别…670元和400元) on the next. Their lines are grouped into sentences by how clauses attach.
"""
from __future__ import annotations

import re

from extractors.amounts import PERSONAL_KEY, SUBSIDY_KEY
from extractors.fastre import guarded
from extractors.sentence import AMOUNT
from extractors.windows import COVERAGE_KEY, PAYMENT_KEY

SENTENCE_END = re.compile(r"[。！？!?；;\n]")
END_MARKS = "。！？!?；;"  # SENTENCE_END but the line break
_LINE_BREAK = re.compile("\n")
_PUNCTUATED = re.compile(r"[。！？!?；;：:]")
TRANSCRIPT_MIN_LINES = 30
TRANSCRIPT_BARE_SHARE = 0.9
GROUP_MAX_LINES = 4
_SUBJECT = guarded("|".join(p.pattern for p in (PERSONAL_KEY, SUBSIDY_KEY, PAYMENT_KEY, COVERAGE_KEY)))
_VALUE = guarded(AMOUNT.pattern + r"|\d{1,2}\s*月\s*\d{1,2}\s*[日号]|[一二三四五六七八九十]{1,3}月[一二三四五六七八九十]{1,3}[日号]")
_CONTINUES = re.compile(r"^\s*(?:分别|达到|达|不低于|不少于|提高到|提高至|增加到|增至|升至|为每人|每人每年|其中|较上年|比上年|同比)")


def sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence, end exclusive and including its closing mark."""
    if is_transcript(text):
        return transcript_sentences(text)
    # SENTENCE_END's positions: its marks all made line breaks, then the line breaks found by a fast scan
    # (a character-set regex tests every character of the page against the set, ≈ 1 ms per 30,000)
    marks = text
    for mark in END_MARKS:
        if mark in marks:
            marks = marks.replace(mark, "\n")
    spans, start = [], 0
    for m in _LINE_BREAK.finditer(marks):
        end = m.end()
        if not text[start:end].isspace():  # (never empty: it holds its mark)
            spans.append((start, end))
        start = end
    if text[start:].strip():
        spans.append((start, len(text)))
    return spans


def is_transcript(text: str) -> bool:
    """Many short lines and almost none with sentence punctuation: a speech-to-text transcript."""
    lines = [line for line in text.split("\n") if line.strip()]
    if len(lines) < TRANSCRIPT_MIN_LINES:
        return False
    allowed = len(lines) - TRANSCRIPT_BARE_SHARE * len(lines)  # punctuated lines a transcript may have
    punctuated = 0
    for line in lines:
        if _PUNCTUATED.search(line):
            punctuated += 1
            if punctuated > allowed:
                return False
    return True


def _clause_shape(line: str) -> tuple[bool, bool, bool]:
    """(holds a subject word, holds a value, starts by continuing a clause) of one transcript line."""
    return _SUBJECT.search(line) is not None, _VALUE.search(line) is not None, _CONTINUES.match(line) is not None


def _attaches(last: tuple[bool, bool, bool], line: tuple[bool, bool, bool]) -> bool:
    """Whether a line continues the clause before it (both as `_clause_shape`s): a subject waits for its
    value, or a value finds its subject."""
    last_subject, last_value, _ = last
    line_subject, line_value, continues = line
    if last_subject and not last_value:
        return line_value or continues
    if last_subject and line_value and not line_subject:
        return True
    return (last_subject or last_value) and continues


def transcript_sentences(text: str) -> list[tuple[int, int]]:
    """Sentences of a transcript: runs of up to GROUP_MAX_LINES lines that attach to each other."""
    lines, pos = [], 0
    for raw in text.split("\n"):
        if raw.strip():
            lines.append((pos, pos + len(raw), _clause_shape(raw)))
        pos += len(raw) + 1
    groups: list[list[tuple[int, int, tuple]]] = []
    for line in lines:
        if groups and len(groups[-1]) < GROUP_MAX_LINES and _attaches(groups[-1][-1][2], line[2]):
            groups[-1].append(line)
        else:
            groups.append([line])
    return [(group[0][0], group[-1][1]) for group in groups]
