"""Which commands may create the history database, and that every command takes --sources and --db before
or after its name (issue 13: a mistyped path must not silently start a new history)."""
from __future__ import annotations

import pytest

from conftest import check, run_cli, write_sources
from storage import Database

READ_ONLY = [("sources",), ("status",), ("changes",), ("alerts",), ("history",),
             ("export", "--format", "csv", "--out", "-"), ("reextract",)]


def sources_file(tmp_path, url="http://127.0.0.1:1/a.html"):
    return write_sources(tmp_path / "sources.toml", f'[[source]]\nname = "甲"\nurl = "{url}"\n')


@pytest.mark.parametrize("command", READ_ONLY, ids=lambda c: c[0])
def test_read_only_command_on_a_mistyped_path_creates_nothing(tmp_path, command):
    missing = tmp_path / "nonexist" / "dir" / "x.db"
    proc = run_cli(*command, "--sources", str(sources_file(tmp_path)), "--db", f"sqlite:///{missing}",
                   cwd=tmp_path)
    assert proc.returncode == 3, proc.stderr
    assert proc.stderr.count("\n") == 1 and f"no history database at {missing}" in proc.stderr
    assert not (tmp_path / "nonexist").exists()


def test_sources_without_db_does_not_create_policywatch_db_in_the_current_folder(tmp_path):
    proc = run_cli("sources", "--sources", str(sources_file(tmp_path)), cwd=tmp_path,
                   env={"POLICYWATCH_DB": ""})
    assert proc.returncode == 3 and "no history database at policywatch.db" in proc.stderr
    assert not (tmp_path / "policywatch.db").exists()


def test_read_only_command_on_an_empty_postgresql_database_creates_no_schema(request, tmp_path):
    from conftest import NewDatabase
    pg_url = NewDatabase("postgresql", tmp_path, request)()
    proc = run_cli("status", "--sources", str(sources_file(tmp_path)), "--db", pg_url)
    assert proc.returncode == 3 and "holds no policywatch history yet" in proc.stderr
    from sqlalchemy import create_engine, inspect
    from storage.db import resolve_db_url
    engine = create_engine(resolve_db_url(pg_url))
    try:
        assert inspect(engine).get_table_names() == []
    finally:
        engine.dispose()


@pytest.mark.parametrize("command", ["check", "run"])
def test_check_and_run_refuse_a_database_in_a_missing_folder(tmp_path, command):
    missing = tmp_path / "nonexist" / "x.db"
    proc = run_cli(command, "--sources", str(sources_file(tmp_path)), "--db", f"sqlite:///{missing}")
    assert proc.returncode == 3, proc.stderr
    assert proc.stderr.count("\n") == 1 and f"folder {missing.parent} does not exist" in proc.stderr
    assert not missing.parent.exists()


def test_in_memory_sqlite_is_refused(tmp_path):
    for url in ("sqlite://", "sqlite:///"):
        proc = run_cli("check", "--sources", str(sources_file(tmp_path)), "--db", url)
        assert proc.returncode == 3 and "in-memory database: nothing would be kept" in proc.stderr, url


def test_import_of_a_bad_file_creates_no_database(tmp_path):
    page = tmp_path / "p.html"
    page.write_text("<html><body><p>abc</p></body></html>", encoding="utf-8")
    db = tmp_path / "h.db"
    proc = run_cli("import", str(page), "--url", "http://elsewhere.example/p.html", "--fetched-at", "2025-01-02",
                   "--sources", str(sources_file(tmp_path)), "--db", f"sqlite:///{db}")
    assert proc.returncode == 2, proc.stderr
    assert "created a new history database" not in proc.stderr and not db.exists()


@pytest.mark.parametrize("command", [("history",), ("export", "--format", "jsonl", "--out", "-"), ("status",),
                                     ("sources",), ("changes",), ("alerts",)], ids=lambda c: c[0])
def test_every_command_takes_sources_and_db_before_or_after_its_name(site, tmp_path, command):
    db_url = f"sqlite:///{tmp_path / 'h.db'}"
    sources = sources_file(tmp_path, site.url("ty/live/2024903/67541.shtm"))
    assert check(sources, db_url).returncode == 0
    common = ("--sources", str(sources), "--db", db_url)
    after = run_cli(*command, *common, cwd=tmp_path)
    before = run_cli(*common, *command, cwd=tmp_path)
    assert after.returncode == 0, after.stderr
    assert before.returncode == 0, before.stderr
    assert before.stdout == after.stdout and before.stdout


def test_a_created_database_is_used_as_is_by_the_read_only_commands(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'h.db'}"
    Database(db_url).dispose()
    proc = run_cli("changes", "--json", "--db", db_url, cwd=tmp_path)
    assert proc.returncode == 0 and proc.stdout.strip() == "[]", proc.stderr


def test_sources_lists_a_newly_added_source_without_writing_it(site, tmp_path):
    import json
    db_url = f"sqlite:///{tmp_path / 'h.db'}"
    sources = sources_file(tmp_path, site.url("ty/live/2024903/67541.shtm"))
    assert check(sources, db_url).returncode == 0
    sources.write_text(sources.read_text(encoding="utf-8") +
                       '[[source]]\nname = "乙"\nurl = "http://127.0.0.1:1/b.html"\nregion = "运城市"\n',
                       encoding="utf-8")
    proc = run_cli("sources", "--sources", str(sources), "--db", db_url, "--json")
    assert proc.returncode == 0, proc.stderr
    rows = {r["name"]: r for r in json.loads(proc.stdout)}
    assert rows["甲"]["last_outcome"] == "new" and rows["甲"]["pages"] == 1
    assert rows["乙"]["last_outcome"] is None and rows["乙"]["region"] == "运城市" and rows["乙"]["pages"] == 0
    from storage import SnapshotStore
    assert [r["name"] for r in SnapshotStore(Database(db_url)).source_overview()] == ["甲"]
