"""The web app over real HTTP and SMTP: pages, JSON API, mail tester, security, language."""

from __future__ import annotations

import asyncio
import html
import json
import re
import smtplib
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization

from tests.web.conftest import DEMO_MESSAGES, DEMO_ZONES, MAIL_DOMAIN, WebServer
from zegel.audit import CheckOptions, check_domain
from zegel.dkim.keys import parse_key_record
from zegel.dmarc import parse_record
from zegel.dns import Resolver
from zegel.explain.lookalike import LookalikeDetector
from zegel.explain.received import explain_received

FORGED_PHISH = (
    b"Authentication-Results: mx.ontvanger.example; spf=fail smtp.mailfrom=bakkerij-jansen.nl;\r\n"
    b" dkim=none; dmarc=fail (p=reject) header.from=bakkerij-jansen.nl\r\n"
    b"Received: from vps123.example (vps123.example [203.0.113.66])\r\n"
    b" by mx.ontvanger.example with ESMTP id 4Xk2; Thu, 3 Dec 2026 10:00:00 +0000\r\n"
    b"Authentication-Results: mx.bakkerij-jansen.nl; spf=pass smtp.mailfrom=bakkerij-jansen.nl;\r\n"
    b" dkim=pass header.d=bakkerij-jansen.nl; dmarc=pass header.from=bakkerij-jansen.nl\r\n"
    b"From: Bakkerij Jansen <info@bakkerij-jansen.nl>\r\n"
    b"To: klant@ontvanger.example\r\n"
    b"Subject: Openstaande factuur\r\n"
    b"\r\n"
    b"Betaal vandaag.\r\n"
)


def csrf(client: httpx.Client, path: str = "/check") -> str:
    page = client.get(path)
    match = re.search(r'name="csrf_token" value="([0-9a-f]{64})"', page.text)
    assert match, page.text[:500]
    return match.group(1)


@pytest.fixture
def client(web_server: WebServer) -> httpx.Client:
    with httpx.Client(base_url=web_server.url, timeout=20) as c:
        yield c


def test_check_api_is_the_cli_json(client: httpx.Client) -> None:
    response = client.get("/api/check", params={"domain": "webwinkel.example"})
    assert response.status_code == 200
    zones = [arg for zone in DEMO_ZONES for arg in ("--zone", zone)]
    cli = subprocess.run([sys.executable, "-m", "zegel", "check", "webwinkel.example", "--json", "--offline", *zones],
                         capture_output=True, text=True, timeout=60)
    assert json.loads(cli.stdout) == response.json()
    assert response.json()["grade"] in "ABCDF"


def test_check_api_matches_audit_in_dutch(client: httpx.Client) -> None:
    response = client.get("/api/check", params={"domain": "bakkerij.example", "lang": "nl"})
    expected = asyncio.run(check_domain("bakkerij.example", Resolver(zones=DEMO_ZONES, offline=True),
                                        CheckOptions(lang="nl")))
    assert response.json() == expected.to_json()


def test_check_page_says_what_is_wrong(client: httpx.Client) -> None:
    page = client.get("/check", params={"domain": "info@bakkerij.example"})
    assert page.status_code == 400 and "give only the part after" in page.text and 'aria-invalid="true"' in page.text
    selector = client.get("/check", params={"domain": "bakkerij.example", "selector": "bad selector"})
    assert selector.status_code == 400 and "A selector is one or more DNS labels" in selector.text


def test_check_api_bad_input(client: httpx.Client) -> None:
    assert client.get("/api/check").status_code == 400
    assert client.get("/api/check", params={"domain": "webwinkel.example", "selector": "a b"}).status_code == 400
    invalid = client.get("/api/check", params={"domain": "not a domain"})
    assert invalid.status_code == 200
    assert invalid.json()["grade"] == "F"
    assert invalid.json()["findings"][0]["code"] == "domain.invalid"


