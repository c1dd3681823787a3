"""`policywatch demo`: serve the bundled sample site, crawl it, change it, crawl again, show the history."""
from __future__ import annotations

import difflib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.table import Table

from monitor.localsite import LocalSite, WebhookReceiver
from storage import ChangeStore, Database, SnapshotStore

HERE = Path(__file__).resolve().parent
SITE = HERE / "demo_site"
CHINA = ZoneInfo("Asia/Shanghai")
DEMO_SETTINGS = ["-s", "AUTOTHROTTLE_ENABLED=False"]


def run_demo(db_url: str | None = None, keep: bool = False) -> int:
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 150)
    work = Path(tempfile.mkdtemp(prefix="policywatch-demo-"))
    try:
        return _demo(console, work, db_url or f"sqlite:///{work / 'policywatch-demo.db'}")
    finally:
        if keep:
            console.print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def _check(console: Console, sources: Path, db_url: str) -> int:
    """Each check runs in its own process, as cron would run it (Twisted's reactor runs once per process)."""
    cmd = [sys.executable, "-m", "monitor", "check", "--sources", str(sources), "--db", db_url,
           "--progress", "line", *DEMO_SETTINGS]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    console.print(f"  [bold]$ policywatch check --sources {sources.name}[/bold]  → exit {proc.returncode}")
    for line in (proc.stdout + proc.stderr).strip().splitlines():
        console.print("  " + line)
    return proc.returncode


def _demo(console: Console, work: Path, db_url: str) -> int:
    www = work / "www"
    shutil.copytree(SITE / "v1", www)
    receiver = WebhookReceiver().start()  # stands in for DingTalk / WeCom: a real webhook on 127.0.0.1
    with LocalSite(www) as site:
        sources = work / "sources.toml"
        sources.write_text((HERE / "demo_sources.toml").read_text(encoding="utf-8")
                           .replace("{base}", site.base_url).replace("{notify}", receiver.url()), encoding="utf-8")
        console.rule("policywatch demo")
        console.print(f"sample site: {site.base_url}  (本地宝 desktop + mobile guides, a 医保局 notice list, "
                      f"a generic news page)\ndatabase:    {db_url}\n")
        console.print("[bold]1. first crawl[/bold]")
        first = _check(console, sources, db_url)
        console.print("\n[bold]2. the site changes[/bold]: the Taiyuan guide extends its deadline "
                      "(2月25日 → 3月31日), the province lists a new notice")
        shutil.copytree(SITE / "v2", www, dirs_exist_ok=True)
        console.print("\n[bold]3. second crawl[/bold]")
        second = _check(console, sources, db_url)
    receiver.stop()
    store = SnapshotStore(Database(db_url))
    _show(console, store)
    _show_changes(console, ChangeStore(Database(db_url)), receiver)
    # The sample list links to notices that are gone (404): errors are expected, a crash is not.
    return 0 if first in (0, 1) and second in (0, 1) else second


def _show_changes(console: Console, changes: ChangeStore, receiver: WebhookReceiver) -> None:
    console.print("\n[bold]5. what changed[/bold] (policywatch changes)")
    table = Table("run", "type", "source", "what", "old → new", "severity")
    for c in changes.changes():
        if c["type"] == "text_changed":
            continue
        table.add_row(str(c["run_id"]), c["type"], c["source"], c["kind"] or "",
                      f"{_short(c['old'])} → {_short(c['new'])}", c["severity"])
    console.print(table)
    console.print(f"\n[bold]6. the alert[/bold] delivered to the webhook ({len(receiver.posts)} message(s), "
                  "one per run and target):")
    for _, body in receiver.posts[-1:]:
        console.print(body.get("title", ""), style="bold")
        console.print(body.get("message", ""), soft_wrap=True)


def _short(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, dict):
        return " ".join(str(v) for k, v in value.items() if v is not None and k != "qualifier")
    return str(value)


def _show(console: Console, store: SnapshotStore) -> None:
    console.print("\n[bold]4. what was stored[/bold]")
    table = Table("run", "outcome", "HTTP", "page", "note")
    for c in store.checks():
        table.add_row(str(c["run_id"]), c["outcome"], str(c["http_status"] or ""),
                      c["url"].split("/", 3)[-1], c["error"] or "")
    console.print(table)
    snaps = store.snapshots()
    table = Table("snapshot", "source", "profile", "title", "published", "chars")
    for s in snaps:
        table.add_row(str(s["id"]), s["source"], s["profile"] or "", (s["title"] or "")[:30],
                      s["published_at"].astimezone(CHINA).strftime("%Y-%m-%d %H:%M") if s["published_at"] else "",
                      str(len(s["main_text"])))
    console.print(table)
    by_url: dict[str, list[dict]] = {}
    for s in snaps:
        by_url.setdefault(s["url"], []).append(s)
    for url, versions in by_url.items():
        if len(versions) < 2:
            continue
        old, new = versions[-2], versions[-1]
        console.print(f"\n[bold]changed:[/bold] {new['source']}  ({url})")
        diff = difflib.unified_diff(old["main_text"].splitlines(), new["main_text"].splitlines(),
                                    f"snapshot {old['id']}", f"snapshot {new['id']}", lineterm="", n=0)
        for line in diff:
            style = "green" if line.startswith("+") else "red" if line.startswith("-") else "dim"
            console.print(f"[{style}]{line}[/{style}]", soft_wrap=True)
