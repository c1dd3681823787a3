"""The migrations create the schema the models describe, on SQLite and PostgreSQL."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from pathlib import Path

from sqlalchemy import inspect, text

import pytest

from storage import Database, DatabaseError, resolve_db_url
from storage.models import Base


def test_fresh_database_is_created_at_head(db_url):
    db = Database(db_url)
    assert db.current_revision() == db.head_revision()
    tables = set(inspect(db.engine).get_table_names())
    assert {"sources", "pages", "runs", "checks", "snapshots", "raw_pages", "alembic_version"} <= tables


def test_migrations_match_the_models(db_url):
    db = Database(db_url)
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_the_migration_chain_has_one_head(tmp_path):
    from alembic.script import ScriptDirectory
    cfg = Database(f"sqlite:///{tmp_path / 'h.db'}", migrate=False)._alembic_config()
    assert len(ScriptDirectory.from_config(cfg).get_heads()) == 1


def test_the_head_read_from_file_names_is_alembics_and_each_file_names_its_revision(tmp_path):
    from alembic.script import ScriptDirectory
    cfg = Database(f"sqlite:///{tmp_path / 'h.db'}", migrate=False)._alembic_config()
    scripts = ScriptDirectory.from_config(cfg)
    assert Database.head_revision() == scripts.get_current_head()
    for script in scripts.walk_revisions():
        assert Path(script.path).name.startswith(script.revision + "_"), script.path


def test_a_database_without_the_schema_has_no_revision(tmp_path):
    assert Database(f"sqlite:///{tmp_path / 'empty.db'}", migrate=False).current_revision() is None


def test_alert_attempt_columns_migrate_down_and_up_again(db_url):
    from alembic import command
    db = Database(db_url)
    cfg = db._alembic_config()
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0008")
    assert "attempted_at" not in {c["name"] for c in inspect(db.engine).get_columns("alerts")}
    Database(db_url).dispose()
    assert {"claimed_by", "attempted_at", "possible_duplicate"} <= {
        c["name"] for c in inspect(db.engine).get_columns("alerts")}


def test_opening_twice_is_a_no_op(db_url):
    Database(db_url).dispose()
    db = Database(db_url)
    assert db.current_revision() == db.head_revision()


def test_a_migration_that_fails_half_way_leaves_the_database_as_it_was(db_url):
    from alembic import command
    db = Database(db_url)
    cfg = db._alembic_config()
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0005")
        # A name 0006 creates last, already taken: the upgrade fails after its views, column and links.
        conn.execute(text("CREATE INDEX ix_facts_first_snapshot_id ON sources (name)"))
    with pytest.raises(DatabaseError, match="ix_facts_first_snapshot_id") as failed:
        Database(db_url)
    assert "\n" not in str(failed.value)
    assert db.current_revision() == "0005"
    assert "first_snapshot_id" not in {c["name"] for c in inspect(db.engine).get_columns("facts")}
    assert {"fact_history", "latest_facts"} <= set(inspect(db.engine).get_view_names())
    with db.engine.begin() as conn:
        conn.execute(text("DROP INDEX ix_facts_first_snapshot_id"))
    assert Database(db_url).current_revision() == db.head_revision()


def test_sqlite_uses_wal_and_foreign_keys(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'h.db'}")
    with db.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_sqlite_database_in_a_missing_folder_is_refused_not_made(tmp_path):
    with pytest.raises(DatabaseError, match="folder .* does not exist"):
        Database(f"sqlite:///{tmp_path / 'new' / 'dir' / 'h.db'}")
    assert not (tmp_path / "new").exists()


def test_new_sqlite_database_says_it_was_created_once(tmp_path):
    assert Database(f"sqlite:///{tmp_path / 'h.db'}").created
    assert not Database(f"sqlite:///{tmp_path / 'h.db'}").created
    with pytest.raises(DatabaseError, match="no history database at"):
        Database(f"sqlite:///{tmp_path / 'other.db'}", create=False)
    assert not (tmp_path / "other.db").exists()


def test_url_resolution_order(monkeypatch):
    monkeypatch.delenv("POLICYWATCH_DB", raising=False)
    assert resolve_db_url(None) == "sqlite:///policywatch.db"
    monkeypatch.setenv("POLICYWATCH_DB", "sqlite:////tmp/env.db")
    assert resolve_db_url(None) == "sqlite:////tmp/env.db"
    assert resolve_db_url("postgresql://u:p@h/db") == "postgresql+pg8000://u:p@h/db"


@pytest.mark.parametrize("url, message", [
    ("not a url", "not a database URL"),
    ("mysql://u@h/db", "unsupported database 'mysql'"),
])
def test_bad_urls_are_rejected(url, message):
    with pytest.raises(DatabaseError, match=message):
        resolve_db_url(url)


def test_unreachable_postgresql_is_one_line_error_without_password():
    with pytest.raises(DatabaseError) as info:
        Database("postgresql://policywatch:s3cret@127.0.0.1:1/none")
    assert "cannot open database" in str(info.value) and "s3cret" not in str(info.value)
    assert "\n" not in str(info.value)


def test_postgresql_timestamps_read_back_exactly_and_odd_values_fall_back(pg_admin_url):
    from datetime import datetime, timezone
    db = Database(pg_admin_url, migrate=False)
    with db.engine.connect() as conn:
        row = conn.execute(text(
            "SELECT TIMESTAMP '2025-09-01 02:00:00.123456', TIMESTAMPTZ '2025-09-01 10:00:00+08', "
            "TIMESTAMP 'infinity', TIMESTAMP '10000-01-01 00:00:00'")).one()
    assert row[0] == datetime(2025, 9, 1, 2, 0, 0, 123456)
    assert row[1] == datetime(2025, 9, 1, 2, 0, tzinfo=timezone.utc)
    assert row[2] == "infinity" and row[3] == "10000-01-01 00:00:00"  # as pg8000 itself returns them


def test_extraction_warnings_column_migrates_up_and_down_with_the_views_in_place(db_url):
    from alembic import command
    db = Database(db_url)
    cfg = db._alembic_config()
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0006")
    assert "warnings" not in {c["name"] for c in inspect(db.engine).get_columns("extractions")}
    assert {"fact_history", "latest_facts"} <= set(inspect(db.engine).get_view_names())
    Database(db_url).dispose()  # opening migrates to head again
    assert db.current_revision() == db.head_revision()
    from storage import SnapshotStore
    from storage.models import Extraction
    store = SnapshotStore(db)
    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO sources (name, url, kind, enabled, created_at, updated_at) "
                          "VALUES ('s', 'http://127.0.0.1/a', 'page', TRUE, '2026-01-01', '2026-01-01')"))
        conn.execute(text("INSERT INTO pages (source_id, url, role, first_seen_at) "
                          "VALUES (1, 'http://127.0.0.1/a', 'article', '2026-01-01')"))
        conn.execute(text("INSERT INTO snapshots (page_id, fetched_at, content_hash, main_text, final_url) "
                          "VALUES (1, '2026-01-01', 'h', 't', 'http://127.0.0.1/a')"))
    warning = {"code": "foreign_facts", "regions": ["阳泉市", "朔州市"], "foreign": 2, "core_foreign": 2, "core": 2}
    store.store_extractions([(1, {"version": "1", "region": None, "plan_year": None, "facts": [],
                                  "warnings": [warning]})])
    store.store_extractions([(1, {"version": "0", "region": None, "plan_year": None, "facts": []})])
    with db.session() as s:
        stored = {e.extractor_version: e.warnings for e in s.query(Extraction)}
    assert stored == {"1": [warning], "0": None}


def test_the_newest_health_change_per_page_is_read_from_the_health_index(tmp_path):
    # failing_sources (status, 概览, /api/status) must not scan every change: 0.35–0.47 s on a 5-year history.
    db = Database(f"sqlite:///{tmp_path / 'i.db'}")
    with db.engine.connect() as conn:
        plan = " ".join(str(r[-1]) for r in conn.execute(text(
            "EXPLAIN QUERY PLAN SELECT page_id, max(id) FROM changes "
            "WHERE type IN ('source_failing', 'source_recovered') GROUP BY page_id")))
    assert "ix_changes_type_page_id_id" in plan, plan
