"""Synthetic aggregate reports in the styles of real reporters, for tests, the demo and the
benchmark (``bench/reports_corpus``): no real data is shipped, the corpus is generated.

Styles (modelled on what large reporters send, with the quirks ingest must tolerate):

* ``gmail``      RFC 7489 format, no namespace, pct and np present, sent zipped;
* ``outlook``    RFC 7489 format with xsi/xsd namespace declarations, envelope_to, gzip;
* ``yahoo``      RFC 7489 format, lavish whitespace and indentation, no <version>, gzip;
* ``rfc9990``    RFC 9990 namespace, generator, discovery_method, testing, gzip;
* ``quirky``     a small reporter: the old draft namespace, ISO 8601 dates, mixed-case values,
  padded text, no SPF auth result, CRLF line ends, plain XML.
"""

from __future__ import annotations

import email.utils
import gzip
import io
import random
import zipfile
from email.message import EmailMessage
from pathlib import Path
from xml.sax.saxutils import escape

STYLES = ("gmail", "outlook", "yahoo", "rfc9990", "quirky")
DOMAINS = ("example.com", "example.net", "shop.example.org")


def _ip(rng: random.Random) -> str:
    if rng.random() < 0.15:
        return f"2001:db8:{rng.randrange(1 << 16):x}::{rng.randrange(1, 1 << 16):x}"
    return f"{rng.choice((192, 198, 203))}.{rng.choice((0, 51))}.{rng.randrange(256)}.{rng.randrange(1, 255)}"


def make_report(style: str, rng: random.Random, *, index: int, records: int, domain: str | None = None,
                begin: int = 1_790_000_000) -> tuple[str, bytes]:
    """(file name stem, XML bytes) of one synthetic report in ``style``."""
    domain = domain or rng.choice(DOMAINS)
    day = begin + (index % 30) * 86400
    end = day + 86399
    org = {"gmail": "google.com", "outlook": "Outlook.com", "yahoo": "Yahoo", "rfc9990": "Receiver Nine",
           "quirky": "  Small ISP  "}[style]
    report_id = f"{style}-{index}-{rng.randrange(1 << 40):x}"
    rows = []
    for _ in range(records):
        passing = rng.random() < 0.8
        spf_ok = passing and rng.random() < 0.9
        dkim_ok = passing and (not spf_ok or rng.random() < 0.9)
        count = rng.choice((1, 1, 2, 3, 5, 12, 40, 250))
        disposition = "none" if passing or rng.random() < 0.5 else rng.choice(("quarantine", "reject"))
        rows.append((_ip(rng), count, disposition, dkim_ok, spf_ok, passing))
    stem = f"{org.strip().lower().replace(' ', '')}!{domain}!{day}!{end}!{index}"
    xml = _render(style, org, report_id, domain, day, end, rows)
    return stem, xml


def _pv(value: bool, style: str) -> str:
    text = "pass" if value else "fail"
    return text.capitalize() if style == "quirky" else text


