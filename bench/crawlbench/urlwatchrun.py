"""urlwatch 2.29 on the benchmark's pages: a throw-away venv, its own files in a temp dir, one timed run.

Installed with pip into a venv of its own (default ~/.cache/policywatch-bench/urlwatch-venv,
reused while it holds urlwatch 2.29); never a policywatch dependency. Each repeat gets a new
directory with urls.yaml (one url job per page, 127.0.0.1 only), urlwatch.yaml (stdout
reporter only, every other reporter disabled), hooks.py (urlwatch.worker.MAX_WORKERS set to our
concurrency: urlwatch 2.29 has no setting for its thread pool, 10 by default) and the cache file.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

from crawlbench.children import run_child

VERSION = "2.29"
# every reporter of urlwatch 2.29 that has an `enabled` switch; all but stdout stay off
REPORTERS = ("stdout", "email", "pushover", "pushbullet", "telegram", "slack", "mattermost", "discord",
             "gotify", "matrix", "mailgun", "ifttt", "xmpp", "prowl", "shell")
REPORT_LINE = re.compile(r"^\d+\. (NEW|CHANGED|UNCHANGED|ERROR): ", re.M)


def default_venv() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "policywatch-bench" / "urlwatch-venv"


STAMP = ".policywatch-bench-complete"  # written once pip install has finished


def installed_version(venv: Path) -> str | None:
    python = venv / "bin" / "python"
    if not ((venv / STAMP).exists() and python.exists() and (venv / "bin" / "urlwatch").exists()):
        return None
    proc = subprocess.run([str(python), "-c", "import urlwatch.cli, urlwatch; print(urlwatch.__version__)"],
                          capture_output=True, text=True, timeout=60)
    return proc.stdout.strip() if proc.returncode == 0 else None


def ensure_urlwatch(venv: Path) -> tuple[Path | None, str]:
    """(the urlwatch executable, how it was got) or (None, why not); installs into venv when needed."""
    if installed_version(venv) == VERSION:
        return venv / "bin" / "urlwatch", f"urlwatch {VERSION} from {venv} (reused)"
    if venv.exists():
        if not (venv / "pyvenv.cfg").exists():
            return None, f"{venv} exists and is not a venv; not touching it"
        shutil.rmtree(venv)
    venv.parent.mkdir(parents=True, exist_ok=True)
    steps = (("python -m venv", [sys.executable, "-m", "venv", str(venv)]),
             (f"pip install urlwatch=={VERSION}", [str(venv / "bin" / "python"), "-m", "pip", "install", "-q",
                                                   "--disable-pip-version-check", f"urlwatch=={VERSION}"]))
    for label, cmd in steps:
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
            failed = None if proc.returncode == 0 else f"exited {proc.returncode}: " + (
                [line for line in (proc.stderr + proc.stdout).splitlines() if line.strip()] or ["no output"])[-1]
        except (OSError, subprocess.TimeoutExpired) as exc:
            failed = str(exc)
        if failed:
            shutil.rmtree(venv, ignore_errors=True)
            return None, f"{label} failed ({failed})"
    (venv / STAMP).write_text(f"urlwatch=={VERSION}\n")
    if installed_version(venv) != VERSION:
        return None, f"installed into {venv}, but it does not import urlwatch {VERSION}"
    return venv / "bin" / "urlwatch", f"urlwatch {VERSION} installed into {venv}"


def local_only(urls: list[str]) -> list[str]:
    """The URLs, each checked to be plain http on 127.0.0.1 (ValueError otherwise)."""
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme != "http" or parts.hostname != "127.0.0.1":
            raise ValueError(f"urlwatch may only fetch http://127.0.0.1 URLs, not {url!r}")
    return urls


def urls_yaml(urls: list[str], timeout: int) -> str:
    """urlwatch's job list: one `url` job per page, as YAML documents (JSON strings are valid YAML)."""
    return "---\n".join(f"url: {json.dumps(u)}\ntimeout: {timeout}\n" for u in local_only(urls))


def config_yaml() -> str:
    """urlwatch.yaml: the stdout reporter only, no colour, one summary line per job and no page text."""
    lines = ["display:", "  new: true", "  error: true", "  unchanged: true", "  empty-diff: true",
             "report:", "  text:", "    details: false", "    footer: false", "    minimal: false"]
    for name in REPORTERS:
        lines += [f"  {name}:", f"    enabled: {'true' if name == 'stdout' else 'false'}"]
        lines += ["    color: false"] if name == "stdout" else []
    return "\n".join(lines) + "\n"


def hooks_py(max_workers: int) -> str:
    return f"import urlwatch.worker\nurlwatch.worker.MAX_WORKERS = {int(max_workers)}\n"


def report_counts(output: str) -> dict[str, int]:
    """Jobs per verb in urlwatch's text report ('01. NEW: url' lines)."""
    counts = dict(new=0, changed=0, unchanged=0, error=0)
    for verb in REPORT_LINE.findall(output):
        counts[verb.lower()] += 1
    return counts


class UrlwatchRun:
    """One urlwatch set-up (job list, config, hooks, cache) in its own directory; run() it twice."""

    def __init__(self, exe: Path, directory: Path, urls: list[str], max_workers: int, timeout: int = 30) -> None:
        self.exe, self.dir = exe, directory
        directory.mkdir(parents=True)
        (directory / "home").mkdir()
        (directory / "urls.yaml").write_text(urls_yaml(urls, timeout), encoding="utf-8")
        (directory / "urlwatch.yaml").write_text(config_yaml(), encoding="utf-8")
        (directory / "hooks.py").write_text(hooks_py(max_workers), encoding="utf-8")

    def env(self) -> dict:
        home = str(self.dir / "home")
        env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower() and not k.startswith("XDG_")}
        env.update(HOME=home, XDG_CONFIG_HOME=home, XDG_CACHE_HOME=home, NO_PROXY="*", PYTHONIOENCODING="utf-8")
        return env

    def run(self, tag: str) -> dict:
        d = self.dir
        cmd = [str(self.exe), "--urls", str(d / "urls.yaml"), "--config", str(d / "urlwatch.yaml"),
               "--hooks", str(d / "hooks.py"), "--cache", str(d / "cache.db")]
        res = run_child(cmd, d / f"{tag}.log", self.env())
        if res["rc"] != 0:
            raise RuntimeError(f"urlwatch failed (exit {res['rc']}):\n{res['output'][-3000:]}")
        res["counts"] = report_counts(res["output"])
        return res
