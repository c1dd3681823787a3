"""`policywatch export`: facts / changes / snapshots to CSV (Excel-ready BOM), JSON Lines and Parquet, read back."""
from __future__ import annotations

import csv
import json

import pyarrow.parquet as pq
import pytest
from conftest import ROOT, run_cli
from historydata import History, day, fact, fee

from storage import Database, HistoryFilter, HistoryStore

BOM = "\ufeff".encode()


@pytest.fixture
def db(db_url):
    h = History(db_url, {"太原医保": "http://127.0.0.1/ty.html", "北京医保": "http://127.0.0.1/bj.html"})
    h.check("太原医保", day(0), "太原个人缴费380元", [fee(380)])
    h.check("太原医保", day(1), "太原个人缴费380元")
    h.check("太原医保", day(2), "太原个人缴费400元，可通过微信缴费",
            [fee(400), fact("payment_channel", {"name": "微信"}, "可通过微信缴费。")])
    h.check("北京医保", day(0), "北京个人缴费425元", [fee(425, region="110000")])
    source_id = next(p.source_id for p in h.store.pages_to_check() if p.source_name == "太原医保")
    h.changes.record_changes([{"source_id": source_id, "page_id": h.pages["太原医保"], "type": "fact_changed",
                               "kind": "personal_contribution", "identity": "k", "old": {"amount": 380},
                               "new": {"amount": 400}, "severity": "high", "region": "140100", "plan_year": 2025,
                               "evidence_before": "个人缴费380元", "evidence_after": "个人缴费400元"}])
    return db_url


def export(db: str, out, *args: str):
    proc = run_cli("export", "--db", db, "--out", str(out), *args)
    assert proc.returncode == 0, proc.stderr
    return proc


def test_csv_export_starts_with_a_bom_and_reads_back(db, tmp_path):
    out = tmp_path / "facts.csv"
    proc = export(db, out, "--format", "csv", "--region", "山西", "--kind", "personal_contribution")
    assert out.read_bytes().startswith(BOM)
    with out.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(r["region_name"], json.loads(r["value"])["amount"], r["first_seen"], r["last_seen"], r["current"])
            for r in rows] == [("太原市", 380, day(0).isoformat(), day(1).isoformat(), "False"),
                               ("太原市", 400, day(2).isoformat(), day(2).isoformat(), "True")]
    assert json.loads(rows[0]["value"])["unit"] == "元/人/年"  # Chinese as text, not \\u escapes
    assert "exported 2 facts rows" in proc.stderr


def test_csv_export_without_bom(db, tmp_path):
    out = tmp_path / "facts.csv"
    export(db, out, "--format", "csv", "--no-bom")
    data = out.read_bytes()
    assert not data.startswith(BOM) and data.startswith(b"region,region_name,kind")
    assert len(list(csv.DictReader(data.decode("utf-8").splitlines()))) == 4


def test_jsonl_export_of_changes_reads_back(db, tmp_path):
    out = tmp_path / "changes.jsonl"
    export(db, out, "--format", "jsonl", "--table", "changes", "--region", "140100")
    [row] = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert (row["source"], row["type"], row["old"], row["new"]) == ("太原医保", "fact_changed", {"amount": 380},
                                                                    {"amount": 400})
    assert row["region_name"] == "太原市" and row["url"] == "http://127.0.0.1/ty.html"


def test_parquet_export_of_snapshots_reads_back(db, tmp_path):
    out = tmp_path / "snapshots.parquet"
    export(db, out, "--format", "parquet", "--table", "snapshots", "--source", "太原医保")
    table = pq.read_table(out)
    rows = table.to_pylist()
    assert [r["main_text"] for r in rows] == ["太原个人缴费380元", "太原个人缴费400元，可通过微信缴费"]
    assert [r["fetched_at"] for r in rows] == [day(0), day(2)]
    assert {(r["health"], r["region"], r["extractor_version"]) for r in rows} == {("ok", "140100", "1")}
    assert str(table.schema.field("fetched_at").type) == "timestamp[us, tz=UTC]"


def test_parquet_export_of_facts_keeps_types(db, tmp_path):
    out = tmp_path / "facts.parquet"
    export(db, out, "--format", "parquet", "--kind", "payment_channel")
    [row] = pq.read_table(out).to_pylist()
    assert (json.loads(row["value"]), row["plan_year"], row["current"], row["first_seen"]) == (
        {"name": "微信"}, 2025, True, day(2))


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_every_export_format_has_the_publish_date_beside_first_seen(db_url, tmp_path, fmt):
    h = History(db_url, {"太原医保": "http://127.0.0.1/ty.html"})
    h.check("太原医保", day(2), "太原个人缴费400元", [fee(400)], published_at=day(-5))
    out = tmp_path / f"facts.{fmt}"
    export(db_url, out, "--format", fmt)
    if fmt == "csv":
        with out.open(encoding="utf-8-sig", newline="") as f:
            [row] = list(csv.DictReader(f))
        published = row["published_at"]
    elif fmt == "jsonl":
        [row] = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
        published = row["published_at"]
    else:
        [row] = pq.read_table(out).to_pylist()
        published = row["published_at"].isoformat()
    assert published == day(-5).isoformat()
    keys = list(row)
    assert keys[keys.index("first_seen") + 1] == "published_at"


def test_export_streams_rows_in_bounded_batches(db):
    store = HistoryStore(Database(db))
    batches = list(store.iter_batches("facts", HistoryFilter(), batch_size=2))
    assert [len(b) for b in batches] == [2, 2]
    assert [r["region"] for b in batches for r in b] == ["110000", "140100", "140100", "140100"]


def test_parquet_without_pyarrow_is_a_one_line_error(db, tmp_path):
    # A pyarrow that cannot be imported, first on the path: what a plain `pip install policywatch` looks like.
    (tmp_path / "shadow").mkdir()
    (tmp_path / "shadow" / "pyarrow.py").write_text("raise ImportError('No module named pyarrow')\n")
    out = tmp_path / "facts.parquet"
    proc = run_cli("export", "--db", db, "--out", str(out), "--format", "parquet",
                   env={"PYTHONPATH": f"{tmp_path / 'shadow'}:{ROOT}"})
    assert proc.returncode == 2
    assert proc.stderr.strip() == "policywatch: Parquet export needs pyarrow: pip install 'policywatch[parquet]'"
    assert not out.exists()


@pytest.mark.parametrize("args, message", [
    (["--format", "csv", "--region", "火星"], "unknown region '火星'"),
    (["--format", "csv", "--table", "snapshots", "--kind", "payment_deadline"], "--kind does not apply"),
    (["--format", "xlsx"], "invalid choice: 'xlsx'"),
])
def test_export_bad_input_is_an_error_and_writes_nothing(db, tmp_path, args, message):
    (tmp_path / "out").mkdir()
    proc = run_cli("export", "--db", db, "--out", str(tmp_path / "out" / "facts.csv"), *args)
    assert proc.returncode == 2 and message in proc.stderr
    assert list((tmp_path / "out").iterdir()) == []
