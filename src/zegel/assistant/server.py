"""The MCP endpoint (Streamable HTTP, the ``mcp`` SDK): check, explain, reports summary and
monitoring history as tools, for the bearer of a console API token.

The token (``zegel web token NAME``) is verified by the SDK's bearer middleware through
:class:`AccountsTokenVerifier`; every tool then looks the caller's identity up again and
applies the same per-domain access rules as the JSON API.
"""

from __future__ import annotations

import json
from typing import Any

from mcp.server import MCPServer
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.transport_security import TransportSecuritySettings
from pydantic import AnyHttpUrl
from starlette.applications import Starlette

from zegel.accounts import AccessDenied, Accounts, Identity
from zegel.assistant import tools
from zegel.assistant.tools import Services, ToolError

INSTRUCTIONS = (
    "zegel answers e-mail authentication questions about the domains this account may see: "
    "check a domain's SPF, DKIM, DMARC and MX records (with fixes), explain a received message's "
    "headers, summarise the DMARC aggregate reports received for a domain (who sends, what fails, "
    "whether it is safe to move to quarantine or reject), and show a watched domain's monitoring "
    "history (what changed when, and the alerts raised)."
)


class AccountsTokenVerifier:
    """Console API tokens as MCP bearer tokens."""

    def __init__(self, accounts: Accounts) -> None:
        self.accounts = accounts

    async def verify_token(self, token: str) -> AccessToken | None:
        import asyncio

        identity = await asyncio.to_thread(self.accounts.token_identity, token)
        if identity is None:
            return None
        return AccessToken(token=token, client_id=identity.name, scopes=["zegel"], subject=identity.name)


def _identity(accounts: Accounts) -> Identity:
    token = get_access_token()
    identity = accounts.identity(token.client_id, via="token") if token is not None else None
    if identity is None:
        raise PermissionError("not authenticated")
    return identity


def _answer(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, default=str)


def build_server(services: Services, accounts: Accounts, *, base_url: str = "http://127.0.0.1:8080") -> MCPServer[Any]:
    """The MCP server with zegel's tools (call :func:`asgi_app` for its HTTP app)."""
    server: MCPServer[Any] = MCPServer(
        name="zegel", instructions=INSTRUCTIONS, token_verifier=AccountsTokenVerifier(accounts),
        # Console tokens are not audience-bound: any zegel endpoint of this installation accepts them.
        auth=AuthSettings(issuer_url=AnyHttpUrl(base_url), resource_server_url=AnyHttpUrl(base_url.rstrip("/") + "/mcp"),
                          validate_token_resource=False, required_scopes=["zegel"]),
    )

    async def guarded(call: Any) -> str:
        try:
            return _answer(await call)
        except (AccessDenied, ToolError) as exc:
            return _answer({"error": str(exc)})

    @server.tool(name="check", description="zegel check: grade, findings and fixes for a domain's SPF, DKIM, "
                 "DMARC and MX records. Returns the JSON `zegel check DOMAIN --json` prints.")
    async def check(domain: str, selectors: list[str] | None = None, lang: str = "en") -> str:
        return await guarded(tools.check(services, _identity(accounts), domain, tuple(selectors or ()), lang))

    @server.tool(name="explain", description="zegel explain: what a received message's authentication headers "
                 "say, in plain words (paste the headers or the whole message). Nothing is stored.")
    async def explain(message: str, lang: str = "en") -> str:
        return await guarded(tools.explain(services, _identity(accounts), message, lang))

    @server.tool(name="reports_summary", description="Summary of the DMARC aggregate reports received for a "
                 "domain since a time (30d, 2w, 2026-11-01): senders, pass rates, who a stricter policy would "
                 "hurt and the recommended next step. The JSON `zegel reports summary --json` prints, with "
                 "`sources` paged by volume: `limit` (1-1000, default 200) from `offset`; `sources_total` "
                 "and `next_offset` tell what else there is.")
    async def reports_summary(domain: str, since: str = "30d", lang: str = "en", limit: int = tools.SUMMARY_LIMIT,
                              offset: int = 0) -> str:
        return await guarded(tools.reports_summary(services, _identity(accounts), domain, since, lang, limit, offset))

    @server.tool(name="monitoring_history", description="A watched domain's monitoring runs (grade, the records "
                 "and findings that changed) and the alerts raised, newest first.")
    async def monitoring_history(domain: str, limit: int = 20) -> str:
        return await guarded(tools.monitoring_history(services, _identity(accounts), domain, limit))

    @server.tool(name="domains", description="The domains this account may see, and the watch list with grades.")
    async def domains() -> str:
        identity = _identity(accounts)
        return _answer({"domains": tools.visible_domains(services, identity),
                        "watched": tools.monitoring_overview(services, identity)})

    return server


def asgi_app(server: MCPServer[Any], *, allowed_hosts: list[str] | None = None) -> Starlette:
    """The Streamable HTTP app, answering at ``/mcp`` (JSON responses, no server-side session
    state, so any worker answers any request). Run ``server.session_manager.run()`` around it
    when mounting it inside another app."""
    security = None
    if allowed_hosts is not None:
        security = TransportSecuritySettings(enable_dns_rebinding_protection=bool(allowed_hosts),
                                             allowed_hosts=allowed_hosts, allowed_origins=[])
    return server.streamable_http_app(streamable_http_path="/mcp", json_response=True, stateless_http=True,
                                      transport_security=security)
