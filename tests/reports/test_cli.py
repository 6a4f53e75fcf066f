"""The ``zegel reports`` command: exit codes, one-line rejections, output formats."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

from click.testing import CliRunner

from zegel.cli import cli
from zegel.reports.corpus import as_gzip, make_report
from zegel.reports.model import Outcome
from zegel.reports.store import open_store


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_ingest_and_summary(tmp_path: Path) -> None:
    rng = random.Random(2)
    _, xml = make_report("outlook", rng, index=1, records=5, domain="example.com",
                         begin=int(time.time()) - 5 * 86400 - 1)
    (tmp_path / "good.xml.gz").write_bytes(as_gzip(xml))
    (tmp_path / "bad.xml").write_bytes(b"<feedback><oops>")
    data = str(tmp_path / "data")
    code, out, err = run("reports", "ingest", "--data-dir", data, str(tmp_path / "good.xml.gz"), str(tmp_path / "bad.xml"))
    assert code == 1
    assert err.count("\n") == 1 and err.startswith(f"zegel: rejected {tmp_path / 'bad.xml'}: not well-formed XML")
    assert "1 stored (1 aggregate), 0 duplicate(s), 1 rejected" in out
    code, out, err = run("reports", "ingest", "--data-dir", data, str(tmp_path / "good.xml.gz"))
    assert code == 0 and "1 duplicate(s)" in out

    code, out, _ = run("reports", "summary", "--data-dir", data, "--domain", "example.com", "--no-ptr", "--json")
    summary = json.loads(out)
    assert code == 0 and summary["reports"] == 1 and summary["messages"] > 0 and summary["sources"]
    code, out, _ = run("reports", "summary", "--data-dir", data, "--domain", "example.com", "--no-ptr", "--csv")
    lines = out.strip().splitlines()
    assert lines[0].startswith("source_ip,ptr,reporter,messages") and len(lines) == 1 + len(summary["sources"])
    code, out, _ = run("reports", "summary", "--data-dir", data, "--domain", "example.com", "--no-ptr", "--lang", "nl")
    assert code == 0 and "example.com" in out
    code, out, _ = run("reports", "summary", "--data-dir", data, "--domain", "example.com", "--since", "1d", "--no-ptr",
                       "--json")
    assert json.loads(out)["messages"] == 0
    # --json prints every source; --limit/--offset print one page of them, as the API does.
    assert summary["sources_total"] == len(summary["sources"]) and summary["next_offset"] is None
    pages, offset = [], 0
    while offset is not None:
        code, out, _ = run("reports", "summary", "--data-dir", data, "--domain", "example.com", "--no-ptr", "--json",
                           "--limit", "2", "--offset", str(offset))
        page = json.loads(out)
        assert code == 0 and len(page["sources"]) <= 2 and page["sources_total"] == summary["sources_total"]
        assert page["messages"] == summary["messages"]
        pages.extend(page["sources"])
        offset = page["next_offset"]
    assert pages == summary["sources"]


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    for args in (["reports", "ingest", "--data-dir", data],
                 ["reports", "ingest", "--data-dir", data, "x.xml", "--maildir", str(tmp_path)],
                 ["reports", "ingest", "--data-dir", data, str(tmp_path / "missing.xml")],
                 ["reports", "summary", "--data-dir", data, "--domain", "example.com", "--since", "soon"],
                 ["reports", "summary", "--data-dir", data, "--domain", "example.com", "--json", "--csv"],
                 ["reports", "summary", "--data-dir", data, "--domain", "example.com", "--limit", "5"],
                 ["reports", "send", "--data-dir", data]):
        code, _, err = run(*args)
        assert code == 2, args
        assert err.startswith("zegel: ") and err.count("\n") == 1, (args, err)


def test_send_dry_run(tmp_path: Path) -> None:
    data = tmp_path / "data"
    store = open_store(None, data)
    yesterday = int(time.time()) // 86400 * 86400 - 86400
    store.add_outcomes([Outcome(time=yesterday + 60, source_ip="192.0.2.1", header_from="example.com",
                                dmarc_result="fail", policy_domain="example.com",
                                policy_record="v=DMARC1; p=reject; rua=mailto:dmarc@example.com",
                                policy="reject", disposition="reject")])
    store.close()
    zone = tmp_path / "empty.zone"
    zone.write_text("$ORIGIN example.com.\n$TTL 60\n@ IN TXT \"v=spf1 -all\"\n")
    out = tmp_path / "out"
    code, stdout, _ = run("reports", "send", "--data-dir", str(data), "--org-name", "RX", "--org-email",
                          "dmarc@rx.example", "--dry-run", str(out), "--zone", str(zone), "--offline", "--json")
    assert code == 0
    result = json.loads(stdout)
    assert result["reports"] == 1 and [d["status"] for d in result["deliveries"]] == ["dry-run"]
    assert len(list(out.iterdir())) == 1


def test_suppressions(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    code, out, _ = run("reports", "suppressions", "--data-dir", data, "--add", "Gone@Example.NET")
    assert code == 0 and out == "gone@example.net\tadded by hand\n"
    code, out, err = run("reports", "suppressions", "--data-dir", data, "--remove", "gone@example.net",
                         "--remove", "other@example.net", "--json")
    assert code == 0 and json.loads(out) == [] and "other@example.net was not suppressed" in err
    assert run("reports", "suppressions", "--data-dir", data, "--add", "not an address")[0] == 2
