"""Authentication-Results (RFC 8601): build, parse (incl. real-world sloppiness), strip."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zegel.authres import (
    arc_result,
    build,
    build_field,
    dkim_result,
    dmarc_result,
    parse,
    spf_result,
    strip_ours,
)

# Quoted in /work/shared/seeds/003_*.txt (Ziggo and Gmail, as a blog showed them).
ZIGGO = """mail.iss.as9143.net;
spf=pass (17.164.72.57;mijnbank.nl);
dkim=pass header.d=mijnbank.nl;
dmarc=pass header.from=mijnbank.nl (p=quarantine sp=quarantine dis=pass);"""
ZIGGO_NONE = """mail.iss.as9143.net;
spf=neutral (220.152.48.7;support.net);
dkim=none (nosigs);
dmarc=none header.from=support.net (dis=no_record);"""
GMAIL = (" mx.google.com; dkim=pass [email\xa0protected] header.s=04042017 header.b=nArKnccN; "
         "spf=pass (google.com: domain of [email\xa0protected] designates 17.164.72.58 as permitted sender) "
         "smtp.mailfrom= [email\xa0protected]; dmarc=pass (p=QUARANTINE sp=QUARANTINE dis=NONE) header.from=icloud.com")


def test_parse_ziggo_seed() -> None:
    parsed = parse(ZIGGO)
    assert parsed.authserv_id == "mail.iss.as9143.net" and parsed.warnings == ()
    assert [(r.method, r.result) for r in parsed.results] == [("spf", "pass"), ("dkim", "pass"), ("dmarc", "pass")]
    spf = parsed.first("spf")
    assert spf is not None and spf.comments == ("17.164.72.57;mijnbank.nl",)
    dmarc = parsed.first("dmarc")
    assert dmarc is not None and dmarc.get("header.from") == "mijnbank.nl"
    assert dmarc.comments == ("p=quarantine sp=quarantine dis=pass",)
    none = parse(ZIGGO_NONE)
    assert [(r.method, r.result) for r in none.results] == [("spf", "neutral"), ("dkim", "none"), ("dmarc", "none")]


def test_parse_gmail_seed_with_mangled_values() -> None:
    parsed = parse(GMAIL)
    assert parsed.authserv_id == "mx.google.com"
    dkim = parsed.first("dkim")
    assert dkim is not None and dkim.result == "pass"
    assert (dkim.get("header.s"), dkim.get("header.b")) == ("04042017", "nArKnccN")
    spf = parsed.first("spf")
    assert spf is not None and spf.result == "pass" and "designates 17.164.72.58" in spf.comments[0]
    dmarc = parsed.first("dmarc")
    assert dmarc is not None and dmarc.get("header.from") == "icloud.com"
    assert parsed.warnings  # the web-mangled "[email protected]" was skipped, and said so


def test_parse_field_name_and_split_header() -> None:
    # the seed shows "Authentication-Results" and ": mx.google.com; ..." on separate lines
    parsed = parse("Authentication-Results\n: mx.google.com; spf=softfail smtp.mailfrom=a@b.example")
    assert parsed.authserv_id == "mx.google.com"
    assert parsed.results[0].get("smtp.mailfrom") == "a@b.example"


def test_rfc8601_grammar_features() -> None:
    parsed = parse('example.com 1 (our mx); dkim/1=fail (old key) reason="signature (bad) mismatch" '
                   'header.d=a.example header.i=@a.example header.b="ab/cd+ef"; '
                   'spf = pass smtp . mailfrom = "odd local"@a.example; iprev=pass policy.iprev=192.0.2.1')
    assert parsed.version == 1 and parsed.authserv_comments == ("our mx",)
    dkim = parsed.results[0]
    assert (dkim.method, dkim.version, dkim.result, dkim.reason) == ("dkim", "1", "fail", "signature (bad) mismatch")
    assert dkim.get("header.i") == "@a.example" and dkim.get("header.b") == "ab/cd+ef"
    assert dkim.comments == ("old key",)
    assert parsed.results[1].get("smtp.mailfrom") is not None
    assert parsed.first("iprev") is not None


def test_comments_everywhere() -> None:
    # RFC 8601 allows CFWS between every token (the authres library rejects this one)
    parsed = parse("foo.example.net (foobar) 1 (baz); dkim (Because I like it) / 1 (One yay) = (wait for it) "
                   "fail policy (A dot can go here) . (like that) expired (this surprised me) = "
                   "(as I wasn't expecting it) 1362471462")
    assert (parsed.authserv_id, parsed.version, parsed.authserv_comments) == ("foo.example.net", 1, ("foobar", "baz"))
    (dkim,) = parsed.results
    assert (dkim.method, dkim.version, dkim.result, dkim.get("policy.expired")) == ("dkim", "1", "fail", "1362471462")
    assert len(dkim.comments) == 7 and parsed.warnings == ()


def test_parse_none_forms() -> None:
    for value in ["example.org 1; none", "example.org; none", "example.org;none;", "example.org"]:
        parsed = parse(value)
        assert parsed.authserv_id == "example.org" and parsed.results == ()


def test_quoted_authserv_id_and_nested_comments() -> None:
    parsed = parse('"mx (1).example"; spf=pass (a (nested) comment) smtp.helo=mx.example')
    assert parsed.authserv_id == "mx (1).example"
    assert parsed.results[0].comments == ("a (nested) comment",)


def test_round_trip_plain_values() -> None:
    results = [
        spf_result("pass", mailfrom="bounce@mail.example.com"),
        spf_result("none", helo="mx.example.com"),
        dkim_result("fail", d="example.com", s="sel1", b="AbCdEfGh", reason="body hash mismatch"),
        dmarc_result("fail", header_from="example.com", p="reject", sp="none", disposition="reject"),
        arc_result("pass", oldest_pass=1),
    ]
    value = build("mx.receiver.example", results)
    parsed = parse(value)
    assert parsed.authserv_id == "mx.receiver.example" and parsed.warnings == ()
    assert parsed.results == tuple(results)
    assert parse(build("mx.receiver.example", results, fold=True)).results == tuple(results)
    field = build_field("mx.receiver.example", results)
    assert field.startswith(b"Authentication-Results: mx.receiver.example;\r\n\t") and field.endswith(b"\r\n")


def test_build_none_and_quoting() -> None:
    assert build("mx.example", []) == "mx.example; none"
    assert build("mx.example", [], version=1) == "mx.example 1; none"
    value = build("my server", [dkim_result("fail", d="x.example", reason='quote " and \\ slash')])
    parsed = parse(value)
    assert parsed.authserv_id == "my server"
    assert parsed.results[0].reason == 'quote " and \\ slash'
    with pytest.raises(ValueError):
        build("  ", [])


@dataclass(frozen=True)
class FakeSpf:
    result: str
    domain: str
    identity: str
    sender: str
    mechanism: str | None = None


@dataclass(frozen=True)
class FakeDkim:
    result: str
    domain: str
    selector: str
    header_b: str
    reason: str = ""
    algorithm: str = "rsa-sha256"
    identity: str | None = None


@dataclass(frozen=True)
class FakeArc:
    cv: str
    reason: str = ""


def test_build_from_result_objects_duck_typed() -> None:
    from zegel.dmarc import DmarcResult, parse_record

    dmarc = DmarcResult("fail", "example.com", policy="quarantine", disposition="quarantine",
                        record=parse_record("v=DMARC1; p=reject; sp=quarantine"))
    value = build("mx.example", [
        FakeSpf("pass", "example.com", "mailfrom", "a@example.com"),
        FakeSpf("pass", "mx.example.com", "helo", ""),
        FakeDkim("pass", "example.com", "s1", "12345678"),
        dmarc,
        FakeArc("fail", "AMS i=1 broken"),
    ])
    parsed = parse(value)
    spf, helo, dkim, dm, arc = parsed.results
    assert spf.get("smtp.mailfrom") == "a@example.com" and helo.get("smtp.helo") == "mx.example.com"
    assert (dkim.get("header.d"), dkim.get("header.s"), dkim.get("header.b")) == ("example.com", "s1", "12345678")
    assert dm.get("header.from") == "example.com" and dm.get("policy.published-domain-policy") == "reject"
    assert dm.get("policy.dmarc") == "quarantine"  # RFC 9989 9.1: the policy applied
    assert dm.comments == ("p=reject sp=quarantine dis=quarantine",)
    assert spf.comments == ()  # no ip on this stand-in
    assert arc.result == "fail" and arc.comments == ("AMS i=1 broken",)
    with pytest.raises(TypeError):
        build("mx.example", [object()])


MESSAGE = (
    b"Authentication-Results: MX.Example.Org; spf=pass\r\n\tsmtp.mailfrom=forged@x.example\r\n"
    b"Received: from a by b\r\n"
    b"Authentication-Results: upstream.example; dkim=pass header.d=x.example\r\n"
    b"authentication-results :\r\n mx.example.org 1; dmarc=pass\r\n"
    b"Authentication-Results: mx.example.org.evil.example; spf=pass\r\n"
    b"From: a@x.example\r\n"
    b"\r\n"
    b"Authentication-Results: mx.example.org; in the body\r\n"
)


def test_strip_ours_only() -> None:
    stripped = strip_ours(MESSAGE, "mx.example.org")
    assert stripped == (
        b"Received: from a by b\r\n"
        b"Authentication-Results: upstream.example; dkim=pass header.d=x.example\r\n"
        b"Authentication-Results: mx.example.org.evil.example; spf=pass\r\n"
        b"From: a@x.example\r\n"
        b"\r\n"
        b"Authentication-Results: mx.example.org; in the body\r\n"
    )
    assert strip_ours(MESSAGE, ["other.example"]) == MESSAGE
    assert strip_ours(MESSAGE, []) == MESSAGE
    lf = MESSAGE.replace(b"\r\n", b"\n")
    assert strip_ours(lf, "mx.example.org") == stripped.replace(b"\r\n", b"\n")


@pytest.mark.parametrize("claim", [
    b"mx.example.org.", b"MX.Example.Org.", b"mx.example.org\xc2\xa0", b"\xc2\xa0mx.example.org", b"mx.example.org..",
    b"mx.example.org. 1", b"(c) mx.example.org.",
])
def test_strip_ours_takes_forms_a_reader_would_normalize(claim: bytes) -> None:
    """A trailing root dot or Unicode white space around our id is still our id to a reader
    that normalizes names: stripping it too can only remove forged claims."""
    message = b"From: a@x.example\r\nAuthentication-Results: " + claim + b"; dkim=pass\r\n\r\nbody\r\n"
    assert strip_ours(message, "mx.example.org") == b"From: a@x.example\r\n\r\nbody\r\n"
    assert strip_ours(message, "mx.example.org.") == b"From: a@x.example\r\n\r\nbody\r\n"


@pytest.mark.parametrize("other", [b"mx.example.org.evil.example", b"xmx.example.org", b"mx.example.or", b"\"mx.example\".org"])
def test_strip_ours_keeps_other_hosts(other: bytes) -> None:
    message = b"From: a@x.example\r\nAuthentication-Results: " + other + b"; dkim=pass\r\n\r\nbody\r\n"
    assert strip_ours(message, "mx.example.org") == message


def test_bad_input_is_bounded_and_never_raises() -> None:
    huge = "x.example; " + "spf=pass (" * 10 + "a" * 100_000
    assert parse(huge).authserv_id == "x.example"
    many = "x.example; " + "; ".join("dkim=pass header.d=a.example" for _ in range(5000))
    parsed = parse(many)
    assert len(parsed.results) == 256 and parsed.warnings
    assert parse("").valid is False
    assert parse(b"\xff\xfe;;;==((").valid in (True, False)
    junk = b"Authentication-Results: " + b"a" * 100_000 + b"\r\n\r\n"
    assert strip_ours(junk, "mx.example") == junk


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_fuzz_parse(text: str) -> None:
    parsed = parse(text)
    assert len(parsed.warnings) <= 50


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["spf", "dkim", "dmarc"]), st.sampled_from(["pass", "fail", "none"]),
                          # header fields carry no control characters: printable ASCII and UTF-8 text
                          st.text(st.characters(min_codepoint=0x20, exclude_categories=("Cc", "Cs")),
                                  min_size=1, max_size=20)), max_size=5))
def test_fuzz_round_trip(items: list[tuple[str, str, str]]) -> None:
    from zegel.authres import AuthProperty, ResInfo

    results = [ResInfo(m, r, (AuthProperty("header", "x", v),)) for m, r, v in items]
    parsed = parse(build("mx.example", results))
    assert parsed.results == tuple(results)


def test_build_from_zegel_result_classes() -> None:
    from zegel.arc.result import ArcResult
    from zegel.dkim.result import DkimResult
    from zegel.spf.result import SpfResult

    spf = SpfResult("softfail", None, "~all", 1, 0, (), domain="example.com", identity="mailfrom",
                    sender="a@example.com", ip="192.0.2.1")
    dkim = DkimResult("pass", domain="example.com", selector="s1", algorithm="rsa-sha256", header_b="AbCdEfGh",
                      key_bits=2048)
    unsigned = DkimResult("none")
    arc = ArcResult(cv="none", reason="no ARC sets")
    parsed = parse(build("mx.example", [spf, dkim, unsigned, arc]))
    spf_info, dkim_info, none_info, arc_info = parsed.results
    assert spf_info.comments == ("domain of transitioning a@example.com does not designate 192.0.2.1 as permitted sender",)
    assert (dkim_info.get("header.d"), dkim_info.get("header.a"), dkim_info.comments) == (
        "example.com", "rsa-sha256", ("2048-bit key",))
    assert (none_info.method, none_info.result, none_info.properties) == ("dkim", "none", ())
    assert (arc_info.method, arc_info.result) == ("arc", "none")


def _seed_headers(text: str) -> list[str]:
    """Authentication-Results blocks as the blog quotes them: the field (or its name alone on one
    line, the value on the next), results on following lines until an empty line or prose."""
    lines = text.splitlines()
    blocks: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        if line.startswith("Authentication-Results"):
            block = [line]
            index += 1
            while index < len(lines) and lines[index].strip() and (
                    lines[index].startswith((":", " ", "\t")) or "=" in lines[index].split(" ", 1)[0]):
                block.append(lines[index])
                index += 1
            blocks.append("\n".join(block))
            continue
        index += 1
    return blocks


def test_every_header_quoted_in_the_seed_texts() -> None:
    from tests.conftest import REPO, require

    seeds = sorted((REPO.parent / "shared" / "seeds").glob("003_*.txt"))
    require(bool(seeds), "seed texts not found at ../shared/seeds")
    blocks = _seed_headers(seeds[0].read_text(encoding="utf-8"))
    assert len(blocks) >= 6
    for block in blocks:
        parsed = parse(block)
        assert parsed.authserv_id in ("mail.iss.as9143.net", "mx.google.com"), block
        methods = [r.method for r in parsed.results]
        assert {"spf", "dkim", "dmarc"} <= set(methods), block
        dmarc = parsed.first("dmarc")
        assert dmarc is not None and dmarc.result in ("pass", "none")
        assert dmarc.get("header.from"), block


def test_property_count_is_capped() -> None:
    parsed = parse("x.example; dkim=pass " + " ".join(f"header.p{i}=v" for i in range(10_000)))
    (dkim,) = parsed.results
    assert len(dkim.properties) == 64 and any("properties" in w for w in parsed.warnings)


def test_missing_authserv_id_keeps_the_results() -> None:
    parsed = parse("spf=pass smtp.mailfrom=a@b.example; dkim=none")
    assert not parsed.valid and parsed.warnings == ("no authserv-id",)
    assert [(r.method, r.result) for r in parsed.results] == [("spf", "pass"), ("dkim", "none")]


def test_arc_oldest_pass_is_zero_when_every_ams_validates() -> None:
    from zegel.arc.result import ArcResult

    all_pass = ArcResult(cv="pass", reason="", hops=(), oldest_pass=1)
    assert "header.oldest-pass=0" in build("mx.example", [all_pass])
    older_broken = ArcResult(cv="pass", reason="", hops=(), oldest_pass=2)
    assert "header.oldest-pass=2" in build("mx.example", [older_broken])
