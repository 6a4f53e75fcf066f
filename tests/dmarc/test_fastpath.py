"""The DMARC fast paths equal the full paths: the memoized single-From parse, alignments
known without DNS, the memoized own-record discovery outcome and _passing's shortcut."""

from __future__ import annotations

import enum
import importlib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.dmarc.helpers import Dkim, Spf, run
from tests.rfc5322_model import blank_line_by_lines

from zegel.dmarc import author_domains, evaluate_message
from zegel.dmarc.alignment import (
    _alignment_without_lookups,
    alignment_without_lookups,
    check_alignment,
)
from zegel.dmarc.author import _from_fields, header_block, header_fields
from zegel.dns import Resolver

# zegel.dmarc re-exports the function evaluate under the submodule's name: take the modules.
evaluate_module = importlib.import_module("zegel.dmarc.evaluate")
discovery_module = importlib.import_module("zegel.dmarc.discovery")

FROM_VALUES = [
    b"Alice <alice@example.com>",
    b" alice@EXAMPLE.com. ",
    b'"ceo@bank.example" <x@attacker.example>',
    b"ceo@bank.example <x@attacker.example>",
    b"a@example.com, b@example.org",
    b"undisclosed-recipients:;",
    b"alice",
    b"=?utf-8?q?x?= <=?utf-8?q?a?=@example.com>",
    b"(comment (nested)) a@example.com (x)",
    b"a@example.com\r\n\tfolded",
    b"a@ex\x00ample.com",
    b"<@route.example,@r2.example:a@example.com>",
    b"\xc3\xa9l\xc3\xa8ve@\xc3\xa9cole.example",
    b"a@[192.0.2.1]",
    b"unterminated <a@example.com",
    b"",
]


def full_author(message: bytes) -> Any:
    return _from_fields(header_fields(header_block(message), b"from"))


@pytest.mark.parametrize("value", FROM_VALUES, ids=range(len(FROM_VALUES)))
def test_author_domains_memo_equals_full_parse(value: bytes) -> None:
    for message in (b"From: " + value + b"\r\nTo: x@y.example\r\n\r\nbody",
                    b"From: " + value + b"\r\nFrom: b@example.org\r\n\r\n",
                    b"Subject: s\nfrom :" + value + b"\n\nbody"):
        expected = full_author(message)
        assert author_domains(message) == expected
        assert author_domains(message) == expected


def test_author_domains_long_value_not_memoized_but_equal() -> None:
    message = b"From: " + b"(" + b"x" * 5000 + b") a@example.com\r\n\r\n"
    assert author_domains(message) == full_author(message)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_author_domains_property(value: bytes) -> None:
    message = b"From: " + value + b"\r\n\r\n"
    assert author_domains(message) == full_author(message) == author_domains(message)


IDENTIFIERS = ["example.com", "EXAMPLE.com.", " example.com ", "mail.example.com", "example.org", "", ".",
               "ex ample.com", "bücher.example", "xn--bcher-kva.example", "a" * 300, "com", "x.com"]


@pytest.mark.parametrize("mode", ["r", "s", "x"])
@pytest.mark.parametrize("identifier", IDENTIFIERS, ids=range(len(IDENTIFIERS)))
def test_alignment_without_lookups_equals_check_alignment(identifier: str, mode: str) -> None:
    for author in ("example.com", "Example.COM", "bücher.example", "sub.example.org"):
        known = alignment_without_lookups(identifier, author, mode)  # type: ignore[arg-type]
        assert known == _alignment_without_lookups(identifier, author, mode)  # type: ignore[arg-type]
        if known is not None:
            # check_alignment gives the same without needing a resolver.
            assert run(check_alignment(identifier, author, mode, None)) == known  # type: ignore[arg-type]


class Result(str, enum.Enum):  # noqa: UP042 -- str() is "Result.PASS", unlike a StrEnum
    PASS = "pass"


def test_passing_shortcut_keeps_str_semantics() -> None:
    assert evaluate_module._passing("pass") and evaluate_module._passing(" PASS ")
    assert not evaluate_module._passing(None) and not evaluate_module._passing("fail")
    # str() of this enum is "Result.PASS": not a pass, with or without the shortcut.
    assert not evaluate_module._passing(Result.PASS)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def resolver(tmp_path_factory: pytest.TempPathFactory) -> Resolver:
    zone: Path = tmp_path_factory.mktemp("zone") / "fast.zone"
    zone.write_text("\n".join([
        '_dmarc.example.com. 300 IN TXT "v=DMARC1; p=reject; sp=quarantine; np=reject"',
        '_dmarc.strict.example. 300 IN TXT "v=DMARC1; p=reject; adkim=s; aspf=s"',
        '_dmarc.bad.example. 300 IN TXT "v=DMARC1; p=bogus"',
        '_dmarc.test.example. 300 IN TXT "v=DMARC1; p=quarantine; t=y"',
        "example.com. 300 IN A 192.0.2.1",
        "mail.example.com. 300 IN A 192.0.2.2",
    ]) + "\n")
    return Resolver(zones=[str(zone)], offline=True)


AUTHORS = ["example.com", "EXAMPLE.COM", "mail.example.com", "nx.example.com", "strict.example", "bad.example",
           "test.example", "none.example"]
