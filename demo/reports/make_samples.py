"""Write the sample reports the demo ingests (run once; the outputs are committed).

The story: the hair salon kapsalon-de-vries.nl publishes p=none with rua= and receives
aggregate reports from four reporters. Its own server passes; its newsletter service
authenticates only as itself (not aligned: a stricter policy would hurt it); a forwarder
breaks SPF but DKIM survives; and a spoofer fails everything. Plus one failure report (ARF),
one SMTP TLS report and one damaged file, to show each kind of line ingest prints.
"""

from __future__ import annotations

import gzip
import io
import json
import zipfile
from pathlib import Path

from zegel.reports.corpus import as_email

HERE = Path(__file__).resolve().parent
DOMAIN = "kapsalon-de-vries.nl"
DAY = 1_793_491_200  # 2026-11-01 00:00 UTC
OWN, ESP, FORWARDER, SPOOFER = "192.0.2.30", "198.51.100.40", "203.0.113.20", "203.0.113.66"


def record(ip: str, count: int, *, dkim: str, spf: str, auth: str, disposition: str = "none") -> str:
    return (f"<record><row><source_ip>{ip}</source_ip><count>{count}</count><policy_evaluated>"
            f"<disposition>{disposition}</disposition><dkim>{dkim}</dkim><spf>{spf}</spf></policy_evaluated>"
            f"</row><identifiers><header_from>{DOMAIN}</header_from></identifiers>"
            f"<auth_results>{auth}</auth_results></record>")


def rows(scale: int) -> str:
    own = record(OWN, 120 * scale, dkim="pass", spf="pass",
                 auth=f"<dkim><domain>{DOMAIN}</domain><selector>mail2026</selector><result>pass</result></dkim>"
                      f"<spf><domain>{DOMAIN}</domain><scope>mfrom</scope><result>pass</result></spf>")
    esp = record(ESP, 34 * scale, dkim="fail", spf="fail",
                 auth="<dkim><domain>mailservice.example</domain><selector>esp</selector><result>pass</result></dkim>"
                      "<spf><domain>bounces.mailservice.example</domain><scope>mfrom</scope><result>pass</result></spf>")
    forwarded = record(FORWARDER, 3 * scale, dkim="pass", spf="fail",
                       auth=f"<dkim><domain>{DOMAIN}</domain><selector>mail2026</selector><result>pass</result></dkim>"
                            "<spf><domain>forward.example.net</domain><scope>mfrom</scope><result>fail</result></spf>")
    spoofed = record(SPOOFER, 6 * scale, dkim="fail", spf="fail",
                     auth=f"<spf><domain>{DOMAIN}</domain><scope>mfrom</scope><result>fail</result></spf>")
    return own + esp + forwarded + spoofed


def feedback(org: str, email: str, report_id: str, day: int, *, ns: str = "", extra: str = "", scale: int = 1) -> bytes:
    policy = f"<policy_published><domain>{DOMAIN}</domain><adkim>r</adkim><aspf>r</aspf><p>none</p>{extra}</policy_published>"
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<feedback{ns}><version>1.0</version><report_metadata>'
            f"<org_name>{org}</org_name><email>{email}</email><report_id>{report_id}</report_id>"
            f"<date_range><begin>{day}</begin><end>{day + 86399}</end></date_range></report_metadata>"
            f"{policy}{rows(scale)}</feedback>\n").encode()


def main() -> None:
    google = feedback("google.com", "noreply-dmarc-support@google.com", "1793491200.g1", DAY, scale=3,
                      extra="<sp>none</sp><pct>100</pct><np>none</np>")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"google.com!{DOMAIN}!{DAY}!{DAY + 86399}.xml", google)
    (HERE / f"google.com!{DOMAIN}!{DAY}!{DAY + 86399}.zip").write_bytes(buffer.getvalue())

    outlook = feedback("Outlook.com", "dmarcreport@microsoft.com", "b1c2d3e4f5", DAY + 86400, scale=2,
                       ns=' xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"',
                       extra="<sp>none</sp><pct>100</pct><fo>0</fo>")
    (HERE / f"outlook.com!{DOMAIN}!{DAY + 86400}!{DAY + 2 * 86400 - 1}.xml.gz").write_bytes(gzip.compress(outlook, mtime=0))

    nine = feedback("Receiver Nine", "dmarc@receiver-nine.example", "r9-20261103", DAY + 2 * 86400,
                    ns=' xmlns="urn:ietf:params:xml:ns:dmarc-2.0"',
                    extra="<np>none</np><discovery_method>treewalk</discovery_method><testing>n</testing>")
    (HERE / "receiver-nine-20261103.xml").write_bytes(nine)

    small = feedback("Small ISP", "dmarc@small-isp.example", "small-isp-42", DAY + 3 * 86400)
    (HERE / "small-isp-report.eml").write_bytes(as_email(
        f"small-isp.example!{DOMAIN}!{DAY + 3 * 86400}!{DAY + 4 * 86400 - 1}", gzip.compress(small, mtime=0), "xml.gz",
        sender="dmarc@small-isp.example", to=f"dmarc@{DOMAIN}", domain=DOMAIN, report_id="small-isp-42"))

    (HERE / "failure-report.eml").write_bytes(
        b"From: dmarc-failure@receiver-nine.example\r\n"
        b"To: dmarc@kapsalon-de-vries.nl\r\n"
        b"Subject: DMARC failure report for kapsalon-de-vries.nl\r\n"
        b"Date: Tue, 03 Nov 2026 10:15:00 +0000\r\n"
        b"MIME-Version: 1.0\r\n"
        b'Content-Type: multipart/report; report-type=feedback-report; boundary="arf"\r\n\r\n'
        b"--arf\r\nContent-Type: text/plain\r\n\r\nA message claiming to be from kapsalon-de-vries.nl failed DMARC.\r\n"
        b"--arf\r\nContent-Type: message/feedback-report\r\n\r\n"
        b"Feedback-Type: auth-failure\r\nUser-Agent: ReceiverNine/3.1\r\nVersion: 1\r\n"
        b"Original-Mail-From: <redacted-5f2a@spoofer.example>\r\nArrival-Date: Tue, 03 Nov 2026 10:14:02 +0000\r\n"
        b"Source-IP: 203.0.113.66\r\nReported-Domain: kapsalon-de-vries.nl\r\nAuth-Failure: dmarc\r\n"
        b"Identity-Alignment: none\r\n\r\n"
        b"--arf\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        b"From: Kapsalon de Vries <redacted-91c0@kapsalon-de-vries.nl>\r\nSubject: Uw factuur staat klaar\r\n"
        b"Message-ID: <f00d@spoofer.example>\r\n\r\n--arf--\r\n")

    tls = {
        "organization-name": "Receiver Nine", "report-id": "tls-20261102-kdv",
        "date-range": {"start-datetime": "2026-11-02T00:00:00Z", "end-datetime": "2026-11-02T23:59:59Z"},
        "contact-info": "tlsrpt@receiver-nine.example",
        "policies": [{"policy": {"policy-type": "sts", "policy-domain": DOMAIN},
                      "summary": {"total-successful-session-count": 412, "total-failure-session-count": 3},
                      "failure-details": [{"result-type": "certificate-expired", "failed-session-count": 3}]}],
    }
    (HERE / "tls-report.json").write_text(json.dumps(tls, indent=1) + "\n")
    (HERE / "damaged-report.xml.gz").write_bytes(gzip.compress(outlook, mtime=0)[:120])


if __name__ == "__main__":
    main()
