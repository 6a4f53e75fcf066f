"""Reasons from the parsers and the resolver in a Dutch report are Dutch (zegel.audit.reasons)."""

from __future__ import annotations

import ast
import itertools
import re
from pathlib import Path

import pytest

from zegel.audit import Texts
from zegel.audit.reasons import MAX_REASON, translate_reason
from zegel.dkim.keys import KeyRecordError, parse_key_record
from zegel.dmarc import DmarcRecordError, parse_record, parse_report_uri
from zegel.dmarc.record import MAX_WARNINGS
from zegel.spf.parser import SpfSyntaxError
from zegel.spf.parser import parse_record as parse_spf

SRC = Path(__file__).resolve().parents[2] / "src" / "zegel"
# Words of the English messages that no Dutch translation uses.
ENGLISH = re.compile(r"\b(is not|must|the|needs|has no|ignored|invalid|unknown|bad|expected|appears|should|"
                     r"holds|takes|empty|missing|found|using|did you mean|at character|record does)\b")

BAD_SPF = [
    "v=spf1 ip4:192.0.2.300 -all", "v=spf1 inlcude:_spf.example.net -all", "v=spf1 redirect:_spf.example.net",
    "v=spf1 ipv4:192.0.2.1 -all", "v=spf1 all:x", "v=spf1 include -all", "v=spf1 ptr/24 -all", "v=spf1 ip4 -all",
    "v=spf1 ip6:zz::1 -all", "v=spf1 ip4:192.0.2.1/33 -all", "v=spf1 ip4:192.0.2.1/x -all", "v=spf1 a/024 -all",
    "v=spf1 a/33 -all", "v=spf1 ip6:2001:db8::1/x -all", "v=spf1 redirect=a.example redirect=b.example",
    "v=spf1 exp=a.example exp=b.example -all", "v=spf1 include:%{q}.example -all", "v=spf1 include:%{x -all",
    "v=spf1 include:%{c}.example -all", "v=spf1 include:%{d0}.example -all", "v=spf1 include:%a.example -all",
    "v=spf1 include: -all", "v=spf1 include:example.123 -all", "v=spf1 a:x.example:y -all", "v=spf1 mx;x -all",
    "v=spf1 -all é", "v=spf1 -all\x01", "v=spf1 =x -all", "v=spf1 include:exa`mple.com -all", "spf1 -all",
]
BAD_DMARC = [
    "v=DMARC1; p=rejct", "v=DMARC1; p=none; sp=quarantaine", "v=DMARC1; p=none; rua=dmarc@x.example",
    "v=DMARC1; p=none; rua=mailto:a@x.example!10m", "v=DMARC1; p=none; rua=https://x.example/r",
    "v=DMARC1; p=none; rua=" + ",".join(f"mailto:r{i}@x.example" for i in range(33)),
    "v=DMARC1; p=none; rua=,", "v=DMARC1; p=none; ruf=mailto:a@x.example; fo=7", "v=DMARC1; p=none; fo=0:1",
    " v=DMARC1; p=none", "v=DMARC1; P=none", "v=DMARC1; p=none; foo=bar", "v=DMARC1; p=none; pct=0",
    "v=DMARC1; p=none; rf=afrf", "v=DMARC1; p=none; adkim=", "v=DMARC1; sp=none; p=none", "v=DMARC1; p=none; psd=x",
    "v=DMARC1; p=none; t=x", "v=DMARC1; p=none; aspf=q", "v=DMARC1; p=none; pct=150", "v=DMARC1; p=none; rf=xml",
    "v=DMARC1; p=none; ri=-1", "v=DMARC1; rua=mailto:a@x.example", "v=DMARC1; p=none; fo=1",
    "v=DMARC1; p=rejct; rua=x", "v=DMARC1; p=none; rua=mailto:a@x.example!99999999999999999k",
    "v=DMARC1; p=none; rua=mailto:a b@x.example", "v=DMARC1; p=none; rua=mailto:nobody",
    "v=DMARC1; p=none; rua=foo:", "v=DMARC1; p=none; x", "v=DMARC1; p=none; 1x=y", "", "v=DMARC2; p=none",
    "v=DMARC1 p=none", "p=none; v=DMARC1", "v=DMARC1; p=none; p=reject",
    "v=DMARC1; p=none; " + "; ".join(f"x{i}=y" for i in range(MAX_WARNINGS + 1)),
]
BAD_KEYS = [
    "v=DKIM1; k=rsa; p=MIIBIjANBgkq!!", "v=DKIM1; k=rsa; p=AAAA", "k=rsa; v=DKIM1; p=AAAA", "v=DKIM2; p=AAAA",
    "v=DKIM1; k=rsa", "v=DKIM1; k=foo; p=AAAA", "v=DKIM1; k=ed25519; p=AAAA", "v=DKIM1; p", "v=DKIM1; ;; p=AAAA",
    "v=DKIM1; k=rsa; k=rsa; p=AAAA", "v=DKIM1; k=rsa\r\np=AAAA", "v=DKIM1; k=rsa\x01; p=AAAA", "v=DKIM1; 1k=rsa",
    "v=DKIM1; k=rsa; h=sha256::sha1; p=AAAA",
]


