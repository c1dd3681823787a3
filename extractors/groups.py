"""List rules: payment channels (缴费渠道), eligible groups (参保对象), subsidized groups (资助对象) and enumerated
lines under an introducing sentence (waiting-period exemptions: extractors.exemptions)."""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Iterator

from extractors.fastre import guarded
from extractors.sentence import (
    _ANSWER,
    _CHANNEL_HEAD,
    _CHANNEL_SUFFIX,
    _INTRO_END,
    _JOIN_INCLUDES,
    _SINGLE_GROUP,
    _TOP_MARK,
    OTHER_PROGRAMME,
    Found,
    Sentence,
)

# patterns of the rules below, compiled once
_PAY_HEADING = re.compile(r"缴|交费")
_CHANNEL_VERB = re.compile(r"通过|选择|使用|登录|借助|(?:可以|可|能)用")
_TRAILING_PAY = re.compile(r"(?:等)?(?:方式|渠道)?(?:进行|办理)?(?:缴费|缴纳|交费|参保缴费)(?:[^、]{0,4})$")
_PLACE_PAY = re.compile(r"(?:^|、)(?:线下|线上|现场|上门|窗口)缴费$")
_ANSWER_LEAD = re.compile(r"^(?:答|回答)[:：]?")
_PUBLICITY = re.compile(r"宣传|告知|提醒|通知|解读")
_LIST_VERB = re.compile(r"通过|选择|使用|登录|完善|利用|支持|包括|推广|推动|开通|(?:可以|可|能)用|借助")
_CLAUSE_MARK = re.compile(r"[，,：:]")
_GROUP_LEAD = re.compile(r"^(?:对|对于|给|为|其中|另外|以及|包括)")
_GROUP_REST = re.compile(r"(?:这|那)?(?:几|两|三|四|五)?类?(?:特殊|困难)?(?:群体|人群)(?:参加|参保).*$")
_INTRO_TAIL = re.compile(r"(?:包括|[:：])$")
_INCLUDES = re.compile(r"包括|主要有|分为|[:：]")
_GROUPS_END = re.compile(r"等(?:人员|群体)?[，,。；]|[。；]|[，,]\s*(?:均|都|也)?(?:可|可以)")
_RESIDENT_NAME = re.compile(r"居民(?:基本)?医(?:疗)?保")
_ALL_LEAD = re.compile(r"^(?:包括|凡是|凡|所有|具有.{0,10}的)")
_ITEM_END = re.compile(r"[：:，,。；;（(]")
_PAREN_FIRST = re.compile(r"^[^：:]*[（(]")
_ITEM_END_PAREN = re.compile(r"[：:，,。；;]")
_ETC_END = re.compile(r"(?:等)$")
_PERSON_ITEM = re.compile(r"居民|学生|儿童|人员|人口|对象|群体|老人|农民|职工|家庭|子女|生$")

# -- lists: channels and groups --------------------------------------------------------------
CHANNEL_TRIGGER = guarded(r"(?:缴费|线上|线下)(?:渠道|方式|途径)(?:有|为|包括|主要有)?[:：]?|(?:可|可以|能|均可)?(?:通过|选择|使用|登录)")
LIST_THEN_PAY = re.compile(r"(?:^|[:：])\s*(?P<list>[^，,。；;：:]{2,80}?)(?:等(?:方式|渠道)?)?(?:都|均)?(?:可以|可)(?:在线)?(?:缴费|缴纳|办理缴费)")
CHANNEL_WORD = re.compile(
    r"微信|支付宝|APP|App|app|银行|POS|pos|线下|窗口|柜台|终端|小程序|公众号|网上|手机|第三方|税务|代收|代办|"
    r"云闪付|电子税务局|掌上|服务号|服务厅|营业厅|网点|村委|社区|政务服务|一网通办|办税|扫码")
CHANNEL_BAD = re.compile(r"推进|并行|坚持|创新|提供|实现|措施|一站式|一厅|便民|优化|完善|加强|智能化|传统|积极|持续|多种|以下|"
                         r"向|发送|提醒|通知|宣传|告知")
LIST_SPLIT = re.compile(r"、|，|,|/|以及|及|和|或者|或")
LIST_END = re.compile(r"等(?:多种|线上|线下|渠道|方式|途径|多|各类|特殊|群体|人员)?|进行|办理|即可|完成|缴纳|参保|[。；;，,]")
PAYING_AFTER = re.compile(r"缴费|缴纳|交费|交纳|缴|支付")
LIST_BEFORE_KIND = re.compile(r"(?P<list>[^，。；：:,]{2,80}?)等(?:多种|多个|线上|线下|便捷|各类)?(?:缴费)?(?:渠道|方式|途径)")
ITEM_TRIM = guarded(r"^(?:选择|使用|登录|通过|在(?![校读职学岗])|到|可|可以|包括|如|例如|像|前往|以及|及|和|或|其中|各类|是|仅有|只有|仅限)+|(?:等|等等|进行|即可|的)+$")

