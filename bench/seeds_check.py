"""Check the extractor against the expected facts of the two seed pages the project started from.

    .venv/bin/python bench/seeds_check.py [SEEDS_DIR]   (default ../shared/seeds)

The seed texts are real pages and are not part of the repository; this script runs where they are.
It prints each expected fact as found / MISSING and any fact taken from the 相关推荐 noise.
"""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor.extract import extract_file  # noqa: E402

EXPECTED = {
    "003_9a214e087d863d1e.txt": dict(
        url="http://ty.bendibao.com/live/2024903/67541.shtm", published="2024-09-03T11:44",
        region="140100", plan_year=2025, facts=[
            ("payment_window", {"start": "2024-09-01", "end": "2025-02-25"}),
            ("payment_deadline", {"date": "2025-02-25"}),
            ("monthly_window", {"start_day": 1, "end_day": 25}),
            *[("payment_channel", {"name": n}) for n in ("微信", "协作银行手机APP", "移动POS机", "线下缴费")],
            *[("waiting_period_exemption", {"name": n}) for n in ("新生儿", "农村低收入人口", "严重精神障碍患者", "脱贫人口")],
        ]),
    "000_4b502c153becf3a9.txt": dict(
        url=None, published="2024-09-10", region="140000", plan_year=2025, facts=[
            ("personal_contribution", {"amount": 380, "qualifier": "exact", "change": None}),
            ("fiscal_subsidy", {"amount": 640, "qualifier": "at_least", "change": 30}),
            ("payment_deadline", {"date": "2024-12-25"}),
            *[("payment_channel", {"name": n}) for n in ("银行柜台", "网上银行", "手机银行", "自助终端", "第三方支付")],
            *[("eligible_group", {"name": n}) for n in ("农村居民", "城镇非从业居民")],
            *[("subsidized_group", {"name": n, "mode": "full_or_fixed"}) for n in ("特困人员", "低保对象", "返贫致贫人口")],
        ]),
}
NOISE = ("30万", "70%", "75%", "福建", "菏泽", "铜仁")


def main() -> int:
    seeds = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared" / "seeds"
    if not seeds.is_dir():
        print(f"no seeds at {seeds}")
        return 2
    missing = 0
    for name, exp in EXPECTED.items():
        doc = extract_file(seeds / name, url=exp["url"], published=exp["published"]).to_json()
        found = [(f["kind"], f["value"]) for f in doc["facts"]]
        print(f"{name}: region {doc['region']}, plan year {doc['plan_year']}, {len(found)} facts")
        ok_meta = (doc["region"] or {}).get("code") == exp["region"] and doc["plan_year"] == exp["plan_year"]
        missing += not ok_meta
        for fact in exp["facts"]:
            hit = fact in found
            missing += not hit
            print(f"  {'found  ' if hit else 'MISSING'} {fact[0]} {fact[1]}")
        for f in doc["facts"]:
            if any(n in f["evidence"] for n in NOISE):
                missing += 1
                print(f"  NOISE   {f['kind']} {f['value']} | {f['evidence'][:50]}")
    print("all expected facts found, nothing from the related-article noise" if not missing else f"{missing} problems")
    return 1 if missing else 0


if __name__ == "__main__":
    raise SystemExit(main())
