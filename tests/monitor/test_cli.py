"""``zegel monitor`` (add, list, --once, history, remove) and ``zegel web adduser/token``,
on a zone file and a data directory."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result

from zegel.cli import cli

ZONE = """\
shop.example. 300 IN TXT "v=spf1 ip4:192.0.2.10 -all"
shop.example. 300 IN MX 10 mail.shop.example.
mail.shop.example. 300 IN A 192.0.2.10
_dmarc.shop.example. 300 IN TXT "v=DMARC1; p=reject"
"""


def zegel(*args: str, stdin: str = "") -> Result:
    """The ``zegel`` command in this process (what ``python -m zegel`` runs), output captured."""
    return CliRunner().invoke(cli, list(args), input=stdin)


def test_monitor_commands(tmp_path: Path) -> None:
    zone = tmp_path / "shop.zone"
    zone.write_text(ZONE)
    data = ["--data-dir", str(tmp_path)]
    empty = zegel("monitor", *data, "list")
    assert empty.exit_code == 0 and empty.stdout == "" and "no domain is watched yet" in empty.stderr
    added = zegel("monitor", *data, "add", "Shop.Example.", "--email", "owner@shop.example", "--every", "1h")
    assert added.exit_code == 0 and added.stdout.strip() == "watching shop.example"
    assert zegel("monitor", *data, "list").stdout.strip() == "shop.example  every 60 min  not checked yet  due now"
    once = zegel("monitor", *data, "--zone", str(zone), "--offline", "--no-reports", "--once")
    assert once.exit_code == 0, once.stderr
    assert "0 alert(s)" in once.stderr
    assert "  next 2" in zegel("monitor", *data, "list").stdout  # checked: its next check is an hour on
    listed = json.loads(zegel("monitor", *data, "list", "--json").stdout)
    assert listed[0]["domain"] == "shop.example" and listed[0]["grade"] in ("A", "B")
    assert listed[0]["interval"] == 3600 and listed[0]["emails"] == ["owner@shop.example"]
    history = json.loads(zegel("monitor", "history", "shop.example", "--json", *data).stdout)  # options after, too
    assert len(history["runs"]) == 1
    assert {"area": "spf", "kind": "added", "before": "", "after": "v=spf1 ip4:192.0.2.10 -all"} in history["runs"][0]["diff"]
    text = zegel("monitor", *data, "history", "shop.example").stdout
    assert "+ spf: v=spf1 ip4:192.0.2.10 -all" in text
    assert zegel("monitor", *data, "remove", "shop.example").exit_code == 0
    gone = zegel("monitor", *data, "remove", "shop.example")
    assert gone.exit_code == 1 and "not watched" in gone.stderr


def test_monitor_usage_errors(tmp_path: Path) -> None:
    for args, message in ((["add", "not a domain"], "zegel: not a domain:"),
                          (["add", "shop.example", "--every", "soon"], "--every"),
                          (["add", "shop.example", "--webhook", "ftp://x"], "--webhook")):
        result = zegel("monitor", "--data-dir", str(tmp_path), *args)
        assert result.exit_code == 2 and result.stderr.startswith("zegel: ") and message in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


def test_web_adduser_and_token(tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path)]
    made = zegel("web", "adduser", "alice", *data, "--domain", "shop.example", stdin="a long enough password\n")
    assert made.exit_code == 0 and "user alice saved with access to shop.example" in made.stderr
    assert zegel("web", "adduser", "bob", *data, stdin="").exit_code == 2
    assert zegel("web", "adduser", "carol", *data, stdin="short\n").exit_code == 2
    token = zegel("web", "token", "alice", *data, "--label", "ci")
    assert token.exit_code == 0 and token.stdout.startswith("zgl_")
    assert zegel("web", "token", "nobody", *data).exit_code == 2

    from zegel.accounts import open_accounts

    accounts = open_accounts(None, tmp_path)
    try:
        me = accounts.token_identity(token.stdout.strip())
        assert me is not None and me.name == "alice" and me.domains == frozenset({"shop.example"})
        assert accounts.authenticate("alice", "a long enough password") is not None
    finally:
        accounts.close()
