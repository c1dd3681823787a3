"""A Scrapy extension for tests that holds up the crawler's set-up: it creates the file named by
$POLICYWATCH_TEST_SLOWSTART, then sleeps, so a test can signal `check` while Scrapy builds its crawler."""
from __future__ import annotations

import os
import time
from pathlib import Path


class SlowStart:
    """Blocks `from_crawler` for up to 60 s once its marker file exists."""

    @classmethod
    def from_crawler(cls, crawler) -> "SlowStart":
        Path(os.environ["POLICYWATCH_TEST_SLOWSTART"]).write_text("building the crawler", encoding="utf-8")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            time.sleep(0.05)
        return cls()
