"""extract(): main text of one page → a Document of typed facts with evidence."""
from __future__ import annotations

import re
from collections import Counter
from datetime import date, datetime
from functools import lru_cache

from extractors.dates import YearResolver
from extractors.model import Document, build_fact
from extractors.numbers import halfwidth
from extractors.plausibility import below_national_minimum, confidence
from extractors.regions import PREFECTURE, PROVINCE, Region, detect_region, load_regions
from extractors.rules import ENUM_FIRST, ENUM_MARK, RULES, TRIGGER_MASKS, TRIGGER_SCAN, Context, Sentence
from extractors.segment import END_MARKS, is_transcript, sentences
from extractors.sentence import clause_bounds
from extractors.version import EXTRACTOR_VERSION

__all__ = ["EXTRACTOR_VERSION", "extract", "main_plan_year"]

# A page is about resident medical insurance when it names it; otherwise it yields no facts.
TOPIC = re.compile(r"居民医保|居民(?:基本)?医疗保险|城乡居民(?:基本)?医疗|城乡医保|新农合|新型农村合作医疗|居民基本医保|"
                   r"少儿(?:及大学生)?医保|大学生医保|少儿医疗保险")
NATIONAL = re.compile(r"国家(?:规定|要求|明确|医保局|层面|标准)|全国(?:统一|范围|居民医保)|国务院")
# 2025年度…, 2025年全市城乡居民医保…; not a year quoted in passing (2016年与城镇居民医保合并, 自2016年以来的居民医保)
PLAN_YEAR_MENTION = re.compile(r"((?:19|20)\d\d)\s*(?:年度|年(?![以起前后底末])[^\d，。,；;、与和及起至到以来前后的]{0,8}?居民(?:基本)?医(?:疗)?保)")


def main_plan_year(text: str, converted: bool = False) -> int | None:
    """The plan year a page is mostly about (2025年度…, 2025年居民医保…); `converted`: `text` has half-width
    digits already."""
    years = Counter(int(m.group(1)) for m in PLAN_YEAR_MENTION.finditer(text if converted else halfwidth(text)))
    if not years:
        return None
    top = max(years.values())
    return max(y for y, n in years.items() if n == top)


def _fact_region(sentence: str, page: Region | None) -> str | None:
    table = load_regions()
    if "国" in sentence and NATIONAL.search(sentence) and (page is None or page.level != "country"):
        return "000000"
    mentioned = [r for _, _, r in _mentions(sentence)]
    if page is None:
        return mentioned[0].code if mentioned else None
    if not mentioned or any(r.code == page.code for r in mentioned):
        return page.code
    for r in mentioned:
        if table.contains(r, page) or not table.contains(page, r):
            return r.code  # a province quoted in a city page, or another place altogether
    return page.code


def extract(text: str, url: str | None = None, title: str | None = None, published: datetime | date | None = None,
            breadcrumb: str | None = None) -> Document:
    """Facts of one page's main text; `published` resolves 即日起 and year-less dates."""
    pub_date = published.date() if isinstance(published, datetime) else published
    region = detect_region(text, title=title, url=url, breadcrumb=breadcrumb)
    work = halfwidth(text)
    title_work = halfwidth(title) if title else ""
    # (halfwidth maps character for character: the halves converted apart are the whole converted)
    plan_year = main_plan_year(title_work + "\n" + work, converted=True)
    doc = Document(url=url, title=title, published_at=published if isinstance(published, datetime) else (
        datetime(published.year, published.month, published.day) if published else None),
        region={"name": region.name, "code": region.code} if region else None, plan_year=plan_year)
    if not TOPIC.search((title or "") + text):
        return doc
    ctx = Context(published=pub_date, plan_year=plan_year, resolver=YearResolver(pub_date, plan_year))
    seen: set[tuple] = set()
    found: list[tuple] = []  # (kind, value, plan year, region, evidence, span) of each new fact
    spans, texts, chosen = _sentences_and_rules(text, work)
    # Rules read nothing but a sentence and the sentences before it, so a repeat adds no fact: a text whose
    # rules did not read the sentences before it (`alone`), or a text with the same sentences before it (`read`).
    read: set[tuple[str, ...]] = set()
    alone: set[str] = set()
    for index, rules in chosen:
        own = texts[index]
        if own in alone:
            continue
        key = tuple(texts[index - 8 if index > 8 else 0:index + 1])  # (the previous sentences, then this one)
        if key in read:
            continue
        read.add(key)
        start, end = spans[index]
        # a transcript sentence spans lines: its line breaks are clause breaks for the rules
        sentence = Sentence(own, start, ctx, key[:-1], work[start:end].replace("\n", "，"))
        _apply(sentence, rules, (start, end), region, seen, found)
        if not sentence.read_prev:
            alone.add(own)
    if title:  # a headline can state what the text does not repeat (…延长至2025年1月31日); its span is null
        rules = [rule for rule, trigger in RULES
                 if (trigger.search(title_work) if trigger is not None else ENUM_MARK.match(title_work))]
        _apply(Sentence(title, 0, ctx, tuple(texts[-8:]), title_work), rules, None, region, seen, found)
    found = _merge(found)
    if doc.plan_year is None:
        doc.plan_year = _plan_year_from_facts(found)
        if doc.plan_year is not None:
            found = [f if f[2] is not None else (f[0], f[1], doc.plan_year, *f[3:]) for f in found]
    # the Facts are built once, with their confidence (what assess_document does to a built document)
    doc.facts = [build_fact(kind, value, year, where, evidence, span, confidence(kind, value, year))
                 for kind, value, year, where, evidence, span in found]
    if region is not None and region.code != "000000":  # (below_national_minimum has nothing to say otherwise)
        doc.below_national_minimum = below_national_minimum(
            [f.to_json() for f in doc.facts if f.kind in AMOUNT_KINDS], region.code)
    return doc


