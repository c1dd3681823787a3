"""The sources file: valid files load, broken ones give one line naming file and line."""
from __future__ import annotations

import pytest

from monitor.config import ConfigError, load_config, parse_config

GOOD = '''
notify = []
[defaults]
schedule = "0 8 * * *"

[[source]]
name = "太原本地宝·居民医保缴费截止"
url = "http://ty.bendibao.com/live/2024903/67541.shtm"
region = "太原市"

[[source]]
name = "山西省医保局·通知公告"
url = "https://ybj.shanxi.gov.cn/ywdt/tzgg/"
kind = "list"
follow = "/tzgg/\\\\d+/t\\\\d+_\\\\d+\\\\.s?html?$"
'''


def error_of(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "sources.toml")
    message = str(info.value)
    assert "\n" not in message
    return message


def test_issue_example_loads():
    config = parse_config(GOOD)
    assert [s.name for s in config.sources] == ["太原本地宝·居民医保缴费截止", "山西省医保局·通知公告"]
    listing = config.sources[1]
    assert listing.kind == "list" and listing.follow == r"/tzgg/\d+/t\d+_\d+\.s?html?$"
    assert config.sources[0].schedule == "0 8 * * *" and config.sources[0].region == "太原市"


def test_sources_file_saved_with_a_utf8_bom_loads(tmp_path):
    path = tmp_path / "sources.toml"
    path.write_bytes("\ufeff[[source]]\nname = \"太原\"\nurl = \"http://127.0.0.1:1/a.html\"\n".encode("utf-8"))
    assert [s.name for s in load_config(path).sources] == ["太原"]


def test_unknown_source_key_names_its_line():
    text = GOOD.replace('region = "太原市"', 'regoin = "太原市"')
    assert error_of(text).startswith("sources.toml:9: [[source]] #1: unknown key 'regoin'")


def test_unknown_top_level_key_names_its_line():
    assert error_of("notfiy = []\n" + GOOD).startswith("sources.toml:1: unknown key 'notfiy'")


def test_bad_url_names_its_line():
    text = GOOD.replace("http://ty.bendibao.com", "ftp://ty.bendibao.com")
    msg = error_of(text)
    assert msg.startswith("sources.toml:8: source '太原本地宝·居民医保缴费截止': bad url")
    assert "http:// or https://" in msg


def test_url_without_host_is_rejected():
    assert "url has no host" in error_of(GOOD.replace("http://ty.bendibao.com", "http://"))


def test_bad_cron_in_defaults_names_its_line():
    msg = error_of(GOOD.replace('"0 8 * * *"', '"0 25 * * *"'))
    assert msg.startswith("sources.toml:4: bad cron schedule '0 25 * * *'")


def test_cron_with_wrong_field_count_is_rejected():
    assert "5 fields" in error_of(GOOD.replace('"0 8 * * *"', '"0 8 * *"'))


def test_bad_cron_in_source_names_its_line():
    text = GOOD.replace('region = "太原市"', 'region = "太原市"\nschedule = "every day"')
    assert error_of(text).startswith("sources.toml:10: source '太原本地宝·居民医保缴费截止': bad cron schedule")


def test_duplicate_names_name_both_lines():
    text = GOOD.replace("山西省医保局·通知公告", "太原本地宝·居民医保缴费截止")
    assert error_of(text) == ("sources.toml:12: source '太原本地宝·居民医保缴费截止': "
                              "duplicate name (first defined on line 7)")


def test_list_without_follow_is_rejected():
    text = GOOD.replace('follow = "/tzgg/\\\\d+/t\\\\d+_\\\\d+\\\\.s?html?$"', "")
    assert "needs `follow`" in error_of(text)


def test_bad_follow_regex_is_rejected():
    assert "bad regex" in error_of(GOOD.replace("\\\\.s?html?$", "(unclosed"))


def test_unknown_kind_is_rejected():
    assert "kind must be one of page, list" in error_of(GOOD.replace('kind = "list"', 'kind = "feed"'))


def test_toml_syntax_error_names_its_line():
    assert error_of(GOOD.replace('region = "太原市"', 'region = "太原市')).startswith(
        "sources.toml:9: TOML syntax error")


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="sources file not found"):
        load_config(tmp_path / "nope.toml")


def test_non_utf8_file_is_a_clear_error(tmp_path):
    path = tmp_path / "gbk.toml"
    path.write_bytes(GOOD.encode("gbk"))
    with pytest.raises(ConfigError, match="not UTF-8 text"):
        load_config(path)


def test_unknown_profile_and_encoding_are_rejected():
    base = GOOD.replace('region = "太原市"', 'region = "太原市"\nprofile = "nope"')
    assert "unknown site profile 'nope'" in error_of(base)
    assert "unknown encoding 'klingon'" in error_of(GOOD.replace('region = "太原市"', 'encoding = "klingon"'))


