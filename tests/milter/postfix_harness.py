"""A throw-away Postfix instance on loopback, for the milter integration test and benchmark.

Everything lives under one temporary directory (config, queue, data, Maildir, log): the
instance runs with ``postfix -c DIR``, listens on 127.0.0.1:PORT only, delivers every
recipient of the test domains into one Maildir through the ``virtual`` transport, and is
stopped (and its directory removed) by :meth:`PostfixInstance.stop`.

Postfix runs its daemons as the ``postfix`` user, so the directory is world-traversable (a
pytest tmp_path is not) and the Maildir belongs to that user.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

POSTFIX = shutil.which("postfix") or "/usr/sbin/postfix"
POSTCONF = shutil.which("postconf") or "/usr/sbin/postconf"
QUEUES = ("maildrop", "incoming", "active", "deferred", "hold", "corrupt")
REPO = Path(__file__).resolve().parents[2]

MASTER_CF = """\
{listen} inet n - {smtpd_chroot} - {smtpd_limit} smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 20.0, host: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=1.0):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listening on {host}:{port} after {timeout}s") from None
            time.sleep(0.05)


def wait_for_unix_socket(path: Path, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with socket.socket(socket.AF_UNIX) as sock:
            try:
                sock.connect(str(path))
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"nothing listening on {path} after {timeout}s") from None
        time.sleep(0.05)


class PostfixInstance:
    """One Postfix on 127.0.0.1:``smtp_port`` (see the module docstring)."""

    def __init__(self, *, milter: str | None, domains: Iterable[str] = ("example.test",),
                 default_action: str = "tempfail", settings: Mapping[str, str] | None = None,
                 process_limit: int = 100, chroot_smtpd: bool = False, parent: Path | None = None) -> None:
        self.milter = milter
        # chroot column "y" for smtpd, as Debian ships it: smtpd then sees only queue_dir.
        self.chroot_smtpd = chroot_smtpd
        self.domains = tuple(domains)
        self.default_action = default_action
        self.settings = dict(settings or {})
        self.process_limit = process_limit
        self.smtp_port = free_port()
        # ``parent``: where the instance's directories (queue and Maildir included) go; the
        # milter bench passes a tmpfs to keep the disk out of its comparison.
        self.root = Path(tempfile.mkdtemp(prefix="zegel-postfix-", dir=parent))
        self.config_dir = self.root / "etc"
        self.queue_dir = self.root / "queue"
        self.data_dir = self.root / "data"
        self.mail_dir = self.root / "mail"
        self.maildir = self.mail_dir / "maildir"
        self.log_file = self.root / "maillog"
        self.started = False

    # -- lifecycle -----------------------------------------------------------------------

    def configure(self) -> None:
        owner = pwd.getpwnam("postfix")
        os.chmod(self.root, 0o755)
        for directory in (self.config_dir, self.queue_dir, self.data_dir, self.mail_dir):
            directory.mkdir(parents=True, exist_ok=True)
        os.chown(self.data_dir, owner.pw_uid, owner.pw_gid)
        os.chown(self.mail_dir, owner.pw_uid, owner.pw_gid)
        main = {
            "compatibility_level": "3.6",
            "queue_directory": str(self.queue_dir),
            "data_directory": str(self.data_dir),
            "mail_owner": "postfix",
            "setgid_group": "postdrop",
            "myhostname": "mx.zegel.test",
            "mydomain": "zegel.test",
            "myorigin": "$myhostname",
            "mydestination": "",
            "local_recipient_maps": "",
            "alias_maps": "",
            "alias_database": "",
            "inet_interfaces": "127.0.0.1",
            "inet_protocols": "ipv4",
            "mynetworks": "127.0.0.0/8",
            "smtpd_relay_restrictions": "permit_mynetworks, reject_unauth_destination",
            "virtual_mailbox_domains": " ".join(self.domains),
            "virtual_mailbox_base": str(self.mail_dir),
            "virtual_mailbox_maps": "static:maildir/",
            "virtual_uid_maps": f"static:{owner.pw_uid}",
            "virtual_gid_maps": f"static:{owner.pw_gid}",
            "virtual_minimum_uid": "1",
            "virtual_destination_concurrency_limit": "20",
            "smtpd_milters": self.milter or "",
            "non_smtpd_milters": "",
            "milter_default_action": self.default_action,
            "milter_protocol": "6",
            "milter_connect_timeout": "5s",
            "milter_command_timeout": "10s",
            "milter_content_timeout": "30s",
            "maillog_file": str(self.log_file),
            "maillog_file_prefixes": str(self.root),
            "smtpd_peername_lookup": "no",
            "smtputf8_enable": "no",
            "biff": "no",
            "in_flow_delay": "0",
            "smtpd_error_sleep_time": "0",
            "smtpd_client_connection_count_limit": "0",
            "smtpd_banner": "$myhostname ESMTP zegel-test",
            "default_process_limit": str(self.process_limit),
            "queue_run_delay": "1s",
            "delay_warning_time": "0",
            "message_size_limit": "52428800",
            "virtual_mailbox_limit": "0",
        }
        main.update(self.settings)
        (self.config_dir / "main.cf").write_text(
            "".join(f"{key} = {value}\n" for key, value in main.items()), encoding="ascii")
        (self.config_dir / "master.cf").write_text(
            MASTER_CF.format(listen=f"127.0.0.1:{self.smtp_port}", smtpd_limit=self.process_limit,
                             smtpd_chroot="y" if self.chroot_smtpd else "n"),
            encoding="ascii")

    def _postfix(self, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        return subprocess.run([POSTFIX, "-c", str(self.config_dir), *args], capture_output=True,
                              text=True, timeout=timeout, check=False)

    def start(self) -> PostfixInstance:
        self.configure()
        result = self._postfix("start")
        if result.returncode != 0:
            raise RuntimeError(f"postfix start failed ({result.returncode}): {self._why()}")
        self.started = True
        wait_for_port(self.smtp_port)
        return self

    def _why(self) -> str:
        """Postfix reports start-up errors on stderr only when it is a terminal: ask through one."""
        script = shutil.which("script")
        if script is None:
            return "(run `postfix -c DIR check` in a terminal for the reason)"
        check = subprocess.run([script, "-qc", f"{POSTFIX} -c {self.config_dir} check", "/dev/null"],
                               capture_output=True, text=True, timeout=60, check=False)
        return (check.stdout + check.stderr).strip()[-2000:] or self.log_tail()

    def master_pid(self) -> int | None:
        try:
            return int((self.queue_dir / "pid" / "master.pid").read_text().strip())
        except (OSError, ValueError):
            return None

    def stop(self, *, remove: bool = True) -> None:
        if self.started:
            pid = self.master_pid()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._postfix("stop", timeout=30.0)
            if pid is not None and _wait_gone(pid, 15.0) is False:
                # The master we started did not stop: end it (and its children) by pid.
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                _wait_gone(pid, 5.0)
            self.started = False
        if remove:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PostfixInstance:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- mail in, mail out ---------------------------------------------------------------

    def smtp(self, *, source_address: str | None = None, timeout: float = 60.0) -> smtplib.SMTP:
        source = (source_address, 0) if source_address else None
        return smtplib.SMTP("127.0.0.1", self.smtp_port, timeout=timeout, source_address=source)

    def send(self, message: bytes, *, mail_from: str, rcpt_to: Iterable[str], source_address: str | None = None,
             helo: str = "client.example") -> None:
        """Send one message; raises smtplib's exceptions (SMTPDataError carries 4xx/5xx)."""
        with self.smtp(source_address=source_address) as client:
            client.ehlo(helo)
            client.sendmail(mail_from, list(rcpt_to), message)

    def delivered(self) -> list[Path]:
        found: list[Path] = []
        for sub in ("new", "cur"):
            directory = self.maildir / sub
            if directory.is_dir():
                found.extend(sorted(directory.iterdir()))
        return found

    def wait_delivered(self, count: int, timeout: float = 60.0) -> list[Path]:
        deadline = time.monotonic() + timeout
        while True:
            found = self.delivered()
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.05)

    def queued(self) -> list[Path]:
        """Messages still in Postfix's queues (incoming, active, deferred, hold, ...)."""
        found: list[Path] = []
        for name in QUEUES:
            directory = self.queue_dir / name
            if directory.is_dir():
                found.extend(p for p in directory.rglob("*") if p.is_file())
        return found

    def held(self) -> list[Path]:
        directory = self.queue_dir / "hold"
        return [p for p in directory.rglob("*") if p.is_file()] if directory.is_dir() else []

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no maillog)"


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        time.sleep(0.05)
    return False


