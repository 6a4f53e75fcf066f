"""`--imap`: reading reports from a mailbox over IMAP with imaplib, against a small IMAP4rev1
server on 127.0.0.1 (just the commands ingest uses: LOGIN, SELECT, UID SEARCH/FETCH/STORE)."""

from __future__ import annotations

import random
import re
import socketserver
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from zegel.reports.corpus import as_email, as_gzip, make_report
from zegel.reports.ingest import Ingester, ReportError
from zegel.reports.store import open_store


class ImapServer:
    def __init__(self, messages: list[bytes], password: str = "secret") -> None:
        self.messages = messages
        self.seen: set[int] = set()
        self.password = password
        server = self

        class Handler(socketserver.StreamRequestHandler):
            def reply(self, text: str) -> None:
                self.wfile.write(text.encode() + b"\r\n")

            def handle(self) -> None:
                self.reply("* OK IMAP4rev1 test server ready")
                while line := self.rfile.readline(10000):
                    tag, _, rest = line.decode().rstrip("\r\n").partition(" ")
                    command = rest.upper()
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


def test_ingest_from_imap(mailbox: ImapServer, tmp_path: Path) -> None:
    store = open_store(None, tmp_path)
    url = f"imap://dmarc@127.0.0.1:{mailbox.port}/INBOX"
    with Ingester(store) as ingester:
        results = list(ingester.ingest_imap(url, password="secret"))
    assert [r.status for r in results] == ["stored"] * 4 + ["rejected"]
    assert all(re.fullmatch(r"imap:INBOX/\d+( \[.*\])?", r.source) for r in results)
    assert mailbox.seen == {1, 2, 3, 4, 5}  # read messages are marked seen
    with Ingester(store) as ingester:  # nothing unseen is left
        assert list(ingester.ingest_imap(url, password="secret")) == []
    assert store.counts()["agg_reports"] == 4
    store.close()


def test_imap_login_failure_is_one_line(mailbox: ImapServer, tmp_path: Path) -> None:
    store = open_store(None, tmp_path)
    with Ingester(store) as ingester, pytest.raises(ReportError, match=r"IMAP 127\.0\.0\.1"):
        list(ingester.ingest_imap(f"imap://dmarc:wrong@127.0.0.1:{mailbox.port}/INBOX"))
    with Ingester(store) as ingester, pytest.raises(ReportError, match="not an IMAP URL"):
        list(ingester.ingest_imap("http://example.com/"))
    store.close()
