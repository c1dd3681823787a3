"""The `policywatch extract PATH|URL` command: options, profile choice, JSON or a human-readable view.

Exit codes: 0 facts printed · 1 the URL gave no usable page (unreachable, HTTP error, robots.txt, not
HTML, no text: what `check` records as an error) · 2 bad file, bad profile file or usage.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

EXIT_OK, EXIT_FETCH, EXIT_INPUT = 0, 1, 2


from monitor.options import add_common_options


def add_extract_parser(sub) -> None:
    ext = sub.add_parser("extract", help="cut one saved page or live URL and print its facts (JSON to pipes)")
    ext.add_argument("path", metavar="PATH|URL",
                     help=".html page (main content is cut first), .txt main text, or an http(s):// URL to fetch "
                          "now (robots.txt, User-Agent and limits as `check`; nothing is stored)")
    ext.add_argument("--url", help="the page's URL (chooses the site profile and helps find the region)")
    ext.add_argument("--published", metavar="YYYY-MM-DD[THH:MM]",
                     help="publish time (resolves 即日起 and year-less dates); default: read from the page")
    ext.add_argument("--title", help="the page title (for .txt input; .html pages carry their own)")
    ext.add_argument("--profile", metavar="NAME|FILE",
                     help="force a site profile by name (bundled, a user profile of --sources, or generic), or "
                          "try a TOML file of [[profile]] tables merged over the bundled ones (as `profiles =`)")
    ext.add_argument("--text", action="store_true", help="also print the cut main text (JSON: main_text)")
    add_common_options(ext, sources_help="use this sources file's user profiles, and the profile/encoding of "
                                          "the source the URL belongs to", db_help="accepted, not read")
    ext.add_argument("-s", dest="settings", action="append", metavar="SETTING=VALUE", default=[],
                     help="override a Scrapy setting for the fetch (repeatable), as `check -s`")
    ext.add_argument("-v", "--verbose", action="store_true", help="show Scrapy's log of the fetch")
    view = ext.add_mutually_exclusive_group()
    view.add_argument("--json", dest="view", action="store_const", const="json",
                      help="print JSON (the default unless stdout is a terminal)")
    view.add_argument("--human", dest="view", action="store_const", const="human",
                      help="print a readable summary (the default on a terminal)")


def _fail(message: str, code: int) -> int:
    print(f"policywatch: {message}", file=sys.stderr)
    return code


def _source_of(config, url: str):
    """The configured source a URL belongs to (its own page, or an article of a list source), or None."""
    import re
    for source in config.sources:
        if source.url == url:
            return source
    return next((s for s in config.sources if s.kind == "list" and s.follow and re.search(s.follow, url)), None)


def _profile_choice(args, config, url: str | None):
    """(forced profile name or None, user profiles path or None, forced encoding or None) for this run."""
    from spiders.profiles import load_profiles
    source = _source_of(config, url) if config and url else None
    forced = source.profile if source else None
    encoding = source.encoding if source else None
    profiles_path = config.profiles_path if config else None
    value = args.profile
    if value and (value.lower().endswith(".toml") or Path(value).is_file()):
        profiles_path = str(Path(value).resolve())
        load_profiles(profiles_path, value)  # a broken file fails now, with its file:line
    elif value:
        forced = value
    if forced and forced != "generic":
        load_profiles(profiles_path).by_name(forced)  # KeyError names the known profiles
    return forced, profiles_path, encoding


def cmd_extract(args) -> int:
    from monitor.config import ConfigError, check_url, load_config
    from monitor.extract import FetchError, InputError, fetch_url, is_url, read_file
    from spiders.profiles import ProfileError, load_profiles
    live = is_url(args.path)
    try:
        config = load_config(args.sources, allow_empty=True) if args.sources else None
        forced, profiles_path, encoding = _profile_choice(args, config, args.url or (args.path if live else None))
        if live:
            if reason := check_url(args.path):
                return _fail(f"{args.path}: {reason}", EXIT_INPUT)
            from monitor.check import scrapy_settings  # Scrapy is imported on the URL path only
            settings = scrapy_settings(None, args.settings, args.verbose)
            result = fetch_url(args.path, settings, doc_url=args.url, published=args.published, title=args.title,
                               profile=forced, profiles_path=profiles_path, encoding=encoding)
        else:
            result = read_file(args.path, url=args.url, published=args.published, title=args.title,
                               profile=forced, profiles_path=profiles_path, encoding=encoding)
    except (InputError, ConfigError, ProfileError) as exc:
        return _fail(str(exc), EXIT_INPUT)
    except KeyError as exc:
        return _fail(f"--profile: {exc.args[0]}", EXIT_INPUT)
    except ValueError as exc:  # a malformed -s
        return _fail(str(exc), EXIT_INPUT)
    except FetchError as exc:
        return _fail(str(exc), EXIT_FETCH)
    if args.profile and profiles_path and result.profile not in load_profiles(profiles_path).user:
        print(f"policywatch: note: no profile of {args.profile} matched this page (check its domains and "
              f"detect); it was cut with {result.profile!r}", file=sys.stderr)
    view = args.view or ("human" if sys.stdout.isatty() else "json")
    if view == "json":
        print(json.dumps(result.to_json(text=args.text), ensure_ascii=False, indent=2))
    else:
        print(human_view(result, args.path, text=args.text))
    return EXIT_OK


def human_view(result, source: str, text: bool = False) -> str:
    """A short readable report: where the page came from, how it was cut, its metadata and facts."""
    doc = result.to_json(text=text)
    lines = [f"page       {source}"]
    if result.http_status is not None:
        moved = f", redirected to {result.final_url}" if result.final_url and result.final_url != source else ""
        lines.append(f"fetched    HTTP {result.http_status}{moved}")
    if result.profile is not None:
        lines.append(f"profile    {result.profile}" + (f" (decoded as {result.encoding})" if result.encoding else ""))
    region = doc["region"]
    lines += [f"title      {doc['title'] or '—'}",
              f"published  {(doc['published_at'] or '—').replace('T', ' ')}",
              f"region     {region['name']} ({region['code']})" if region else "region     —",
              f"plan year  {doc['plan_year'] or '—'}"]
    if text:
        lines += ["", f"── main text ({len(result.main_text)} characters) ──", result.main_text]
    lines += ["", f"── facts ({len(doc['facts'])}) ──"]
    for f in doc["facts"]:
        value = json.dumps(f["value"], ensure_ascii=False)
        year = f" {f['plan_year']}年度" if f["plan_year"] else ""
        lines.append(f"{f['kind']}{year}: {value}")
        lines.append(f"    {f['evidence']}")
    return "\n".join(lines)
