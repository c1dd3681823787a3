"""`policywatch eval DIR`: precision / recall / F1 of the extractors per fact kind over a labeled corpus.

A corpus is a folder of documents (NNN.txt or NNN.html) each with a gold NNN.json:
{"input": {"url", "title", "published"}, "region", "plan_year", "negative", "facts": [{"kind", "value",
"plan_year", "region"}]}. A predicted fact matches a gold fact of the same document when kind, value and
plan year agree; names (channels, groups) match when one contains the other, ignoring quotes and spaces.
Region agreement of matched facts is reported separately.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from extractors import FACT_KINDS
from monitor.extract import extract_file

# Kinds the extractor issue sets targets for.
TARGETS = {"personal_contribution": 0.95, "fiscal_subsidy": 0.95, "payment_window": 0.95,
           "payment_deadline": 0.95, "coverage_period": 0.95, "payment_channel": 0.90,
           "eligible_group": 0.90, "subsidized_group": 0.90, "waiting_period_exemption": 0.90}
NAME_KINDS = {"payment_channel", "eligible_group", "subsidized_group", "waiting_period_exemption"}
_NOISE = re.compile(r"[\s“”\"'「」《》]")


def _name(value: dict) -> str:
    return _NOISE.sub("", value.get("name", ""))


def same_fact(gold: dict, pred: dict) -> bool:
    if gold["kind"] != pred["kind"] or gold.get("plan_year") != pred.get("plan_year"):
        return False
    if gold["kind"] in NAME_KINDS:
        g, p = _name(gold["value"]), _name(pred["value"])
        if not g or not p or not (g in p or p in g):
            return False
        return gold["value"].get("mode") == pred["value"].get("mode")
    return gold["value"] == pred["value"]


@dataclass
class KindScore:
    gold: int = 0
    predicted: int = 0
    matched: int = 0
    region_ok: int = 0

    @property
    def precision(self) -> float:
        return self.matched / self.predicted if self.predicted else (1.0 if not self.gold else 0.0)

    @property
    def recall(self) -> float:
        return self.matched / self.gold if self.gold else (1.0 if not self.predicted else 0.0)

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass
class Report:
    kinds: dict[str, KindScore] = field(default_factory=lambda: {k: KindScore() for k in FACT_KINDS})
    documents: int = 0
    negatives: int = 0
    negative_facts: int = 0
    misses: list[dict] = field(default_factory=list)  # per document: missed gold and spurious predictions

    @property
    def passed(self) -> bool:
        return self.negative_facts == 0 and all(self.kinds[k].f1 >= t for k, t in TARGETS.items()
                                                if self.kinds[k].gold or self.kinds[k].predicted)


def evaluate(corpus: str | Path) -> Report:
    report = Report()
    for gold_path in sorted(Path(corpus).glob("*.json")):
        gold = json.loads(gold_path.read_text(encoding="utf-8"))
        doc_path = next((p for p in gold_path.parent.glob(gold_path.stem + ".*") if p.suffix != ".json"), None)
        if doc_path is None:
            continue
        inp = gold.get("input", {})
        doc = extract_file(doc_path, url=inp.get("url"), published=inp.get("published"),
                           title=inp.get("title")).to_json()
        report.documents += 1
        predicted = doc["facts"]
        if gold.get("negative"):
            report.negatives += 1
            report.negative_facts += len(predicted)
        unmatched = list(predicted)
        missed = []
        for g in gold["facts"]:
            report.kinds[g["kind"]].gold += 1
            hit = next((p for p in unmatched if same_fact(g, p)), None)
            if hit is None:
                missed.append(g)
                continue
            unmatched.remove(hit)
            report.kinds[g["kind"]].matched += 1
            report.kinds[g["kind"]].region_ok += hit.get("region") == g.get("region")
        for p in predicted:
            report.kinds[p["kind"]].predicted += 1
        if missed or unmatched:
            report.misses.append({"document": doc_path.name, "missed": missed,
                                  "spurious": [{k: p[k] for k in ("kind", "value", "plan_year", "evidence")}
                                               for p in unmatched]})
    return report


def format_report(report: Report) -> str:
    lines = [f"{'kind':26} {'gold':>5} {'pred':>5} {'match':>5} {'P':>6} {'R':>6} {'F1':>6} {'region':>7}  target"]
    for kind, s in report.kinds.items():
        if not (s.gold or s.predicted):
            continue
        target = TARGETS.get(kind)
        verdict = "" if target is None else f"{target:.2f} {'ok' if s.f1 >= target else 'BELOW'}"
        region = f"{s.region_ok / s.matched:.0%}" if s.matched else "-"
        lines.append(f"{kind:26} {s.gold:5} {s.predicted:5} {s.matched:5} {s.precision:6.3f} {s.recall:6.3f} "
                     f"{s.f1:6.3f} {region:>7}  {verdict}")
    lines.append(f"{report.documents} documents, {report.negatives} negative; facts on negative documents: "
                 f"{report.negative_facts} (target 0)")
    return "\n".join(lines)
