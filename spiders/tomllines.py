"""Line numbers for TOML files: tomllib reports none for values, so errors find their line here.

Shared by the sources file (monitor/config.py) and the site-profile files (spiders/profiles.py),
whose errors both read `FILE:LINE: what is wrong`.
"""
from __future__ import annotations

import re
import tomllib
from pathlib import Path


class TomlLines:
    """Finds the line of a table header, a key or a value in the text of a TOML file."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()

    def array_tables(self, name: str) -> list[int]:
        """Lines (1-based) of the `[[name]]` headers, in file order."""
        header = re.compile(rf"\s*\[\[\s*{re.escape(name)}\s*\]\]")
        return [i + 1 for i, line in enumerate(self.lines) if header.match(line)]

    def table(self, name: str) -> int:
        """Line of the `[name]` header, or 1 when there is none."""
        header = re.compile(rf"\s*\[\s*{re.escape(name)}\s*\]")
        return next((i + 1 for i, line in enumerate(self.lines) if header.match(line)), 1)

    def key(self, key: str, start: int = 1) -> int:
        """Line of `key = ...` in the table starting at line `start` (1-based); `start` if not found."""
        pattern = re.compile(rf"\s*[\"']?{re.escape(key)}[\"']?\s*=")
        for n in range(start, len(self.lines) + 1):
            line = self.lines[n - 1]
            if n > start and re.match(r"\s*\[", line):
                break
            if pattern.match(line):
                return n
        return start

    def value(self, key: str, value: str, start: int = 1) -> int:
        """Line holding `value` (e.g. one selector of a multi-line array) at or after `key`'s line."""
        first = self.key(key, start)
        for n in range(first, len(self.lines) + 1):
            if n > first and re.match(r"\s*\[(?!\s*[\"'])", self.lines[n - 1]):
                break
            if value in self.lines[n - 1]:
                return n
        return first


class TomlFileError(ValueError):
    """A TOML file that cannot be read as text; the message is one line naming the file."""


def read_toml_text(path: Path, origin: str, what: str, missing_hint: str = "") -> str:
    """The text of a TOML file: UTF-8, with or without the BOM Windows editors write. A missing file, a folder,
    an unreadable file or other bytes raise TomlFileError (`origin: …`; `what` names the file's job)."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise TomlFileError(f"{origin}: {what} not found{missing_hint}") from None
    except IsADirectoryError:
        raise TomlFileError(f"{origin}: is a directory, not a {what}") from None
    except UnicodeDecodeError:
        raise TomlFileError(f"{origin}: not UTF-8 text") from None
    except OSError as exc:
        raise TomlFileError(f"{origin}: cannot read: {exc.strerror}") from None


def syntax_error(exc: tomllib.TOMLDecodeError, origin: str) -> str:
    """tomllib's message as `origin:LINE: TOML syntax error: …` (one line)."""
    m = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
    where = f"{origin}:{m.group(1)}" if m else origin
    reason = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
    return f"{where}: TOML syntax error: {reason}"
