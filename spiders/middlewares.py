"""Downloader middlewares."""
from __future__ import annotations

import logging
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

from scrapy.downloadermiddlewares.redirect import MetaRefreshMiddleware as _MetaRefreshMiddleware
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware as _RobotsTxtMiddleware
from scrapy.http import Request, Response
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.defer import Deferred

from spiders.stopping import interruptible_sleep


def retry_after_seconds(value: bytes | str | None, now: datetime | None = None) -> float | None:
    """A Retry-After header (delay-seconds or an HTTP-date) as seconds from now; None when absent or unreadable."""
    if not value:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())


class BackoffRetryMiddleware(RetryMiddleware):
    """Scrapy's retry, but waiting base**n seconds (capped) before the n-th retry of a request, or what the
    server's Retry-After asks (429/503), up to RETRY_AFTER_MAX seconds."""

    def __init__(self, settings) -> None:
        super().__init__(settings)
        self.backoff_base = settings.getfloat("RETRY_BACKOFF_BASE", 2.0)
        self.backoff_max = settings.getfloat("RETRY_BACKOFF_MAX", 60.0)
        self.retry_after_max = settings.getfloat("RETRY_AFTER_MAX", 120.0)

    async def _wait(self, result, request: Request, asked: float | None = None):
        if isinstance(result, Request) and result is not request:
            tries = result.meta.get("retry_times", 1)
            delay = min(self.backoff_base ** (tries - 1), self.backoff_max) if self.backoff_base > 0 else 0
            if asked is not None:
                delay = max(delay, min(asked, self.retry_after_max))
            if delay:
                await interruptible_sleep(delay)  # a stop drops the request instead of waiting
        return result

    async def process_response(self, request: Request, response: Response, spider=None):
        asked = retry_after_seconds(response.headers.get(b"Retry-After")) if response.status in (429, 503) else None
        return await self._wait(super().process_response(request, response), request, asked)

    async def process_exception(self, request: Request, exception: Exception, spider=None):
        return await self._wait(super().process_exception(request, exception), request)


class RobotsTxtMiddleware(_RobotsTxtMiddleware):
    """Scrapy's robots.txt middleware, fixed for requests that wait on a robots.txt download.

    With Scrapy 2.19 / Twisted 26.10, only the first waiter on the shared Deferred
    receives the parser; the later ones receive None and are let through, so a
    disallowed page queued behind others was fetched. Re-read the parsed result instead.
    """

    def __init__(self, crawler) -> None:
        super().__init__(crawler)
        logging.getLogger(_RobotsTxtMiddleware.__module__).addFilter(_no_traceback)

    async def robot_parser(self, request: Request):
        parser = await super().robot_parser(request)
        if parser is None:
            current = self._parsers.get(urlparse_cached(request).netloc)
            if not isinstance(current, Deferred):
                return current
        return parser


def _no_traceback(record: logging.LogRecord) -> bool:
    """An unreachable robots.txt is an ordinary fetch failure: log one line, not a traceback."""
    if record.exc_info:
        record.exc_info = None
        record.exc_text = None
        record.levelno, record.levelname = logging.WARNING, "WARNING"
    return True


class MetaRefreshMiddleware(_MetaRefreshMiddleware):
    """Scrapy's meta-refresh redirects, minus the look at a 304's (empty) body: Scrapy decoded it and searched it
    for a <meta http-equiv=refresh> on every not-modified page, most of an unchanged re-check's pages."""

    def process_response(self, request: Request, response: Response):
        if response.status == 304:
            return response
        return super().process_response(request, response)
