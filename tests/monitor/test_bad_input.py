"""Bad input gets one clear line and a documented exit code, never a traceback (issue 16 item 14/15)."""
from __future__ import annotations

import pytest

from conftest import run_cli, write_sources
from storage import Database

BAD_SOURCES = {
    "source_not_tables": ("source = [1, 2]\n", "use [[source]] tables for sources"),
    "unclosed_ipv6": ('[[source]]\nname = "a"\nurl = "http://[::1/x"\n', "not a valid URL"),
    "bad_ipv6": ('[[source]]\nname = "a"\nurl = "http://[zzz]/"\n', "not a valid URL"),
    "port_out_of_range": ('[[source]]\nname = "a"\nurl = "http://127.0.0.1:99999/"\n', "Port out of range"),
    "huge_jitter": ('[defaults]\njitter = 99999999999999999999\n[[source]]\nname = "a"\nurl = "http://127.0.0.1:1/"\n',
                    "jitter must be a whole number of seconds from 0 to 86400"),
}


def one_line_error(proc, code: int, needle: str) -> None:
    assert proc.returncode == code, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1, proc.stderr
    assert needle in proc.stderr, proc.stderr


@pytest.mark.parametrize("case", sorted(BAD_SOURCES))
@pytest.mark.parametrize("command", ["check", "run"])
def test_broken_sources_file_is_one_line_exit_2(tmp_path, case, command):
    body, needle = BAD_SOURCES[case]
    sources = write_sources(tmp_path / "sources.toml", body)
    proc = run_cli(command, "--sources", str(sources), "--db", f"sqlite:///{tmp_path / 'h.db'}")
    one_line_error(proc, 2, needle)
    assert not (tmp_path / "h.db").exists()


@pytest.mark.parametrize("url, needle", [
    ("postgresql://127.0.0.1:99999/x", "port 99999 is not between 1 and 65535"),
    ("postgresql://127.0.0.1:1/x", "cannot open database postgresql+pg8000://"),  # no user: the OS user, as libpq
])
def test_bad_database_url_is_one_line_exit_3(tmp_path, url, needle):
    sources = write_sources(tmp_path / "sources.toml", '[[source]]\nname = "a"\nurl = "http://127.0.0.1:1/"\n')
    one_line_error(run_cli("status", "--sources", str(sources), "--db", url), 3, needle)


def test_export_to_an_unwritable_place_is_one_line_exit_1(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'h.db'}"
    Database(db_url).dispose()
    proc = run_cli("export", "--format", "csv", "--out", "/proc/forbidden.csv", "--db", db_url)
    one_line_error(proc, 1, "cannot write --out /proc/forbidden.csv")


def test_eval_of_a_missing_or_empty_folder_is_a_usage_error(tmp_path):
    one_line_error(run_cli("eval", str(tmp_path / "nonexistent")), 2, "no such folder")
    one_line_error(run_cli("eval", str(tmp_path)), 2, "no labeled documents")


def test_reextract_with_negative_workers_is_a_usage_error(tmp_path):
    proc = run_cli("reextract", "--workers", "-1", "--db", f"sqlite:///{tmp_path / 'h.db'}")
    assert proc.returncode == 2 and "--workers: must be at least 1" in proc.stderr
    assert not (tmp_path / "h.db").exists()


def test_import_at_year_one_is_an_input_error_before_the_database(tmp_path):
    page = tmp_path / "p.html"
    page.write_text("<html><body><p>缴费通知</p></body></html>", encoding="utf-8")
    sources = write_sources(tmp_path / "sources.toml", '[[source]]\nname = "a"\nurl = "http://127.0.0.1:1/p.html"\n')
    proc = run_cli("import", str(page), "--url", "http://127.0.0.1:1/p.html", "--fetched-at", "0001-01-01",
                   "--sources", str(sources), "--db", f"sqlite:///{tmp_path / 'h.db'}")
    one_line_error(proc, 2, "before 1990")
    assert not (tmp_path / "h.db").exists()


def test_version_names_the_package_and_the_extractor():
    proc = run_cli("--version")
    assert proc.returncode == 0 and proc.stdout.startswith("policywatch ") and "extractor version" in proc.stdout


@pytest.mark.parametrize("setting, needle", [("DOWNLOAD_TIMEOUT=abc", "expected a number"),
                                             ("POLICYWATCH_WORKERS=abc", "expected a whole number"),
                                             ("ROBOTSTXT_OBEY=maybe", "expected true or false")])
def test_a_setting_of_the_wrong_type_is_a_usage_error_before_anything_runs(tmp_path, setting, needle):
    sources = write_sources(tmp_path / "sources.toml", '[[source]]\nname = "a"\nurl = "http://127.0.0.1:1/"\n')
    proc = run_cli("check", "--sources", str(sources), "--db", f"sqlite:///{tmp_path / 'h.db'}", "-s", setting)
    one_line_error(proc, 2, needle)
    assert not (tmp_path / "h.db").exists()  # no run recorded as finished with nothing checked


@pytest.mark.parametrize("target, needle", [("notascheme", "an alert target needs a scheme"),
                                            ("nosuch://x", "nosuch:// is not a target scheme Apprise knows")])
def test_an_unknown_notify_target_is_a_usage_error(tmp_path, target, needle):
    sources = write_sources(tmp_path / "sources.toml", '[[source]]\nname = "a"\nurl = "http://127.0.0.1:1/"\n')
    proc = run_cli("check", "--sources", str(sources), "--db", f"sqlite:///{tmp_path / 'h.db'}", "--notify", target)
    one_line_error(proc, 2, needle)
    assert "--notify:" in proc.stderr and not (tmp_path / "h.db").exists()