_TRIM_LEADS = ("选择", "使用", "登录", "通过", "在", "到", "可", "包括", "如", "例如", "像", "前往", "以及", "及", "和", "或",
               "其中", "各类", "是", "仅有", "只有", "仅限")  # ITEM_TRIM's leading words (可 covers 可以)
_TRIM_TAILS = ("等", "进行", "即可", "的")  # its trailing words (等 covers 等等)
_TRIM_TAILS_NL = tuple(tail + "\n" for tail in _TRIM_TAILS)


def _split_items(segment: str, splitter: re.Pattern = LIST_SPLIT) -> list[tuple[str, int]]:
    items, pos = [], 0
    for part in splitter.split(segment):
        start = segment.find(part, pos)
        pos = start + len(part)
        clean = part.strip().strip("“”\"'「」《》【】（）()")
        # ITEM_TRIM's ^ takes a leading word, its $ a trailing one (before a final line break too)
        if clean.startswith(_TRIM_LEADS) or clean.endswith(_TRIM_TAILS) or clean.endswith(_TRIM_TAILS_NL):
            clean = ITEM_TRIM.sub("", clean)
        clean = clean.replace("“", "").replace("”", "").replace('"', "")
        if clean:
            items.append((clean, start))
    return items


def channels(s: Sentence) -> Iterator[Found]:
    work = s.work
    # (the cheap tests first: OTHER_PROGRAMME is searched only where a list could follow)
    # (_PAY_WORD's words tested one by one, and _CHANNEL_HEAD only where 线 is: a regex call costs as much as a dozen
    # `in` tests)
    if not ("缴" in work or "交费" in work or "交纳" in work or "参保" in work) and \
            not ("线" in work and _CHANNEL_HEAD.search(work)):
        # an answer line under a question about where to pay: "浙里办APP、支付宝、银行柜台。"
        heading = s.prev[-1] if s.prev else ""
        # (a bare list has three items or more: two 、 at least)
        if work.count("、") >= 2 and _is_bare_list(work) and \
                (CHANNEL_INTRO.search(heading) or _PAY_HEADING.search(heading)) and not OTHER_PROGRAMME.search(work):
            yield from _channel_items(s, [(work.rstrip("。；;！ "), 0)])
        return
    if not _may_list_channels(work) or OTHER_PROGRAMME.search(work):
        return
    candidates = []  # (segment, offset in sentence)
    for m in CHANNEL_TRIGGER.finditer(work):
        tail = work[m.end():]
        end = LIST_END.search(tail)
        segment = tail[:end.start()] if end else tail
        base = m.end()
        inner = list(_CHANNEL_VERB.finditer(segment))
        if inner:  # "缴费方式：居民可以通过A、B" → the list starts after the verb
            base += inner[-1].end()
            segment = segment[inner[-1].end():]
        explicit = "渠道" in m.group() or "方式" in m.group() or "途径" in m.group()
        after = tail[len(segment):len(segment) + 14]
        paying = PAYING_AFTER.search(after)
        telling = _PUBLICITY.search(after)  # 通过A、B等方式广泛宣传参保缴费政策: the list tells, the paying is told of
        if telling and (paying is None or telling.start() < paying.start()):
            continue
        trailing = _TRAILING_PAY.search(segment)
        if trailing and not _PLACE_PAY.search(segment):
            segment, paying = segment[:trailing.start()], True
        elif trailing:
            paying = True
        if not (explicit or paying):
            continue
        lead = ENUM_MARK.match(segment)
        if lead:
            segment, base = segment[lead.end():], base + lead.end()
        if "、" not in segment and (len(segment) > (20 if explicit else 8) or not CHANNEL_WORD.search(segment)):
            continue
        candidates.append((segment, base))
    for m in LIST_THEN_PAY.finditer(work) if "可" in work and ("缴费" in work or "缴纳" in work) else ():  # in every match
        if "、" in m.group("list"):
            candidates.append((_ANSWER_LEAD.sub("", m.group("list")), m.start("list")))
    for m in LIST_BEFORE_KIND.finditer(work) if "等" in work else ():  # its lazy list is slow; 等 is required
        # 宣传…通过A、B等方式, or 通过A、B等方式做好提醒 / 广泛宣传: means of telling people, not of paying
        if _PUBLICITY.search(work[:m.end()]) or _PUBLICITY.search(work, m.end(), m.end() + 6):
            continue
        if "、" in m.group("list"):
            inner = list(_LIST_VERB.finditer(m.group("list")))
            cut = inner[-1].end() if inner else 0
            candidates.append((m.group("list")[cut:], m.start("list") + cut))
    yield from _channel_items(s, candidates)


