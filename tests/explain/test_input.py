"""Input handling: pastes as helpdesks get them are accepted; anything else is one line, exit 2."""

from __future__ import annotations

import gzip
import io
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from zegel.cli import cli
from zegel.explain import NotAMessage, explain_message
from zegel.explain.headers import read_fields

CORPUS = Path(__file__).parent / "corpus"
KPN = (CORPUS / "kpn-genuine.eml").read_bytes()


def run(data: bytes, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["explain", "-", *args], input=data)
    return result.exit_code, result.stdout, result.stderr


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(zipfile.ZipInfo("report.xml", date_time=(2026, 11, 3, 0, 0, 0)), "<feedback/>")
    return buffer.getvalue()


@pytest.mark.parametrize(("data", "why"), [
    (b"", "empty"),
    (b"   \r\n\r\n  ", "empty"),
    (bytes(range(256)) * 40, "binary"),
    (gzip.compress(b"<?xml version='1.0'?><feedback></feedback>", mtime=0), "gzip"),
    (_zip(), "zip"),
    (b"<?xml version='1.0'?><feedback><report_metadata/></feedback>", "xml"),
    (b'{"organization-name": "x", "policies": []}', "json"),
    (b"Hello,\nplease check this message for me.\nThanks!\n", "no_header"),
], ids=["empty", "blank", "binary", "gzip", "zip", "xml", "json", "prose"])
def test_not_a_message_is_one_line_and_exit_2(data: bytes, why: str) -> None:
    with pytest.raises(NotAMessage) as caught:
        read_fields(data)
    assert caught.value.code == why
    for lang, words in (("en", "this is not an email message ("), ("nl", "dit is geen e-mailbericht (")):
        code, out, err = run(data, "--lang", lang)
        assert code == 2 and out == ""
        assert err.startswith("zegel: " + words) and err.count("\n") == 1, err


def test_crlf_lf_and_cr_give_the_same_answer() -> None:
    lf = KPN.replace(b"\r\n", b"\n")
    verdicts = {explain_message(data).verdict for data in (KPN, lf, KPN.replace(b"\r\n", b"\r"))}
    assert verdicts == {"genuine"}


def test_leading_blank_lines_and_indentation_are_accepted() -> None:
    assert explain_message(b"\r\n\r\n" + KPN).verdict == "genuine"
    indented = b"\n".join(b"  " + line for line in KPN.replace(b"\r\n", b"\n").split(b"\n"))
    assert explain_message(indented).verdict == "genuine"


def test_header_only_paste() -> None:
    head = KPN.split(b"\r\n\r\n")[0]
    assert explain_message(head).verdict == "genuine"


def test_webmail_show_original_summary_is_skipped() -> None:
    report = explain_message((CORPUS / "gmail-show-original.eml").read_bytes())
    assert report.verdict == "genuine" and report.from_domain == "ing.nl"


def test_ziggo_results_on_unindented_lines_and_a_name_on_its_own_line() -> None:
    data = (b"Authentication-Results\n"
            b": mail.iss.as9143.net;\n"
            b"spf=pass (192.0.2.57;mijnbank.nl);\n"
            b"dkim=pass header.d=mijnbank.nl;\n"
            b"dmarc=pass header.from=mijnbank.nl (p=quarantine sp=quarantine dis=pass);\n"
            b"Received: from mail.mijnbank.nl ([192.0.2.57]) by mx-in-03.mail.iss.as9143.net; Tue, 3 Nov 2026\n"
            b"From: Mijn Bank <service@mijnbank.nl>\n")
    report = explain_message(data)
    assert report.verdict == "genuine"
    assert [r.method for r in report.hops[0].results] == ["spf", "dkim", "dmarc"]
    assert "(mijnbank.nl)" in report.hops[0].summary()


def test_next_step_names_the_connecting_ip_and_helo() -> None:
    code, out, _ = run((CORPUS / "generic-no-results.eml").read_bytes())
    assert code == 0
    assert out.startswith("Cannot tell:")
    assert ("zegel verify MESSAGE.eml --ip 192.0.2.20 --helo mail.bakkerij-jansen.nl "
            "--mail-from info@bakkerij-jansen.nl") in out
    report = explain_message((CORPUS / "generic-no-results.eml").read_bytes(), source="my mail.eml")
    assert report.next_step is not None and report.next_step.startswith("zegel verify 'my mail.eml' --ip 192.0.2.20")
    assert report.to_dict()["received_from_internet"]["ip"] == "192.0.2.20"


def test_no_received_fields_says_so() -> None:
    report = explain_message(b"Authentication-Results: mx.example; dmarc=pass header.from=a.example\r\n"
                             b"From: <x@a.example>\r\n\r\n")
    assert report.verdict == "unknown" and report.reasons[0].code == "no_received"
