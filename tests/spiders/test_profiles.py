"""User profile files: merged over the bundled profiles, validated with file:line errors."""
from __future__ import annotations

import textwrap

import pytest

from conftest import SITE
from spiders.content import extract_main
from spiders.profiles import ProfileError, bundled_profiles, load_profiles, read_profiles

# A county 医保局 page whose CMS the bundled profiles do not know: the article sits in div.nr, a sidebar of
# notices (with their own amounts) beside it, and the generic fallback takes the sidebar.
PAGE = (SITE / "gov/county_nr.html").read_text(encoding="utf-8")

PROFILE = """
# profiles for counties the bundled file does not know
[[profile]]
name = "xinzhou"
domains = ["xinzhou.example.cn"]
detect = "div.nr"
content = ["div.nr"]
title = [".nr-title"]
published = [".nr-time"]
drop = [".nr-title", ".nr-time", ".nr-tools"]
"""


def write(tmp_path, body: str, name: str = "my-profiles.toml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(body).lstrip("\n"), encoding="utf-8")
    return path


def error_of(tmp_path, body: str) -> str:
    path = write(tmp_path, body)
    with pytest.raises(ProfileError) as info:
        read_profiles(path, "my-profiles.toml", bundled_profiles())
    assert "\n" not in str(info.value)
    return str(info.value)


def test_user_profile_cuts_a_page_the_bundled_ones_do_not_know(tmp_path):
    url = "http://ybj.xinzhou.example.cn/tzgg/1.html"
    bundled = extract_main(PAGE, url)
    assert bundled.profile == "generic" and "350元" in bundled.main_text and "400元" not in bundled.main_text
    mine = extract_main(PAGE, url, profiles=load_profiles(str(write(tmp_path, PROFILE))))
    assert mine.profile == "xinzhou"
    assert mine.main_text == "2025年度城乡居民医保个人缴费标准为每人每年400元。"
    assert mine.title == "2025年度居民医保缴费通知" and mine.published_at.date().isoformat() == "2024-09-05"


def test_user_profiles_are_tried_first_and_replace_bundled_names(tmp_path):
    merged = load_profiles(str(write(tmp_path, PROFILE + """
        [[profile]]
        name = "gov-cms"
        detect = "#zoom"
        content = ["#zoom"]
        """)))
    names = [p.name for p in merged.profiles]
    assert names[:2] == ["xinzhou", "gov-cms"] and names.count("gov-cms") == 1
    assert merged.user == {"xinzhou", "gov-cms"}
    assert [s.css for s in merged.by_name("gov-cms").selectors["content"]] == ["#zoom"]
    assert set(names) >= {p.name for p in bundled_profiles().profiles}
    # the bundled set itself is untouched
    assert len(bundled_profiles().by_name("gov-cms").selectors["content"]) > 1


def test_user_profile_may_inherit_a_bundled_one_for_a_new_domain(tmp_path):
    merged = load_profiles(str(write(tmp_path, """
        [[profile]]
        name = "example-gov"
        domains = ["www.example.gov.cn"]
        inherit = "gov-cms"
        """)))
    html = (SITE / "gov/trs_ucap.html").read_text(encoding="utf-8")
    cut = extract_main(html, "https://www.example.gov.cn/art/1.html", profiles=merged)
    assert cut.profile == "example-gov"
    assert "个人缴费标准为每人每年400元" in cut.main_text and cut.meta.get("source")


def test_user_boilerplate_lines_are_added_to_the_bundled_ones(tmp_path):
    merged = load_profiles(str(write(tmp_path, PROFILE + """
        [boilerplate]
        drop_lines = ["^本站声明"]
        """)))
    page = PAGE.replace("</p>\n  <p class", "</p><p>本站声明：转载请注明出处。</p>\n  <p class")
    cut = extract_main(page, "http://xinzhou.example.cn/a.html", profiles=merged)
    assert "本站声明" not in cut.main_text and "400元" in cut.main_text
    assert merged.boilerplate.drop_lines.search("微信搜索公众号")  # the bundled rules still apply


@pytest.mark.parametrize("body, expected", [
    ("[[profile]]\nname = \"xinzhou\"\ncontent = [\n  \"div.nr\",\n  \"div..nr\",\n]\n",
     "my-profiles.toml:5: profile 'xinzhou': bad CSS selector 'div..nr'"),
    ("[[profile]]\nname = \"a\"\ncontent = [\"div\"]\n\n[[profile]]\nname = \"b\"\ncontnet = [\"div\"]\n",
     "my-profiles.toml:7: profile #2: unknown key 'contnet'"),
    ("[[profile]]\nname = \"a\"\ncontent = [\"div\"]\n[[profile]]\nname = \"a\"\ncontent = [\"p\"]\n",
     "my-profiles.toml:5: profile 'a': duplicate name (first defined on line 2)"),
    ("[[profile]]\nname = \"a\"\ninherit = \"gov-cmss\"\n",
     "my-profiles.toml:3: profile 'a': inherit: no profile named 'gov-cmss'"),
    ("[[profile]]\nname = \"a\"\ndomains = [\"a.cn\"]\n",
     "my-profiles.toml:1: profile 'a': needs content = "),
    ("[[profile]]\nname = \"a\"\ncontent = \"div.nr\n",
     "my-profiles.toml:3: TOML syntax error"),
    ("[[profile]]\nname = \"generic\"\ncontent = [\"div\"]\n",
     "my-profiles.toml:2: profile 'generic': 'generic' is the built-in fallback"),
    ("[[profile]]\nname = \"a\"\ncontent = [\"div\"]\ndomains = [1]\n",
     "my-profiles.toml:4: profile 'a': domains must be a list of non-empty strings"),
    ("[boilerplate]\ndrop_lines = [\"^ok\", \"(unclosed\"]\n",
     "my-profiles.toml:2: [boilerplate]: bad regular expression '(unclosed' in drop_lines"),
    ("profiles = []\n", "my-profiles.toml:1: unknown key 'profiles'"),
])
def test_broken_profile_file_names_file_and_line(tmp_path, body, expected):
    assert error_of(tmp_path, body).startswith(expected)


def test_missing_or_non_utf8_profile_file_is_one_line(tmp_path):
    with pytest.raises(ProfileError, match=r"^nope\.toml: profiles file not found$"):
        load_profiles(str(tmp_path / "nope.toml"), "nope.toml")
    gbk = tmp_path / "gbk.toml"
    gbk.write_bytes('[[profile]]\nname = "忻州"\ncontent = ["div"]\n'.encode("gbk"))
    with pytest.raises(ProfileError, match="not UTF-8 text"):
        load_profiles(str(gbk))


def test_a_profile_file_saved_with_a_utf8_bom_loads_and_a_folder_is_named(tmp_path):
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + PROFILE.encode("utf-8"))
    assert read_profiles(path).by_name("xinzhou").domains == ("xinzhou.example.cn",)
    with pytest.raises(ProfileError, match=r": is a directory, not a profiles file$"):
        read_profiles(tmp_path)


def test_an_edited_profile_file_is_read_again(tmp_path):
    path = write(tmp_path, PROFILE)
    assert load_profiles(str(path)).by_name("xinzhou").domains == ("xinzhou.example.cn",)
    path.write_text(PROFILE.replace("xinzhou.example.cn", "xz.example.cn") + "\n", encoding="utf-8")
    assert load_profiles(str(path)).by_name("xinzhou").domains == ("xz.example.cn",)