def _may_list_channels(work: str) -> bool:
    """Whether CHANNEL_TRIGGER, LIST_THEN_PAY or LIST_BEFORE_KIND can match: each needs one of these words."""
    return _LIST_WORD.search(work) is not None or ("可" in work and ("缴费" in work or "缴纳" in work))


_LIST_WORD = re.compile("通过|选择|使用|登录|渠道|方式|途径")  # (one search: 3x as fast as any() over `in` tests)


# what _CHANNEL_SUFFIX can match at the end of a name (its $ also matches before a final line break)
_CHANNEL_SUFFIXES = tuple(word + end for end in ("", "\n") for word in ("缴费", "渠道", "方式", "平台"))


def _channel_items(s: Sentence, candidates: list[tuple[str, int]]) -> Iterator[Found]:
    seen = set()
    for segment, base in candidates:
        items = _split_items(segment)
        # In a list, names without a channel word (豫事办, 天府通办) count when their neighbours are channels.
        worded = [CHANNEL_WORD.search(name) is not None for name, _ in items]
        listed = sum(worded) >= 2
        for (name, offset), has_word in zip(items, worded):
            if len(name) > 4 and not name.endswith("线下缴费"):
                trimmed = _CHANNEL_SUFFIX.sub("", name) if name.endswith(_CHANNEL_SUFFIXES) else name
                if trimmed != name:  # (the channel word may have been the suffix: 网上缴费 → 网上)
                    name, has_word = trimmed, CHANNEL_WORD.search(trimmed) is not None
            if 2 <= len(name) <= 20 and (has_word or (listed and len(name) <= 10)) \
                    and not CHANNEL_BAD.search(name) and name not in seen:
                seen.add(name)
                yield "payment_channel", {"name": name}, s.ctx.plan_year, base + offset


def _is_bare_list(work: str) -> bool:
    work = _ANSWER.sub("", work)
    items = [i for i in work.strip().rstrip("。；;！ ").split("、") if i]
    return len(items) >= 3 and all(len(i) <= 15 for i in items) and \
        sum(1 for i in items if CHANNEL_WORD.search(i)) >= 2 and not _CLAUSE_MARK.search(work)


ELIGIBLE_TRIGGER = re.compile(r"(?:参保|覆盖)(?:对象|范围|人员范围)(?:为|是|包括|主要包括)?[:：]?")
ELIGIBLE_TAIL = guarded(r"(?:等|等人员)?[，,]?\s*(?:均|都|也)?(?:可以|可|应当|应|须|需)(?:按规定|在.{0,8})?(?:参加|参保)")
GROUP_BAD = re.compile(r"\d|缴费|(?:可以|均可|可|应当|按规定)参加|参加(?:居民|城乡)|规定|标准|待遇|办理(?:参保|登记|手续)|以外|之外|"
                       r"除|应当|可以|按照|参保范围|参保对象|不属于|覆盖|制度|行政区域")


GROUP_SPLIT = re.compile(r"、|，|,|以及")
GROUP_TAIL = re.compile(r"(?:等特殊群体|等困难群体|等困难群众|等群体|等人员|等)$")


def _trim_group(name: str) -> str:
    """A list item without its trailing 等/等特殊群体."""
    return GROUP_TAIL.sub("", name) if "等" in name else name  # every GROUP_TAIL match holds 等


def _groups(segment: str) -> list[tuple[str, int]]:
    out = []
    for name, offset in _split_items(segment, GROUP_SPLIT):
        name = _GROUP_LEAD.sub("", name)
        name = _GROUP_REST.sub("", name)
        name = _trim_group(name)
        if 2 <= len(name) <= 40 and not GROUP_BAD.search(name):
            out.append((name, offset))
    return out


PERSON_LIKE = re.compile(r"居民|学生|儿童|人员|人口|对象|群体|老人|农民|职工|家庭|子女|人士|生$|高中|中专|技校|学校|院校|婴|孩")


