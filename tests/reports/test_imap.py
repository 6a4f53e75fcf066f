"""`--imap`, `watch` and `--mbox`: reading reports from a mailbox, against real Dovecot with
TLS on loopback (tests/reports/dovecot.py), and against a small cleartext-only IMAP4rev1
server to show that no password is ever sent without TLS."""

from __future__ import annotations

import random
import re
import socketserver
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from tests.conftest import require_tool
from tests.reports.dovecot import Dovecot

from zegel.cli import cli
from zegel.reports.corpus import as_email, as_gzip, make_report
from zegel.reports.ingest import Ingester, ReportError
from zegel.reports.store import open_store


class ImapServer:
    def __init__(self, messages: list[bytes], password: str = "secret") -> None:
        self.messages = messages
        self.seen: set[int] = set()
        self.password = password
        self.commands: list[str] = []
        server = self

        class Handler(socketserver.StreamRequestHandler):
            def reply(self, text: str) -> None:
                self.wfile.write(text.encode() + b"\r\n")

            def handle(self) -> None:
                self.reply("* OK IMAP4rev1 test server ready")
                while line := self.rfile.readline(10000):
                    tag, _, rest = line.decode().rstrip("\r\n").partition(" ")
                    command = rest.upper()
                    server.commands.append(command.split(" ")[0])
                    if command.startswith("CAPABILITY"):
                        self.reply("* CAPABILITY IMAP4rev1")
                        self.reply(f"{tag} OK CAPABILITY completed")
                    elif command.startswith("LOGIN"):
                        ok = rest.split(" ", 2)[2].strip('"') == server.password
                        self.reply(f"{tag} OK LOGIN completed" if ok else f"{tag} NO [AUTHENTICATIONFAILED] bad password")
                    elif command.startswith("SELECT"):
                        self.reply(f"* {len(server.messages)} EXISTS")
                        self.reply(f"{tag} OK [READ-WRITE] SELECT completed")
                    elif command.startswith("UID SEARCH"):
                        uids = [str(i) for i in range(1, len(server.messages) + 1) if i not in server.seen]
                        self.reply("* SEARCH " + " ".join(uids))
                        self.reply(f"{tag} OK SEARCH completed")
                    elif command.startswith("UID FETCH"):
                        uid = int(rest.split()[2])
                        data = server.messages[uid - 1]
                        if "RFC822.SIZE" in command:
                            self.reply(f"* {uid} FETCH (UID {uid} RFC822.SIZE {len(data)})")
                        else:
                            self.wfile.write(f"* {uid} FETCH (UID {uid} BODY[] {{{len(data)}}}\r\n".encode() + data + b")\r\n")
                        self.reply(f"{tag} OK FETCH completed")
                    elif command.startswith("UID STORE"):
                        uid = int(rest.split()[2])
                        server.seen.add(uid)
                        self.reply(f"* {uid} FETCH (FLAGS (\\Seen))")
                        self.reply(f"{tag} OK STORE completed")
                    elif command.startswith("LOGOUT"):
                        self.reply("* BYE logging out")
                        self.reply(f"{tag} OK LOGOUT completed")
                        return
                    else:
                        self.reply(f"{tag} BAD unknown command")

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def mailbox() -> Iterator[ImapServer]:
    rng = random.Random(4)
    messages = []
    for index in range(4):
        stem, xml = make_report("outlook", rng, index=index, records=3, domain="example.com")
        messages.append(as_email(stem, as_gzip(xml), "xml.gz", report_id=stem))
    messages.append(b"From: someone@example.net\r\nSubject: hello\r\n\r\nnot a report\r\n")
    server = ImapServer(messages)
    yield server
    server.close()


def report_messages(count: int = 4) -> list[bytes]:
    rng = random.Random(4)
    messages = []
    for index in range(count):
        stem, xml = make_report("outlook", rng, index=index, records=3, domain="example.com")
        messages.append(as_email(stem, as_gzip(xml), "xml.gz", report_id=stem))
    messages.append(b"From: someone@example.net\r\nSubject: hello\r\n\r\nnot a report\r\n")
    return messages


def test_no_password_in_cleartext(mailbox: ImapServer, tmp_path: Path) -> None:
    """imap:// to a server without STARTTLS: refused before any LOGIN is sent."""
    store = open_store(None, tmp_path)
    with Ingester(store) as ingester, pytest.raises(ReportError, match="cleartext"):
        list(ingester.ingest_imap(f"imap://dmarc@127.0.0.1:{mailbox.port}/INBOX", password="secret"))
    assert "LOGIN" not in mailbox.commands and "AUTHENTICATE" not in mailbox.commands
    with Ingester(store) as ingester, pytest.raises(ReportError, match="not an IMAP URL"):
        list(ingester.ingest_imap("http://example.com/"))
    store.close()