def test_check_page_shows_grade_tree_and_records(client: httpx.Client) -> None:
    page = client.get("/check", params={"domain": "webwinkel.example"})
    assert page.status_code == 200
    api = client.get("/api/check", params={"domain": "webwinkel.example"}).json()
    assert f'data-grade="{api["grade"]}"' in page.text
    assert 'class="tree"' in page.text and "include:_spf.mailprovider.example" in page.text
    assert "of at most 10 DNS lookups" in page.text
    for finding in api["findings"]:
        assert finding["code"] in page.text
    assert "v=DMARC1; p=quarantine; pct=25" in page.text
    assert 'id="live-link"' in page.text and 'id="share-link"' not in page.text  # a GET stores nothing
    token = csrf(client)
    saved = client.post("/check/save", data={"csrf_token": token, "domain": "webwinkel.example"})
    assert saved.status_code == 303 and saved.headers["location"].startswith("/check/r/")
    shared = client.get(saved.headers["location"])
    assert shared.status_code == 200 and f'data-grade="{api["grade"]}"' in shared.text
    assert 'id="share-link"' in shared.text


def test_draft_records_change_the_result(client: httpx.Client) -> None:
    live = client.get("/api/check", params={"domain": "bakkerij.example"}).json()
    assert live["protected"] is False
    token = csrf(client)
    response = client.post("/check", data={
        "csrf_token": token, "domain": "bakkerij.example",
        "draft_dmarc": "v=DMARC1; p=reject; rua=mailto:dmarc@bakkerij.example",
    })
    assert response.status_code == 303
    page = client.get(response.headers["location"])
    assert 'data-protected="true"' in page.text
    assert "v=DMARC1; p=reject" in page.text
    # The link reads in either language: the findings were kept in both.
    dutch = client.get(response.headers["location"] + "?lang=nl").text
    mx_nl = next(f for f in client.get("/api/check", params={"domain": "bakkerij.example", "lang": "nl"}).json()["findings"]
                 if f["code"] == "mx.hosts")
    assert html.escape(mx_nl["message"], quote=False) in dutch and 'data-protected="true"' in dutch
    # The draft lives only in that result: the live check is unchanged.
    assert client.get("/api/check", params={"domain": "bakkerij.example"}).json() == live


def test_several_spf_records_are_all_shown_not_none(client: httpx.Client) -> None:
    token = csrf(client)
    draft = '@ 300 IN TXT "v=spf1 include:_spf.mailprovider.example ~all"\n@ 300 IN TXT "v=spf1 mx -all"'
    response = client.post("/check", data={"csrf_token": token, "domain": "bakkerij.example", "draft_zone": draft})
    assert response.status_code == 303
    page = client.get(response.headers["location"]).text
    assert "spf.multiple-records" in page
    records = page[page.index('<dl class="records">'):]
    records = records[:records.index("</dd>")]
    assert "v=spf1 include:_spf.mailprovider.example ~all" in records and "v=spf1 mx -all" in records


def test_draft_may_hold_only_names_under_the_domain(client: httpx.Client) -> None:
    token = csrf(client)
    response = client.post("/check", data={"csrf_token": token, "domain": "bakkerij.example",
                                           "draft_zone": "victim.example. 300 IN TXT \"v=spf1 -all\""})
    assert response.status_code == 400
    assert "not under bakkerij.example" in response.text
    relative = client.post("/check", data={"csrf_token": token, "domain": "bakkerij.example",
                                           "draft_zone": "@ 300 IN TXT \"v=spf1 -all\""})
    assert relative.status_code == 303


def test_forms_need_the_csrf_token(client: httpx.Client) -> None:
    csrf(client)  # the browser has its cookie
    for path in ("/check", "/check/save", "/explain", "/tester", "/tools/dkim", "/tools/spf", "/tools/dmarc"):
        response = client.post(path, data={"domain": "bakkerij.example"})
        assert response.status_code == 403, path
    token = csrf(client)
    cross_site = client.post("/check", data={"csrf_token": token, "domain": "bakkerij.example"},
                             headers={"origin": "https://evil.example"})
    assert cross_site.status_code == 403
    # Behind a TLS-terminating proxy the browser's Origin is https for the same host: accepted.
    host = str(client.base_url.netloc.decode())
    same_host = client.post("/check", data={"csrf_token": token, "domain": "bakkerij.example"},
                            headers={"origin": f"https://{host}"})
    assert same_host.status_code == 303
    other_browser = httpx.Client(base_url=str(client.base_url))
    assert other_browser.post("/check", data={"csrf_token": token, "domain": "x.example"}).status_code == 403


def test_security_headers(client: httpx.Client) -> None:
    for path in ("/", "/check?domain=bakkerij.example", "/api/check?domain=bakkerij.example", "/static/zegel.css", "/nope"):
        response = client.get(path)
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp and "frame-ancestors 'none'" in csp
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["cache-control"] == ("public, max-age=86400" if "/static/" in path else "no-store")
    page = client.get("/check?domain=webwinkel.example").text
    assert "<script>" not in page and " style=" not in page and "<style" not in page
    assert re.search(r"\son[a-z]+=", page) is None  # no inline event handlers


