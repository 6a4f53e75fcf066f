"""``zegel check`` end to end: exit status, JSON, JSON lines in bulk, HTML, draft zones, bad arguments."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from zegel.cli import cli

from .conftest import ZONE_FILES

ZONES = [arg for path in ZONE_FILES for arg in ("--zone", path)]


def run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["check", *args], input=stdin, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_clean_domain_exits_0_and_prints_report() -> None:
    code, out, _ = run("good.example", *ZONES, "--offline")
    assert code == 0
    assert "good.example" in out and "Grade A" in out
    assert "include:_spf.provider.example [1]" in out  # the SPF tree


def test_error_finding_exits_1() -> None:
    code, out, _ = run("good.example", "deep.example", *ZONES, "--offline")
    assert code == 1
    assert out.index("good.example") < out.index("deep.example")  # the order given


def test_json_one_object_per_line() -> None:
    code, out, _ = run("dmarc-norua.example", "parked.example", *ZONES, "--offline", "--json")
    assert code == 0
    objects = [json.loads(line) for line in out.splitlines()]
    assert [o["domain"] for o in objects] == ["dmarc-norua.example", "parked.example"]
    for obj in objects:
        assert list(obj)[:4] == ["domain", "grade", "protected", "findings"]
        for finding in obj["findings"]:
            assert list(finding)[:4] == ["severity", "code", "message", "fix"]
    assert objects[1]["protected"] is True and objects[1]["grade"] == "A"


def test_dutch_output() -> None:
    code, out, _ = run("nothing.example", *ZONES, "--offline", "--lang", "nl")
    assert code == 1
    assert "Beschermd tegen vervalsing?" in out and "Oplossing" in out


def test_bulk_json_lines_and_broken_entries(tmp_path: Path) -> None:
    listing = tmp_path / "domains.txt"
    listing.write_text("# my domains\ngood.example\n\nnot a domain\nparked.example, some note\n"
                       "missing.example\nMÜNCHEN-TEST.example.\n", encoding="utf-8")
    code, out, err = run("--from-file", str(listing), *ZONES, "--offline", "--concurrency", "2")
    assert code == 1  # invalid and missing domains are errors
    objects = {o["domain"]: o for o in map(json.loads, out.splitlines())}
    assert sorted(objects) == ["good.example", "missing.example", "münchen-test.example", "not",
                               "parked.example"]
    assert objects["not"]["findings"][0]["code"] == "domain.invalid"  # "not a domain": first field
    assert objects["missing.example"]["findings"][0]["code"] == "domain.not-found"
    assert err == ""  # no progress bar when stderr is not a terminal


def test_bulk_from_stdin() -> None:
    code, out, _ = run("--from-file", "-", *ZONES, "--offline", stdin="parked.example\ngood.example\n")
    assert code == 0
    assert sorted(json.loads(line)["domain"] for line in out.splitlines()) == ["good.example", "parked.example"]


def test_html_report_is_self_contained(tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    code, _, err = run("deep.example", "third-party.example", *ZONES, "--offline", "--html", str(target),
                       "--lang", "nl")
    assert code == 1
    assert "report.html" in err
    page = target.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and '<html lang="nl">' in page
    # No scripts, no external resources, no links out (URLs appear only as text in records).
    assert "<script" not in page and "<link" not in page and "src=" not in page and 'href="http' not in page
    assert "spf.too-many-lookups" in page and "include:d1.chain.example [10]" in page
    assert "deep.example. TXT &quot;v=spf1 mx a include:d1.chain.example -all&quot;" in page


def test_draft_zone_overrides_live_dns(dns_server, tmp_path: Path) -> None:
    live = dns_server({"shop.example": [("TXT", "v=spf1 include:_spf.gone.example +all"), ("MX", (10, "mx.shop.example"))],
                       "mx.shop.example": [("A", "192.0.2.25")],
                       "_dmarc.shop.example": [("TXT", "v=DMARC1; p=none")]})
    code, out, _ = run("shop.example", "--dns", live.address, "--json", "--timeout", "0.5")
    live_codes = {f["code"] for f in json.loads(out)["findings"]}
    assert code == 1 and {"spf.pass-all", "spf.include-no-record", "dmarc.policy-none"} <= live_codes
    draft = tmp_path / "draft.zone"
    draft.write_text('shop.example. 300 IN TXT "v=spf1 mx -all"\n'
                     '_dmarc.shop.example. 300 IN TXT "v=DMARC1; p=reject; rua=mailto:d@shop.example"\n')
    code, out, _ = run("shop.example", "--dns", live.address, "--zone", str(draft), "--json", "--timeout", "0.5")
    draft_codes = {f["code"] for f in json.loads(out)["findings"]}
    assert code == 0
    assert not {"spf.pass-all", "spf.include-no-record", "dmarc.policy-none"} & draft_codes
    assert "dmarc.policy-reject" in draft_codes


def test_bad_arguments_exit_2_with_one_line(tmp_path: Path) -> None:
    broken = tmp_path / "broken.zone"
    broken.write_text("example.test. 300 IN MX notanumber mx.example.test.\n")
    long_string = tmp_path / "long.zone"
    long_string.write_text('example.test. 300 IN TXT "v=spf1 ' + "ip4:192.0.2.1 " * 20 + '-all"\n')
    for args in ([], ["x.example", "--lang", "fr"], ["x.example", "--concurrency", "0"],
                 ["x.example", "--no-such-option"], ["--from-file", str(tmp_path / "missing.txt")],
                 ["x.example", "--zone", str(broken)], ["x.example", "--zone", str(long_string)],
                 ["x.example", "--dns", "not-an-ip"]):
        code, _out, err = run(*args)
        assert code == 2, args
        assert err.startswith("zegel: ") and err.count("\n") == 1, (args, err)
    _, _, err = run("x.example", "--zone", str(long_string))
    assert "255 characters" in err and "long.zone" in err


def test_help() -> None:
    code, out, _ = run("--help")
    assert code == 0
    assert "--from-file" in out and "zegel spf --zone draft.zone" in out


def test_csv_output_one_row_per_finding() -> None:
    import csv
    import io

    code, out, _ = run("bad-ts.example", "good.example", *ZONES, "--offline", "--csv")
    assert code == 1
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["domain", "grade", "protected", "severity", "code", "message", "fix", "record"]
    assert {row[0] for row in rows[1:]} == {"bad-ts.example", "good.example"}
    assert any(row[4] == "tlsrpt.syntax" and row[7].startswith("_smtp._tls.bad-ts.example. TXT") for row in rows)


def test_selector_for_one_domain_and_url_input() -> None:
    code, out, _ = run("https://good.example/", "dmarc-norua.example", *ZONES, "--offline", "--json",
                       "--selector", "good.example:nosuch")
    assert code == 1  # the named selector is missing: an error
    objects = [json.loads(line) for line in out.splitlines()]
    codes = [{f["code"] for f in o["findings"]} for o in objects]
    assert objects[0]["domain"] == "good.example" and objects[0]["input"] == "https://good.example/"
    assert "domain.from-url" in codes[0] and "dkim.selector-missing" in codes[0]
    assert "dkim.selector-missing" not in codes[1]


def test_new_options_reject_bad_values() -> None:
    for args, message in ((["--connect-to", "x"], "HOST:PORT:ADDRESS:PORT"),
                          (["--selector", ":s1"], "DOMAIN:SELECTOR"),
                          (["--json", "--csv"], "exclude each other"),
                          (["--cafile", "/nonexistent/ca.pem"], "--cafile")):
        code, _, err = run("good.example", "--offline", *args)
        assert code == 2 and err.startswith("zegel: ") and message in err and err.count("\n") == 1


def test_dns_only_keeps_the_old_report() -> None:
    _, out, _ = run("good.example", *ZONES, "--offline", "--json", "--dns-only")
    codes = {f["code"] for f in json.loads(out)["findings"]}
    assert not any(c.split(".")[0] in ("mta-sts", "tlsrpt", "bimi", "dnssec", "dane") for c in codes)
