"""Security at the edge of the web app: response headers with a strict Content-Security-Policy,
CSRF tokens for forms, and per-client-IP rate limits. Pure ASGI middleware (no per-request task)."""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.datastructures import FormData, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSRF_COOKIE = "zegel_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
# No inline script or style anywhere: scripts and styles come from /static only; SVG is inline
# markup with presentation attributes, which CSP does not govern.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS: Mapping[str, str] = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=()",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
}
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


# Where the body limit in force for a request lives in its scope: the app's, or its route's.
BODY_LIMIT_KEY = "zegel.body_limit"
# Where Starlette's Route(..., max_body_size=N) puts its limit while the route runs: honoured
# too, so an extension's route may keep raising or lowering its limit that way (docs/web.md).
_STARLETTE_ROUTE_LIMIT_KEY = "starlette.max_body_size"


def _limit_in_force(scope: Scope) -> int:
    return int(scope.get(_STARLETTE_ROUTE_LIMIT_KEY) or scope[BODY_LIMIT_KEY])


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request is larger than {limit} bytes")


class BodyLimitMiddleware:
    """Refuses a request body larger than the limit in force, by the declared length at once,
    else by counting as it arrives, so no handler ever holds more.

    Starlette's own limit answers in plain text, outside the security headers, and replaces
    whatever the handler answered when the declared length is too large; this one raises
    :class:`BodyTooLarge` where the handler reads, so the app's error handlers give the 413
    as the page or JSON of every other error. A route sets its own limit with
    :func:`limit_body`."""

    def __init__(self, app: ASGIApp, *, limit: int,
                 refuse: Callable[[Scope, Send, BodyTooLarge], Awaitable[None]]) -> None:
        self.app = app
        self.limit = limit
        self.refuse = refuse  # sends the app's own 413 response

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope[BODY_LIMIT_KEY] = self.limit
        declared = HTTPConnection(scope).headers.get("content-length", "")
        length = int(declared) if declared.isascii() and declared.isdigit() else None
        received = 0
        refused = False

        async def limited_receive() -> Message:
            nonlocal received
            limit = _limit_in_force(scope)
            if length is not None and length > limit:
                raise BodyTooLarge(limit)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def guarded_send(message: Message) -> None:
            # A handler that answers without reading an over-limit body still gets no say:
            # the request is refused all the same.
            nonlocal refused
            if refused:
                return
            if (message["type"] == "http.response.start" and message["status"] != 413
                    and length is not None and length > _limit_in_force(scope)):
                refused = True
                await self.refuse(scope, send, BodyTooLarge(_limit_in_force(scope)))
                return
            await send(message)

        await self.app(scope, limited_receive, guarded_send)


def limit_body(endpoint: Callable[[Request], Awaitable[Response]], limit: int
               ) -> Callable[[Request], Awaitable[Response]]:
    """``endpoint`` with its own body limit instead of the app's (see :class:`BodyLimitMiddleware`)."""

    @functools.wraps(endpoint)
    async def limited(request: Request) -> Response:
        request.scope[BODY_LIMIT_KEY] = limit
        return await endpoint(request)

    return limited


def _valid_cookie(value: str | None) -> bool:
    return value is not None and len(value) == 43 and all(c.isalnum() or c in "-_" for c in value)


