"""Alembic migrations of the history database (versions/), and what one migration borrows from another."""
from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType


def load_migration(filename: str) -> ModuleType:
    """The module of the migration `filename` in versions/ (its view SQL, for a migration built on it or a
    downgrade back to it); migration files are not importable by name (they start with a digit)."""
    path = Path(__file__).with_name("versions") / filename
    spec = importlib.util.spec_from_file_location(f"policywatch_migration_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
