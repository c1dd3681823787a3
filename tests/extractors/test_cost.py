"""The extractor's cost follows the text that can hold facts: plain prose is never given to a rule.

Not timed: these tests check which sentences reach the rules, which is what the cost depends on.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from extractors import extract
from extractors.document import _rules_per_sentence, _sentences_and_rules
from extractors.numbers import halfwidth
from extractors.rules import RULES, TRIGGER_MASKS, TRIGGER_SCANS, TRIGGER_WORDS, may_hold_fact, opens_enumeration
from extractors.segment import sentences

HERE = Path(__file__).parent

# Our own plain prose: no number, date, amount, percentage, list or rule word.
PROSE = (
    "城乡居民基本医疗保险工作情况通报\n"
    "市医疗保障局坚持问题导向，着力解决群众反映强烈的突出问题。"
    "经办大厅实行综合柜员制，群众办事更加省心省力。"
    "我们将持续改进作风，推动服务质量不断提升。\n"
    "基金运行总体平稳，监管工作扎实有效。"
    "下一步，将认真总结经验，进一步完善制度机制。"  # 一 and 下一步: numeral characters, but no rule word
)

# One sentence per trigger word of each rule (and one opening an enumeration), with the rule it must reach.
TRIGGERED = [
    ("amounts", "成年居民每人每年400元。"),
    ("windows", "集中征缴期为九月至十二月。"),
    ("windows", "请于年底前办结。"),
    ("windows", "各地于年末前完成清算。"),
    ("windows", "截止日期为2025-12-31。"),
    ("windows", "截止日期为2025/12/31。"),
    ("windows", "截止日期为2025.12.31。"),
    ("channels", "线上渠道请见附件。"),
    ("channels", "缴纳方式请咨询窗口。"),
    ("channels", "微信、支付宝均可。"),
    ("eligible_groups", "农村居民、城镇居民均可。"),
    ("eligible_groups", "在校学生应当参保。"),
    ("eligible_groups", "灵活就业人员可以参加。"),
    ("subsidized_groups", "特困人员给予资助。"),
    ("subsidized_groups", "由民政部门代缴。"),
    ("subsidized_groups", "财政给予补助。"),
    ("waiting_exemptions", "新生儿不设等待期。"),
    ("ratios", "报销比例为70%。"),
    ("ratios", "报销比例为70％。"),
    ("ratios", "封顶线另行公布。"),
    ("ratios", "起付线另行公布。"),
    ("ratios", "最高不超过上限。"),
    ("enumerated_items", "（一）农村居民"),
]


def _chosen(text: str) -> list[tuple[str, list[str]]]:
    """(sentence, names of the rules it is given to) for every sentence extract() reads."""
    spans = sentences(text)
    return [(text[spans[i][0]:spans[i][1]], [rule.__name__ for rule in rules])
            for i, rules in _rules_per_sentence(halfwidth(text), spans)]


def test_plain_prose_reaches_no_rule_and_yields_no_fact() -> None:
    text = PROSE * 40  # a long page of prose (≈ 5,000 characters)
    assert _chosen(text) == []
    assert not any(may_hold_fact(halfwidth(text[a:b])) for a, b in sentences(text))
    assert extract(text, title="关于做好城乡居民医保工作的通知").facts == []


def test_a_bare_number_is_no_trigger() -> None:
    sentence = "全市共有3家定点医院和12个经办网点。"
    assert not may_hold_fact(sentence)
    assert _chosen(PROSE + sentence) == []


@pytest.mark.parametrize("rule,sentence", TRIGGERED)
def test_each_trigger_word_gives_its_sentence_to_its_rule(rule: str, sentence: str) -> None:
    assert may_hold_fact(halfwidth(sentence))
    assert (sentence, [rule]) in [(s, [r for r in rules if r == rule]) for s, rules in _chosen(PROSE + sentence)]


def test_only_the_triggered_sentences_of_mixed_text_are_read() -> None:
    text = PROSE + "".join(sentence + ("\n" if sentence.startswith("（") else "") for _, sentence in TRIGGERED)
    read = {s for s, _ in _chosen(text)}
    assert read == {s + ("\n" if s.startswith("（") else "") for _, s in TRIGGERED}


# The rules' trigger patterns as they were written before the per-word scans (one alternation each).
ORIGINAL_TRIGGERS = {
    "amounts": "元", "windows": r"月|年底|年末|\d{4}[-/.]\d", "channels": "、|渠道|方式",
    "eligible_groups": "、|参保|参加", "subsidized_groups": "资助|代缴|补助", "waiting_exemptions": "等待期",
    "ratios": "[%％]|封顶|起付|最高",
}
CORNERS = ["2025-9-1", "202-09-01", "12025.1", "2025．9", "2025/", "-2025-", "２０２５-09", "年 底", "年底末"]


def _corpus_sentences() -> list[str]:
    out = list(CORNERS)
    for folder in ("corpus", "heldout"):
        for path in sorted((HERE / folder).glob("*.txt")):
            text = path.read_text(encoding="utf-8")
            out += [text[a:b] for a, b in sentences(text)]
    return out


def test_per_word_scans_choose_the_sentences_the_original_triggers_chose() -> None:
    scans: dict[str, list[re.Pattern]] = {}
    for number, pattern in TRIGGER_SCANS:
        scans.setdefault(RULES[number][0].__name__, []).append(pattern)
    assert set(scans) == set(ORIGINAL_TRIGGERS)
    differ = [(name, s) for s in map(halfwidth, _corpus_sentences()) for name, original in ORIGINAL_TRIGGERS.items()
              if bool(re.search(original, s)) != any(p.search(s) for p in scans[name])]
    assert differ == []


def _texts() -> list[str]:
    texts = ["\n".join(CORNERS), PROSE + "".join(s + "\n" for _, s in TRIGGERED)]
    for folder in ("corpus", "heldout"):
        texts += [path.read_text(encoding="utf-8") for path in sorted((HERE / folder).glob("*.txt"))]
    return texts


def _per_word_choice(work: str, spans: list[tuple[int, int]]) -> list[tuple[int, list[str]]]:
    """What _rules_per_sentence chose when each trigger word was scanned for on its own."""
    chosen = []
    for i, (a, b) in enumerate(spans):
        fired = set()
        for number, pattern in TRIGGER_SCANS:
            m = pattern.search(work, a)
            if m is not None and m.start() < b:
                fired.add(number)
        if opens_enumeration(work, a, b):
            fired.add(next(n for n, (_, trigger) in enumerate(RULES) if trigger is None))
        if fired:
            chosen.append((i, [RULES[n][0].__name__ for n in sorted(fired)]))
    return chosen


def test_one_scan_for_all_trigger_words_chooses_what_a_scan_per_word_chose() -> None:
    for text in _texts():
        work, spans = halfwidth(text), sentences(text)
        chosen = [(i, [rule.__name__ for rule in rules]) for i, rules in _rules_per_sentence(work, spans)]
        assert chosen == _per_word_choice(work, spans)


def test_trigger_words_start_with_distinct_characters_found_only_at_a_match_start() -> None:
    # the single scan names the word it found by its first character, and misses none: no word's match holds
    # a first character after its own first
    assert len(TRIGGER_MASKS) == len(TRIGGER_WORDS)
    inside = [(m.group(), text[m.start():m.start() + 12]) for text in map(halfwidth, _texts())
              for word in TRIGGER_WORDS for m in re.finditer(word, text)
              if any(c in TRIGGER_MASKS for c in m.group()[1:]) or m.group()[0] not in TRIGGER_MASKS]
    assert inside == []


def test_the_scan_for_sentence_ends_and_trigger_words_cuts_and_chooses_as_the_two_passes_did() -> None:
    texts = _texts() + ["", "\n\n", "。", "；\n元", "  \n（一）1.元月\n", "2025-09-01。2025-\n09-01", "元" * 3]
    for text in texts:
        work, spans = halfwidth(text), sentences(text)
        assert _sentences_and_rules(text, work) == (spans, [text[a:b] for a, b in spans],
                                                    _rules_per_sentence(work, spans))
