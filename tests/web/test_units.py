"""Pure parts of the web app: language choice, the texts, the SVG geometry, list reading."""

from __future__ import annotations

import string

import pytest

from zegel.web import smtp
from zegel.web.i18n import MESSAGES, from_accept_language
from zegel.web.routes.check import grade_chart, read_domain_list
from zegel.web.svg import MAX_ROWS, limit_bar, tree_picture


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_every_text_in_both_languages_with_the_same_placeholders() -> None:
    for key, texts in MESSAGES.items():
        assert set(texts) == {"en", "nl"}, key
        assert texts["en"].strip() and texts["nl"].strip(), key
        assert _fields(texts["en"]) == _fields(texts["nl"]), key


@pytest.mark.parametrize(("header", "expected"), [
    ("nl-NL,nl;q=0.9,en-US;q=0.8,en;q=0.7", "nl"),
    ("en-GB,en;q=0.9,nl;q=0.8", "en"),
    ("de-DE,de;q=0.9,nl;q=0.5,en;q=0.4", "nl"),
    ("fr, *;q=0.1", None),
    ("nl;q=0, en;q=0.1", "en"),
    ("nl;q=abc", None),
    ("", None),
    ("x" * 10_000 + ",nl", None),  # cut at a bound, not parsed in full
])
def test_accept_language(header: str, expected: str | None) -> None:
    assert from_accept_language(header) == expected


def test_limit_bar_scales_past_the_limit() -> None:
    within = limit_bar(4)
    assert not within.over and within.limit_x == within.width and within.used_width == pytest.approx(128)
    over = limit_bar(13)
    assert over.over and over.used_width == over.width and over.limit_x == pytest.approx(over.width * 10 / 13, abs=0.1)
    assert len(over.ticks) == 12


def test_tree_picture_rows_edges_and_bound() -> None:
    tree = {"term": "example.nl", "lookups": 3, "void": 1, "note": "", "children": [
        {"term": "include:a.example", "lookups": 2, "void": 0, "note": "", "children": [
            {"term": "include:b.example", "lookups": 1, "void": 1, "note": "no SPF record", "children": []}]},
        {"term": "mx", "lookups": 1, "void": 0, "note": "", "children": []},
    ]}
    picture = tree_picture(tree)
    assert [row.depth for row in picture.rows] == [0, 1, 2, 1]
    assert [row.bad for row in picture.rows] == [False, False, True, False]
    assert len(picture.segments) == 5  # 3 elbows + 2 verticals
    wide = {"term": "x", "lookups": 0, "children": [{"term": f"include:{i}", "lookups": 1} for i in range(500)]}
    assert len(tree_picture(wide).rows) == MAX_ROWS and tree_picture(wide).truncated


def test_read_domain_list_like_the_cli() -> None:
    data = b"# list\n\nexample.nl, klant\nvoorbeeld.nl;x\n  spaced.example  # note\n" + b"x" * 5000 + b"\n"
    domains, truncated = read_domain_list(data, 10)
    assert domains == ["example.nl", "voorbeeld.nl", "spaced.example", "x" * 1024] and not truncated
    assert read_domain_list(b"a.nl\nb.nl\nc.nl\n", 2) == (["a.nl", "b.nl"], True)


def test_grade_chart() -> None:
    bars = grade_chart([{"grade": "A"}, {"grade": "A"}, {"grade": "F"}, {"grade": "?"}])
    assert [(b["grade"], b["count"]) for b in bars] == [("A", 2), ("B", 0), ("C", 0), ("D", 0), ("F", 2)]
    assert bars[0]["width"] == 300


@pytest.mark.parametrize(("address", "expected"), [
    ("test-abcdefgh@zegel.test", "abcdefgh"),
    ("<TEST-ABCDEFGH@Zegel.Test.>", "abcdefgh"),
    ("test-abc@zegel.test", None),
    ("test-abcdefgh@other.test", None),
    ("test-abcdefgh@sub.zegel.test", None),
    ("xtest-abcdefgh@zegel.test", None),
    ("test-abcdefgh", None),
    ("test-abcd efgh@zegel.test", None),
])
def test_tester_addresses(address: str, expected: str | None) -> None:
    assert smtp.tester_id(address, "zegel.test") == expected


def test_listening_socket_lets_asyncio_turn_nagle_off() -> None:
    """asyncio sets TCP_NODELAY only on sockets whose proto is TCP; with Nagle on, each
    response (headers, then body) waited for the client's delayed ACK."""
    import socket

    from zegel.cli.web import _bind

    sock = _bind("127.0.0.1", 0, "--listen")
    try:
        assert sock.proto == socket.IPPROTO_TCP
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    finally:
        sock.close()
