"""Package layout: one-way imports, and the Scrapy project works from the repository root."""
from __future__ import annotations

import ast
import os
import subprocess
import sys

import pytest

from conftest import ROOT

# package → packages of ours it may import
ALLOWED = {
    "extractors": set(),
    "storage": set(),
    "spiders": {"storage", "extractors"},
    "monitor": {"spiders", "extractors", "storage"},
}
THIRD_PARTY_FORBIDDEN = {"extractors": {"scrapy", "sqlalchemy", "twisted"}, "storage": {"scrapy", "twisted"}}


def imports_of(package: str) -> set[str]:
    found = set()
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_imports_go_one_way(package):
    ours = imports_of(package) & set(ALLOWED)
    assert ours - {package} <= ALLOWED[package]
    assert not imports_of(package) & THIRD_PARTY_FORBIDDEN.get(package, set())


def test_scrapy_list_runs_from_the_root():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "scrapy", "list"], cwd=ROOT, capture_output=True, text=True,
                          env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["fetch", "watch"]  # fetch: one URL, for `policywatch extract URL`


def test_every_module_is_in_a_listed_package():
    import tomllib
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    on_disk = {str(p.parent.relative_to(ROOT)).replace(os.sep, ".")
               for pkg in ALLOWED for p in (ROOT / pkg).rglob("__init__.py")}
    assert on_disk <= listed