# a sentence end (every end mark made a line break) or a trigger word: one scan finds both
_ENDS_AND_WORDS = re.compile("\n|" + TRIGGER_SCAN.pattern)


def _sentences_and_rules(text: str, work: str) -> tuple[list[tuple[int, int]], list[str], list[tuple[int, list]]]:
    """(spans, texts) of the sentences (segment.sentences) and _rules_per_sentence's choice, from one scan of
    the page for sentence ends and trigger words (the page is cut where sentences() cuts it: no trigger word
    holds an end mark, and none looks behind past one)."""
    if is_transcript(text):
        spans = sentences(text)
        return spans, [text[start:end] for start, end in spans], _rules_per_sentence(work, spans)
    marks = work  # (halfwidth changes no end mark: the marks are where text has them)
    for mark in END_MARKS:
        if mark in marks:
            marks = marks.replace(mark, "\n")
    segments = marks.split("\n")
    masks = [0] * len(segments)
    number = 0
    for word in _ENDS_AND_WORDS.findall(marks):
        if word == "\n":
            number += 1
        else:
            masks[number] |= TRIGGER_MASKS[word[0]]
    spans, texts, chosen = [], [], []
    start, last = 0, len(segments) - 1
    for number, segment in enumerate(segments):
        end = start + len(segment) + (number < last)  # (with its end mark)
        sentence = text[start:end]
        if (not sentence.isspace()) if number < last else sentence.strip():
            mask = masks[number]
            first = segment[:1]
            # opens_enumeration, inline: ENUM_MARK is tried only where the first character can open a mark
            if (first in ENUM_FIRST or first.isspace()) and ENUM_MARK.match(work[start:end]) is not None:
                mask |= ENUMERATION_BIT
            if mask:
                chosen.append((len(spans), _rules_of(mask)))
            spans.append((start, end))
            texts.append(sentence)
        start = end
    return spans, texts, chosen


def _rules_per_sentence(work: str, spans: list[tuple[int, int]]) -> list[tuple[int, list]]:
    """(sentence index, rules that may fire on it) for every sentence that may hold a fact, in text order.

    Each sentence is scanned for all trigger words at once (no trigger word crosses a sentence end, and none
    looks behind past one: what a sentence holds is found in its own text); the words found name the rules
    (_mask_of). A sentence without one costs a first-character test (does it open an enumeration?).
    """
    chosen = []
    findall = TRIGGER_SCAN.findall
    for number, (start, end) in enumerate(spans):
        sentence = work[start:end]
        words = findall(sentence)
        mask = _mask_of(frozenset(words)) if words else 0
        first = sentence[:1]
        # opens_enumeration, inline: ENUM_MARK is tried only where the first character can open a mark
        if (first in ENUM_FIRST or first.isspace()) and ENUM_MARK.match(sentence) is not None:
            mask |= ENUMERATION_BIT
        if mask:
            chosen.append((number, _rules_of(mask)))
    return chosen


@lru_cache(maxsize=4096)
def _mask_of(words: frozenset[str]) -> int:
    """The bit mask of the rules (bit n: RULES[n]) that the trigger words found in a sentence name (a word's
    first character names it)."""
    mask = 0
    for word in words:
        mask |= TRIGGER_MASKS[word[0]]
    return mask


ENUMERATION_BIT = 1 << next(n for n, (_, trigger) in enumerate(RULES) if trigger is None)
_RULES_OF: dict[int, list] = {}  # bit mask → the rules it names, in RULES order (a few dozen masks occur)