AUTHENTICATED = [None, "example.com", "Example.Com.", "mail.example.com", "strict.example", "sub.strict.example",
                 "example.org", "", "bad.example", "test.example"]


@pytest.mark.parametrize("author", AUTHORS)
def test_evaluate_message_equals_full_path(author: str, resolver: Resolver, monkeypatch: pytest.MonkeyPatch) -> None:
    message = f"From: A <a@{author}>\r\nSubject: x\r\n\r\nbody".encode()
    cases = [(Spf(result, spf_domain) if spf_domain is not None else None,
              [Dkim(dkim_result, d) for d in dkim_domains])
             for spf_domain in AUTHENTICATED for result in ("pass", "fail")
             for dkim_domains, dkim_result in (((), "pass"), (("example.com",), "pass"),
                                               (("mail.example.com", "strict.example"), "pass"),
                                               (("example.com",), "fail"))]
    fast = [run(evaluate_message(message, spf=spf, dkim=dkim, resolver=resolver, draw=0.0))  # type: ignore[arg-type]
            for spf, dkim in cases]
    again = [run(evaluate_message(message, spf=spf, dkim=dkim, resolver=resolver, draw=0.0))  # type: ignore[arg-type]
             for spf, dkim in cases]
    # The full path: every alignment through check_alignment's coroutine, discovery not memoized.
    monkeypatch.setattr(evaluate_module, "alignment_without_lookups", lambda *args: None)
    monkeypatch.setattr(discovery_module, "_own_record_outcome", discovery_module._own_record_outcome_of)
    slow = [run(evaluate_message(message, spf=spf, dkim=dkim, resolver=resolver, draw=0.0))  # type: ignore[arg-type]
            for spf, dkim in cases]
    assert fast == slow
    assert again == slow


def test_own_record_memo_follows_the_published_record(tmp_path: Path) -> None:
    def discover(text: str) -> Any:
        zone = tmp_path / "z.zone"
        zone.write_text(f'_dmarc.example.com. 300 IN TXT "{text}"\n')
        return run(discovery_module.discover_policy("example.com", Resolver(zones=[str(zone)], offline=True)))

    first = discover("v=DMARC1; p=reject")
    assert first.record is not None and first.record.p == "reject"
    changed = discover("v=DMARC1; p=none")
    assert changed.record is not None and changed.record.p == "none"
    assert discover("v=DMARC1; p=reject") == first
    assert discover("v=DMARC1; p=bogus; x") == run(discovery_module._discover_rfc9989(
        "example.com", Resolver(zones=[str(tmp_path / "z.zone")], offline=True)))


@pytest.mark.parametrize("name", ["example.com", "mail.example.com", "nx.example.com", "strict.example",
                                  "bad.example", "none.example", "EXAMPLE.com."])
def test_discover_policy_inline_step_equals_rfc9989_discovery(name: str, resolver: Resolver) -> None:
    normal = discovery_module.normalize_domain(name)
    assert run(discovery_module.discover_policy(name, resolver)) == run(
        discovery_module._discover_rfc9989(normal, resolver))


def reference_header_block(message: bytes) -> bytes:
    """header_block by the line-by-line definition of the header section."""
    if message.startswith((b"\r\n", b"\n")):
        return b""
    end = blank_line_by_lines(message)
    return message[:end] if end != -1 else message


BLOCKS = [b"", b"\n", b"\r\n", b"a: b\r\n\r\nbody", b"a: b\n\nbody", b"a\n\r\nb\r\n\r\n", b"a\r\n\r\n\n\n",
          b"a\n\r\n\nb", b"\r\r\n\r\n", b"a: b\r\n" * 50 + b"\n\r\n" * 3 + b"\r\n\r\n", b"x\n\r\n", b"a\r\n\r"]


@pytest.mark.parametrize("message", BLOCKS, ids=range(len(BLOCKS)))
def test_header_block_equals_reference(message: bytes) -> None:
    assert header_block(message) == reference_header_block(message)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from([b"a", b":", b" ", b"\r", b"\n", b"\r\n", b"\n\r"]), max_size=20))
def test_header_block_property(parts: list[bytes]) -> None:
    message = b"".join(parts)
    assert header_block(message) == reference_header_block(message)


def reference_header_fields(block: bytes, name: bytes) -> list[bytes]:
    """header_fields' unfolding as it was: every value's lines joined, each without its CRs."""
    from zegel.dmarc.author import _field_pattern

    wanted = name.lower()
    pattern = _field_pattern(wanted)
    assert pattern is not None
    lowered = b"\n" + block.lower()
    values = []
    position = lowered.find(b"\n" + wanted)
    while position != -1:
        match = pattern.match(lowered, position)
        if match is not None:
            value = block[match.start(1) - 1 : match.end(1) - 1]
            if b"\n" in value or value.endswith(b"\r"):
                value = b"".join(line.rstrip(b"\r") for line in value.split(b"\n"))
            values.append(value)
        position = lowered.find(b"\n" + wanted, position + 1)
    return values


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from([b"From", b"from", b":", b" ", b"\t", b"a", b"\r", b"\n", b"\r\n", b"\r\r"]),
                max_size=24))
def test_header_fields_property(parts: list[bytes]) -> None:
    block = b"".join(parts)
    assert header_fields(block, b"From") == reference_header_fields(block, b"From")
