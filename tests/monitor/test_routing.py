"""Where a source's alerts go: mute / mute_until, notify_replace, per-target min_severity; a disabled
source's old failure does not make `status` exit 1 (issue 13 gaps). Real checks, a real webhook receiver."""
from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from conftest import check, run_cli, write_sources
from monitor.config import ConfigError, parse_config
from storage import ChangeStore, Database

V1 = ("<html><head><title>缴费通知</title></head><body><div class='article'><h1>2026年度城乡居民医保缴费通知</h1>"
      "<p>2026年度个人缴费标准为每人每年{fee}元，缴费时间为2025年9月1日至12月31日。</p></div></body></html>")


def two_checks(site, tmp_path, source_extra: str, top: str):
    """A baseline check, then the fee changes (a high change and a low text change) and a second check."""
    site.route("p.html", body=V1.format(fee=400))
    sources = write_sources(tmp_path / "sources.toml", f"""
        {top}
        [[source]]
        name = "太原"
        url = "{site.url('p.html')}"
        region = "太原市"
        {source_extra}
        """)
    db = f"sqlite:///{tmp_path / 'h.db'}"
    assert check(sources, db).returncode == 0
    site.route("p.html", body=V1.format(fee=420))
    second = check(sources, db)
    assert second.returncode == 0, second.stdout + second.stderr
    return sources, db


def test_a_muted_source_is_crawled_and_recorded_but_sends_nothing(site, tmp_path, receiver):
    sources, db = two_checks(site, tmp_path, "mute = true", f'notify = ["{receiver.url()}"]')
    changes = ChangeStore(Database(db)).changes()
    assert any(c["type"] == "fact_changed" and c["kind"] == "personal_contribution" for c in changes)
    assert receiver.posts == [] and ChangeStore(Database(db)).alerts() == []
    status = json.loads(run_cli("status", "--sources", str(sources), "--db", db, "--json").stdout)
    assert status["sources"][0]["muted"] is True


def test_mute_until_a_past_day_no_longer_mutes(site, tmp_path, receiver):
    yesterday = (date.today() - timedelta(days=2)).isoformat()
    two_checks(site, tmp_path, f'mute_until = "{yesterday}"', f'notify = ["{receiver.url()}"]')
    assert len(receiver.posts) == 1


def test_mute_until_a_future_day_mutes(site, tmp_path, receiver):
    sources, db = two_checks(site, tmp_path, f'mute_until = {(date.today() + timedelta(days=30)).isoformat()}',
                             f'notify = ["{receiver.url()}"]')
    assert receiver.posts == []
    table = run_cli("status", "--sources", str(sources), "--db", db).stdout
    assert "(muted until " in table


def test_notify_replace_sends_only_to_the_sources_own_targets(site, tmp_path, receiver):
    two_checks(site, tmp_path, f'notify = ["{receiver.url("/own")}"]\nnotify_replace = true',
               f'notify = ["{receiver.url("/top")}"]')
    assert [path for path, _ in receiver.posts] == ["/own"]


def test_without_notify_replace_both_lists_get_the_alert(site, tmp_path, receiver):
    two_checks(site, tmp_path, f'notify = ["{receiver.url("/own")}"]', f'notify = ["{receiver.url("/top")}"]')
    assert sorted(path for path, _ in receiver.posts) == ["/own", "/top"]


def test_min_severity_keeps_lower_changes_from_a_target(site, tmp_path, receiver):
    # alert_text: the text change (low) is alerted too, to the targets that accept low
    two_checks(site, tmp_path, "alert_text = true",
               f'notify = ["{receiver.url("/all")}", {{url = "{receiver.url("/high")}", min_severity = "high"}}]')
    by_path = dict(receiver.posts)
    assert set(by_path) == {"/all", "/high"}
    assert "正文变化" in json.dumps(by_path["/all"], ensure_ascii=False)
    assert "正文变化" not in json.dumps(by_path["/high"], ensure_ascii=False)
    assert "个人缴费 400 → 420" in json.dumps(by_path["/high"], ensure_ascii=False)


@pytest.mark.parametrize("body, message", [
    ('mute = "yes"', "mute must be true or false"),
    ('mute_until = "next week"', "expected a date YYYY-MM-DD"),
    ('notify = [{url = "json://127.0.0.1/x", min_severity = "urgent"}]', "min_severity must be one of"),
    ('notify = [{address = "json://127.0.0.1/x"}]', "each entry is a URL string or a table"),
])
def test_bad_routing_keys_name_their_line(body, message):
    with pytest.raises(ConfigError, match=message):
        parse_config(f'[[source]]\nname = "a"\nurl = "http://127.0.0.1/a"\n{body}\n')


def test_a_disabled_sources_old_failure_does_not_fail_status(tmp_path):
    db = f"sqlite:///{tmp_path / 'h.db'}"
    failing = write_sources(tmp_path / "sources.toml", '[[source]]\nname = "gone"\nurl = "http://127.0.0.1:1/x"\n')
    for _ in range(3):
        assert check(failing, db, "-s", "RETRY_TIMES=0").returncode == 1
    assert run_cli("status", "--sources", str(failing), "--db", db).returncode == 1
    disabled = write_sources(tmp_path / "sources.toml",
                             '[[source]]\nname = "gone"\nurl = "http://127.0.0.1:1/x"\nenabled = false\n')
    proc = run_cli("status", "--sources", str(disabled), "--db", db, "--json")
    assert proc.returncode == 0, proc.stdout
    assert json.loads(proc.stdout)["sources"][0]["failing"] is not None  # still shown, no longer alarming