def _rules_of(mask: int) -> list:
    """The rules of a bit mask (bit n: RULES[n]), in RULES order; the list is shared, never changed."""
    rules = _RULES_OF.get(mask)
    if rules is None:
        rules = _RULES_OF[mask] = [rule for n, (rule, _) in enumerate(RULES) if mask >> n & 1]
    return rules


def _apply(sentence: Sentence, rules: list, span: tuple[int, int] | None, region: Region | None, seen: set,
           found: list) -> None:
    """Run `rules` on one sentence and add their new facts to `found` as (kind, value, plan year, region,
    evidence, span) (a fact's region: see _fact_region)."""
    regions: dict[bool, str | None] = {}  # names or not → the region, worked out once per sentence
    cities: list[tuple[int, str]] | None = None  # (start, code) of the province page's cities named in it
    province = region is not None and region.level == PROVINCE
    evidence = None
    for rule in rules:
        for kind, value, year, offset in rule(sentence):
            names = kind in NAME_KINDS
            if names not in regions:
                # "云南税务APP" names a channel, not the region the fact is about
                national = "国" in sentence.text and NATIONAL.search(sentence.text)  # every name of NATIONAL holds 国
                regions[names] = ("000000" if national else (region.code if region else None)) \
                    if names else _fact_region(sentence.text, region)
            where = regions[names]
            if province and not names and where == region.code:
                if cities is None:
                    cities = _cities_named(sentence.text, region)
                if cities:  # 其中，大同市、朔州市个人缴费标准为…: the cities named in the fact's own clause
                    start, _ = clause_bounds(sentence.work, offset)
                    named = tuple(dict.fromkeys(code for at, code in cities if start <= at < offset))
                    if named:
                        for where in named:
                            evidence = _add(kind, value, year, where, sentence, evidence, span, seen, found)
                        continue
            evidence = _add(kind, value, year, where, sentence, evidence, span, seen, found)


def _add(kind: str, value: dict, year: int | None, where: str | None, sentence: Sentence, evidence: str | None,
         span: tuple[int, int] | None, seen: set, found: list) -> str | None:
    """Add one fact to `found` unless its identity is in `seen`; returns the sentence's evidence (stripped once,
    when a first new fact needs it)."""
    key = (kind, tuple(sorted(value.items())), year, where)  # Fact.identity
    if key not in seen:
        seen.add(key)
        if evidence is None:
            evidence = sentence.text.strip()
        found.append((kind, value, year, where, evidence, span))
    return evidence


@lru_cache(maxsize=8)
def _mentions(sentence: str) -> list:
    """The region names in a sentence (RegionTable.find_mentions), found once for _fact_region and _cities_named."""
    return load_regions().find_mentions(sentence)


def _cities_named(sentence: str, province: Region) -> list[tuple[int, str]]:
    """(start, code) of each prefecture of `province` named in `sentence`."""
    return [(start, r.code) for start, _, r in _mentions(sentence)
            if r.level == PREFECTURE and r.parent == province.code]


AMOUNT_KINDS = ("personal_contribution", "fiscal_subsidy")
NAME_KINDS = ("payment_channel", "eligible_group", "subsidized_group", "waiting_period_exemption")


def _merge(facts: list[tuple]) -> list[tuple]:
    """Drop restatements: an amount without its change when the same amount is stated with one,
    and a title fact when the text states the same kind for the same year and region
    (facts as _apply adds them)."""
    def slot(f: tuple) -> tuple:
        value = f[1]
        return (f[0], f[2], f[3], value.get("name") if "name" in value else None)
    with_change = {(f[0], f[1]["amount"], f[1]["qualifier"], f[2], f[3])
                   for f in facts if f[0] in AMOUNT_KINDS and f[1].get("change") is not None}
    in_text = {slot(f) for f in facts if f[5] is not None}
    kept = []
    for f in facts:
        kind, value = f[0], f[1]
        if kind in AMOUNT_KINDS and value.get("change") is None and \
                (kind, value["amount"], value["qualifier"], f[2], f[3]) in with_change:
            continue
        if f[5] is None and slot(f) in in_text:
            continue
        kept.append(f)
    return kept


def _plan_year_from_facts(facts: list[tuple]) -> int | None:
    """Without a stated plan year: the year a payment period pays for (autumn → next year) or the most common."""
    for kind, value, *_ in facts:
        if kind == "payment_window" and value.get("start") and not value.get("recurring"):
            start = date.fromisoformat(value["start"])
            return start.year + 1 if start.month >= 7 else start.year
    for kind, value, *_ in facts:
        if kind == "coverage_period" and value.get("start") and not value.get("recurring"):
            return date.fromisoformat(value["start"]).year
    years = Counter(f[2] for f in facts if f[2])
    return years.most_common(1)[0][0] if years else None
