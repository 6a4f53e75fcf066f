"""SPF findings on zone files, including the real-world mistakes the issue names."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zegel.audit import DomainReport

# domain -> codes that must be reported
CASES: dict[str, set[str]] = {
    "include-nx.example": {"spf.include-no-record"},  # an include of a name that publishes nothing
    "include-nospf.example": {"spf.include-no-record"},
    "include-bad.example": {"spf.include-invalid"},
    "loop-a.example": {"spf.include-loop"},
    "redirect-nx.example": {"spf.include-no-record"},
    "redirect-all.example": {"spf.redirect-ignored"},
    "deep.example": {"spf.too-many-lookups"},  # 12 lookups through nested includes
    "void.example": {"spf.too-many-void-lookups"},
    "dup.example": {"spf.multiple-records"},  # duplicate SPF records
    "syntax.example": {"spf.syntax"},
    "passall.example": {"spf.pass-all"},
    "neutral.example": {"spf.neutral-all"},
    "noall.example": {"spf.no-all"},
    "ptr.example": {"spf.ptr"},
    "broad.example": {"spf.broad-range"},
    "huge.example": {"spf.huge-range"},
    "split.example": {"spf.split-without-space", "spf.syntax"},
    "truncated.example": {"spf.record-truncated", "spf.include-no-record", "spf.no-all"},
    "nothing.example": {"spf.none"},
    "good.example": {"spf.lookups"},
    "modtypo.example": {"spf.mechanism-as-modifier"},
}


def _codes(report: DomainReport) -> set[str]:
    return {f.code for f in report.findings}


@pytest.mark.parametrize("domain", sorted(CASES))
def test_spf_findings(audit, domain: str) -> None:
    report = audit(domain)
    missing = CASES[domain] - _codes(report)
    assert not missing, f"{domain}: missing {missing}; got {sorted(_codes(report))}"


def test_clean_record_has_no_spf_problem(audit) -> None:
    report = audit("good.example")
    spf = [f for f in report.findings if f.area == "spf"]
    assert [f.code for f in spf] == ["spf.lookups"]
    assert spf[0].severity == "info"
    assert "1 of the 10" in spf[0].message


def test_correct_split_is_not_flagged(audit) -> None:
    report = audit("split-ok.example")
    assert not {"spf.split-without-space", "spf.syntax"} & _codes(report)


def test_twelve_lookups_tree_counts_each_branch(audit) -> None:
    report = audit("deep.example")
    tree = report.spf_tree
    assert tree is not None and tree.lookups == 12
    branches = {child.term: child.lookups for child in tree.children}
    assert branches == {"mx": 1, "a": 1, "include:d1.chain.example": 10}
    d1 = next(c for c in tree.children if c.term == "include:d1.chain.example")
    assert {c.term: c.lookups for c in d1.children} == {
        "include:d2.chain.example": 5, "include:d3.chain.example": 3, "a:host.chain.example": 1}
    lines = tree.lines()
    assert lines[0] == "deep.example [12]"
    assert any("└── include:d1.chain.example [10]" in line for line in lines)
    finding = next(f for f in report.findings if f.code == "spf.too-many-lookups")
    assert finding.severity == "error"
    assert "12 DNS lookups" in finding.message and "include:d1.chain.example (10)" in finding.message


def test_void_lookups_are_named_in_record_order(audit) -> None:
    finding = next(f for f in audit("void.example").findings if f.code == "spf.too-many-void-lookups")
    assert "3 lookups" in finding.message
    assert finding.message.index("a:gone1") < finding.message.index("a:gone2") < finding.message.index("mx:gone3")


def test_syntax_error_gives_position(audit) -> None:
    finding = next(f for f in audit("syntax.example").findings if f.code == "spf.syntax")
    # "v=spf1 ip4:192.0.2.1 ip4:192.0.2.300 -all": the bad address starts at character 26.
    assert "character 26" in finding.message
    assert "192.0.2.300" in finding.message


def test_misspelt_names_get_the_record_with_them_corrected(audit) -> None:
    """ipv4 -> ip4, inlcude -> include, redirect: -> redirect= (RFC 7208 5, 6): the record to
    publish has all three corrected and parses; an error with no sure correction gets none."""
    from zegel.spf import parse_record

    finding = next(f for f in audit("spelling.example").findings if f.code == "spf.syntax")
    assert "did you mean 'ip4'" in finding.message
    assert finding.record == ('spelling.example. TXT '
                              '"v=spf1 ip4:192.0.2.1 include:_spf.provider.example redirect=_spf.provider.example"')
    parse_record(finding.record.split('"')[1])
    unsure = next(f for f in audit("syntax.example").findings if f.code == "spf.syntax")
    assert unsure.record == ""


def test_duplicate_records_of_clean_terms_say_only_that(audit) -> None:
    report = audit("dup.example")
    spf = [f.code for f in report.findings if f.area == "spf"]
    assert spf == ["spf.multiple-records"]
    assert "2 SPF records" in report.findings[0].message or any(
        "2 SPF records" in f.message for f in report.findings)


def test_merged_record_is_corrected_like_every_suggested_record(audit) -> None:
    merged = next(f for f in audit("dup.example").findings if f.code == "spf.multiple-records")
    assert merged.record == 'dup.example. TXT "v=spf1 include:_spf.provider.example ip4:192.0.2.1 -all"'
    # The first record's '+all' is not carried into the suggestion, nor a term spelt twice.
    merged = next(f for f in audit("dup-passall.example").findings if f.code == "spf.multiple-records")
    assert merged.record == 'dup-passall.example. TXT "v=spf1 include:_spf.provider.example ip4:192.0.2.1 -all"'


def test_broad_range_counts_addresses(audit) -> None:
    messages = [f.message for f in audit("broad.example").findings if f.code == "spf.broad-range"]
    assert any("1,048,576" in m for m in messages)  # 10.0.0.0/12
    assert any("2^104" in m for m in messages)  # 2001:db8::/24


def test_provider_ranges_are_not_the_owners_problem(audit) -> None:
    # _spf.provider.example has ip6:2001:db8::/32 and a /24; an owner cannot change them.
    assert "spf.broad-range" not in _codes(audit("good.example"))


def test_mx_hosts_not_covered_when_owner_says_they_send(audit) -> None:
    report = audit("mxsends.example", mx_sends=True)
    finding = next(f for f in report.findings if f.code == "spf.mx-not-covered")
    assert "198.51.100.7" in finding.message and "'fail'" in finding.message
    assert "spf.mx-not-covered" not in _codes(audit("mxsends.example"))  # only with the flag
    assert "spf.mx-not-covered" not in _codes(audit("mxsends-ok.example", mx_sends=True))


def test_dutch_texts(audit) -> None:
    finding = next(f for f in audit("deep.example", lang="nl").findings if f.code == "spf.too-many-lookups")
    assert "DNS-lookups" in finding.message and "ontvangers" in finding.message
    assert finding.fix.startswith("Verwijder")


def test_pass_all_is_fixed_where_it_is_written(audit) -> None:
    """'+all' in the domain's own record, in a record under it, and in a provider's include:
    the record to publish is the one holding '+all', and only where the owner can edit it."""
    own = next(f for f in audit("passall.example").findings if f.code == "spf.pass-all")
    assert own.record == 'passall.example. TXT "v=spf1 ip4:192.0.2.1 -all"'
    sub = next(f for f in audit("subpassall.example").findings if f.code == "spf.pass-all")
    assert "_spf.subpassall.example" in sub.message
    assert sub.record == '_spf.subpassall.example. TXT "v=spf1 ip4:192.0.2.7 -all"'
    report = audit("providerpassall.example")
    assert "spf.pass-all" not in _codes(report)
    provider = next(f for f in report.findings if f.code == "spf.include-pass-all")
    assert provider.severity == "error" and provider.record == ""
    assert "includes spf.lax-provider.example" in provider.message and "+all" in provider.message
    assert provider.fix.startswith("Remove the include of spf.lax-provider.example")


def test_repeated_terms_are_named_with_the_record_without_them(audit) -> None:
    report = audit("repeat.example")
    finding = next(f for f in report.findings if f.code == "spf.repeated-term")
    assert finding.severity == "warning"
    assert "'include:_spf.repeat.example', 'ip4:192.0.2.0/24' more than once" in finding.message
    assert finding.record == 'repeat.example. TXT "v=spf1 include:_spf.repeat.example ip4:192.0.2.0/24 a -all"'
    assert report.spf_tree is not None and report.spf_tree.lookups == 3  # both includes and the a
    assert "spf.repeated-term" not in _codes(audit("good.example"))


def test_two_problems_of_one_record_ask_for_one_record(audit) -> None:
    findings = {f.code: f for f in audit("repeatpass.example").findings}
    fixed = 'repeatpass.example. TXT "v=spf1 ip4:192.0.2.0/24 -all"'
    assert findings["spf.repeated-term"].record == fixed and findings["spf.pass-all"].record == fixed


@pytest.mark.parametrize(("record", "corrected"), [
    ("v=spf1 mx +all", "v=spf1 mx -all"),
    ("v=spf1 mx all", "v=spf1 mx -all"),
    ("v=spf1 mx ?all", "v=spf1 mx ~all"),
    ("v=spf1 mx", "v=spf1 mx ~all"),
    ("v=spf1 mx redirect=_spf.example.com", "v=spf1 mx redirect=_spf.example.com"),
    ("v=spf1 include:a.example +include:A.example ip4:192.0.2.1 -all", "v=spf1 include:a.example ip4:192.0.2.1 -all"),
    ("v=spf1 a mx a ~all", "v=spf1 a mx ~all"),
    ("v=spf1 -all", "v=spf1 -all"),
    ("v=spf1 mx -all redirect=_spf.example.com", "v=spf1 mx -all"),  # RFC 7208 6.1: never followed
    ("v=spf1 all -all", "v=spf1 -all"),
])
def test_corrected_spf_fixes_every_mechanical_problem_at_once(record: str, corrected: str) -> None:
    from zegel.audit.record_text import corrected_spf

    assert corrected_spf(record) == corrected


def test_a_merged_record_over_ten_lookups_is_named_before_anyone_publishes_it(audit) -> None:
    report = audit("dup-heavy.example")
    codes = [f.code for f in report.findings if f.area == "spf"]
    assert codes[:2] == ["spf.multiple-records", "spf.merged-too-many-lookups"]
    heavy = report.findings[codes.index("spf.merged-too-many-lookups")]
    assert "would need 12 DNS lookups" in heavy.message
    assert "include:h1.dup-heavy.example (3)" in heavy.message
    # Within the limit merged: nothing beyond the duplicate records themselves.
    assert [f.code for f in audit("dup.example").findings if f.area == "spf"] == ["spf.multiple-records"]


def test_spf_that_passes_any_server_leaves_a_reject_policy_without_protection(audit) -> None:
    """A forger's server passes SPF through the provider's '+all' with a MAIL FROM in the
    domain, aligned, so DMARC passes: p=reject protects nothing (RFC 9989 4.4)."""
    report = audit("openspf.example")
    assert report.protected is False and report.verdict.startswith("No: SPF for openspf.example passes")
    assert report.grade == "D"  # not protected, and spf.include-pass-all is an error
    closed = audit("closedspf.example")
    assert closed.protected is True and closed.verdict.startswith("Yes:")
    # Half of IPv4 (0.0.0.0/1) or all of IPv6 is as open: the probe covers both halves and IPv6.
    for domain in ("halfopen.example", "v6open.example"):
        assert audit(domain).protected is False, domain


_TERMS = st.sampled_from(["mx", "a", "+a", "A", "include:x.example", "+INCLUDE:x.example", "-include:x.example",
                          "ip4:192.0.2.1", "all", "+all", "-all", "~all", "?all", "redirect=r.example",
                          "exp=e.example", "ptr"])


@settings(max_examples=300, deadline=None)
@given(st.lists(_TERMS, max_size=12))
def test_corrected_spf_is_idempotent_and_never_passes_all(terms: list[str]) -> None:
    from zegel.audit.record_text import corrected_spf

    once = corrected_spf(" ".join(["v=spf1", *terms]))
    assert corrected_spf(once) == once
    keys = [t.lower().lstrip("+") for t in once.split()]
    assert len(keys) == len(set(keys)) and "all" not in keys and "?all" not in keys
    alls = [k for k in keys if k in ("-all", "~all")]
    redirects = [k for k in keys if k.startswith("redirect=")]
    assert (len(alls) == 1 and not redirects) or (not alls and bool(redirects))


def test_duplicate_records_name_the_problems_of_the_record_to_publish(audit) -> None:
    """The merged record is walked like a single one: a provider's '+all', ptr and half of
    IPv4 are named before the owner publishes what zegel suggested."""
    report = audit("dup-terms.example")
    codes = [f.code for f in report.findings if f.area == "spf"]
    assert codes[0] == "spf.multiple-records"
    assert {"spf.ptr", "spf.include-pass-all", "spf.huge-range"} <= set(codes)
    merged = report.findings[0].record
    assert "ptr" in merged and "ip4:0.0.0.0/1" in merged and merged.endswith('-all"')


def test_duplicate_records_name_each_syntax_error(audit) -> None:
    report = audit("dup-syntax.example")
    spf = [f for f in report.findings if f.area == "spf"]
    assert [f.code for f in spf] == ["spf.multiple-records", "spf.syntax"]
    assert "192.0.2.300" in spf[1].message and "character 12" in spf[1].message  # where the address starts


def test_a_mechanism_written_as_a_modifier_is_named_with_the_record_meant(audit) -> None:
    """'include=x' parses (an unknown modifier, RFC 7208 6) and receivers ignore it: the
    provider's servers fail SPF without any error to show it."""
    finding = next(f for f in audit("modtypo.example").findings if f.code == "spf.mechanism-as-modifier")
    assert finding.severity == "error"
    assert "'include=_spf.provider.example'" in finding.message
    assert "include:_spf.provider.example" in finding.fix
    assert finding.record == 'modtypo.example. TXT "v=spf1 include:_spf.provider.example ip4:192.0.2.1 -all"'
