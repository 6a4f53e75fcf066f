"""Which Authentication-Results count: the Received chain decides, not position (issue 11)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from zegel.cli import cli
from zegel.explain import explain_message
from zegel.explain.received import explain_received

CORPUS = Path(__file__).parent / "corpus"

FORGED = (b"Received: from vps123.example ([203.0.113.66]) by mx1.small-isp.example; Tue, 3 Nov 2026 09:14:25 +0100\r\n"
          b"Authentication-Results: mx.ing.nl; spf=pass smtp.mailfrom=ing.nl; dkim=pass header.d=ing.nl;"
          b" dmarc=pass header.from=ing.nl\r\n"
          b"From: ING <info@ing.nl>\r\nSubject: Uw pas\r\n\r\nKlik hier.\r\n")


def test_the_issue_forged_header_is_not_trusted() -> None:
    result = CliRunner().invoke(cli, ["explain", "-", "--lang", "nl"], input=FORGED)
    assert "is bevestigd door mx.ing.nl" not in result.stdout
    assert result.exit_code == 1
    assert result.stdout.startswith("Niet bevestigd")
    assert "kan vervalst zijn" in result.stdout
    report = explain_message(FORGED)
    assert report.verdict == "suspicious" and report.authenticated is None
    assert [(h.server, h.trusted) for h in report.hops] == [("mx.ing.nl", False)]


def test_trust_option_wins() -> None:
    report = explain_received(FORGED, trusted_ids=["mx.ing.nl"])
    assert report.verdict == "genuine" and report.deciding_server == "mx.ing.nl"


def test_results_below_the_receivers_hop_are_not_trusted_even_with_a_receiver_like_name() -> None:
    # An older hop (the sender's own relay) sits between the receiver's hop and the forged field.
    data = (b"Received: from relay.sender.example (relay.sender.example [198.51.100.9]) by mx.ontvanger.example;"
            b" Tue, 3 Nov 2026\r\n"
            b"Received: from [10.0.0.5] by relay.sender.example; Tue, 3 Nov 2026\r\n"
            b"Authentication-Results: mx.ontvanger.example; dmarc=pass header.from=bank.example\r\n"
            b"From: <a@bank.example>\r\n\r\n")
    report = explain_message(data)
    assert report.hops[0].trusted is False and report.verdict == "unknown"


def test_microsoft_without_authserv_id_is_read() -> None:
    report = explain_message((CORPUS / "m365-spoofed.eml").read_bytes())
    assert report.verdict == "suspicious"
    assert report.hops[-1].server == "" and report.hops[-1].trusted
    codes = [r.code for r in report.reasons]
    assert "compauth_000" in codes and "cause_spoofing" in codes
    rendered = report.render("en")
    assert "composite authentication" in rendered and "quarantine or reject" in rendered


def test_microsoft_header_alone_is_not_trusted_without_microsoft_in_the_chain() -> None:
    data = (b"Received: from vps123.example ([203.0.113.66]) by mx1.small-isp.example; Tue, 3 Nov 2026\r\n"
            b"Authentication-Results: spf=pass smtp.mailfrom=ing.nl; dkim=pass header.d=ing.nl;"
            b"dmarc=pass action=none header.from=ing.nl;compauth=pass reason=100\r\n"
            b"From: <info@ing.nl>\r\n\r\n")
    report = explain_message(data)
    assert report.verdict != "genuine" and not report.hops[0].trusted


def test_the_same_servers_arc_results_are_trusted_like_its_results() -> None:
    report = explain_message((CORPUS / "fastmail-genuine.eml").read_bytes())
    assert [(h.source, h.trusted) for h in report.hops] == [
        ("Authentication-Results", True), ("ARC-Authentication-Results", True)]
    report = explain_message((CORPUS / "gmail-list-arc.eml").read_bytes())
    sealed = [h for h in report.hops if h.server == "lists.example.org"]
    assert sealed and sealed[0].sealed and not sealed[0].trusted
    assert "could be forged" not in report.render("en").split("lists.example.org (ARC")[1].splitlines()[0]


def test_gateway_results_decide_over_the_mailbox_server_behind_it() -> None:
    report = explain_message((CORPUS / "mimecast-m365.eml").read_bytes())
    assert report.verdict == "genuine" and report.deciding_server == "relay.mimecast.com"


def test_a_provider_name_does_not_buy_trust_at_another_receiver() -> None:
    data = (b"Received: from vps123.example ([203.0.113.66]) by mx1.small-isp.example; Tue, 3 Nov 2026\r\n"
            b"Authentication-Results: mx.google.com; dmarc=pass (p=REJECT) header.from=ing.nl\r\n"
            b"From: <info@ing.nl>\r\n\r\n")
    report = explain_message(data)
    assert report.verdict == "unknown" and not report.hops[0].trusted
    assert any(r.code == "untrusted" for r in report.reasons)


def test_label_never_contradicts_its_sentence() -> None:
    report = explain_message((CORPUS / "generic-genuine.eml").read_bytes())
    assert "Look-alike check: The From domain does not resemble" in report.render("en")
    assert "Look-alike domain:" not in report.render("en")


def test_a_result_forged_with_the_receivers_own_name_below_its_hop_is_not_trusted() -> None:
    # The sender cannot write above the receiver's Received field, only below it.
    data = (b"Received: from vps123.example ([203.0.113.66]) by mx1.small-isp.example; Tue, 3 Nov 2026\r\n"
            b"Authentication-Results: mx1.small-isp.example; dmarc=pass header.from=ing.nl\r\n"
            b"From: <info@ing.nl>\r\n\r\n")
    report = explain_message(data)
    assert report.verdict == "unknown" and not report.hops[0].trusted
    # Gmail writes its results right below its Received field, so there they count.
    gmail = data.replace(b"mx1.small-isp.example", b"mx.google.com")
    assert explain_message(gmail).verdict == "genuine"


def _split(data: bytes) -> tuple[bytes, bytes, bytes]:
    newline = b"\r\n" if b"\r\n" in data else b"\n"
    head, sep, body = data.partition(newline + newline)
    return head + newline, newline, sep[len(newline):] + body if sep else b""


def test_no_forged_field_a_sender_can_add_makes_a_corpus_message_better() -> None:
    """A sender writes only below the receiver's fields: whatever it adds there, claiming any
    receiver's or provider's name, the verdict never improves."""
    import tomllib

    rank = {"genuine": 0, "unknown": 1, "suspicious": 2, "phishing": 3}
    cases = tomllib.loads((CORPUS / "expected.toml").read_text(encoding="utf-8"))["case"]
    ids = ["", "mx.google.com", "mx.ontvanger.example", "mx1.small-isp.example", "mta-in02.kpnmail.nl",
           "mail.iss.as9143.net", "relay.mimecast.com", "ppops.net", "mail.protonmail.ch", "dmarc.icloud.com",
           "mx6.messagingengine.com", "mxdrop305.xs4all.net", "atlas216.free.mail.ne1.yahoo.com"]
    for case in cases:
        data = (CORPUS / case["file"]).read_bytes()
        before = explain_message(data)
        if before.from_domain is None:
            continue
        head, newline, body = _split(data)
        domain = before.from_domain.encode()
        for authserv_id in ids:
            prefix = authserv_id.encode() + b"; " if authserv_id else b""
            for claim in (b"Authentication-Results: " + prefix + b"spf=pass smtp.mailfrom=" + domain
                          + b"; dkim=pass header.d=" + domain + b"; dmarc=pass header.from=" + domain
                          + b"; compauth=pass reason=100",
                          b"ARC-Authentication-Results: i=1; " + (prefix or b"x.example; ") + b"dmarc=pass header.from="
                          + domain):
                after = explain_message(head + claim + newline + newline + body)
                assert rank[after.verdict] >= rank[before.verdict], (case["file"], authserv_id, claim[:30])


def test_mail_sent_out_through_a_gateway_is_judged_by_the_receiver() -> None:
    # A company sending via Mimecast: Mimecast's own field only records the sender's login.
    data = (b"Authentication-Results: mx.ontvanger.example; spf=pass smtp.mailfrom=redhat.example;"
            b" dkim=pass header.d=redhat.example; dmarc=pass header.from=redhat.example\r\n"
            b"Received: from us-smtp-delivery-124.mimecast.com (us-smtp-delivery-124.mimecast.com [170.10.133.124])"
            b" by mx.ontvanger.example (Postfix); Tue, 3 Nov 2026\r\n"
            b"Authentication-Results: relay.mimecast.com; auth=pass smtp.auth=CUSA124A263"
            b" smtp.mailfrom=dev@redhat.example\r\n"
            b"Received: from mx.redhat.example (mx.redhat.example [198.51.100.4]) by relay.mimecast.com with ESMTP;"
            b" Tue, 3 Nov 2026\r\n"
            b"From: Dev <dev@redhat.example>\r\n\r\n")
    report = explain_message(data)
    assert report.verdict == "genuine" and report.deciding_server == "mx.ontvanger.example"


def test_an_unknown_receiver_writing_below_its_received_field_is_told_to_use_trust() -> None:
    data = (b"Received: from a27-38.smtp-out.us-west-2.amazonses.com (unknown [54.240.27.38])\r\n"
            b"\tby mx19 (Coremail) with SMTP id x8mowAAX4tcS6zReRf; Sat, 01 Feb 2020 11:05:57 +0800\r\n"
            b"From: someone@gmail.com\r\n"
            b"Authentication-Results: mx19; spf=pass smtp.mail=bounce@us-west-2.amazonses.com;\r\n"
            b"\tdkim=pass header.i=@amazonses.com\r\n\r\n")
    report = explain_message(data)
    assert report.verdict == "unknown" and report.reasons[0].code == "results_below"
    assert "--trust mx19" in report.headline("en")
    trusted = explain_message(data, trusted_ids=["mx19"])
    assert trusted.verdict == "suspicious"  # SES signed, not gmail.com