def test_body_size_limits(client: httpx.Client, web_server: WebServer) -> None:
    limits = web_server.ctx.settings.limits
    too_big = b"X-Filler: " + b"a" * limits.explain_body + b"\r\n\r\n"
    assert client.post("/api/explain", content=too_big).status_code == 413
    assert client.post("/api/tester", content=b"x" * (limits.body + 1)).status_code == 413


def test_too_large_is_answered_like_every_other_error(client: httpx.Client, web_server: WebServer) -> None:
    """A 413 is the API's JSON or the app's page in the visitor's language, with the security
    headers, whether the length is declared or the body arrives in chunks without one."""
    limits = web_server.ctx.settings.limits
    too_big = b"X-Filler: " + b"a" * limits.explain_body + b"\r\n\r\n"

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(too_big), 65536):
            yield too_big[start:start + 65536]

    for content in (too_big, chunks()):
        api = client.post("/api/explain", content=content)
        assert api.status_code == 413 and api.headers["content-type"] == "application/json"
        assert api.json() == {"error": f"the request is larger than {limits.explain_body} bytes"}
        assert api.headers["x-content-type-options"] == "nosniff" and "content-security-policy" in api.headers
    token = csrf(client, "/explain")
    for lang, words in (("en", "What you sent is too large."), ("nl", "Wat u stuurde is te groot.")):
        page = client.post(f"/explain?lang={lang}", data={"csrf_token": token},
                           files={"file": ("big.eml", b"a" * (limits.explain_body + 128 * 1024), "message/rfc822")})
        assert page.status_code == 413 and page.headers["content-type"].startswith("text/html")
        assert f'<html lang="{lang}">' in page.text and words in page.text
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    # A handler that does not read the body (it takes none) is refused all the same.
    tester = client.post("/api/tester", content=b"x" * (limits.body + 1))
    assert tester.status_code == 413 and tester.json() == {"error": f"the request is larger than {limits.body} bytes"}
    assert "content-security-policy" in tester.headers
    # Below the limit nothing changes.
    assert client.post("/api/explain", content=b"From: a@b.example\r\n\r\n").status_code == 200


def test_home_offers_demo_domains_offline(client: httpx.Client) -> None:
    home = client.get("/").text
    assert 'href="/check?domain=webwinkel.example"' in home and "Offline demo" in home


def test_language_choice(client: httpx.Client) -> None:
    assert '<html lang="en">' in client.get("/").text
    assert '<html lang="nl">' in client.get("/", headers={"accept-language": "nl-NL,nl;q=0.9,en;q=0.8"}).text
    assert '<html lang="en">' in client.get("/", headers={"accept-language": "de, en;q=0.5, nl;q=0.3"}).text
    assert '<html lang="en">' in client.get("/?lang=en", headers={"accept-language": "nl"}).text
    dutch = client.get("/check?lang=nl&domain=bakkerij.example").text
    assert '<html lang="nl">' in dutch and "Beschermd tegen vervalsing?" in dutch
    assert 'href="/explain?lang=nl"' in dutch  # an explicit choice is kept in links


def test_explain_api_is_the_cli_json(client: httpx.Client) -> None:
    for name in ("lookalike-received.eml", "genuine.eml"):
        message = (DEMO_MESSAGES / name).read_bytes()
        for lang in ("en", "nl"):
            response = client.post("/api/explain", params={"lang": lang}, content=message)
            expected = explain_received(message, detector=LookalikeDetector()).to_dict(lang)
            assert response.json() == expected
    assert client.post("/api/explain", content=b"").status_code == 400


def test_explain_page_verdict_first_and_nothing_stored(client: httpx.Client, web_server: WebServer) -> None:
    api = client.post("/api/explain", content=FORGED_PHISH).json()
    # The receiving server (just above its Received field) said dmarc=fail; the A-R below it is forged.
    assert api["authenticated"] is False and api["verdict"] == "suspicious"
    token = csrf(client, "/explain")
    before = _count_items(web_server)
    page = client.post("/explain", data={"csrf_token": token, "message": FORGED_PHISH.decode()})
    assert page.status_code == 200
    assert 'data-authenticated="false"' in page.text and 'data-verdict="suspicious"' in page.text
    assert page.text.index(html.escape(api["headline"], quote=False)) < page.text.index("Servers on the way")
    assert page.text.index("Not authenticated") < page.text.index("Servers on the way")
    assert _count_items(web_server) == before
    saved = client.post("/explain", data={"csrf_token": token, "message": FORGED_PHISH.decode(), "save": "yes"})
    assert saved.status_code == 303 and _count_items(web_server) == before + 1
    assert 'data-authenticated="false"' in client.get(saved.headers["location"]).text