class MilterProcess:
    """``zegel milter --config FILE`` as a child process (so a test can kill it mid-message)."""

    def __init__(self, config_file: Path, port: int | None, *, log_file: Path | None = None,
                 unix_path: Path | None = None, group: int | None = None) -> None:
        self.config_file = config_file
        self.port = port
        # With a unix socket: its path (waited for instead of a port), and the group to run
        # as (the socket file gets it).
        self.unix_path = unix_path
        self.group = group
        self.log_file = log_file or config_file.with_suffix(".log")
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> MilterProcess:
        env = dict(os.environ)
        env["PYTHONPATH"] = str(REPO / "src") + os.pathsep + env.get("PYTHONPATH", "")
        log = open(self.log_file, "ab")  # noqa: SIM115 - handed to the child for its lifetime
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-c", "from zegel.cli import main; main()", "milter", "--config",
                 str(self.config_file)],
                stdout=log, stderr=log, env=env, start_new_session=True, group=self.group,
                extra_groups=[] if self.group is not None else None)
        finally:
            log.close()
        try:
            if self.unix_path is not None:
                wait_for_unix_socket(self.unix_path, timeout)
            else:
                assert self.port is not None, "MilterProcess needs a port or a unix_path"
                wait_for_port(self.port, timeout)
        except TimeoutError:
            self.kill()
            raise RuntimeError(f"zegel milter did not start: {self.log_tail()}") from None
        return self

    def kill(self) -> None:
        if self.process is None:
            return
        # Its own session: the group holds the supervisor and every worker it forked, so no
        # worker outlives a test that fails half-way.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        if self.process.poll() is None:
            self.process.wait(10)

    def terminate(self, timeout: float = 30.0) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.process.returncode

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"