def eligible_groups(s: Sentence) -> Iterator[Found]:
    work = s.work
    if "资助" in work or "等待期" in work:
        return
    # every way to a group below (ELIGIBLE_TRIGGER, _JOIN_INCLUDES, ELIGIBLE_TAIL, _SINGLE_GROUP) needs one of these
    if "参保" not in work and "参加" not in work and "覆盖" not in work:
        return
    segment, base = None, 0
    # ELIGIBLE_TRIGGER needs 对象 or 范围, _JOIN_INCLUDES needs 包括: most sentences hold neither
    m = (ELIGIBLE_TRIGGER.search(work) if "对象" in work or "范围" in work else None) or \
        (_JOIN_INCLUDES.search(work) if "包括" in work else None)
    if m:
        inc = None if _INTRO_TAIL.search(m.group()) else _INCLUDES.search(work[m.end():])
        if inc or _INTRO_TAIL.search(m.group()):
            base = m.end() + (inc.end() if inc else 0)
            end = _GROUPS_END.search(work[base:])
            segment = work[base:base + end.start()] if end else work[base:]
    if segment is None and "居民" in work:  # what ELIGIBLE_TAIL's match needs after it holds 居民
        t = ELIGIBLE_TAIL.search(work) if ("可" in work or "应" in work or "须" in work or "需" in work) and (
            "参加" in work or "参保" in work) else None  # (one of each is in every match)
        if t and "居民医保" in work[t.end():t.end() + 20] + work[t.start():t.end() + 20] or (
                t and _RESIDENT_NAME.search(work[t.end():])):
            head = work[:t.start()]
            cut = max(head.rfind("，"), head.rfind(","), head.rfind("："), head.rfind(":"))
            base = cut + 1
            segment = head[base:]
            segment = _ALL_LEAD.sub("", segment)
    if segment is None:
        single = _SINGLE_GROUP.match(work) if "可参" in work or "可以参" in work else None  # (in every match)
        if single and GROUP_SUFFIX.search(single.group("name")) and not GROUP_BAD.search(single.group("name")):
            yield "eligible_group", {"name": single.group("name")}, s.ctx.plan_year, single.start("name")
        return
    if "、" not in segment:
        return
    for name, offset in _groups(segment):
        if PERSON_LIKE.search(name):
            yield "eligible_group", {"name": name}, s.ctx.plan_year, base + offset


SUBSIDY_MODE = [
    (re.compile(r"全额(?:或|和|、)定额|定额(?:或|和|、)全额"), "full_or_fixed"),
    (re.compile(r"全额"), "full"),
    (re.compile(r"定额|资助\s*\d+\s*元|\d+\s*元(?:给予|的)?(?:定额)?资助|资助标准为"), "fixed"),
    (re.compile(r"部分|按比例|比例|一定|\d+\s*[%％]|差额|适当|减半"), "partial"),
]
SUBSIDY_TRIGGER = re.compile(r"资助|代缴|(?:全额|定额|部分)补助|补助[^，,。]{0,8}个人缴费|个人缴费[^，,。]{0,12}补助")
_SUBSIDY_TRIGGER_WORD = re.compile("资助|代缴|个人缴费|全额补助|定额补助|部分补助")  # one is in every match
GROUP_CUT = re.compile(r"由|按|给予|予以|参加|参保|个人缴费|的个人|实行|享受|均|全额|定额|部分|每人|可|通过|纳入")
GROUP_SUFFIX = re.compile(r"(?:人员|对象|人口|儿童|孤儿|成员|家庭|户|者|群体|学生|老人|居民|农民|人士|残疾人|军人|家属|子女|"
                          r"青少年|新生儿|婴儿|妇女|病人|患者|群众|老年人)$")
CLAUSE = re.compile(r"[^，,；;。：:]+")


_GROUP_CLAUSE_LEAD = re.compile(r"^\s*(?:[（(][一二三四五六七八九十\d]{1,3}[）)]|\d{1,2}[.、．])?\s*(?:其中|另外|同时|此外)?"
                                r"(?:对于|对|将)?")
_GROUP_SPLITTERS = (re.compile(r"、|以及|及|和"), re.compile(r"、"))


def _leading_groups(clause: str) -> list[tuple[str, int]]:
    """Group names at the start of a clause: "对特困人员、孤儿按…给予全额资助" → 特困人员, 孤儿."""
    base = _GROUP_CLAUSE_LEAD.match(clause).end()
    cut = GROUP_CUT.search(clause, base + 2)
    segment = clause[base:cut.start() if cut else len(clause)]
    for splitter in _GROUP_SPLITTERS:
        items = [(_trim_group(n), base + o) for n, o in _split_items(segment, splitter)]
        if items and all(GROUP_SUFFIX.search(n) and 2 <= len(n) <= 30 for n, _ in items):
            return items
    return []


