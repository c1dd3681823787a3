"""Downloader middlewares."""
from __future__ import annotations

import asyncio
import logging

from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware as _RobotsTxtMiddleware
from scrapy.http import Request, Response
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.defer import Deferred


class BackoffRetryMiddleware(RetryMiddleware):
    """Scrapy's retry, but waiting base**n seconds (capped) before the n-th retry of a request."""

    def __init__(self, settings) -> None:
        super().__init__(settings)
        self.backoff_base = settings.getfloat("RETRY_BACKOFF_BASE", 2.0)
        self.backoff_max = settings.getfloat("RETRY_BACKOFF_MAX", 60.0)

    async def _wait(self, result, request: Request):
        if isinstance(result, Request) and result is not request:
            tries = result.meta.get("retry_times", 1)
            delay = min(self.backoff_base ** (tries - 1), self.backoff_max) if self.backoff_base > 0 else 0
            if delay:
                await asyncio.sleep(delay)
        return result

    async def process_response(self, request: Request, response: Response, spider=None):
        return await self._wait(super().process_response(request, response), request)

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
