"""Extractor speed: documents/s on one core for 3,000- and 30,000-character main texts (targets ≥ 300, ≥ 100).

    .venv/bin/python bench/extract_speed.py [--size 3000 --size 30000] [--rounds 5] [--prose]

Texts are built from the labeled corpus (tests/extractors/corpus/*.txt), concatenated and cut to --size
characters, so they read like real notices and produce facts (denser than real pages: every sentence of the
corpus states or introduces a fact, and a 30,000-character text repeats the 11,700-character corpus).
--prose adds texts of the same sizes that are 90 % plain prose (PROSE: sentences without a number, date or
rule word, as on long government pages) with every tenth sentence taken from the corpus.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from extractors import extract  # noqa: E402
from extractors.segment import sentences  # noqa: E402

# Plain prose written for this bench: no number, date, amount, list or rule word in any sentence.
PROSE = (
    "各级医疗保障部门坚持以人民为中心的发展思想，持续推进医疗保障制度改革。",
    "医疗保障关系人民群众的切身利益，是重大的民生工程和民心工程。",
    "近年来，全市上下认真贯彻落实党中央决策部署，不断健全多层次医疗保障体系。",
    "我们将继续加强基金监管，严厉打击欺诈骗保行为，守护好人民群众的看病钱救命钱。",
    "经办服务是医疗保障工作的重要环节，直接影响群众的获得感和满意度。",
    "为更好地方便群众办事，各地持续优化经办流程，推动更多事项网上办理和掌上办理。",
    "医保信息平台建设稳步推进，数据共享和业务协同水平明显提升。",
    "各部门要加强协作配合，形成工作合力，确保各项政策落地见效。",
    "要做好政策宣传解读，及时回应社会关切，营造良好的舆论氛围。",
    "基层经办机构要主动靠前服务，帮助困难群众解决实际问题。",
    "医药服务管理持续规范，定点医药机构的服务行为更加规范透明。",
    "医保支付改革不断深化，推动医疗机构提升服务质量和效率。",
    "药品和医用耗材集中带量采购工作常态化开展，群众用药负担有所减轻。",
    "我们将坚持稳中求进的工作总基调，统筹发展和安全，推动医疗保障事业高质量发展。",
    "各地要压实工作责任，细化工作措施，抓好工作落实。",
    "同时，要加强干部作风建设，提升依法行政能力和服务水平。",
    "医疗保障部门将认真听取意见建议，不断改进工作作风。",
    "健全重特大疾病医疗保障和救助制度，筑牢民生保障底线。",
    "让改革发展成果更多更公平地惠及全体人民。",
    "欢迎社会各界对医疗保障工作提出宝贵意见，共同营造风清气正的良好环境。",
)
PROSE_HEADING = "城乡居民基本医疗保险工作动态\n"  # names the topic, so the corpus sentences are read


def documents(size: int) -> list[str]:
    texts = [p.read_text(encoding="utf-8") for p in sorted((ROOT / "tests/extractors/corpus").glob("*.txt"))]
    docs = []
    for i in range(len(texts)):
        doc, j = "", i
        while len(doc) < size:
            doc += texts[j % len(texts)] + "\n"
            j += 1
        docs.append(doc[:size])
    return docs


def prose_documents(size: int, every: int = 10) -> list[str]:
    """Texts of `size` characters: PROSE with every `every`-th sentence taken from the corpus, in corpus order
    (each text starts at another corpus sentence)."""
    corpus = []
    for p in sorted((ROOT / "tests/extractors/corpus").glob("*.txt")):
        text = p.read_text(encoding="utf-8")
        corpus += [text[a:b].strip() for a, b in sentences(text)]
    docs = []
    for i in range(len(corpus) // 10):
        doc, n = PROSE_HEADING, 0
        while len(doc) < size:
            if n % every == every - 1:
                doc += corpus[(i * 10 + n // every) % len(corpus)] + "\n"
            else:
                doc += PROSE[n % len(PROSE)] + ("\n" if n % 3 == 2 else "")
            n += 1
        docs.append(doc[:size])
    return docs


TARGETS = {3000: 300, 30000: 100}


def speed(docs: list[str], rounds: int) -> tuple[int, float, float]:
    """(documents, facts per document, best documents/s of `rounds`) for these texts."""
    facts = sum(len(extract(d).facts) for d in docs)  # warm-up, and a sanity figure
    best = 0.0
    for _ in range(rounds):
        start = time.perf_counter()
        for d in docs:
            extract(d)
        best = max(best, len(docs) / (time.perf_counter() - start))
    return len(docs), facts / len(docs), best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, action="append", help="characters per text (repeatable)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--prose", action="store_true", help="also texts of 90 %% plain prose")
    args = ap.parse_args()
    for size in args.size or sorted(TARGETS):
        count, facts, best = speed(documents(size), args.rounds)
        target = f"; target ≥ {TARGETS[size]}" if size in TARGETS else ""
        print(f"{count} documents of {size} characters ({facts:.1f} facts each): "
              f"{best:.0f} documents/s on one core (best of {args.rounds}){target}")
        if args.prose:
            count, facts, best = speed(prose_documents(size), args.rounds)
            print(f"{count} documents of {size} characters, 90 % prose ({facts:.1f} facts each): "
                  f"{best:.0f} documents/s on one core (best of {args.rounds})")


if __name__ == "__main__":
    main()
