"""Plain-language explanations (en/nl), DMARC failure causes, look-alike domains, received headers."""

from __future__ import annotations

import asyncio
import string

import pytest

from tests.pipeline.helpers import AUTHSERV_ID, ZONE, message, sample
from zegel.authres import build_field, dmarc_result, spf_result
from zegel.dns import Resolver
from zegel.explain.causes import diagnose
from zegel.explain.lookalike import LookalikeDetector, wellknown_domains
from zegel.explain.received import explain_received
from zegel.explain.texts import EN, NL, text
from zegel.explain.verdict import explain_verdict, render
from zegel.verify import Verdict, verify_message


def verdict_for(file: str) -> Verdict:
    item = sample(file)
    return asyncio.run(verify_message(message(file), ip=item["ip"], helo=item["helo"], mail_from=item["mail_from"],
                                      resolver=Resolver(zones=[str(ZONE)], offline=True), authserv_id=AUTHSERV_ID))


def fields_of(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_both_languages_have_the_same_texts() -> None:
    assert EN.keys() == NL.keys()
    for key in EN:
        assert fields_of(EN[key]) == fields_of(NL[key]), key


@pytest.mark.parametrize(
    ("file", "cause"),
    [
        ("spoofed.eml", "spoofing"),
        ("provider-only-dkim.eml", "provider_dkim"),
        ("mailing-list-footer.eml", "forwarding_modified"),
        ("mailing-list-arc.eml", "forwarding_modified"),
    ],
)
def test_dmarc_failure_causes(file: str, cause: str) -> None:
    verdict = verdict_for(file)
    causes = diagnose(verdict, ip=sample(file)["ip"], message=message(file))
    assert causes[0].code == cause


def test_no_cause_when_dmarc_passes() -> None:
    assert diagnose(verdict_for("forwarded-no-arc.eml"), ip="203.0.113.20") == []


def test_arc_vouching_is_mentioned() -> None:
    verdict = verdict_for("mailing-list-arc.eml")
    causes = diagnose(verdict, ip="203.0.113.5", message=message("mailing-list-arc.eml"))
    assert [c.code for c in causes] == ["forwarding_modified", "forwarding_arc"]
    assert "dmarc=pass" in causes[1].fields["results"]


def test_source_missing_from_spf_at_p_none() -> None:
    # mailservice.example says p=none: an unlisted server is a missing source, not spoofing.
    item = sample("spoofed.eml")
    data = message("spoofed.eml").replace(b"info@bakkerij-jansen.nl", b"info@mailservice.example")
    verdict = asyncio.run(verify_message(data, ip=item["ip"], helo=item["helo"], mail_from="x@mailservice.example",
                                         resolver=Resolver(zones=[str(ZONE)], offline=True), authserv_id=AUTHSERV_ID))
    assert verdict.dmarc.result == "fail"
    assert diagnose(verdict, ip=item["ip"])[0].code == "spf_source"


def test_not_aligned_names_the_domains_and_mode() -> None:
    # SPF passes for the list's bounce domain, which does not align with the author domain.
    data = message("spoofed.eml")
    verdict = asyncio.run(verify_message(data, ip="203.0.113.5", helo="mail.lists.example.org",
                                         mail_from="bounce@lists.example.org",
                                         resolver=Resolver(zones=[str(ZONE)], offline=True), authserv_id=AUTHSERV_ID))
    causes = diagnose(verdict, ip="203.0.113.5")
    assert causes[0].code == "not_aligned"
    rendered = render(explain_verdict(verdict, ip="203.0.113.5", lang="en"))
    assert "lists.example.org" in rendered and "bakkerij-jansen.nl" in rendered and "relaxed" in rendered
    assert "no DKIM signature" in rendered


@pytest.mark.parametrize("lang", ["en", "nl"])
def test_explanations_render_in_both_languages(lang: str) -> None:
    for file in ("genuine.eml", "spoofed.eml", "provider-only-dkim.eml", "mailing-list-arc.eml"):
        rendered = render(explain_verdict(verdict_for(file), ip=sample(file)["ip"], lang=lang, message=message(file)))
        assert "{" not in rendered and "}" not in rendered
    spoofed = render(explain_verdict(verdict_for("spoofed.eml"), ip="192.0.2.66", lang=lang))
    assert ("spoofing" in spoofed) and (("vervalst" in spoofed) if lang == "nl" else ("forged" in spoofed))


@pytest.mark.parametrize("lang", ["en", "nl"])
def test_a_from_without_one_clear_author_is_not_called_a_broken_record(lang: str) -> None:
    """DMARC's permerror for an unreadable From (here a second address in an unquoted display
    name) is about the From field, not the domain's DMARC record, which is fine."""
    genuine = sample("genuine.eml")
    raw = b"From: ceo@bank.example <info@bakkerij-jansen.nl>\r\nTo: x@y.example\r\nSubject: hi\r\n\r\nbody\r\n"
    verdict = asyncio.run(verify_message(raw, ip=genuine["ip"], helo=genuine["helo"], mail_from=genuine["mail_from"],
                                         resolver=Resolver(zones=[str(ZONE)], offline=True), authserv_id=AUTHSERV_ID))
    assert verdict.dmarc.result == "permerror"
    rendered = render(explain_verdict(verdict, ip=genuine["ip"], lang=lang))
    author_text = text(lang, "dmarc.permerror_author", domain="bakkerij-jansen.nl", detail="")[:-1]
    assert author_text in rendered
    assert text(lang, "dmarc.permerror", domain="bakkerij-jansen.nl", detail="")[:-1] not in rendered


@pytest.mark.parametrize(
    ("domain", "imitates", "kind"),
    [
        ("раураl.com", "paypal.com", "homoglyph"),  # Cyrillic
        ("xn--pypal-4ve.com", "paypal.com", "homoglyph"),  # IDN A-label of pаypal.com
        ("paypa1.com", "paypal.com", "homoglyph"),
        ("rnicrosoft.com", "microsoft.com", "homoglyph"),
        ("paypall.com", "paypal.com", "swap"),
        ("pyapal.com", "paypal.com", "swap"),
        ("rabobnak.nl", "rabobank.nl", "swap"),
        ("ing-veilig.nl", "ing.nl", "added_words"),
        ("rabobanksecure.com", "rabobank.nl", "added_words"),
        ("paypal.co", "paypal.com", "other_tld"),
        ("belastingdienst.com", "belastingdienst.nl", "other_tld"),
        ("paypal.com.login-check.example", "paypal.com", "embedded"),
    ],
)
def test_lookalikes(domain: str, imitates: str, kind: str) -> None:
    found = LookalikeDetector().check(domain)
    assert found is not None
    assert (found.imitates, found.kind) == (imitates, kind)
    assert imitates in found.reason("en") and imitates in found.reason("nl")


@pytest.mark.parametrize("domain", ["paypal.com", "mail.paypal.com", "nu.nl", "example.com", "thing.com",
                                    "bakkerij-jansen.nl", "", "...", "a" * 300 + ".com", "xn--zz.com"])
def test_not_lookalikes(domain: str) -> None:
    assert LookalikeDetector().check(domain) is None


def test_previously_seen_domains() -> None:
    detector = LookalikeDetector(["acme-supplies.nl"], include_wellknown=False)
    found = detector.check("acme-suppiles.nl")
    assert found is not None and found.imitates == "acme-supplies.nl" and found.kind == "swap"
    assert detector.check("acme-supplies.nl") is None
    assert LookalikeDetector(include_wellknown=False).check("paypa1.com") is None
    assert "paypal.com" in wellknown_domains()


RECEIVED = b"Received: from mail.example.net (mail.example.net [192.0.2.9]) by mx.ontvanger.example; Mon, 2 Nov 2026\r\n"


def received(*fields: bytes, from_domain: str = "bakkerij-jansen.nl") -> bytes:
    return b"".join(fields) + f"From: <info@{from_domain}>\r\nSubject: x\r\n\r\nbody\r\n".encode()


def test_received_trusts_the_receiving_server() -> None:
    ours = build_field("mx.ontvanger.example", [spf_result("fail", mailfrom="x@bakkerij-jansen.nl"),
                                                 dmarc_result("fail", header_from="bakkerij-jansen.nl")])
    forged = build_field("evil.example", [dmarc_result("pass", header_from="bakkerij-jansen.nl")])
    report = explain_received(received(ours, RECEIVED, forged))
    assert report.authenticated is False
    assert report.deciding_server == "mx.ontvanger.example"
    assert [(h.server, h.trusted) for h in report.hops] == [("evil.example", False), ("mx.ontvanger.example", True)]
    data = report.to_dict("nl")
    assert {"from_domain", "authenticated", "hops", "lookalike", "verdict", "reasons"} <= set(data)
    assert data["lookalike"] is None and data["verdict"] == "suspicious"
    # Trusting a named server instead.
    assert explain_received(received(ours, RECEIVED, forged), trusted_ids=["evil.example"]).authenticated is True


def test_received_without_headers_says_nothing() -> None:
    report = explain_received(received())
    assert report.authenticated is None and report.hops == ()
    assert text("nl", "received.authenticated.none", domain="x") in report.render("nl").replace("bakkerij-jansen.nl", "x")


def test_received_arc_hops_and_lookalike() -> None:
    report = explain_received(message("lookalike-received.eml"))
    assert report.from_domain == "rabobank-veilig.nl"
    assert report.lookalike is not None and report.lookalike.imitates == "rabobank.nl"
    arc_report = explain_received(message("mailing-list-arc.eml"))
    sources = [(h.source, h.instance) for h in arc_report.hops]
    assert ("ARC-Authentication-Results", 1) in sources


def test_received_bad_input() -> None:
    for data in (b"", random_bytes(), b"Authentication-Results: ;;;\r\n\r\n",
                 b"ARC-Authentication-Results: i=x; \x00\r\nFrom: nobody\r\n\r\n",
                 b"Authentication-Results: a; spf=pass\r\n" * 5000 + b"\r\n"):
        report = explain_received(data)
        assert report.to_dict()["authenticated"] in (True, False, None)
        assert len(report.hops) <= 100
        report.render("nl")


def random_bytes() -> bytes:
    import random

    return random.Random(7).randbytes(50_000)


def test_idn_from_domain_is_shown_decoded() -> None:
    report = explain_received(received(from_domain="xn--pypal-4ve.com"))
    assert report.lookalike is not None and report.lookalike.kind == "homoglyph"
    assert "xn--pypal-4ve.com (pаypal.com)" in report.render("en")