class SecurityMiddleware:
    """Adds the security headers to every response and gives every browser a CSRF cookie.

    The CSRF scheme is a signed double submit: the cookie holds a random value, forms carry
    HMAC(secret, cookie), so a value planted by a sibling domain cannot be forged into a form.
    """

    def __init__(self, app: ASGIApp, *, secret: str, https_only: bool = False) -> None:
        self.app = app
        self.key = secret.encode()
        self.https_only = https_only

    def token_for(self, cookie: str) -> str:
        return hmac.new(self.key, cookie.encode(), hashlib.sha256).hexdigest()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        connection = HTTPConnection(scope)
        cookie = connection.cookies.get(CSRF_COOKIE)
        new_cookie = None
        if not _valid_cookie(cookie):
            cookie = new_cookie = secrets.token_urlsafe(32)
        assert cookie is not None
        scope.setdefault("state", {})["csrf_token"] = self.token_for(cookie)
        https = self.https_only or scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    if name not in headers:
                        headers[name] = value
                # Pages carry a CSRF token and people's results: no shared cache keeps them.
                # Static files are versioned (?v=) and may be cached.
                if "cache-control" not in headers:
                    static = scope.get("path", "").startswith("/static/")
                    headers["cache-control"] = "public, max-age=86400" if static else "no-store"
                if https:
                    headers.setdefault("strict-transport-security", "max-age=31536000")
                if new_cookie is not None:
                    secure = "; Secure" if https else ""
                    headers.append("set-cookie", f"{CSRF_COOKIE}={new_cookie}; Path=/; HttpOnly; "
                                                 f"SameSite=Strict{secure}")
            await send(message)

        await self.app(scope, receive, send_with_headers)


def csrf_token(request: Request) -> str:
    """The token to put in a form's hidden ``csrf_token`` field (templates: ``csrf_field()``)."""
    return str(request.state.csrf_token)


def check_csrf(request: Request, form: FormData | None = None) -> None:
    """Raise 403 unless a state-changing request carries this browser's CSRF token (form field
    or X-CSRF-Token header) and, when the browser says where it comes from, our own origin."""
    if request.method in _SAFE_METHODS:
        return
    origin = request.headers.get("origin")
    # Host only, not scheme: behind a TLS-terminating proxy the app sees http while the
    # browser says https; the host the browser talked to is what must match.
    if origin and origin != "null" and urlsplit(origin).netloc.lower() != request.headers.get("host", "").lower():
        raise HTTPException(403, "cross-site form submission refused")
    sent = request.headers.get(CSRF_HEADER) or ""
    if not sent and form is not None:
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else ""
    if not sent or not hmac.compare_digest(sent, csrf_token(request)):
        raise HTTPException(403, "the form expired or came from another site; reload the page and try again")


@dataclass
class _Bucket:
    tokens: float
    stamp: float


class RateLimiter:
    """Token buckets per (name, client IP): ``rate`` requests per minute, bursts up to ``rate``.

    Bounded: at most ``max_clients`` buckets are kept, the least recently used dropped first
    (a dropped client starts again with a full bucket, which only ever errs towards allowing).
    """

    def __init__(self, *, max_clients: int = 20_000, clock: Callable[[], float] = time.monotonic) -> None:
        self._buckets: OrderedDict[tuple[str, str], _Bucket] = OrderedDict()
        self.max_clients = max_clients
        self.clock = clock

    def allow(self, name: str, client: str, per_minute: int) -> float:
        """0.0 when allowed (and counted), else the seconds until the next request is allowed."""
        if per_minute <= 0:
            return 0.0
        now = self.clock()
        key = (name, client)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = _Bucket(float(per_minute), now)
            self._buckets[key] = bucket
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            bucket.tokens = min(float(per_minute), bucket.tokens + (now - bucket.stamp) * per_minute / 60.0)
            bucket.stamp = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) * 60.0 / per_minute


def client_ip(request: HTTPConnection) -> str:
    """The connecting address (uvicorn applies X-Forwarded-For only when told to trust a proxy)."""
    return request.client.host if request.client else "unknown"


class RateLimited(HTTPException):
    def __init__(self, retry_after: float) -> None:
        super().__init__(429, "too many requests from your address; try again in a minute",
                         headers={"retry-after": str(max(1, int(retry_after + 0.999)))})


__all__ = [
    "BODY_LIMIT_KEY",
    "CONTENT_SECURITY_POLICY",
    "CSRF_COOKIE",
    "CSRF_FIELD",
    "BodyLimitMiddleware",
    "BodyTooLarge",
    "RateLimited",
    "RateLimiter",
    "SecurityMiddleware",
    "check_csrf",
    "client_ip",
    "csrf_token",
    "limit_body",
]
