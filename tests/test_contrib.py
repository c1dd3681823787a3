"""The examples under contrib/ call commands and options that exist."""
from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from monitor.cli import build_parser

CONTRIB = Path(__file__).resolve().parent.parent / "contrib"


def policywatch_commands() -> list[tuple[str, list[str]]]:
    found = []
    for path in sorted(CONTRIB.iterdir()):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.lstrip().startswith("#"):
                continue
            for match in re.finditer(r"\S*bin/policywatch (.*?)(?:>>|$)", line):
                found.append((path.name, shlex.split(match.group(1))))
    return found


def test_contrib_has_the_cron_and_systemd_examples():
    names = {p.name for p in CONTRIB.iterdir()}
    assert {"crontab", "policywatch.service", "policywatch-check.service", "policywatch-check.timer",
            "policywatch-worker.service"} <= names
    assert {name for name, _ in policywatch_commands()} >= {"crontab", "policywatch.service",
                                                            "policywatch-check.service"}


@pytest.mark.parametrize("where, argv", policywatch_commands(), ids=lambda v: v if isinstance(v, str) else " ".join(v))
def test_contrib_command_lines_parse(where, argv):
    args = build_parser().parse_args(argv)
    assert args.command in ("check", "run", "alerts", "worker")