def _render(style: str, org: str, report_id: str, domain: str, begin: int, end: int,
            rows: list[tuple[str, int, str, bool, bool, bool]]) -> bytes:
    out: list[str] = ['<?xml version="1.0" encoding="UTF-8" ?>']
    if style == "rfc9990":
        out.append('<feedback xmlns="urn:ietf:params:xml:ns:dmarc-2.0"><version>1.0</version>')
    elif style == "outlook":
        out.append('<feedback xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
                   'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><version>1.0</version>')
    elif style == "quirky":
        out.append('<feedback xmlns="http://dmarc.org/dmarc-xml/0.1">')
    else:
        out.append("<feedback>" + ("<version>1.0</version>" if style == "gmail" else ""))
    if style == "quirky":
        dates = (f"<begin> {email.utils.formatdate(begin, usegmt=True)} </begin>"
                 f"<end>{_iso(end)}</end>")
    else:
        dates = f"<begin>{begin}</begin><end>{end}</end>"
    meta = [f"<org_name>{escape(org)}</org_name>", f"<email>noreply-dmarc@{org.strip().lower().replace(' ', '')}.example</email>"]
    if style in ("gmail", "rfc9990"):
        meta.append("<extra_contact_info>https://support.example/dmarc</extra_contact_info>")
    meta += [f"<report_id>{report_id}</report_id>", f"<date_range>{dates}</date_range>"]
    if style == "rfc9990":
        meta.append("<generator>Receiver Nine DMARC 3.1</generator>")
    out.append("<report_metadata>" + "".join(meta) + "</report_metadata>")
    policy = [f"<domain>{domain}</domain>"]
    if style == "rfc9990":
        policy += ["<p>quarantine</p>", "<sp>none</sp>", "<np>reject</np>", "<adkim>r</adkim>", "<aspf>r</aspf>",
                   "<discovery_method>treewalk</discovery_method>", "<fo>1</fo>", "<testing>n</testing>"]
    elif style == "quirky":
        policy += ["<p> None </p>"]
    else:
        policy += ["<adkim>r</adkim>", "<aspf>r</aspf>", "<p>none</p>", "<sp>none</sp>", "<pct>100</pct>"]
        if style == "gmail":
            policy.append("<np>none</np>")
        if style == "outlook":
            policy.append("<fo>0</fo>")
    out.append("<policy_published>" + "".join(policy) + "</policy_published>")
    for ip, count, disposition, dkim_ok, spf_ok, passing in rows:
        sender = domain if passing else "spoofer.example"
        auth = []
        dkim_domain = domain if dkim_ok or not passing else f"esp-{domain.split('.')[0]}.example"
        auth.append(f"<dkim><domain>{dkim_domain}</domain>"
                    + ("" if style == "yahoo" else "<selector>s1</selector>")
                    + f"<result>{_pv(dkim_ok or (passing and not dkim_ok and False), style)}</result></dkim>")
        if style != "quirky":
            auth.append(f"<spf><domain>{sender}</domain><scope>mfrom</scope>"
                        f"<result>{'pass' if spf_ok else 'softfail'}</result></spf>")
        identifiers = f"<header_from>{domain}</header_from>"
        if style != "quirky":
            identifiers += f"<envelope_from>{sender}</envelope_from>"
        if style == "outlook":
            identifiers = f"<envelope_to>outlook.example</envelope_to>{identifiers}"
        out.append(
            f"<record><row><source_ip>{ip}</source_ip><count>{count}</count><policy_evaluated>"
            f"<disposition>{disposition}</disposition><dkim>{_pv(dkim_ok, style)}</dkim>"
            f"<spf>{_pv(spf_ok, style)}</spf></policy_evaluated></row>"
            f"<identifiers>{identifiers}</identifiers><auth_results>{''.join(auth)}</auth_results></record>"
        )
    out.append("</feedback>")
    text = "\n".join(out)
    if style == "yahoo":
        text = text.replace("><", ">\n    <")
    if style == "quirky":
        text = text.replace("\n", "\r\n")
    return text.encode()


def _iso(timestamp: int) -> str:
    import datetime

    return datetime.datetime.fromtimestamp(timestamp, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def as_gzip(xml: bytes) -> bytes:
    return gzip.compress(xml, compresslevel=6, mtime=0)


def as_zip(name: str, xml: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, xml)
    return buffer.getvalue()


def as_email(stem: str, payload: bytes, extension: str, *, sender: str = "noreply-dmarc@reporter.example",
             to: str = "dmarc@example.com", domain: str = "example.com", report_id: str = "x") -> bytes:
    """A report mail as reporters send it (RFC 9990 section 4)."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = f"Report Domain: {domain} Submitter: reporter.example Report-ID: <{report_id}>"
    message["Date"] = email.utils.formatdate(1_790_000_000, usegmt=True)
    message["Message-ID"] = f"<{stem.replace('!', '.')}@reporter.example>"
    message.set_content("This is an aggregate report.\n")
    subtype = {"zip": "zip", "gz": "gzip", "xml": "xml"}[extension.rsplit(".", 1)[-1]]
    maintype = "text" if subtype == "xml" else "application"
    message.add_attachment(payload, maintype=maintype, subtype=subtype, filename=f"{stem}.{extension}")
    return message.as_bytes()


def write_corpus(directory: Path, count: int, *, seed: int = 7) -> list[Path]:
    """``count`` report files in mixed styles, sizes and forms (.xml.gz, .zip, .xml, .eml)."""
    rng = random.Random(seed)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        style = STYLES[index % len(STYLES)]
        size = rng.random()
        records = 1 + int(rng.random() * 4) if size < 0.75 else (rng.randrange(10, 60) if size < 0.97 else rng.randrange(200, 600))
        stem, xml = make_report(style, rng, index=index, records=records)
        form = "zip" if style == "gmail" else ("xml" if style == "quirky" else "xml.gz")
        if index % 7 == 3:
            form = "eml"
        if form == "zip":
            data = as_zip(f"{stem}.xml", xml)
        elif form == "xml.gz":
            data = as_gzip(xml)
        elif form == "eml":
            data = as_email(stem, as_gzip(xml), "xml.gz")
        else:
            data = xml
        path = directory / f"{stem.replace('!', '_')}.{form}"
        path.write_bytes(data)
        paths.append(path)
    return paths
