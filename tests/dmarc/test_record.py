"""DMARC record parsing: RFC 9989 4.7/4.8 tags, the RFC 7489 ones it dropped, bad input."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zegel.dmarc import DmarcRecordError, is_dmarc_record, parse_record, parse_report_uri


def codes(text: str) -> list[str]:
    return [issue.code for issue in parse_record(text).warnings]


def test_all_rfc9989_tags() -> None:
    record = parse_record(
        "v=DMARC1; p=reject; sp=quarantine; np=none; psd=n; t=y; adkim=s; aspf=s; "
        "rua=mailto:agg@example.com; ruf=mailto:fail@example.com; fo=d:s"
    )
    assert (record.p, record.sp, record.np, record.psd, record.t) == ("reject", "quarantine", "none", "n", True)
    assert (record.adkim, record.aspf) == ("s", "s")
    assert [u.address for u in record.rua] == ["agg@example.com"]
    assert [u.domain for u in record.ruf] == ["example.com"]
    assert record.fo == ("d", "s")
    assert record.warnings == ()
    assert record.tag_names == ("v", "p", "sp", "np", "psd", "t", "adkim", "aspf", "rua", "ruf", "fo")


def test_defaults() -> None:
    record = parse_record("v=DMARC1; p=none")
    assert (record.sp, record.np, record.psd, record.t, record.adkim, record.aspf) == (None, None, "u", False, "r", "r")
    assert record.fo == ("0",) and record.pct is None and record.pct_effective == 100
    assert record.policy_for("sp") == "none" and record.policy_for("np") == "none"


def test_policy_fallbacks() -> None:
    record = parse_record("v=DMARC1; p=reject; sp=quarantine")
    assert record.policy_for("p") == "reject"
    assert record.policy_for("sp") == "quarantine"
    assert record.policy_for("np") == "quarantine"  # np absent -> sp (RFC 9989 4.7)
    assert parse_record("v=DMARC1; p=reject").policy_for("np") == "reject"  # -> p
    with_np = parse_record("v=DMARC1; p=none; np=reject")
    assert with_np.policy_for("np") == "reject"
    assert with_np.policy_for("np", "rfc7489") == "none"  # RFC 7489 has no np


def test_dropped_tags_are_parsed_and_flagged() -> None:
    record = parse_record("v=DMARC1; p=quarantine; pct=20; rf=afrf; ri=3600")
    assert (record.pct, record.rf, record.ri) == (20, ("afrf",), 3600)
    dropped = [w for w in record.warnings if w.code == "dropped-tag"]
    assert {w.tag for w in dropped} == {"pct", "rf", "ri"}
    assert "RFC 9989" in str(dropped[0])


@pytest.mark.parametrize(
    ("text", "tag"),
    [
        ("v=DMARC1; p=reject; pct=101", "pct"),
        ("v=DMARC1; p=reject; pct=-1", "pct"),
        ("v=DMARC1; p=reject; rf=iodef", "rf"),
        ("v=DMARC1; p=reject; ri=x", "ri"),
        ("v=DMARC1; p=reject; adkim=x", "adkim"),
        ("v=DMARC1; p=reject; aspf=relaxed", "aspf"),
        ("v=DMARC1; p=reject; psd=maybe", "psd"),
        ("v=DMARC1; p=reject; t=yes", "t"),
        ("v=DMARC1; p=reject; ruf=mailto:a@b.example; fo=0:1", "fo"),
        ("v=DMARC1; p=reject; ruf=mailto:a@b.example; fo=x", "fo"),
        ("v=DMARC1; p=reject; sp=block", "sp"),
    ],
)
def test_invalid_values_fall_back_with_a_warning(text: str, tag: str) -> None:
    record = parse_record(text)
    assert any(w.code == "invalid-value" and w.tag == tag for w in record.warnings)
    assert record.p == "reject"
    if tag in ("adkim", "aspf"):
        assert getattr(record, tag) == "r"


def test_invalid_policy_and_the_rua_rule() -> None:
    # RFC 9989 4.10.1: invalid p without a valid rua -> no DMARC processing
    broken = parse_record("v=DMARC1; p=blocked")
    assert broken.p is None and broken.p_invalid and not broken.usable()
    assert "unusable" in codes("v=DMARC1; p=blocked")
    # ... with a valid rua -> act as p=none
    rescued = parse_record("v=DMARC1; p=blocked; rua=mailto:r@example.com")
    assert rescued.usable() and rescued.policy_for("p") == "none"
    # invalid sp counts as well
    assert not parse_record("v=DMARC1; p=reject; sp=bad").usable()


def test_missing_p_differs_between_modes() -> None:
    record = parse_record("v=DMARC1; rua=mailto:r@example.com")
    assert "missing-p" in [w.code for w in record.warnings]
    assert record.usable("rfc9989") and record.policy_for("p") == "none"
    assert record.usable("rfc7489")
    bare = parse_record("v=DMARC1")
    assert bare.usable("rfc9989")  # RFC 9989: absent p means p=none
    assert not bare.usable("rfc7489")  # RFC 7489: p required unless rua rescues


def test_unknown_tags_are_ignored_with_a_warning() -> None:
    record = parse_record("v=DMARC1; p=none; bimi=yes; x=1")
    assert [w.tag for w in record.warnings if w.code == "unknown-tag"] == ["bimi", "x"]


def test_policy_values_case_insensitive_and_whitespace() -> None:
    record = parse_record("v = DMARC1 ;  p = Reject ;sp=QUARANTINE;")
    assert (record.p, record.sp) == ("reject", "quarantine")


def test_p_not_second_warns() -> None:
    assert "p-not-second" in codes("v=DMARC1; rua=mailto:a@b.example; p=none")


@pytest.mark.parametrize(
    "text",
    ["", "   ", "v=spf1 -all", "p=reject; v=DMARC1", "v=DMARC2; p=none", "v=dmarc1; p=none",
     "v=DMARC1; p=none; p=reject", "v=DMARC1; p", "v=DMARC1; 1x=y", "v=DMARC10; p=none"],
)
def test_not_a_usable_record_raises(text: str) -> None:
    with pytest.raises(DmarcRecordError) as info:
        parse_record(text)
    assert info.value.reason and "\n" not in info.value.reason


def test_is_dmarc_record() -> None:
    assert is_dmarc_record("v=DMARC1; p=none")
    assert is_dmarc_record("v=DMARC1")
    assert not is_dmarc_record("v=DMARC10")
    assert not is_dmarc_record("p=none; v=DMARC1")


def test_report_uris_and_size_suffix() -> None:
    uri = parse_report_uri("mailto:dmarc@example.com!10m")
    assert (uri.uri, uri.size_limit, uri.domain) == ("mailto:dmarc@example.com", 10 * 1024 * 1024, "example.com")
    assert parse_report_uri("mailto:a@b.example!500").size_limit == 500
    assert parse_report_uri("https://r.example/x").scheme == "https"
    for bad in ["dmarc@example.com", "mailto:", "mailto:nobody", "mailto:a@b!x", ""]:
        with pytest.raises(ValueError):
            parse_report_uri(bad)
    record = parse_record("v=DMARC1; p=none; rua=mailto:a@x.example!1k, nonsense ,mailto:b@y.example")
    assert [u.address for u in record.rua] == ["a@x.example", "b@y.example"]
    assert {"invalid-uri", "obsolete-size-limit"} <= set(codes(record.text))


def test_large_garbage_is_bounded() -> None:
    text = "v=DMARC1; p=none; " + "; ".join(f"x{i}=y" for i in range(20_000))
    record = parse_record(text)
    assert len(record.warnings) <= 51
    assert record.warnings[-1].code == "too-many-warnings"
    with pytest.raises(DmarcRecordError):
        parse_record("v=DMARC1; " + "\x00" * 100_000)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_fuzz_never_crashes(text: str) -> None:
    try:
        record = parse_record("v=DMARC1; " + text)
    except DmarcRecordError:
        return
    assert record.p in (None, "none", "quarantine", "reject")


@pytest.mark.parametrize(("text", "said"), [
    ("v=DMARC1; p=rejct; rua=mailto:d@example.nl", "p='rejct' is not none, quarantine or reject (did you mean 'reject'?)"),
    ("v=DMARC1; p=none; sp=quarantaine", "sp='quarantaine' is not none, quarantine or reject (did you mean 'quarantine'?)"),
    ("v=DMARC1; p=reject; np=Nnoe", "np='Nnoe' is not none, quarantine or reject (did you mean 'none'?)"),
    ("v=DMARC1; p=block; rua=mailto:d@example.nl", "p='block' is not none, quarantine or reject"),
    ("v=DMARC1; p=" + "r" * 5000, "is not none, quarantine or reject"),  # long: no suggestion, no quadratic work
])
def test_a_misspelt_policy_names_the_one_meant(text: str, said: str) -> None:
    messages = [w.message for w in parse_record(text).warnings if w.code == "invalid-value"]
    assert len(messages) == 1
    assert messages[0].endswith(said)
    if "did you mean" not in said:
        assert "did you mean" not in messages[0]