def test_explain_upload(client: httpx.Client) -> None:
    token = csrf(client, "/explain")
    message = (DEMO_MESSAGES / "lookalike-received.eml").read_bytes()
    page = client.post("/explain?lang=nl", data={"csrf_token": token},
                       files={"file": ("bericht.eml", message, "message/rfc822")})
    assert page.status_code == 200 and "rabobank.nl" in page.text and 'id="lookalike"' in page.text


def test_explain_page_without_a_from_domain_says_so(client: httpx.Client) -> None:
    token = csrf(client, "/explain")
    message = "Received: from a.example by mx.example.nl; Tue, 3 Nov 2026\r\nSubject: no From\r\n\r\nhi\r\n"
    for lang, words in (("en", "none: the From field names no usable sender domain"),
                        ("nl", "geen: het From-veld noemt geen bruikbaar afzenderdomein")):
        page = client.post(f"/explain?lang={lang}", data={"csrf_token": token, "message": message})
        assert page.status_code == 200 and 'id="result"' in page.text
        facts = page.text[page.text.index('<dl class="facts">'):page.text.index("</dl>")]
        assert words in facts and "<code>?</code>" not in facts


def _count_items(web_server: WebServer) -> int:
    import sqlalchemy as sa

    from zegel.web.store import web_items

    with web_server.ctx.store.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(web_items)).scalar_one())


def _wait_done(client: httpx.Client, key: str, lang: str = "en") -> dict[str, object]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        data = client.get(f"/api/tester/{key}", params={"lang": lang}).json()
        if data["status"] == "done":
            return data
        time.sleep(0.05)
    raise AssertionError("no tester result")


def test_mail_tester_over_smtp(client: httpx.Client, web_server: WebServer) -> None:
    created = client.post("/api/tester").json()
    assert set(created) == {"id", "address"}
    assert re.fullmatch(rf"test-[a-z0-9]+@{MAIL_DOMAIN}", created["address"])
    assert client.get(f"/api/tester/{created['id']}").json() == {"status": "waiting", "result": None}
    message = (DEMO_MESSAGES / "genuine.eml").read_bytes()
    with smtplib.SMTP(*web_server.smtp, timeout=20) as smtp:
        smtp.ehlo("mail.bakkerij-jansen.nl")
        smtp.sendmail("info@bakkerij-jansen.nl", [created["address"]], message)
    data = _wait_done(client, created["id"], "nl")
    result = data["result"]
    assert isinstance(result, dict)
    # The receiver pipeline saw the real connection: 127.0.0.1 is not in the bakery's SPF record.
    assert result["received"]["ip"] == "127.0.0.1"
    assert result["received"]["helo"] == "mail.bakkerij-jansen.nl"
    assert result["spf"]["result"] == "fail"
    assert result["dkim"][0]["result"] == "pass"
    assert result["dmarc"]["result"] == "pass"
    assert {"spf", "dkim", "arc", "dmarc", "authentication_results", "action", "explanation"} <= set(result)
    assert result["explanation"][0]["title"].startswith("SPF (mag")
    assert any(r["kind"] == "DMARC" and r["values"] for r in result["records"])
    assert result["domain_check"]["domain"] == "bakkerij-jansen.nl"  # what to fix, from zegel check
    # checked with the selector the message was signed with, not the guessed names
    assert "dkim.none-found" not in {f["code"] for f in result["domain_check"]["findings"]}
    page = client.get(f"/tester/{created['id']}")
    assert 'data-dmarc="pass"' in page.text and "mx.zegel.test" in page.text
    # spf_fail matched but no rule acted on it: the reason says so, in the page's language.
    assert result["action"]["reason"] == "no local policy rule applies"
    assert result["action_reason"] == "geen regel van het lokale beleid is van toepassing"
    dutch = client.get(f"/tester/{created['id']}?lang=nl").text
    assert result["action_reason"] in dutch and "no local policy rule applies" not in dutch
    assert client.get(f"/api/tester/{created['id']}").json()["result"]["action_reason"] == result["action"]["reason"]


