"""docs/milter.md's recipe for a unix socket with Debian's chrooted smtpd, with real Postfix.

smtpd runs with ``chroot`` = ``y`` (as Debian ships master.cf), so it sees only the queue
directory. zegel listens on ``<queue_directory>/zegel/milter.sock``, the directory 0750 and the socket
0660 (zegel sets that mode), both in a group the postfix user is in and owned by another
user, so group permission is all that lets smtpd in. Postfix names the socket relative to
the chroot: ``smtpd_milters = unix:zegel/milter.sock``. A DMARC pass must arrive with zegel's Authentication-Results and a
spoof of a p=reject domain must be refused with 550: both verdicts come from the milter, so
it was reached through the chroot.

Stand-ins, so the test changes nothing outside its temp directory: the milter runs as root
with the postfix group as its group (the zegel user would be a new account; the venv's
interpreter under root's home is out of reach of other users), and the socket's group is
postfix's own rather than a ``zegel`` group postfix was added to with ``usermod -aG``.
Either way smtpd gets in through the group bits only.
"""

from __future__ import annotations

import os
import pwd
import smtplib
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from tests.conftest import require, require_tool
from tests.milter.conftest import AUTHSERV_ID, Keys, records
from tests.milter.helpers import header_values, message, sign_with_dkimpy
from tests.milter.postfix_harness import MilterProcess, PostfixInstance

from zegel.dns.testserver import TestDnsServer

pytestmark = pytest.mark.slow

MAILBOX = "user@example.test"


def _smtpd_roots(postfix: PostfixInstance) -> list[str]:
    """The root directories of the smtpd processes this instance's master runs."""
    master = postfix.master_pid()
    roots: list[str] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() != "smtpd":
                continue
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == master:
                roots.append(os.readlink(entry / "root"))
        except (OSError, ValueError, IndexError):
            continue
    return roots


@pytest.fixture(scope="module")
def chrooted() -> Iterator[tuple[PostfixInstance, MilterProcess, Keys]]:
    require_tool("postfix")
    require(os.geteuid() == 0, "starting a Postfix instance needs root (its daemons run as user postfix)")
    keys = Keys(rsa.generate_private_key(public_exponent=65537, key_size=2048),
                rsa.generate_private_key(public_exponent=65537, key_size=2048),
                ed25519.Ed25519PrivateKey.generate())
    dns = TestDnsServer(records(keys, client_ip="127.0.0.1")).start_in_thread()
    postfix = PostfixInstance(milter="unix:zegel/milter.sock", chroot_smtpd=True)
    milter: MilterProcess | None = None
    try:
        postfix.start()
        uid = os.geteuid()
        gid = pwd.getpwnam("postfix").pw_gid
        # install -d -o zegel -g zegel -m 0750 <queue_directory>/zegel
        socket_dir = postfix.queue_dir / "zegel"
        socket_dir.mkdir(mode=0o750)
        os.chown(socket_dir, uid, gid)
        os.chmod(socket_dir, 0o750)
        # The milter's own files, readable by its user (the temp root is world-traversable).
        work = postfix.root / "zegel-milter"
        work.mkdir(mode=0o755)
        config = work / "milter.toml"
        config.write_text(f"""authserv_id = "{AUTHSERV_ID}"
socket = "unix:{socket_dir / 'milter.sock'}"
workers = 1

[dns]
nameservers = ["{dns.address}"]
timeout = 2.0
lifetime = 8.0
""", encoding="utf-8")
        os.chmod(config, 0o644)
        milter = MilterProcess(config, None, unix_path=socket_dir / "milter.sock", group=gid)
        milter.start()
        yield postfix, milter, keys
    finally:
        postfix.stop()
        if milter is not None:
            milter.terminate()
        dns.stop_thread()


def test_socket_has_the_documented_owner_and_mode(chrooted: tuple[PostfixInstance, MilterProcess, Keys]) -> None:
    postfix, _, _ = chrooted
    info = os.stat(postfix.queue_dir / "zegel" / "milter.sock")
    assert stat.S_ISSOCK(info.st_mode)
    assert stat.S_IMODE(info.st_mode) == 0o660
    postfix_user = pwd.getpwnam("postfix")
    assert info.st_uid != postfix_user.pw_uid  # owner bits do not let smtpd in, nor do other's
    assert info.st_gid == postfix_user.pw_gid


def test_chrooted_smtpd_reaches_the_milter_by_its_relative_name(
        chrooted: tuple[PostfixInstance, MilterProcess, Keys]) -> None:
    postfix, milter, keys = chrooted
    with postfix.smtp() as client:
        client.ehlo("client.example")
        # The smtpd serving us really is confined to the queue directory.
        assert str(postfix.queue_dir) in _smtpd_roots(postfix)

    passing = sign_with_dkimpy(message("alice@pass.example", to=MAILBOX), domain="pass.example",
                               selector="sel", key=keys.inbound_rsa)
    postfix.send(passing, mail_from="alice@pass.example", rcpt_to=[MAILBOX])
    message_id = header_values(passing, "Message-ID")[0].encode()
    deadline = time.monotonic() + 30
    copies: list[bytes] = []
    while not copies and time.monotonic() < deadline:
        copies = [p.read_bytes() for p in postfix.delivered() if message_id in p.read_bytes()]
        time.sleep(0.1)
    assert len(copies) == 1, postfix.log_tail() + "\n" + milter.log_tail()
    results = header_values(copies[0], "Authentication-Results")
    assert len(results) == 1
    ours = " ".join(results[0].split())
    assert ours.startswith(f"{AUTHSERV_ID};") and "dmarc=pass" in ours

    spoof = message("ceo@spoof.example", to=MAILBOX, subject="Urgent wire transfer")
    with pytest.raises(smtplib.SMTPDataError) as info:
        postfix.send(spoof, mail_from="ceo@spoof.example", rcpt_to=[MAILBOX])
    assert info.value.smtp_code == 550, postfix.log_tail()
    assert b"5.7." in info.value.smtp_error


def test_an_absolute_socket_path_is_out_of_chrooted_smtpds_sight(
        chrooted: tuple[PostfixInstance, MilterProcess, Keys]) -> None:
    """The same live socket named by its absolute path: smtpd looks for it inside its chroot,
    misses it, and milter_default_action = tempfail answers 451 4.7.1 (issue 13's symptom)."""
    running, _, _ = chrooted
    absolute = running.queue_dir / "zegel" / "milter.sock"
    with PostfixInstance(milter=f"unix:{absolute}", chroot_smtpd=True) as postfix:
        raw = message("bob@example.test", to=MAILBOX)
        with pytest.raises(smtplib.SMTPResponseException) as info:
            postfix.send(raw, mail_from="bob@example.test", rcpt_to=[MAILBOX])
        assert info.value.smtp_code == 451
        assert b"4.7.1" in info.value.smtp_error
        assert postfix.delivered() == []
        deadline = time.monotonic() + 10
        while "No such file or directory" not in postfix.log_tail(200) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert f"connect to Milter service unix:{absolute}: No such file or directory" in postfix.log_tail(200), \
            postfix.log_tail()