@pytest.fixture(scope="module")
def dovecot() -> Iterator[Dovecot]:
    server = Dovecot(require_tool("dovecot", "dovecot-imapd"))
    yield server
    server.close()


def test_imaps_with_password(dovecot: Dovecot, tmp_path: Path) -> None:
    dovecot.append(*report_messages())
    store = open_store(None, tmp_path)
    url = f"imaps://{dovecot.user}@127.0.0.1:{dovecot.imaps_port}/INBOX"
    with Ingester(store) as ingester:
        results = list(ingester.ingest_imap(url, password=dovecot.password, ca_file=str(dovecot.cert)))
    assert [r.status for r in results] == ["stored"] * 4 + ["rejected"]
    assert all(re.fullmatch(r"imap:INBOX/\d+( \[.*\])?", r.source) for r in results)
    assert all(b"\\Seen" in line for line in dovecot.flags())  # read messages are marked seen
    with Ingester(store) as ingester:  # nothing unseen is left
        assert list(ingester.ingest_imap(url, password=dovecot.password, ca_file=str(dovecot.cert))) == []
    assert store.counts()["agg_reports"] == 4
    with Ingester(store) as ingester, pytest.raises(ReportError, match=r"login as dmarc failed"):
        list(ingester.ingest_imap(url, password="wrong", ca_file=str(dovecot.cert)))
    with Ingester(store) as ingester, pytest.raises(ReportError, match=r"IMAP 127\.0\.0\.1.*(certificate|CERTIFICATE)"):
        list(ingester.ingest_imap(url, password=dovecot.password))  # an untrusted certificate is refused
    store.close()


def test_starttls_and_xoauth2_token_file_through_the_cli(dovecot: Dovecot, tmp_path: Path) -> None:
    rng = random.Random(9)
    stem, xml = make_report("outlook", rng, index=77, records=2, domain="example.org")
    dovecot.append(as_email(stem, as_gzip(xml), "xml.gz", report_id=stem))
    token_file = tmp_path / "token"
    token_file.write_text(dovecot.token + "\n")
    url = f"imap://{dovecot.user}@127.0.0.1:{dovecot.starttls_port}/INBOX"
    data = str(tmp_path / "data")
    args = ["reports", "ingest", "--data-dir", data, "--imap", url, "--imap-ca-file", str(dovecot.cert)]
    result = CliRunner().invoke(cli, [*args, "--oauth2-token-file", str(token_file)], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    assert "1 stored (1 aggregate)" in result.stdout
    result = CliRunner().invoke(cli, [*args, "--oauth2-token-command", "printf not-the-token"], catch_exceptions=False)
    assert result.exit_code == 1 and result.stderr.startswith("zegel: IMAP 127.0.0.1: login as dmarc failed")
    assert result.stderr.count("\n") == 1


def test_watch_once(dovecot: Dovecot, tmp_path: Path) -> None:
    rng = random.Random(10)
    stem, xml = make_report("outlook", rng, index=88, records=2, domain="example.net")
    dovecot.append(as_email(stem, as_gzip(xml), "xml.gz", report_id=stem))
    url = f"imaps://{dovecot.user}@127.0.0.1:{dovecot.imaps_port}/INBOX"
    result = CliRunner(env={"ZEGEL_IMAP_PASSWORD": dovecot.password}).invoke(
        cli, ["reports", "watch", "--data-dir", str(tmp_path), "--imap", url, "--imap-ca-file", str(dovecot.cert),
              "--once"], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    assert "1 stored" in result.stderr
    store = open_store(None, tmp_path)
    assert len(store.report_totals("example.net")) == 1
    store.close()


def test_mbox(tmp_path: Path) -> None:
    mbox = tmp_path / "dmarc.mbox"
    with mbox.open("wb") as out:
        for message in report_messages(3):
            out.write(b"From reporter@example.net Thu Dec  3 10:00:00 2026\n" + message.replace(b"\r\n", b"\n") + b"\n")
    result = CliRunner().invoke(cli, ["reports", "ingest", "--data-dir", str(tmp_path / "d"), "--mbox", str(mbox)],
                                catch_exceptions=False)
    assert result.exit_code == 1  # the one message that is not a report
    assert "4 file(s): 3 stored (3 aggregate)" in result.stdout and "1 rejected" in result.stdout