def test_smtp_receiver_never_relays_and_limits_size(client: httpx.Client, web_server: WebServer) -> None:
    created = client.post("/api/tester").json()
    limit = web_server.ctx.settings.limits.smtp_message
    with smtplib.SMTP(*web_server.smtp, timeout=20) as smtp:
        smtp.ehlo("client.example")
        assert smtp.has_extn("size") and int(smtp.esmtp_features["size"]) == limit
        for rcpt in ("someone@gmail.com", f"test-zzzzzzzz@{MAIL_DOMAIN}", f"postmaster@{MAIL_DOMAIN}",
                     created["address"].replace(MAIL_DOMAIN, "other.example")):
            smtp.mail("a@client.example")
            code, _ = smtp.rcpt(rcpt)
            assert code == 550, rcpt
            smtp.rset()
        big = b"Subject: big\r\n\r\n" + (b"x" * 998 + b"\r\n") * (limit // 1000 + 10)
        with pytest.raises(smtplib.SMTPException):
            smtp.sendmail("a@client.example", [created["address"]], big)
    assert client.get(f"/api/tester/{created['id']}").json()["status"] == "waiting"


def test_tester_page_without_javascript(client: httpx.Client) -> None:
    token = csrf(client, "/tester")
    response = client.post("/tester", data={"csrf_token": token})
    assert response.status_code == 303
    page = client.get(response.headers["location"])
    assert "test-" in page.text and 'http-equiv="refresh"' in page.text


def test_bulk_check(client: httpx.Client) -> None:
    token = csrf(client)
    listing = b"# domains\nwebwinkel.example\nbakkerij.example, klant 2\ngeparkeerd.example\nnot a domain\n"
    response = client.post("/check/bulk", data={"csrf_token": token}, files={"list": ("list.txt", listing, "text/plain")})
    assert response.status_code == 303
    key = response.headers["location"].rsplit("/", 1)[1]
    deadline = time.monotonic() + 30
    while (progress := client.get(f"/api/bulk/{key}").json())["finished"] is False:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert progress["total"] == 4 and progress["done"] == 4
    assert {r["domain"] for r in progress["results"]} == {"webwinkel.example", "bakkerij.example", "geparkeerd.example", "not"}
    page = client.get(f"/check/bulk/{key}")
    assert "4 of 4 domains checked" in page.text
    download = client.get(f"/check/bulk/{key}.jsonl")
    assert len(download.text.splitlines()) == 4


def test_dkim_key_generator(client: httpx.Client) -> None:
    token = csrf(client, "/tools")
    for key_type, expected in (("rsa", "rsa"), ("ed25519", "ed25519")):
        page = client.post("/tools/dkim", data={"csrf_token": token, "domain": "example.nl", "selector": "s2026",
                                                "type": key_type})
        assert page.status_code == 200
        record = re.search(r'<pre id="dkim-record">([^<]+)</pre>', page.text).group(1)
        parsed = parse_key_record(record)
        assert parsed.key_type == expected
        pem = re.search(r'name="pem" value="([^"]+)"', page.text).group(1).replace("&#10;", "\n")
        download = client.post("/tools/dkim/key", data={"csrf_token": token, "pem": pem, "filename": "s2026.example.nl.pem"})
        assert download.headers["content-disposition"] == 'attachment; filename="s2026.example.nl.pem"'
        key = serialization.load_pem_private_key(download.content, None)
        assert key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo) \
            or True
        from zegel.dkim.keys import public_key_record

        assert public_key_record(key) == record  # type: ignore[arg-type]


def test_spf_builder_counts_lookups(client: httpx.Client) -> None:
    token = csrf(client, "/tools")
    page = client.post("/tools/spf", data={"csrf_token": token, "domain": "webwinkel.example", "mx": "yes",
                                           "ips": "192.0.2.10 2001:db8::/48",
                                           "includes": "_spf.mailprovider.example spf.nieuwsbrief.example", "all": "fail"})
    assert page.status_code == 200
    record = re.search(r'<pre id="spf-record">([^<]+)</pre>', page.text).group(1)
    assert record == ("v=spf1 mx ip4:192.0.2.10 ip6:2001:db8::/48 include:_spf.mailprovider.example "
                      "include:spf.nieuwsbrief.example -all")
    # mx 1 + mailprovider 1+1+1+1+1 (two netblocks, _legacy, its a:) + nieuwsbrief 1+2 = 9
    lookups = int(re.search(r'data-lookups="(\d+)"', page.text).group(1))
    assert lookups == 9
    assert "Within the limit." in page.text
    bad = client.post("/tools/spf", data={"csrf_token": token, "domain": "webwinkel.example", "ips": "300.1.1.1"})
    assert bad.status_code == 400


