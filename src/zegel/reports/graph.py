"""Reading reports from a Microsoft 365 mailbox through Microsoft Graph (for tenants where IMAP
is switched off).

An app registration with the ``Mail.ReadWrite`` application permission gets a token from
msal (client credentials); zegel lists the folder's unread messages, fetches each one's MIME
content (``/$value``: the same bytes IMAP would give) for the ingester, and marks it read.
The request building and the parsing of Graph's JSON are pure functions here; the HTTP
exchange is in :class:`GraphMailbox`.
"""

from __future__ import annotations

import importlib
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

GRAPH = "https://graph.microsoft.com/v1.0"
SCOPE = "https://graph.microsoft.com/.default"
MAX_PAGE_BYTES = 4 << 20  # a page of message ids: far below this
PAGE_SIZE = 50


class GraphError(Exception):
    """Microsoft Graph refused or failed; the message says why, in one line."""


@dataclass(frozen=True)
class GraphRequest:
    method: str
    url: str
    headers: tuple[tuple[str, str], ...]
    body: bytes | None = None


@dataclass(frozen=True)
class GraphMessage:
    id: str
    subject: str
    size: int | None


def _quote(part: str) -> str:
    return urllib.parse.quote(part, safe="@")


def list_unread_request(mailbox: str, folder: str, token: str, page_size: int = PAGE_SIZE) -> GraphRequest:
    """The first page of the folder's unread messages (id, subject, size), oldest first."""
    query = urllib.parse.urlencode({
        "$filter": "isRead eq false", "$select": "id,subject", "$orderby": "receivedDateTime",
        "$top": str(page_size),
    }, quote_via=urllib.parse.quote)
    url = f"{GRAPH}/users/{_quote(mailbox)}/mailFolders/{_quote(folder)}/messages?{query}"
    return GraphRequest("GET", url, _headers(token))


def next_page_request(next_link: str, token: str) -> GraphRequest:
    if not next_link.startswith(GRAPH + "/"):
        raise GraphError(f"unexpected @odata.nextLink {next_link[:80]!r}")
    return GraphRequest("GET", next_link, _headers(token))


def mime_request(mailbox: str, message_id: str, token: str) -> GraphRequest:
    """The message's MIME content (``GET .../messages/{id}/$value``)."""
    return GraphRequest("GET", f"{GRAPH}/users/{_quote(mailbox)}/messages/{_quote(message_id)}/$value",
                        _headers(token, accept="text/plain"))


def mark_read_request(mailbox: str, message_id: str, token: str) -> GraphRequest:
    return GraphRequest("PATCH", f"{GRAPH}/users/{_quote(mailbox)}/messages/{_quote(message_id)}",
                        (*_headers(token), ("Content-Type", "application/json")), b'{"isRead": true}')


def _headers(token: str, accept: str = "application/json") -> tuple[tuple[str, str], ...]:
    return (("Authorization", f"Bearer {token}"), ("Accept", accept))


def parse_message_page(data: bytes) -> tuple[list[GraphMessage], str | None]:
    """(messages, @odata.nextLink or None) from one page of a Graph message list."""
    if len(data) > MAX_PAGE_BYTES:
        raise GraphError(f"message list page of {len(data)} bytes refused")
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise GraphError(f"Graph answered with something that is not JSON: {str(exc)[:80]}") from None
    if not isinstance(document, dict):
        raise GraphError("Graph answered with JSON that is not an object")
    if isinstance(document.get("error"), dict):
        error = document["error"]
        raise GraphError(f"Graph error {str(error.get('code', ''))[:60]}: {str(error.get('message', ''))[:160]}")
    messages = []
    for item in document.get("value") or ():
        if isinstance(item, dict) and isinstance(item.get("id"), str) and item["id"]:
            size = item.get("size")
            messages.append(GraphMessage(item["id"], str(item.get("subject") or "")[:200],
                                         size if isinstance(size, int) and not isinstance(size, bool) else None))
    next_link = document.get("@odata.nextLink")
    return messages, next_link if isinstance(next_link, str) and next_link else None


def client_credentials_token(tenant: str, client_id: str, client_secret: str) -> str:
    """An application token for Graph from msal (client credentials flow)."""
    msal: Any = importlib.import_module("msal")  # ships no type information
    app = msal.ConfidentialClientApplication(client_id, authority=f"https://login.microsoftonline.com/{tenant}",
                                             client_credential=client_secret)
    result: Any = app.acquire_token_for_client(scopes=[SCOPE])
    if not isinstance(result, dict) or "access_token" not in result:
        reason = result.get("error_description") or result.get("error") if isinstance(result, dict) else result
        raise GraphError(f"no Graph token: {' '.join(str(reason).split())[:200]}")
    return str(result["access_token"])


class GraphMailbox:
    """One mailbox folder over Graph: unread messages as MIME bytes, then marked read."""

    def __init__(self, mailbox: str, token: str, folder: str = "inbox", *, timeout: float = 60,
                 max_message: int = 50 << 20) -> None:
        self.mailbox, self.token, self.folder = mailbox, token, folder
        self.timeout, self.max_message = timeout, max_message

    def _send(self, request: GraphRequest, limit: int) -> bytes:
        http = urllib.request.Request(request.url, data=request.body, method=request.method,
                                      headers=dict(request.headers))
        try:
            with urllib.request.urlopen(http, timeout=self.timeout) as answer:
                data: bytes = answer.read(limit + 1)
        except urllib.error.HTTPError as exc:
            body = exc.read(4096)
            try:
                parse_message_page(body)
            except GraphError as error:
                raise GraphError(f"HTTP {exc.code}: {error}") from None
            raise GraphError(f"HTTP {exc.code} {exc.reason}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise GraphError(f"Graph unreachable: {exc}") from None
        if len(data) > limit:
            raise GraphError(f"answer of more than {limit} bytes refused")
        return data

    def unread(self) -> Iterator[tuple[GraphMessage, bytes]]:
        request: GraphRequest | None = list_unread_request(self.mailbox, self.folder, self.token)
        while request is not None:
            messages, next_link = parse_message_page(self._send(request, MAX_PAGE_BYTES))
            for message in messages:
                yield message, self._send(mime_request(self.mailbox, message.id, self.token), self.max_message)
            request = next_page_request(next_link, self.token) if next_link else None

    def mark_read(self, message: GraphMessage) -> None:
        self._send(mark_read_request(self.mailbox, message.id, self.token), 1 << 16)
