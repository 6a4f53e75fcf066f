"""Every journey in a real browser (Debian's chromium driven by Playwright; no browser
download), in English and Dutch, at desktop and phone widths, with an axe-core accessibility
check on each page. Screenshots go to $ZEGEL_SCREENSHOTS or the pytest temporary directory."""

from __future__ import annotations

import os
import re
import smtplib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import require, require_tool
from tests.web.conftest import DEMO_MESSAGES, WebServer
from tests.web.test_http import FORGED_PHISH
from zegel.web.i18n import MESSAGES

AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
VIEWPORTS: dict[str, dict[str, Any]] = {
    "desktop": {"viewport": {"width": 1280, "height": 900}},
    "phone": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2},
}
LANGS = ("en", "nl")


def text(key: str, lang: str, **params: str) -> str:
    template = MESSAGES[key][lang]
    return template.format(**params) if params else template


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    chromium = require_tool("chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - playwright is a dev dependency
        require(False, "playwright not installed (pip install playwright)")
        raise
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = Path(os.environ.get("ZEGEL_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def new_page(browser: Any, device: str, lang: str, *, javascript: bool = True) -> Any:
    context = browser.new_context(locale="nl-NL" if lang == "nl" else "en-GB", java_script_enabled=javascript,
                                  **VIEWPORTS[device])
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.console_errors = errors  # CSP violations are reported as console errors
    return page


def check_accessibility(page: Any) -> None:
    """axe-core, run through the DevTools protocol (the page's CSP allows no injected script tag)."""
    page.evaluate(AXE.read_text(encoding="utf-8") + "\n;0")
    results = page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations")
    serious = [f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
               for v in results if v.get("impact") in ("serious", "critical")]
    assert not serious, "\n".join(serious)


def finish(page: Any, shots: Path, name: str) -> None:
    page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
    assert not [e for e in page.console_errors if "Content Security Policy" in e], page.console_errors
    check_accessibility(page)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), "horizontal overflow"
    page.context.close()


@pytest.mark.parametrize("device", VIEWPORTS)
@pytest.mark.parametrize("lang", LANGS)
def test_check_a_domain_from_a_zone(browser: Any, web_server: WebServer, shots: Path, lang: str, device: str) -> None:
    expected = httpx.get(f"{web_server.url}/api/check", params={"domain": "webwinkel.example", "lang": lang}).json()
    page = new_page(browser, device, lang)
    page.goto(f"{web_server.url}/")
    assert page.get_attribute("html", "lang") == lang  # from Accept-Language
    page.fill("#home-domain", "webwinkel.example")
    page.click("form.hero button[type=submit]")
    result = page.locator("#result")
    result.wait_for()
    assert result.get_attribute("data-grade") == expected["grade"]
    # The question is the one the verdict sentence answers, and the answer shown is the
    # sentence's own ("Not fully: the DMARC policy ... is weakened (pct=25) ..."): the two
    # cannot disagree (the page used to ask "can faked mail be delivered?" and answer "Yes"
    # above a sentence starting "No:").
    assert expected["protected"] is False
    answer, _, explanation = expected["verdict"].partition(": ")
    assert answer == {"en": "Not fully", "nl": "Niet helemaal"}[lang]
    assert page.locator(".verdict .question").inner_text().startswith(text("check.question", lang))
    assert page.locator(".verdict .answer").inner_text() == answer
    assert page.locator(".verdict .explanation").inner_text() == explanation
    assert page.locator("svg.tree").is_visible()
    lookups = page.locator("figure.spf").get_attribute("data-lookups")
    assert page.locator("figure.spf figcaption").inner_text().startswith(text("check.spf.bar", lang, lookups=lookups))
    assert page.locator(".finding").count() == len(expected["findings"])
    # Records checked: a row per record read and the DNSSEC state in words, no JSON key names.
    terms = page.locator("dl.records dt").all_inner_texts()
    mx = next(r for r in expected["records"] if r["type"] == "MX")
    assert f"MX — {mx['name']}" in terms and "DNSSEC" in terms
    assert not {"verdict", "records", "dnssec"} & set(terms)
    assert text(f"check.dnssec.{expected['dnssec']['state']}", lang) in page.locator("dd.dnssec").inner_text()
    finish(page, shots, f"check-{lang}-{device}")


@pytest.mark.parametrize("device", VIEWPORTS)
@pytest.mark.parametrize("lang", LANGS)
def test_draft_record(browser: Any, web_server: WebServer, shots: Path, lang: str, device: str) -> None:
    page = new_page(browser, device, lang)
    page.goto(f"{web_server.url}/check?lang={lang}")
    page.click("text=" + text("check.draft", lang))
    page.fill("#draft-domain", "bakkerij.example")
    page.fill("#draft-dmarc", "v=DMARC1; p=reject; rua=mailto:dmarc@bakkerij.example")
    page.click("#draft-form button[type=submit]")
    page.locator("#result").wait_for()
    assert re.search(r"/check/r/[a-z0-9]+", page.url)
    assert page.locator("#result").get_attribute("data-protected") == "true"
    assert page.locator(".badge").inner_text() == text("check.draft.badge", lang)
    from zegel.audit.findings import Texts

    reject = Texts(lang).phrase("verdict.reject", domain="bakkerij.example")  # type: ignore[arg-type]
    assert page.locator(".verdict .answer").inner_text() == reject.partition(": ")[0]  # "Yes" / "Ja"
    assert page.locator(".verdict .explanation").inner_text() == reject.partition(": ")[2]
    assert page.get_attribute("html", "lang") == lang
    finish(page, shots, f"draft-{lang}-{device}")


@pytest.mark.parametrize("device", VIEWPORTS)
@pytest.mark.parametrize("lang", LANGS)
def test_forged_header_phish(browser: Any, web_server: WebServer, shots: Path, lang: str, device: str) -> None:
    verdict = httpx.post(f"{web_server.url}/api/explain", params={"lang": lang}, content=FORGED_PHISH).json()
    state = {True: "true", False: "false", None: "none"}[verdict["authenticated"]]
    # forged: the receiving server, just above its Received field, said dmarc=fail
    assert state == "false" and verdict["verdict"] == "suspicious"
    page = new_page(browser, device, lang)
    page.goto(f"{web_server.url}/explain?lang={lang}")
    page.fill("#message", FORGED_PHISH.decode())
    page.click("#explain-form button[type=submit]")
    result = page.locator("#result")
    result.wait_for()
    assert result.get_attribute("data-authenticated") == state
    shown = page.locator(".verdict .answer").inner_text()
    assert shown == verdict["headline"]
    assert shown.startswith({"en": "Not authenticated", "nl": "Niet "}[lang])
    if isinstance(verdict.get("verdict"), str):
        assert result.get_attribute("data-verdict") == verdict["verdict"]
    # Under "why": every reason the headline does not already say, in order.
    assert page.locator(".verdict ul li").all_inner_texts() == [
        r["text"] for r in verdict["reasons"] if not r["in_headline"]]
    # The verdict comes first, then the servers on the way.
    html = page.content()
    assert html.index('id="verdict-title"') < html.index(text("explain.hops", lang))
    finish(page, shots, f"explain-{lang}-{device}")


@pytest.mark.parametrize("device", VIEWPORTS)
@pytest.mark.parametrize("lang", LANGS)
def test_mail_tester_report_appears(browser: Any, web_server: WebServer, shots: Path, lang: str, device: str) -> None:
    page = new_page(browser, device, lang)
    page.goto(f"{web_server.url}/tester?lang={lang}")
    page.click("#tester-form button[type=submit]")
    address = page.locator("#tester-address").inner_text().strip()
    assert re.fullmatch(r"test-[a-z0-9]+@zegel\.test", address)
    page.locator("#tester-wait").wait_for()
    with smtplib.SMTP(*web_server.smtp, timeout=20) as smtp:
        smtp.ehlo("mail.bakkerij-jansen.nl")
        smtp.sendmail("info@bakkerij-jansen.nl", [address], (DEMO_MESSAGES / "genuine.eml").read_bytes())
    result = page.locator("#result")
    result.wait_for(timeout=20_000)  # the script polls the API and reloads when the result is in
    assert result.get_attribute("data-dmarc") == "pass"
    assert page.locator("#report-title").inner_text() == text("tester.report", lang)
    # The policy's reason in the page's language (from 127.0.0.1 SPF fails, but no rule acts on it).
    api = httpx.get(f"{web_server.url}/api/tester/{page.url.split('/tester/')[1].split('?')[0]}",
                    params={"lang": lang}).json()["result"]
    assert api["action_reason"] == {"en": "no local policy rule applies",
                                    "nl": "geen regel van het lokale beleid is van toepassing"}[lang]
    assert api["action_reason"] in page.locator("#result .verdict").inner_text()
    finish(page, shots, f"tester-{lang}-{device}")


def test_journeys_without_javascript(browser: Any, web_server: WebServer, shots: Path) -> None:
    page = new_page(browser, "desktop", "nl", javascript=False)
    page.goto(f"{web_server.url}/check?domain=geparkeerd.example")
    assert page.locator("#result").get_attribute("data-grade") == "A"
    page.goto(f"{web_server.url}/tester")
    page.click("#tester-form button[type=submit]")
    address = page.locator("#tester-address").inner_text().strip()
    with smtplib.SMTP(*web_server.smtp, timeout=20) as smtp:
        smtp.sendmail("billing@bakkerij-jansen.nl", [address], (DEMO_MESSAGES / "spoofed.eml").read_bytes())
    page.locator("#result").wait_for(timeout=20_000)  # <noscript> meta refresh
    assert page.locator("#result").get_attribute("data-dmarc") == "fail"
    page.screenshot(path=str(shots / "tester-nojs-nl-desktop.png"), full_page=True)
    page.context.close()


@pytest.mark.parametrize("path", ["/", "/tools", "/api", "/no-such-page", "/tester", "/check?domain=bakkerij.example&lang=nl", "/explain?sample=lookalike-received.eml"])
def test_other_pages_accessible(browser: Any, web_server: WebServer, shots: Path, path: str) -> None:
    page = new_page(browser, "phone", "en")
    page.goto(web_server.url + path)
    name = re.sub(r"[^a-z0-9]+", "-", path.strip("/").lower()) or "home"
    finish(page, shots, f"page-{name}")


def test_tools_in_the_browser(browser: Any, web_server: WebServer, shots: Path) -> None:
    page = new_page(browser, "desktop", "nl")
    page.goto(f"{web_server.url}/tools?lang=nl")
    page.fill("#dkim-domain", "voorbeeld.nl")
    page.fill("#dkim-selector", "s2026")
    page.check("#dkim-type-ed25519")
    page.click("#dkim-form button[type=submit]")
    assert page.locator("#dkim-record").inner_text().startswith("v=DKIM1; k=ed25519; p=")
    with page.expect_download() as download:
        page.click("#dkim-download button")
    assert download.value.suggested_filename == "s2026.voorbeeld.nl.pem"
    page.fill("#spf-domain", "webwinkel.example")
    page.fill("#spf-includes", "_spf.mailprovider.example")
    page.click("#spf-form button[type=submit]")
    assert page.locator("#spf-result").get_attribute("data-lookups") == "5"
    page.fill("#dmarc-domain", "voorbeeld.nl")
    page.check("#dmarc-p-quarantine")
    page.click("#dmarc-form button[type=submit]")
    assert page.locator("#dmarc-record").inner_text() == "v=DMARC1; p=quarantine"
    finish(page, shots, "tools-nl-desktop")


@pytest.mark.parametrize("lang", LANGS)
def test_bulk_check_shows_progress(browser: Any, web_server: WebServer, shots: Path, tmp_path: Path, lang: str) -> None:
    listing = tmp_path / "domains.txt"
    listing.write_text("webwinkel.example\nbakkerij.example\ngeparkeerd.example\n", encoding="utf-8")
    page = new_page(browser, "desktop", lang)
    page.goto(f"{web_server.url}/check?lang={lang}")
    page.click("text=" + text("check.bulk", lang))
    page.set_input_files("#bulk-list", str(listing))
    page.click("#bulk-form button[type=submit]")
    page.locator("#bulk[data-finished=true]").wait_for(timeout=20_000)
    assert page.locator("#bulk-rows tr").count() == 3
    assert page.locator("#bulk-status").inner_text().startswith(text("check.bulk.progress", lang, done="3", total="3"))
    assert page.locator("svg.chart").is_visible()
    finish(page, shots, f"bulk-{lang}-desktop")