def subsidized_groups(s: Sentence) -> Iterator[Found]:
    work = s.work
    if not _SUBSIDY_TRIGGER_WORD.search(work) or not SUBSIDY_TRIGGER.search(work):
        return
    pending: list[tuple[str, int]] = []
    for m in CLAUSE.finditer(work):
        clause = m.group()
        # (a clause holding none of these words holds no SUBSIDY_TRIGGER match either)
        mode = next((md for rx, md in SUBSIDY_MODE if rx.search(clause)), None) \
            if "资助" in clause or "补助" in clause or "代缴" in clause else None
        groups = [(n, m.start() + o) for n, o in _leading_groups(clause)]
        if mode is None:
            if groups:
                pending = groups
            continue
        for name, offset in groups or pending:
            yield "subsidized_group", {"name": name, "mode": mode}, s.ctx.plan_year, offset
        pending = []


# -- enumerated lines under an introducing sentence ------------------------------------------
ENUM_MARK = re.compile(r"^\s*(?:[（(][一二三四五六七八九十\d]{1,3}[）)]|[一二三四五六七八九十]{1,3}、|\d{1,2}\s*[.、．)）]|"
                       r"[①②③④⑤⑥⑦⑧⑨⑩]|[-•·●▪])\s*")
# every character an ENUM_MARK can open with after its spaces (and digits of any width: \d)
ENUM_FIRST = frozenset("（(一二三四五六七八九十0123456789①②③④⑤⑥⑦⑧⑨⑩-•·●▪")
ELIGIBLE_INTRO = re.compile(r"参保(?:对象|范围|人员)|下列人员|以下人员|哪些人(?:可以|能)?(?:参保|参加)|可以参加.{0,10}居民医保")
CHANNEL_INTRO = re.compile(r"缴费(?:渠道|方式|途径)|以下(?:方式|渠道)|(?:在)?哪里(?:缴|交)|怎么(?:缴|交)|如何(?:缴|交)|"
                           r"哪些(?:渠道|方式)")


def _level(mark: str) -> int:
    mark = mark.strip()
    if "、" in mark and _TOP_MARK.match(mark):  # (every _TOP_MARK match ends with 、)
        return 1
    if mark.startswith(("（", "(")):
        return 2
    if mark[:1].isdigit():
        return 3
    return 4


@lru_cache(maxsize=32)
def _mark_level(text: str) -> int | None:
    """The _level of the enumeration mark a sentence opens with, None without one (each sentence is asked
    again by every item after it)."""
    stripped = text.strip()
    first = stripped[:1]
    # (a mark opens with one of ENUM_FIRST or a digit of any width: `text` is not converted to half width)
    if not (first in ENUM_FIRST or first.isdigit()):
        return None
    mark = ENUM_MARK.match(stripped)
    return _level(mark.group()) if mark else None


@lru_cache(maxsize=16)
def _introduces(text: str) -> bool:
    """Whether a sentence introduces a list (_INTRO_END): every item of the list asks again."""
    return _INTRO_END.search(text) is not None


@lru_cache(maxsize=16)
def _intro_kinds(text: str) -> tuple[bool, bool]:
    """Whether an introducing sentence speaks of eligible groups (ELIGIBLE_INTRO), of channels (CHANNEL_INTRO)."""
    return ELIGIBLE_INTRO.search(text) is not None, CHANNEL_INTRO.search(text) is not None


def enumerated_items(s: Sentence) -> Iterator[Found]:
    work = s.work.strip()
    mark = ENUM_MARK.match(work)
    if not mark or len(work) > 60:
        return
    level = _level(mark.group())
    intro = None
    for previous in reversed(s.prev):
        prev_level = _mark_level(previous)
        if prev_level == level:
            continue  # a sibling item
        if prev_level is not None and prev_level > level:
            return
        intro = previous
        break
    if intro is None or not _introduces(intro):
        return
    item = work[mark.end():]
    name = _ITEM_END.split(item, maxsplit=1)[0].strip() if not _PAREN_FIRST.match(item) else \
        _ITEM_END_PAREN.split(item, maxsplit=1)[0].strip()
    name = _ETC_END.sub("", name).replace("“", "").replace("”", "").replace('"', "")
    if not 2 <= len(name) <= 30:
        return
    offset = s.work.find(name)
    eligible_intro, channel_intro = _intro_kinds(intro)
    if eligible_intro and not channel_intro and not GROUP_BAD.search(name) and _PERSON_ITEM.search(name):
        yield "eligible_group", {"name": name}, s.ctx.plan_year, offset
    elif channel_intro and (CHANNEL_WORD.search(name) or len(name) <= 8) and not CHANNEL_BAD.search(name):
        yield "payment_channel", {"name": name}, s.ctx.plan_year, offset
