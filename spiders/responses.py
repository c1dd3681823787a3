"""How a fetch went, in words: shared by the watch spider (stored in `checks`) and `policywatch extract URL`.

One wording for every outcome — HTTP errors, robots.txt refusals, timeouts, refused connections,
non-HTML answers — so what `extract URL` reports is what `check` would store.
"""
from __future__ import annotations

from urllib.parse import urlsplit

from scrapy.exceptions import (
    CannotResolveHostError, DownloadCancelledError, DownloadConnectionRefusedError, DownloadFailedError,
    DownloadTimeoutError, IgnoreRequest, ResponseDataLossError, UnsupportedURLSchemeError,
)
from scrapy.http import Response, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet.defer import CancelledError
from twisted.internet.error import (
    ConnectionLost, ConnectionRefusedError, DNSLookupError, TCPTimedOutError, TimeoutError,
)
from twisted.web._newclient import ResponseNeverReceived

HTML_TYPES = ("text/html", "application/xhtml+xml", "text/plain", "application/xml", "text/xml")

# How fetch failures are worded (first match wins).
_FAILURE_MESSAGES = [
    ((DownloadTimeoutError, TimeoutError, TCPTimedOutError), "timed out after {timeout:g} s"),
    ((DownloadConnectionRefusedError, ConnectionRefusedError), "connection refused"),
    ((CannotResolveHostError, DNSLookupError), "DNS lookup failed for {host}"),
    ((DownloadCancelledError, CancelledError), "download cancelled: {reason}"),
    ((ResponseDataLossError,), "response truncated before its declared length"),
    ((UnsupportedURLSchemeError,), "unsupported URL scheme"),
    ((DownloadFailedError, ResponseNeverReceived, ConnectionLost), "connection failed: {reason}"),
]


def header(response: Response, name: bytes) -> str | None:
    """A response header as text (latin-1, as HTTP sends it), or None."""
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None


def not_html(response: Response) -> str | None:
    """Why a 2xx answer cannot be read as a page (a PDF, an image, binary bytes), or None if it can."""
    content_type = header(response, b"Content-Type") or ""
    mime = content_type.split(";")[0].strip().lower()
    if not isinstance(response, TextResponse) or (mime and mime not in HTML_TYPES):
        return f"not an HTML page ({mime or 'unknown type'})"
    head = response.body[:8192]
    if compressed := compressed_format(head):
        encoding = header(response, b"Content-Encoding")
        return (f"not an HTML page ({compressed}-compressed bytes served as {mime or 'unknown type'} "
                + (f"with Content-Encoding {encoding})" if encoding else "without Content-Encoding)"))
    if b"\x00" in head and not head.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 pages carry a BOM
        return f"not an HTML page (binary content served as {mime or 'unknown type'})"
    return None


_COMPRESSED = [(b"\x1f\x8b", "gzip"), (b"\xfd7zXZ\x00", "xz"), (b"\x28\xb5\x2f\xfd", "zstd"), (b"PK\x03\x04", "zip")]


def compressed_format(head: bytes) -> str | None:
    """The compression whose magic bytes start `head` (gzip, zlib, bzip2, xz, zstd, zip), or None. A page body
    never starts so: markup and text begin with `<`, whitespace or a letter."""
    for magic, name in _COMPRESSED:
        if head.startswith(magic):
            return name
    if head[:3] == b"BZh" and head[3:4].isdigit() and head[4:10] == b"1AY&SY":
        return "bzip2"
    if len(head) >= 2 and head[0] == 0x78 and head[1] in (0x01, 0x5E, 0x9C, 0xDA):  # zlib: x + a valid FLG
        return "zlib"
    return None


def failure_reason(failure, settings) -> tuple[int | None, str]:
    """(HTTP status or None, one-line reason) of a failed request, as stored in the checks table."""
    if failure.check(HttpError):
        status = failure.value.response.status
        return status, f"HTTP {status}"
    if failure.check(IgnoreRequest):
        text = str(failure.value)
        return None, "blocked by robots.txt" if "robots" in text.lower() else f"request ignored: {text}"
    for classes, template in _FAILURE_MESSAGES:
        if failure.check(*classes):
            text = str(failure.value)
            if "max size" in text or "maxsize" in text.lower():
                template = "page larger than DOWNLOAD_MAXSIZE ({maxsize} bytes)"
            return None, template.format(timeout=settings.getfloat("DOWNLOAD_TIMEOUT"),
                                         maxsize=settings.getint("DOWNLOAD_MAXSIZE"),
                                         host=urlsplit(failure.request.url).hostname,
                                         reason=_first_reason(failure.value))
    return None, f"{type(failure.value).__name__}: {_first_reason(failure.value)}"


def _first_reason(exc) -> str:
    reasons = getattr(exc, "reasons", None)
    if reasons:
        return str(reasons[0].value) or type(reasons[0].value).__name__
    return (str(exc) or type(exc).__name__).splitlines()[0]