def _reasons() -> list[str]:
    found: list[str] = []
    for text in BAD_SPF:
        try:
            parse_spf(text)
        except SpfSyntaxError as exc:
            found.append(exc.reason)
    for text in BAD_DMARC:
        try:
            found.extend(issue.message for issue in parse_record(text).warnings)
        except DmarcRecordError as exc:
            found.append(exc.reason)
    for text in BAD_KEYS:
        try:
            parse_key_record(text)
        except KeyRecordError as exc:
            found.append(str(exc))
    for uri in ("", "mailto:a@x.example!99999999999999999k", "x!y", "nope", "mailto:a b@x", "mailto:x", "foo:"):
        try:
            parse_report_uri(uri)
        except ValueError as exc:
            found.append(str(exc))
    return list(dict.fromkeys(found))


REASONS = _reasons()


def test_the_corpus_reaches_the_parsers_messages() -> None:
    # Enough distinct messages (numbers aside) that a broken corpus cannot pass quietly.
    assert len({re.sub(r"\d+", "N", reason) for reason in REASONS}) >= 85
    assert any(reason.endswith("more warnings not shown") for reason in REASONS)
    assert "key record syntax: control character in tag-list" in REASONS


@pytest.mark.parametrize("reason", REASONS)
def test_every_parser_reason_has_dutch(reason: str) -> None:
    dutch = translate_reason(reason, "nl")
    assert dutch != reason
    assert not ENGLISH.search(dutch), dutch
    assert translate_reason(reason, "en") == reason


def _templates(path: Path) -> list[str]:
    """The messages of the raise sites and issues.add calls in ``path``, values as {}."""
    calls = {"SpfSyntaxError", "DmarcRecordError", "KeyRecordError", "TagListError"}
    out: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func = node.func
        named = isinstance(func, ast.Name) and func.id in calls
        added = isinstance(func, ast.Attribute) and func.attr == "add" and isinstance(func.value, ast.Name) \
            and func.value.id == "issues"
        if not (named or added):
            continue
        message = node.args[1] if added else node.args[0]
        if isinstance(message, ast.BinOp):
            message = message.left
        if isinstance(message, ast.Constant) and isinstance(message.value, str):
            out.append(message.value.replace("{", "{{").replace("}", "}}"))
        elif isinstance(message, ast.JoinedStr):
            out.append("".join(part.value.replace("{", "{{").replace("}", "}}")
                               if isinstance(part, ast.Constant) else "{}" for part in message.values))
    return out


@pytest.mark.parametrize("module", ["spf/parser.py", "dmarc/record.py", "dkim/keys.py", "dkim/tags.py"])
def test_every_message_written_in_the_parsers_translates(module: str) -> None:
    """A message added to a parser without Dutch fails here: each template, its values filled
    with sample words, must translate for at least one choice of them."""
    samples = ("'x'", "7", "rua", "", "non-ASCII character 'é'", "empty URI")
    untranslated = []
    for template in _templates(SRC / module):
        holes = template.count("{}")
        if holes > 3:
            continue
        fills = itertools.product(samples, repeat=holes)
        if not any(translate_reason(template.format(*fill), "nl") != template.format(*fill) for fill in fills):
            untranslated.append(template)
    assert not untranslated


def test_a_dutch_report_quotes_no_english_reason() -> None:
    finding = Texts("nl").finding("dmarc.syntax", record_name="_dmarc.x.example", domain="x.example",
                                  reason="p='rejct' is not none, quarantine or reject (did you mean 'reject'?)")
    assert "niet none, quarantine of reject (bedoelde u 'reject'?)" in finding.message
    english = Texts("en").finding("dmarc.syntax", record_name="_dmarc.x.example", domain="x.example",
                                  reason="p='rejct' is not none, quarantine or reject")
    assert "is not none, quarantine or reject" in english.message


def test_endings_and_nesting() -> None:
    assert translate_reason("unknown mechanism 'inlcude' (did you mean 'include'?) at character 8", "nl") == \
        "onbekend mechanisme 'inlcude' (bedoelde u 'include'?) bij teken 8"
    assert translate_reason("rua: 'x' is not a URI (no scheme such as mailto:); ignored", "nl") == \
        "rua: 'x' is geen URI (er staat geen schema zoals mailto: voor); genegeerd"


def test_unknown_or_long_reasons_stay_as_they_are() -> None:
    assert translate_reason("something new", "nl") == "something new"
    long = "bad IPv4 address '" + "1" * MAX_REASON + "'"
    assert translate_reason(long, "nl") == long


@pytest.mark.parametrize(("english", "dutch"), [
    ("no address", "geen adres"),
    ("no answer within 5 seconds", "geen antwoord binnen 5 seconden"),
    ("TLS handshake failed: WRONG_VERSION_NUMBER", "TLS-handshake mislukt: WRONG_VERSION_NUMBER"),
    ("not verified (TimeoutError)", "niet geverifieerd (TimeoutError)"),
    ("certificate has expired", "het certificaat is verlopen"),
    ("self-signed certificate", "zelfondertekend certificaat"),
    ("Hostname mismatch, certificate is not valid for 'mx.example'.",
     "naam klopt niet: het certificaat geldt niet voor 'mx.example'."),
])
def test_starttls_probe_reasons(english: str, dutch: str) -> None:
    """The probe's own texts (zegel.audit.starttls) and OpenSSL's usual verification failures."""
    assert translate_reason(english, "nl") == dutch
