"""The console's login gate: who is asking (API token, trusted proxy header, or session
cookie), and what happens to a request nobody vouches for. The account logic itself lives in
zegel.accounts; this only reads the request."""

from __future__ import annotations

import ipaddress
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from zegel.accounts import Accounts, Identity

SESSION_COOKIE = "zegel_session"
PROTECTED_PAGES = "/console"
PROTECTED_API = ("/api/reports/", "/api/monitor")
PUBLIC = frozenset({"/console/login", "/console/static/console.css"})


class ConsoleAuth:
    """Sets ``request.state.identity`` (or None); refuses protected paths without one: pages
    redirect to the login page, the API answers 401 with ``WWW-Authenticate: Bearer``."""

    def __init__(self, app: ASGIApp, *, accounts: Accounts | None = None, proxy_header: str | None = None,
                 trusted_proxies: tuple[str, ...] = ("127.0.0.1", "::1"), state: dict[str, object] | None = None) -> None:
        self.app = app
        self._accounts = accounts
        self.state = state
        self.proxy_header = proxy_header.lower() if proxy_header else None
        self.trusted = tuple(ipaddress.ip_network(p, strict=False) for p in trusted_proxies)

    def accounts(self) -> Accounts | None:
        if self._accounts is not None:
            return self._accounts
        found = self.state.get("accounts") if self.state is not None else None
        return found if isinstance(found, Accounts) else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        page = path == PROTECTED_PAGES or path.startswith(PROTECTED_PAGES + "/")
        api = path.startswith(PROTECTED_API)
        if not (page or api):
            await self.app(scope, receive, send)
            return
        connection = HTTPConnection(scope)
        identity = await self.identify(connection, api)
        scope.setdefault("state", {})["identity"] = identity
        if identity is None and path not in PUBLIC:
            response: Response
            if api:
                response = JSONResponse({"error": "authentication required (Authorization: Bearer TOKEN)"},
                                        status_code=401, headers={"www-authenticate": 'Bearer realm="zegel"'})
            else:
                target = path + ("?" + scope["query_string"].decode("latin-1") if scope.get("query_string") else "")
                response = RedirectResponse("/console/login?next=" + quote(target, safe=""), status_code=303)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def identify(self, connection: HTTPConnection, api: bool) -> Identity | None:
        accounts = self.accounts()
        if accounts is None:
            return None
        authorization = connection.headers.get("authorization", "")
        if authorization[:7].lower() == "bearer ":
            # A token that does not verify is refused outright, not silently replaced by a cookie.
            return await run_in_threadpool(accounts.token_identity, authorization[7:].strip())
        if self.proxy_header and self._from_trusted_proxy(connection):
            name = connection.headers.get(self.proxy_header, "").strip()
            if name:
                client = connection.client.host if connection.client else ""
                return await run_in_threadpool(accounts.proxy_identity, name, client=client)
        session = connection.cookies.get(SESSION_COOKIE)
        if session:
            if api and connection.scope.get("method") not in ("GET", "HEAD"):
                return None  # cookies do not authorise API writes (no CSRF token there): use a token
            return await run_in_threadpool(accounts.session_identity, session)
        return None

    def _from_trusted_proxy(self, connection: HTTPConnection) -> bool:
        if connection.client is None:
            return False
        try:
            address = ipaddress.ip_address(connection.client.host)
        except ValueError:
            return False
        return any(address in network for network in self.trusted)
