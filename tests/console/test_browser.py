"""The console's journeys in a real browser (Debian's chromium through Playwright, no browser
download): log in, open a domain, follow a failing sender to its fix, watch a domain, and see
an alert after a record changes in the test zone; one customer cannot open another's domain."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import require_tool
from tests.console.conftest import PASSWORDS, Console
from tests.web.test_browser import check_accessibility
from zegel.dns import Resolver
from zegel.monitor import Mailer, Monitor, open_monitor
from zegel.reports.store import open_store


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    chromium = require_tool("chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = Path(os.environ.get("ZEGEL_SCREENSHOTS") or tmp_path_factory.mktemp("console-shots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _page(browser: Any, lang: str = "en", phone: bool = False) -> Any:
    options: dict[str, Any] = ({"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
                               if phone else {"viewport": {"width": 1280, "height": 900}})
    context = browser.new_context(locale="nl-NL" if lang == "nl" else "en-GB", **options)
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.console_errors = errors
    return page


def _done(page: Any, shots: Path, name: str) -> None:
    page.screenshot(path=str(shots / f"console-{name}.png"), full_page=True)
    assert not [e for e in page.console_errors if "Content Security Policy" in e], page.console_errors
    check_accessibility(page)


def _login(page: Any, console: Console, name: str, target: str = "/console") -> None:
    page.goto(console.url + target)
    assert "/console/login" in page.url  # the console is private
    page.fill("#name", name)
    page.fill("#password", PASSWORDS[name])
    page.click("form.console-form button[type=submit]")
    page.wait_for_url(console.url + target)


@pytest.mark.parametrize("lang,phone", [("en", False), ("nl", True)])
def test_log_in_open_domain_follow_failing_sender_to_its_fix(browser: Any, console: Console, shots: Path,
                                                             lang: str, phone: bool) -> None:
    page = _page(browser, lang, phone)
    page.goto(console.url + "/console/login")
    page.fill("#name", "alice")
    page.fill("#password", "not the password")
    page.click("form.console-form button[type=submit]")
    assert page.locator("p.error").is_visible()
    _login(page, console, "alice")
    assert page.locator("ul.domains a", has_text="shop.example").count() == 1
    assert "bakery.example" not in page.content()
    _done(page, shots, f"home-{lang}")
    page.click("ul.domains a >> text=shop.example")
    page.wait_for_url("**/console/domain/shop.example")
    assert page.locator("figure.chart svg rect").count() == 2  # two days of reports
    failing = page.locator("table.senders tr.failing", has_text="bounce.mcsv.example")
    fix = "Signs with DKIM for mcsv.example" if lang == "en" else "Ondertekent met DKIM voor mcsv.example"
    assert fix in failing.inner_text()
    verdict = "Not yet" if lang == "en" else "Nog niet"
    assert verdict in page.locator("section.readiness .verdict").inner_text()
    _done(page, shots, f"domain-{lang}")
    # Filter by reporter: Reporter B saw only the domain's own mail.
    page.select_option("#reporter", "Reporter B")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**reporter=Reporter+B**")
    assert page.locator("table.senders tr.failing").count() == 0
    page.go_back()
    page.wait_for_url("**/console/domain/shop.example")
    page.click("table.senders a >> text=bounce.mcsv.example")
    page.wait_for_url("**/sender/bounce.mcsv.example**")
    assert fix in page.locator("section.fix").inner_text()
    assert "198.51.100.7" in page.locator("table").inner_text()
    _done(page, shots, f"sender-{lang}")
    page.context.close()


def test_watch_a_domain_and_see_an_alert_after_a_record_changes(browser: Any, console: Console,
                                                                 shots: Path) -> None:
    page = _page(browser)
    _login(page, console, "alice", "/console/monitor")
    page.fill("#domain", "shop.example")
    page.fill("#emails", "owner@shop.example")
    page.fill("#webhook", console.hook.url)
    page.select_option("#every", "1h")
    page.click("form.console-form button[type=submit]")
    page.wait_for_url("**/console/monitor/shop.example")
    page.click("text=Check now")  # the first run: the baseline
    page.wait_for_url("**/console/monitor/shop.example")
    assert page.locator("section.run").count() == 1
    assert page.locator("ul.diff", has_text="v=spf1 ip4:192.0.2.10 -all").count() == 1
    _done(page, shots, "monitor-first-run")
    # The record changes in the test zone; the scheduler (`zegel monitor`, here on the
    # injected clock) runs when the domain is due and raises the alert.
    console.dns.add({"shop.example": [("TXT", "v=spf1 include:nowhere.example -all")]})
    console.clock.advance(3600)
    store = open_monitor(console.db_url, console.data_dir)
    reports = open_store(console.db_url, console.data_dir)
    monitor = Monitor(store, Resolver([console.dns.address], timeout=1.0), reports=reports,
                      mailer=Mailer("127.0.0.1", console.mail.port, "monitor@zegel.test"), clock=console.clock)
    with ThreadPoolExecutor(1) as pool:  # Playwright's sync API holds this thread's event loop
        raised = pool.submit(asyncio.run, monitor.run_due()).result()
    store.close()
    reports.close()
    assert any(a.kind == "record-broken" for a in raised)
    page.reload()
    alerts = page.locator("ul.alerts").inner_text()
    assert "record-broken" in alerts and "nowhere.example" in alerts
    assert page.locator("ul.diff li.added", has_text="spf: v=spf1 include:nowhere.example -all").count() == 1
    _done(page, shots, "monitor-alert")
    assert {b["kind"] for b in console.hook.bodies} >= {"record-broken"}
    assert any(b"nowhere.example" in raw for _, _, raw in console.mail.messages)
    page.goto(console.url + "/console")
    assert "record-broken" in page.locator("ul.alerts").inner_text()
    page.context.close()


def test_one_customer_cannot_see_another_customers_domain(browser: Any, console: Console) -> None:
    page = _page(browser)
    _login(page, console, "bob")
    for path in ("/console/domain/shop.example", "/console/domain/shop.example/sender/bounce.mcsv.example",
                 "/console/domain/shop.example/export.csv", "/console/domain/shop.example/failures",
                 "/console/monitor/shop.example", "/console/domain/nowhere.example", "/console/audit"):
        response = page.request.get(console.url + path)
        assert response.status == 404, path
        assert "198.51.100.7" not in response.text() and "Reporter A" not in response.text()
    page.goto(console.url + "/console")
    assert "shop.example" not in page.content() and "bakery.example" in page.content()
    page.context.close()
    # The same over the API, with bob's token and without one.
    bob = {"Authorization": f"Bearer {console.tokens['bob']}"}
    api = console.url + "/api/reports/summary?domain=shop.example&since=30d"
    assert httpx.get(api, headers=bob).status_code == 404
    assert httpx.get(api).status_code == 401
    assert httpx.get(api, headers={"Authorization": "Bearer zgl_forged"}).status_code == 401
    assert httpx.get(console.url + "/api/monitor/shop.example", headers=bob).status_code == 404
    created = httpx.post(console.url + "/api/monitor", headers=bob, json={"domain": "shop.example"})
    assert created.status_code == 404
    assert httpx.get(console.url + "/api/reports/summary?domain=bakery.example&since=30d",
                     headers=bob).json()["messages"] == 40