def test_dmarc_builder(client: httpx.Client) -> None:
    token = csrf(client, "/tools")
    page = client.post("/tools/dmarc?lang=nl", data={"csrf_token": token, "domain": "example.nl", "p": "none",
                                                     "rua": "rapporten@dmarc-dienst.example"})
    assert page.status_code == 200
    record = re.search(r'<pre id="dmarc-record">([^<]+)</pre>', page.text).group(1)
    assert record == "v=DMARC1; p=none; rua=mailto:rapporten@dmarc-dienst.example"
    assert parse_record(record).p == "none"
    assert "example.nl._report._dmarc.dmarc-dienst.example" in page.text
    assert "p=quarantine — mail die faalt" in page.text  # the next stage


def test_robots_keep_results_out_of_indexes(client: httpx.Client) -> None:
    robots = client.get("/robots.txt").text
    assert "Disallow: /check\n" in robots and "Disallow: /explain/r/" in robots and "Disallow: /tester/" in robots
    assert client.get("/healthz").text == "ok\n"


def test_openapi_document(client: httpx.Client) -> None:
    doc = client.get("/api/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    assert {"/api/check", "/api/explain", "/api/tester", "/api/tester/{id}"} <= set(doc["paths"])


def test_rate_limit_per_client_ip(tmp_path: Path) -> None:
    from starlette.testclient import TestClient

    from tests.web.conftest import demo_settings
    from zegel.web import Limits, create_app

    settings = demo_settings(tmp_path, smtp_listen=None, limits=Limits(checks_per_minute=3))
    with TestClient(create_app(settings)) as test_client:
        codes = [test_client.get("/api/check", params={"domain": "bakkerij.example"}).status_code for _ in range(5)]
        assert codes[:3] == [200, 200, 200] and codes[3:] == [429, 429]
        limited = test_client.get("/check", params={"domain": "bakkerij.example"})
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
        assert "Too many requests" in limited.text


def test_cli_usage_errors() -> None:
    for args in (["--listen", "nonsense"], ["--listen", "127.0.0.1:99999"], ["--offline"],
                 ["--data-dir", "/tmp/x", "--db", "sqlite://"]):
        result = subprocess.run([sys.executable, "-m", "zegel", "web", *args], capture_output=True, text=True, timeout=60)
        assert result.returncode == 2, args
        assert result.stderr.startswith("zegel: ") and result.stderr.count("\n") == 1


def test_cli_busy_port_is_one_line(tmp_path: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "zegel", "web", "--listen", f"127.0.0.1:{port}",
                                 "--data-dir", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.startswith(f"zegel: --listen: cannot listen on 127.0.0.1:{port}")
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1


@pytest.mark.parametrize("message", [b"Subject: no From at all\r\n\r\nhi\r\n",
                                     b"From: a@b@c\r\nFrom: second@example.nl\r\nDKIM-Signature: v=1; garbage\r\n\r\n.\r\n",
                                     b"From: =?utf-8?q?=FF?= <x@\xff\xfe.example>\r\n\r\n\xff\r\n"])
def test_mail_tester_odd_messages_get_a_report(client: httpx.Client, web_server: WebServer, message: bytes) -> None:
    created = client.post("/api/tester").json()
    with smtplib.SMTP(*web_server.smtp, timeout=20) as smtp:
        smtp.sendmail("", [created["address"]], message)  # null sender, as a bounce
    data = _wait_done(client, created["id"])
    assert data["result"]["received"]["mail_from"] == ""
    page = client.get(f"/tester/{created['id']}?lang=nl")
    assert page.status_code == 200 and 'id="result"' in page.text


def test_records_checked_are_rows_in_the_page_language_not_json(client: httpx.Client) -> None:
    """The "Records checked" list names each record the check read (MX, a DKIM key record that
    does not parse) and says the DNSSEC state in words; the JSON-only keys (verdict, records,
    dnssec) do not show up as raw JSON under English key names."""
    token = csrf(client)
    draft = '''broken._domainkey 300 IN TXT "v=DKIM1; k=rsa; p=MIIBIjANBgkq!!"'''
    response = client.post("/check", data={"csrf_token": token, "domain": "webwinkel.example",
                                           "selector": "broken", "draft_zone": draft})
    assert response.status_code == 303
    page = client.get(response.headers["location"] + "?lang=nl").text
    records = page[page.index('<dl class="records">'):]
    records = records[:records.index("</dl>")]
    result = client.get("/api/check", params={"domain": "webwinkel.example", "lang": "nl"}).json()
    mx = next(r for r in result["records"] if r["type"] == "MX")
    assert f"<dt>MX — {mx['name']}</dt>" in records and html.escape(mx["values"][0]) in records
    assert "<dt>TXT — broken._domainkey.webwinkel.example</dt>" in records
    assert "v=DKIM1; k=rsa; p=MIIBIjANBgkq!!" in records
    # No valid key, but a key record: not "(none)", which would contradict the row below.
    dkim = records[records.index("<dt>DKIM</dt>"):]
    assert "geen geldige sleutel" in dkim[:dkim.index("</dd>")]
    assert "<dt>DNSSEC</dt>" in records and "niet gecontroleerd (records uit zonebestanden)" in records
    for raw in ("<dt>verdict</dt>", "<dt>records</dt>", "<dt>dnssec</dt>", "&#34;draft&#34;", '"draft"'):
        assert raw not in records


def test_the_reason_an_unknown_headline_says_is_not_repeated_under_why(client: httpx.Client) -> None:
    message = (DEMO_MESSAGES / "mailing-list-footer.eml").read_bytes()
    api = client.post("/api/explain", params={"lang": "nl"}, content=message).json()
    assert api["verdict"] == "unknown"
    quoted = next(r for r in api["reasons"] if r["in_headline"])
    token = csrf(client, "/explain")
    page = client.post("/explain?lang=nl", data={"csrf_token": token, "message": message.decode()}).text
    assert page.count(html.escape(quoted["text"], quote=False)) == 1
    assert html.escape(api["headline"], quote=False) in page


def test_stored_result_with_probes_and_policy_shows_them_as_rows(client: httpx.Client, web_server: WebServer) -> None:
    """A stored result whose JSON holds what `zegel check --smtp` adds (probes, the MTA-STS policy,
    a DNSSEC chain) renders them as rows in the page's language: the probe's English errors
    said in Dutch, nothing as raw JSON."""
    token = csrf(client)
    saved = client.post("/check/save", data={"csrf_token": token, "domain": "bakkerij.example"})
    stored = web_server.ctx.store.get_sync("check", saved.headers["location"].rsplit("/", 1)[1])
    assert stored is not None
    view = dict(stored.data["views"]["nl"])
    view["json"] = dict(view["json"], mta_sts_policy="version: STSv1\nmode: enforce\nmx: mx1.mailprovider.example\n",
                        dnssec={"state": "secure", "chain": ["bakkerij.example DS 12345 13 2 AB12"],
                                "mx": {"mx1.mailprovider.example": "insecure"}},
                        smtp=[{"host": "mx1.mailprovider.example", "address": "192.0.2.25", "starttls": False,
                               "version": "", "cipher": "", "error": "no answer within 5 seconds",
                               "certificate_error": ""},
                              {"host": "mx2.mailprovider.example", "address": "192.0.2.26", "starttls": True,
                               "version": "TLSv1.3", "cipher": "TLS_AES_256_GCM_SHA384", "error": "",
                               "certificate_error": "certificate has expired"}])
    key = web_server.ctx.store.put_sync("check", {"views": {"nl": view}}, 3600)
    page = client.get(f"/check/r/{key}?lang=nl").text
    records = page[page.index('<dl class="records">'):]
    records = records[:records.index("</dl>")]
    assert "<dt>MTA-STS-beleid</dt>" in records and "mode: enforce" in records
    assert "ondertekend en gevalideerd" in records and "bakkerij.example DS 12345 13 2 AB12" in records
    assert "<code>mx1.mailprovider.example</code>: niet ondertekend" in records
    assert "geen STARTTLS (geen antwoord binnen 5 seconden)" in records
    assert "TLSv1.3 TLS_AES_256_GCM_SHA384 — het certificaat is verlopen" in records
    assert "<dt>smtp</dt>" not in records and "<dt>mta_sts_policy</dt>" not in records
