"""storage.bulk (issue 12): rows inserted with insert_ids / insert_rows are stored exactly as SQLAlchemy's ORM
bulk insert stores them (JSON None, keys left out, rows of different key sets), and the ids come back in the
rows' order, continuing the table's ids."""
from __future__ import annotations

from sqlalchemy import delete, insert, select, text

from storage import Database
from storage.bulk import insert_ids, insert_rows
from storage.models import Change, FactRow, Source
from storage.types import utcnow


def _rows(tag: str) -> list[dict]:
    now = utcnow()
    return [dict(source_id=1, page_id=None, type="source_failing", kind=None, identity=None, old=None, new=None,
                 severity="high", detected_at=now, url="u", detail={"reason": "维护"}, change_key=None, run_id=1),
            dict(source_id=1, type="conflict", old={"amount": 400}, new=None, severity="high", detected_at=now,
                 detail=None, change_key=f"{tag}-a"),
            dict(source_id=1, type="conflict", old={"amount": 400}, new={"amount": 420}, severity="medium",
                 detected_at=now, detail=None, change_key=f"{tag}-b"),
            dict(source_id=1, type="revert", old=None, new=None, severity="low", detected_at=now, change_key=f"{tag}-c")]


def _stored(db: Database, ids: list[int]) -> list[tuple]:
    cols = "type, kind, identity, old, new, severity, region, detail, url, run_id, page_id"
    with db.session() as s:
        by_id = {r[0]: tuple(r[1:]) for r in s.execute(text(f"SELECT id, {cols} FROM changes"))}
    return [by_id[i] for i in ids]


def test_insert_ids_stores_what_the_orm_insert_stores_and_returns_ordered_ids(db_url):
    db = Database(db_url)
    with db.session() as s:
        s.add(Source(name="太原", url="http://127.0.0.1/a.html", created_at=utcnow(), updated_at=utcnow()))
    with db.session() as s:
        orm_ids = list(s.scalars(insert(Change).returning(Change.id, sort_by_parameter_order=True), _rows("orm")))
    with db.session() as s:  # the newest rows deleted: the ids still follow the table's own numbering
        s.execute(delete(Change).where(Change.id == orm_ids[-1]))
        ours = insert_ids(s, Change, _rows("bulk"))
    assert ours == sorted(ours) and len(set(ours)) == 4 and min(ours) > max(orm_ids[:-1])
    assert _stored(db, ours) == _stored(db, orm_ids[:-1]) + [_stored(db, ours)[-1]]
    with db.session() as s:
        keys = dict(s.execute(select(Change.id, Change.change_key)).all())
    assert [keys[i] for i in ours] == [None, "bulk-a", "bulk-b", "bulk-c"]
    with db.session() as s:
        more = insert_ids(s, Change, [dict(r, change_key=(r["change_key"] or "x") + "2") for r in _rows("more")])
    assert min(more) > max(ours)
    db.dispose()


def test_insert_rows_matches_the_orm_insert(db_url):
    db = Database(db_url)
    with db.session() as s:
        s.add(Source(name="太原", url="http://127.0.0.1/a.html", created_at=utcnow(), updated_at=utcnow()))
        s.flush()
        s.execute(text("INSERT INTO pages (source_id, url, role, first_seen_at) VALUES (1, 'u', 'article', :t)"),
                  {"t": utcnow().replace(tzinfo=None)})
        s.execute(text("INSERT INTO snapshots (page_id, fetched_at, content_hash, main_text, final_url) "
                       "VALUES (1, :t, 'h', 'x', 'u')"), {"t": utcnow().replace(tzinfo=None)})
        s.execute(text("INSERT INTO extractions (snapshot_id, extractor_version, extracted_at) VALUES (1, 'v', :t)"),
                  {"t": utcnow().replace(tzinfo=None)})
    facts = [dict(extraction_id=1, kind="personal_contribution", value={"amount": 400, "note": "个人"}, plan_year=2025,
                  region="140100", evidence="每人每年400元", span_start=1, span_end=5, confidence=0.9),
             dict(extraction_id=1, kind="payment_deadline", value={"date": "2025-12-31"}, plan_year=None,
                  region=None, evidence="截止", span_start=None, span_end=None, confidence=None)]
    with db.session() as s:
        s.execute(insert(FactRow), facts)
        insert_rows(s, FactRow, facts)
    cols = "kind, value, plan_year, region, evidence, span_start, span_end, confidence, first_snapshot_id"
    with db.session() as s:
        rows = [tuple(r) for r in s.execute(text(f"SELECT {cols} FROM facts ORDER BY id"))]
    assert rows[:2] == rows[2:]
    db.dispose()
