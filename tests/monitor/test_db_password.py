"""A database password never has to be on a command line (issue 16 item 12): `run` started with
$POLICYWATCH_DB shows it neither in its own /proc/PID/cmdline nor in its crawl children's; one given in --db
works but draws a one-line warning on stderr recommending the variable (argv is not rewritten)."""
from __future__ import annotations

import pytest
from sqlalchemy.engine import make_url

from conftest import NewDatabase, check, run_cli, write_sources
from test_daemon import EVERY_2S, _cmdline, _descendants, daemons, page, wait_until  # noqa: F401 (fixture)

PASSWORD = "Pw-s3cret-4711"  # the test server trusts local connections: any password works
WARNING = "policywatch: warning: the database password in --db is visible to every user of this machine"


@pytest.fixture
def pg_url_with_password(request, tmp_path) -> str:
    return make_url(NewDatabase("postgresql", tmp_path, request)()).set(password=PASSWORD) \
        .render_as_string(hide_password=False)


def test_run_with_the_url_in_the_environment_shows_no_password_on_any_command_line(
        site, tmp_path, pg_url_with_password, daemons):
    url = site.route("slow/secret.html", body=page(1), delay=3.0)
    sources = write_sources(tmp_path / "sources.toml", f"""
        [defaults]
        schedule = "{EVERY_2S}"
        [[source]]
        name = "太原"
        url = "{url}"
        """)
    daemon = daemons(sources, pg_url_with_password, tmp_path / "daemon.log", db_in_env=True)
    seen: dict[int, str] = {}

    def crawl_child_seen() -> bool:
        seen[daemon.proc.pid] = _cmdline(daemon.proc.pid) or seen.get(daemon.proc.pid, "")  # once exec'd
        for pid in _descendants(daemon.proc.pid):
            seen.setdefault(pid, _cmdline(pid))
        return any(" check " in line for line in seen.values())

    wait_until(crawl_child_seen, 90, lambda: f"no crawl child started:\n{daemon.text()}")
    daemon.wait_for_log("crawl finished with exit code 0")
    assert " run " in seen[daemon.proc.pid] and "--db" not in seen[daemon.proc.pid]
    assert [line for line in seen.values() if PASSWORD in line] == []
    assert "warning" not in daemon.text() and PASSWORD not in daemon.text()


def test_a_password_in_db_works_and_warns_once_on_stderr(site, tmp_path, pg_url_with_password):
    sources = write_sources(tmp_path / "sources.toml",
                            f'[[source]]\nname = "甲"\nurl = "{site.url("ty/live/2024903/67541.shtm")}"\n')
    proc = check(sources, pg_url_with_password)
    assert proc.returncode == 0, proc.stderr
    warnings = [line for line in proc.stderr.splitlines() if "warning" in line]
    assert warnings == [WARNING + "; set POLICYWATCH_DB instead"], proc.stderr
    assert PASSWORD not in proc.stderr + proc.stdout
    status = run_cli("status", "--sources", str(sources), "--db", pg_url_with_password)
    assert status.returncode == 0 and status.stderr.splitlines() == [WARNING + "; set POLICYWATCH_DB instead"]
    quiet = run_cli("status", "--sources", str(sources), env={"POLICYWATCH_DB": pg_url_with_password})
    assert quiet.returncode == 0 and quiet.stderr == "", quiet.stderr
    no_password = pg_url_with_password.replace(f":{PASSWORD}@", "@")
    assert run_cli("status", "--sources", str(sources), "--db", no_password).stderr == ""