def test_select_unknown_source_name_fails():
    with pytest.raises(ConfigError, match="no source named 'x'"):
        parse_config(GOOD).select(["x"])


def test_disabled_sources_are_not_selected():
    config = parse_config(GOOD.replace('region = "太原市"', "enabled = false"))
    assert [s.name for s in config.select(None)] == ["山西省医保局·通知公告"]


def test_daemon_timings_have_defaults_and_can_be_set():
    assert parse_config(GOOD).timing == {"jitter": 0, "crawl_timeout": 3600, "misfire_grace": 3600,
                                         "alert_retry": 300}
    config = parse_config(GOOD.replace('schedule = "0 8 * * *"',
                                       'schedule = "0 8 * * *"\njitter = 120\ncrawl_timeout = 900'))
    assert (config.jitter, config.crawl_timeout, config.misfire_grace) == (120, 900, 3600)


@pytest.mark.parametrize("line, message", [
    ("crawl_timeout = 0", "crawl_timeout must be a whole number of seconds from 1 to 604800, got 0"),
    ('jitter = "1m"', "jitter must be a whole number of seconds from 0 to 86400, got '1m'"),
    ("jitter = 86401", "jitter must be a whole number of seconds from 0 to 86400, got 86401"),
    ("alert_retry = true", "alert_retry must be a whole number of seconds from 1 to 86400, got True"),
])
def test_bad_daemon_timing_names_its_line(line, message):
    text = GOOD.replace('schedule = "0 8 * * *"', 'schedule = "0 8 * * *"\n' + line)
    assert error_of(text) == f"sources.toml:5: {message}"


def test_six_field_cron_has_seconds_first():
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from monitor.config import cron_trigger
    config = parse_config(GOOD.replace('schedule = "0 8 * * *"', 'schedule = "*/10 * * * * *"'))
    assert config.sources[0].schedule == "*/10 * * * * *"
    start = datetime(2026, 1, 1, 8, 0, 1, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert cron_trigger(config.schedule).get_next_fire_time(None, start) == start.replace(second=10)
    assert "6 with seconds first" in error_of(GOOD.replace('"0 8 * * *"', '"0 0 8 * * * *"'))


USER_PROFILES = '''
[[profile]]
name = "xinzhou"
domains = ["xinzhou.example.cn"]
content = ["div.nr"]
'''


def test_user_profiles_file_is_relative_to_the_sources_file(tmp_path, monkeypatch):
    cfg = tmp_path / "cfg"
    cfg.mkdir()
    (cfg / "my-profiles.toml").write_text(USER_PROFILES, encoding="utf-8")
    sources = cfg / "sources.toml"
    sources.write_text('profiles = "my-profiles.toml"\n' + GOOD.replace('region = "太原市"', 'profile = "xinzhou"'),
                       encoding="utf-8")
    monkeypatch.chdir(tmp_path)  # not the sources file's folder
    config = load_config("cfg/sources.toml")
    assert config.profiles_path == str((cfg / "my-profiles.toml").resolve())
    assert config.sources[0].profile == "xinzhou"  # a user profile name is a valid `profile =`
    assert parse_config(GOOD).profiles_path is None


def test_broken_user_profiles_file_names_its_own_file_and_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "my-profiles.toml").write_text(USER_PROFILES.replace('"div.nr"', '"div..nr"'), encoding="utf-8")
    message = error_of('profiles = "my-profiles.toml"\n' + GOOD)
    assert message.startswith("my-profiles.toml:5: profile 'xinzhou': bad CSS selector 'div..nr'")


def test_missing_user_profiles_file_names_the_sources_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert error_of('profiles = "gone.toml"\n' + GOOD).startswith(
        "sources.toml:1: profiles file 'gone.toml' not found")
    assert "profiles must be the path" in error_of("profiles = 3\n" + GOOD)


def test_source_profile_unknown_without_the_user_file_is_rejected():
    assert "unknown site profile 'xinzhou'" in error_of(GOOD.replace('region = "太原市"', 'profile = "xinzhou"'))


def test_the_cluster_queue_comes_from_defaults():
    assert parse_config(GOOD).redis is None
    text = GOOD.replace('schedule = "0 8 * * *"', 'schedule = "0 8 * * *"\nredis = "redis://queue:6379/0"')
    assert parse_config(text).redis == "redis://queue:6379/0"


@pytest.mark.parametrize("value", ['"queue:6379"', '"http://queue:6379/0"', "6379"])
def test_a_redis_value_that_is_no_redis_url_names_its_line(value):
    text = GOOD.replace('schedule = "0 8 * * *"', f'schedule = "0 8 * * *"\nredis = {value}')
    assert error_of(text) == 'sources.toml:5: redis must be a URL like "redis://HOST:6379/0"'
