"""The web view's token gate (ASGI middleware): the security headers on every response, and with a token, 401
for a request that does not carry it."""
from __future__ import annotations

import hmac

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

TOKEN_COOKIE = "policywatch_token"
SECURITY_HEADERS = [
    (b"content-security-policy", b"default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
                                 b"base-uri 'none'; frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]


class TokenGate:
    """ASGI middleware: every response gets the security headers; with a token, a request without it
    (`Authorization: Bearer TOKEN`, `?token=TOKEN`, or the cookie a `?token=` visit sets) gets 401."""

    def __init__(self, app, token: str | None) -> None:
        self.app, self.token = app, token

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        set_cookie = False
        if self.token is not None:
            request = Request(scope)
            auth = request.headers.get("authorization", "")
            bearer = auth[7:].strip() if auth[:7].lower() == "bearer " else None
            query = request.query_params.get("token")
            cookie = request.cookies.get(TOKEN_COOKIE)
            if not any(self._ok(v) for v in (bearer, query, cookie)):
                await self._with_headers(PlainTextResponse(
                    "401 需要访问令牌：请求头 Authorization: Bearer TOKEN，或在地址后加 ?token=TOKEN\n", status_code=401,
                    headers={"WWW-Authenticate": "Bearer"}), scope, receive, send)
                return
            set_cookie = self._ok(query) and not self._ok(cookie)

        async def send_secured(message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", [])) + SECURITY_HEADERS
                if set_cookie:  # so the page's own links and stylesheet work without the token in their URLs
                    headers.append((b"set-cookie", f"{TOKEN_COOKIE}={self.token}; Path=/; HttpOnly; "
                                                   "SameSite=Strict".encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_secured)

    def _ok(self, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(given.encode("utf-8"), self.token.encode("utf-8"))

    async def _with_headers(self, response: Response, scope, receive, send) -> None:
        for name, value in SECURITY_HEADERS:
            response.headers[name.decode()] = value.decode()
        await response(scope, receive, send)
