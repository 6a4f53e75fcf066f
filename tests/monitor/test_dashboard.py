"""Dashboard queries on a real reports store: senders with their fix, the timeline, readiness,
filters, drill-down, exports, and the rollup counting each report once."""

from __future__ import annotations

import csv
import io
import json
import threading
from pathlib import Path

from tests.monitor.conftest import DAY, add_report, record
from zegel.monitor import dashboard
from zegel.monitor.dashboard import Filters
from zegel.reports.store import ReportStore, open_store

START = 1_790_035_200  # a UTC midnight


def _store(tmp_path: Path) -> ReportStore:
    store = dashboard.prepare(open_store(None, tmp_path))
    own = record("192.0.2.10", 900, dkim=("shop.example", "pass"), spf=("shop.example", "pass"),
                 envelope_from="shop.example", dkim_eval="pass", spf_eval="pass")
    esp = record("198.51.100.7", 80, dkim=("mcsv.example", "pass"), spf=("bounce.mcsv.example", "pass"),
                 envelope_from="bounce.mcsv.example")
    crm = record("198.51.100.9", 40, spf=("crm-bounces.example", "pass"), envelope_from="crm-bounces.example")
    spoof = record("203.0.113.66", 20)
    add_report(store, "shop.example", "a1", START, [own, esp, spoof], org="Reporter A")
    add_report(store, "shop.example", "b1", START + DAY, [own, crm], org="Reporter B")
    add_report(store, "other.example", "o1", START, [record("192.0.2.99", 7)], org="Reporter A")
    return store


def test_senders_grouped_with_what_each_failing_sender_must_fix(tmp_path: Path) -> None:
    store = _store(tmp_path)
    listed = {s.name: s for s in dashboard.senders(store, Filters("shop.example", START))}
    assert set(listed) == {"shop.example", "bounce.mcsv.example", "crm-bounces.example", "203.0.113.66"}
    assert listed["shop.example"].messages == 1800 and listed["shop.example"].fix == "Passes DMARC; nothing to fix."
    esp = listed["bounce.mcsv.example"]
    assert (esp.messages, esp.failing, esp.dkim_domain) == (80, 80, "mcsv.example")
    assert "Signs with DKIM for mcsv.example, not for shop.example" in esp.fix
    assert "use a bounce address in shop.example" in listed["crm-bounces.example"].fix
    assert "spoofing" in listed["203.0.113.66"].fix
    dutch = {s.name: s for s in dashboard.senders(store, Filters("shop.example", START), lang="nl")}
    assert "stel DKIM voor shop.example in" in dutch["bounce.mcsv.example"].fix


def test_timeline_filters_and_readiness(tmp_path: Path) -> None:
    store = _store(tmp_path)
    points = dashboard.timeline(store, Filters("shop.example", START))
    assert [(p.day, p.messages, p.dmarc_pass) for p in points] == [(START, 1000, 900), (START + DAY, 940, 900)]
    only_b = Filters("shop.example", START, reporter="Reporter B")
    assert [p.messages for p in dashboard.timeline(store, only_b)] == [940]
    first_day = Filters("shop.example", START, until=START + DAY)
    assert {s.name for s in dashboard.senders(store, first_day)} == {"shop.example", "bounce.mcsv.example",
                                                                    "203.0.113.66"}
    ready = dashboard.readiness(store, Filters("shop.example", START))
    assert ready.next_step == "fix-sources" and ready.policy == "none"
    assert [s.name for s in ready.blocking] == ["bounce.mcsv.example", "crm-bounces.example"]
    assert (ready.messages, ready.spoofed) == (1940, 20)
    assert dashboard.reporters(store, "shop.example", START) == [("Reporter A", 1), ("Reporter B", 1)]


def test_drill_down_and_exports(tmp_path: Path) -> None:
    store = _store(tmp_path)
    rows = dashboard.sender_records(store, Filters("shop.example", START), "bounce.mcsv.example")
    assert len(rows) == 1 and rows[0]["source_ip"] == "198.51.100.7" and rows[0]["reporter"] == "Reporter A"
    assert rows[0]["dkim_results"][0][:3] == ["mcsv.example", "s1", "pass"]
    text = "".join(dashboard.export_records(store, Filters("shop.example", START), "csv"))
    table = list(csv.reader(io.StringIO(text)))
    assert table[0] == list(dashboard.RECORD_COLUMNS) and len(table) == 6
    lines = "".join(dashboard.export_records(store, Filters("shop.example", START), "json")).splitlines()
    assert len(lines) == 5 and all(json.loads(line)["report_id"] in ("a1", "b1") for line in lines)
    assert "other.example" not in text


def test_rollup_counts_each_report_once_with_concurrent_refreshers(tmp_path: Path) -> None:
    store = _store(tmp_path)
    for n in range(20):
        add_report(store, "shop.example", f"c{n}", START + 2 * DAY, [record("192.0.2.50", 10)], org="Reporter C")
    threads = [threading.Thread(target=dashboard.refresh, args=(store,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert dashboard.refresh(store) == 0
    total = sum(p.messages for p in dashboard.timeline(store, Filters("shop.example", START)))
    assert total == 1940 + 200
