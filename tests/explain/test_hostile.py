"""Hostile headers give a defined answer, never a traceback (issue 10's explain rows)."""

from __future__ import annotations

from click.testing import CliRunner

from zegel.authres import parse
from zegel.cli import cli
from zegel.explain import explain_message
from zegel.explain.author import author_domain
from zegel.explain.texts import text

RECEIVED = b"Received: from vps123.example ([203.0.113.66]) by mx.ontvanger.example; Tue, 3 Nov 2026\r\n"
AR = b"Authentication-Results: mx.ontvanger.example; spf=fail smtp.mailfrom=bank.example; dmarc=fail header.from=bank.example\r\n"


def explain_cli(data: bytes) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["explain", "-"], input=data)
    return result.exit_code, result.stdout, result.stderr


def test_nested_comment_from_never_recurses() -> None:
    for tail in (b"(" * 1000, b"x:" * 1000, b"(" * 100_000):
        data = AR + RECEIVED + b"From: ceo@bank.example " + tail + b"\r\nSubject: x\r\n\r\nbody\r\n"
        code, out, err = explain_cli(data)
        assert "internal error" not in err and "RecursionError" not in err + out
        assert code in (0, 1)
        report = explain_message(data)
        assert report.verdict in ("suspicious", "unknown")


def test_non_ascii_instance_digits_do_not_raise() -> None:
    for number in ("²", "١٠٠", "1²", "9" * 40):
        data = (RECEIVED + f"ARC-Authentication-Results: i={number}; mx.ontvanger.example; dmarc=pass\r\n".encode()
                + b"From: <a@bank.example>\r\n\r\n")
        report = explain_message(data)
        assert report.hops[0].instance is None
        assert report.verdict in ("unknown", "genuine", "suspicious")


def test_from_oddities_give_no_author_domain() -> None:
    assert author_domain([]) == (None, "no_from")
    assert author_domain(["a@x.example", "b@y.example"]) == (None, "several_from")
    assert author_domain(["a@x.example, b@y.example"]) == (None, "several_from")
    assert author_domain(["=?utf-8?q?ceo=40bank.example?="])[0] is None
    assert author_domain(["ceo@bank\x00.example"])[0] is None
    # No size cliff (issue 10): a huge display name still names the domain DMARC judges.
    assert author_domain(['"' + "a" * 17_000 + '" <ceo@bank.example>']) == ("bank.example", "")
    assert author_domain(["Bank (the (real) one) <ceo@bank.example>"]) == ("bank.example", "")
    assert author_domain(['"Smith, John <x@evil.example>" <ceo@bank.example>']) == ("bank.example", "")
    assert author_domain(["ceo@bank.example (comment @ evil.example)"]) == ("bank.example", "")
    assert author_domain(["undisclosed: ceo@bank.example;"]) == ("bank.example", "")


def test_no_single_author_domain_is_never_genuine() -> None:
    for from_field in (b"From: a@bank.example\r\nFrom: b@evil.example\r\n", b"",
                       b"From: =?utf-8?q?x?= <>\r\n"):
        data = (b"Authentication-Results: mx.ontvanger.example; dmarc=pass header.from=bank.example\r\n" + RECEIVED
                + from_field + b"Subject: x\r\n\r\n")
        assert explain_message(data).verdict == "unknown"


def test_many_fields_are_bounded() -> None:
    data = RECEIVED + b"Authentication-Results: a; spf=pass\r\n" * 5000 + b"From: <a@b.example>\r\n\r\n"
    report = explain_message(data)
    assert len(report.hops) <= 100


def test_authres_quoted_local_part_keeps_its_domain() -> None:
    parsed = parse('mx.example; spf=pass smtp.mailfrom="a b"@example.com')
    assert parsed.results[0].get("smtp.mailfrom") == '"a b"@example.com'
    assert parsed.results[0].get("smtp.mailfrom").rpartition("@")[2] == "example.com"
    escaped = parse(r'mx.example; spf=pass smtp.mailfrom="a\"b"@example.com; dkim=pass header.b="x y"')
    assert escaped.results[0].get("smtp.mailfrom") == r'"a\"b"@example.com'
    assert escaped.results[1].get("header.b") == "x y"


def test_no_author_domain_is_said_in_words_not_a_question_mark() -> None:
    # A trusted pass is on record, but there is no sender domain it could vouch for.
    for from_field in (b"", b"From: a@bank.example\r\nFrom: b@evil.example\r\n", b"From: undisclosed-recipients:;\r\n"):
        data = (b"Authentication-Results: mx.ontvanger.example; dmarc=pass header.from=bank.example\r\n" + RECEIVED
                + from_field + b"Subject: x\r\n\r\nbody\r\n")
        report = explain_message(data)
        assert report.from_domain is None and report.authenticated is None
        for lang in ("en", "nl"):
            rendered = report.render(lang)
            assert "?" not in rendered.replace("?q?", "")
            assert text(lang, "received.authenticated.no_domain") in rendered
            assert text(lang, "received.authenticated.none", domain="") not in rendered


def test_a_header_too_large_to_read_whole_is_not_called_fromless() -> None:
    from zegel.explain.headers import MAX_HEADER_BYTES, read_header

    junk = b"X-Padding: " + b"a" * MAX_HEADER_BYTES + b"\r\n"
    data = AR + RECEIVED + junk + b"From: ceo@bank.example\r\nSubject: x\r\n\r\nbody\r\n"
    header = read_header(data)
    assert header.cut and all(f.name != "from" for f in header.fields)
    report = explain_message(data)
    assert report.verdict == "unknown" and report.from_domain is None
    assert [r.code for r in report.reasons][:1] == ["no_from_cut"]
    for lang in ("en", "nl"):
        assert "256 KB" in report.headline(lang) and text(lang, "reason.no_from") not in report.render(lang)
    code, out, _ = explain_cli(data)
    assert code == 0 and "256 KB" in out.splitlines()[0]
    # Within the limit, or ended by the empty line before it: read whole, and said plainly.
    assert not read_header(AR + RECEIVED + b"Subject: x\r\n\r\n" + junk).cut
    small = explain_message(AR + RECEIVED + b"Subject: x\r\n\r\nbody\r\n")
    assert [r.code for r in small.reasons][:1] == ["no_from"]
