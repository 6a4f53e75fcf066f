"""Microsoft Graph mailbox input: what can be tested offline — the requests zegel builds and
its reading of Graph's JSON. (The exchange with graph.microsoft.com and msal's token request
need a tenant; they are not tested here.)"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from zegel.cli import cli
from zegel.reports.graph import (
    GRAPH,
    GraphError,
    GraphMessage,
    list_unread_request,
    mark_read_request,
    mime_request,
    next_page_request,
    parse_message_page,
)


def test_requests() -> None:
    listing = list_unread_request("dmarc@example.com", "inbox", "tok")
    assert listing.method == "GET"
    assert listing.url.startswith(f"{GRAPH}/users/dmarc@example.com/mailFolders/inbox/messages?")
    assert "%24filter=isRead%20eq%20false" in listing.url and "%24top=50" in listing.url
    assert dict(listing.headers)["Authorization"] == "Bearer tok"
    raw = mime_request("dmarc@example.com", "AAMk/a+b=", "tok")
    assert raw.url == f"{GRAPH}/users/dmarc@example.com/messages/AAMk%2Fa%2Bb%3D/$value"
    patch = mark_read_request("dmarc@example.com", "id1", "tok")
    assert (patch.method, json.loads(patch.body or b"")) == ("PATCH", {"isRead": True})
    assert next_page_request(f"{GRAPH}/users/x/messages?$skiptoken=1", "tok").url.endswith("$skiptoken=1")
    with pytest.raises(GraphError, match="nextLink"):
        next_page_request("https://attacker.example/steal", "tok")  # the token goes to Graph only


def test_parse_message_page() -> None:
    page = json.dumps({"@odata.nextLink": f"{GRAPH}/users/x/messages?$skiptoken=2", "value": [
        {"id": "m1", "subject": "Report Domain: example.com", "size": 2048},
        {"id": "", "subject": "no id"}, "junk", {"id": "m2", "size": True},
    ]}).encode()
    messages, next_link = parse_message_page(page)
    assert messages == [GraphMessage("m1", "Report Domain: example.com", 2048), GraphMessage("m2", "", None)]
    assert next_link == f"{GRAPH}/users/x/messages?$skiptoken=2"
    assert parse_message_page(b'{"value": []}') == ([], None)
    with pytest.raises(GraphError, match="ErrorAccessDenied: Access is denied"):
        parse_message_page(b'{"error": {"code": "ErrorAccessDenied", "message": "Access is denied."}}')
    with pytest.raises(GraphError, match="not JSON"):
        parse_message_page(b"<html>")
    with pytest.raises(GraphError, match="not JSON"):
        parse_message_page(b"[" * 100_000)


def test_graph_needs_app_credentials() -> None:
    result = CliRunner(env={"ZEGEL_GRAPH_TENANT": "", "ZEGEL_GRAPH_CLIENT_ID": "", "ZEGEL_GRAPH_CLIENT_SECRET": ""}
                       ).invoke(cli, ["reports", "ingest", "--graph", "dmarc@example.com"])
    assert result.exit_code == 2 and "ZEGEL_GRAPH_TENANT" in result.stderr
