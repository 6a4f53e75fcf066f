"""Milter load through Postfix: zegel against OpenDKIM and OpenDKIM + OpenDMARC, same run.

2000 DKIM-signed messages (5–20 KB) from 20 concurrent SMTP clients, one SMTP connection per
message, through one Postfix configuration whose ``smtpd_milters`` changes per phase. The
clients are ``bench/smtpload.c`` (compiled here; smtplib in 20 threads when there is no C
compiler): on a real MX the clients are other machines, and Python threads here spent about
0.5 ms of the two cores' CPU per message, taken from every contender alike. The phases:

- Postfix alone (the ceiling);
- zegel milter (SPF + DKIM + ARC + DMARC), over TCP and over a unix socket;
- OpenDKIM in verify mode (DKIM only), over TCP and over a unix socket;
- OpenDKIM then OpenDMARC chained (DKIM, then SPF + DMARC), over TCP and over unix sockets;
- on every core (``python -m bench`` pins itself to one; this part lifts that): zegel with
  ``workers = 1`` and ``workers = 2`` (the scaling), OpenDKIM, and OpenDKIM + OpenDMARC, over
  TCP; then zegel ``workers = 2`` and ``workers = 1``, OpenDKIM and the chain over unix
  sockets, beside zegel ``workers = 2`` with verification off (``[inbound] verify = false``:
  zegel's milter session alone), a milter in C that does nothing (``bench/nullmilter.c``,
  compiled here: what any milter costs Postfix, so the ceiling for the others) and Postfix
  without a milter;
- latency, one client sending one message after another (``LATENCY_MESSAGES``): what each
  milter adds to Postfix alone's time per message, median, over TCP and over unix sockets.

The contenders of each configuration (zegel, OpenDKIM, the chain; on every core also zegel
with one and two workers) run side by side and take turns in ``ROUNDS`` rounds of
``MESSAGES / ROUNDS`` messages, in a rotated order, so load from elsewhere on the machine
falls on each of them alike; their rounds are summed, and the notes of the comparisons
with OpenDKIM give the ratio of each round too (how far one run's ratio moves).

Every peer resolves through one unbound on port 53 of a loopback address (127.0.0.1 when it
is free) that serves the sender's SPF, DKIM and DMARC records as local data and refuses
everything else, so no query leaves the machine: OpenDKIM's libunbound takes it as its
``Nameservers``, OpenDMARC (libresolv, /etc/resolv.conf only) runs in a private mount
namespace whose resolv.conf names it, zegel gets it in ``dns.nameservers``. The domain is not
under ``.test``: libunbound answers ``.test`` itself as a local zone.

Postfix keeps its queue and Maildir in a tmpfs the bench mounts, so the comparison measures the
milters and Postfix, not the disk. On the 2-vCPU VM this was written on (ext4 mounted with
online discard, a virtio disk), syncing and deleting queue files cost the machine about 1.1 ms
of CPU per message, alike for every contender, and moved the figures from round to round by more
than the milters differ: a milter that does nothing missed 1.3x OpenDKIM in some runs. The
last comparison repeats the unix one on two cores with the queue on disk (zegel, OpenDKIM, the
null milter, Postfix alone), so every run shows both. Without a tmpfs (mount not allowed),
every phase queues on disk and the rows do not say "queue in tmpfs".

Per load phase: messages/s (first connection to last delivery, after a warm-up of 60 messages
from the 20 clients that leaves Postfix with its processes started), the milters' CPU time per
message (utime + stime of their processes from /proc, before and after), and the whole
machine's (/proc/stat: every process, the kernel's work included). Every message is
accounted for (the Maildir holds exactly the number sent, the queue is empty), and one
delivered message per phase must carry the peer's passing Authentication-Results, so a peer
that skipped its work cannot look fast.
"""

from __future__ import annotations

import base64
import contextlib
import email.utils
import os
import pwd
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bench.common import Row

if TYPE_CHECKING:
    from tests.milter.postfix_harness import PostfixInstance

MESSAGES = int(os.environ.get("ZEGEL_BENCH_MILTER_MESSAGES", "2000"))
CLIENTS = 20
# The contenders of one configuration take turns in this many rounds of MESSAGES / ROUNDS.
ROUNDS = int(os.environ.get("ZEGEL_BENCH_MILTER_ROUNDS", "4"))
# One client, one message after another: the latency each milter adds (after a warm-up of 10).
LATENCY_MESSAGES = int(os.environ.get("ZEGEL_BENCH_MILTER_LATENCY_MESSAGES", "100"))
DOMAIN = "zegelbench.nl"  # outside .test: libunbound (OpenDKIM) treats .test as a local zone
CLIENT_IP = "127.0.0.2"  # not 127.0.0.1, which OpenDKIM and OpenDMARC skip by default
RCPT = "user@example.test"
AUTHSERV_ID = "mx.zegel.test"
TICKS = os.sysconf("SC_CLK_TCK")
# Messages sent by CLIENTS concurrent clients before each load phase's clock starts.
WARM_UP = 3 * CLIENTS


def _messages(count: int, key: rsa.RSAPrivateKey) -> list[bytes]:
    import dkim as dkimpy

    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                            serialization.NoEncryption())
    rng = random.Random(13)
    line = "A line of an ordinary message body for the benchmark, long enough to be typical.\r\n"
    out = []
    for number in range(count):
        size = rng.randint(5 * 1024, 20 * 1024)
        raw = (f"From: Alice <alice@{DOMAIN}>\r\nTo: {RCPT}\r\nSubject: load test {number}\r\n"
               f"Date: {email.utils.formatdate()}\r\nMessage-ID: <bench-{number}@{DOMAIN}>\r\n\r\n"
               + line * (size // len(line))).encode()
        signature = dkimpy.sign(raw, b"sel", DOMAIN.encode(), pem,
                                include_headers=[b"from", b"to", b"subject", b"date", b"message-id"])
        out.append(bytes(signature) + raw)
    return out


def _key_record(key: rsa.RSAPrivateKey) -> str:
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1.0):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listening on 127.0.0.1:{port}") from None
            time.sleep(0.05)


def _wait_path(path: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"no socket at {path}")
        time.sleep(0.05)


def _dns_address() -> str:
    """A loopback address whose port 53 is free: 127.0.0.1, else one of 127.0.13.x."""
    for address in ("127.0.0.1", *(f"127.0.13.{n}" for n in range(53, 73))):
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp, socket.socket() as tcp:
                udp.bind((address, 53))
                tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                tcp.bind((address, 53))
            return address
        except OSError:
            continue
    raise RuntimeError("no loopback address with a free port 53")


# -- processes under test ------------------------------------------------------------------


class Proc:
    """A child process we started (ended by its pid only)."""

    def __init__(self, args: list[str], log: Path, *, env: dict[str, str] | None = None) -> None:
        self.log = log
        with open(log, "ab") as out:
            self.process = subprocess.Popen(args, stdout=out, stderr=out, env=env, start_new_session=True)

    def pids(self) -> list[int]:
        """This process and its descendants (zegel's workers)."""
        found = [self.process.pid]
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with contextlib.suppress(OSError, IndexError, ValueError):
                    stat = (entry / "stat").read_text()
                    if int(stat.rsplit(")", 1)[1].split()[1]) in found:
                        found.append(int(entry.name))
        return found

    def cpu_seconds(self) -> float:
        total = 0
        for pid in self.pids():
            with contextlib.suppress(OSError, IndexError, ValueError):
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])  # utime, stime (all threads)
        return total / TICKS

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(40)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def tail(self) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-15:])
        return ""


@dataclass
class Phase:
    label: str
    delivered: int = 0
    failed: int = 0
    seconds: float = 0.0
    cpu: float = 0.0  # milter CPU seconds in the phase
    machine_cpu: float = 0.0  # CPU seconds of every process on the machine in the phase
    check: str = ""  # what one delivered message's Authentication-Results said
    rounds: list[float] = field(default_factory=list)  # msg/s of each round (taking turns)

    @property
    def rate(self) -> float:
        return self.delivered / self.seconds if self.seconds else 0.0

    @property
    def cpu_ms(self) -> float:
        return self.cpu * 1000 / self.delivered if self.delivered else 0.0

    @property
    def machine_ms(self) -> float:
        return self.machine_cpu * 1000 / self.delivered if self.delivered else 0.0


@dataclass
class Latency:
    label: str
    times: list[float]  # ms per message, sorted
    delivered: int
    failed: int

    @property
    def median(self) -> float:
        return self.times[len(self.times) // 2] if self.times else 0.0

    @property
    def p90(self) -> float:
        return self.times[int(len(self.times) * 0.9)] if self.times else 0.0


class LoadGenerator:
    """CLIENTS concurrent SMTP clients, one session per message: bench/smtpload.c when a C
    compiler can build it, else smtplib in CLIENTS threads (slower, and its CPU is taken from
    the contenders: said once on stderr)."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self._binary: Path | None = None
        self._tried = False
        # Each round sends the same slices (and the same warm-up) to every contender: written
        # once each. The messages live as long as the bench, so their ids name a batch.
        self._written: dict[tuple[int, ...], Path] = {}

    def binary(self) -> Path | None:
        """bench/smtpload.c, compiled here once; None (the reason said once) without a compiler."""
        if self._binary is None and not self._tried:
            self._tried = True
            binary = self.work / "smtpload"
            source = Path(__file__).with_name("smtpload.c")
            compiler = shutil.which("cc") or shutil.which("gcc")
            if compiler is None:
                print("bench milter: no C compiler (apt-get install gcc): the load comes from Python threads, "
                      "which take CPU from the contenders", file=sys.stderr)
                return None
            built = subprocess.run([compiler, "-O2", "-pthread", "-o", str(binary), str(source)],
                                   capture_output=True, text=True, check=False)
            if built.returncode != 0:
                print(f"bench milter: {source.name} did not compile: {built.stderr.strip()[-500:]}; the load "
                      "comes from Python threads", file=sys.stderr)
                return None
            self._binary = binary
        return self._binary

    def payloads(self, batch: list[bytes]) -> Path | None:
        """``batch`` as smtpload reads it ("<length>\\n" and the DATA payload, per message),
        in the work directory (removed with it)."""
        if self.binary() is None:
            return None
        key = tuple(map(id, batch))
        if key not in self._written:
            handle, name = tempfile.mkstemp(prefix="payloads-", dir=self.work)
            with os.fdopen(handle, "wb") as out:
                for raw in batch:
                    payload = _data_payload(raw)
                    out.write(b"%d\n" % len(payload))
                    out.write(payload)
            self._written[key] = Path(name)
        return self._written[key]

    def send(self, postfix: PostfixInstance, batch: list[bytes], payloads: Path | None) -> tuple[int, str]:
        """Send ``batch`` from CLIENTS concurrent clients, one SMTP session per message: how
        many failed, and the first failure. Through smtpload when it was built (``payloads``),
        else through smtplib in CLIENTS threads."""
        binary = self.binary()
        if binary is not None and payloads is not None:
            done = subprocess.run([str(binary), "127.0.0.1", str(postfix.smtp_port), CLIENT_IP, f"mx.{DOMAIN}",
                                   f"alice@{DOMAIN}", RCPT, str(CLIENTS), str(payloads)],
                                  capture_output=True, text=True, timeout=600, check=False)
            said = done.stdout.split()
            if done.returncode != 0 or len(said) != 4 or said[0] != "sent":
                raise RuntimeError(f"smtpload failed ({done.returncode}): {done.stderr.strip()[-500:]}")
            return int(said[3]), done.stderr.strip().splitlines()[0] if done.stderr.strip() else ""
        failures: list[str] = []
        lock = threading.Lock()

        def send(raw: bytes) -> None:
            try:
                _send(postfix, raw)
            except Exception as exc:  # counted, not hidden: the accounting must add up
                with lock:
                    failures.append(f"{type(exc).__name__}: {exc}")

        with ThreadPoolExecutor(CLIENTS) as pool:
            list(pool.map(send, batch))
        return len(failures), failures[0] if failures else ""


class Bench:
    def __init__(self, work: Path, messages: list[bytes], key: rsa.RSAPrivateKey) -> None:
        self.work = work
        self.messages = messages
        self.key = key
        self.dns = _dns_address()
        self.sockets = work / "sockets"
        self.sockets.mkdir()
        os.chmod(work, 0o755)
        os.chmod(self.sockets, 0o777)  # Postfix's smtpd (user postfix) connects to the unix sockets
        self.unbound: Proc | None = None
        self.load = LoadGenerator(work)
        # Where each phase's Postfix keeps its queue and Maildir: a tmpfs (see queue_in_memory),
        # or None for the work directory's disk.
        self.queue: Path | None = None
        self.memory: Path | None = None

    # -- where Postfix writes ----------------------------------------------------------------

    def queue_in_memory(self) -> bool:
        """Mount a tmpfs for the Postfix instances from now on. The disk costs every contender the
        same per message but is not the milter's work: on the VM this bench was written on (ext4
        with online discard, a virtio disk), writing, syncing and deleting queue files cost the
        machine about 1.1 ms of CPU per message and moved the figures from round to round by more
        than the milters differ. False, with a line, where mounting is not allowed."""
        target = self.work / "queue-memory"
        target.mkdir()
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2g,mode=0755", "zegel-bench", str(target)],
                                 capture_output=True, text=True, check=False)
        if mounted.returncode != 0:
            print(f"bench milter: no tmpfs for the queue ({mounted.stderr.strip()}): every phase queues on disk",
                  file=sys.stderr)
            return False
        self.memory = self.queue = target
        return True

    def release_memory(self) -> None:
        if self.memory is not None:
            subprocess.run(["umount", "-l", str(self.memory)], capture_output=True, check=False)
            self.memory = self.queue = None

    @contextlib.contextmanager
    def queue_on_disk(self) -> Iterator[None]:
        """Phases in this block queue on the work directory's disk."""
        before, self.queue = self.queue, None
        try:
            yield
        finally:
            self.queue = before

    # -- unbound ---------------------------------------------------------------------------

    def start_unbound(self) -> None:
        record = _key_record(self.key)
        chunks = " ".join(f'"{record[i:i + 200]}"' for i in range(0, len(record), 200))
        conf = self.work / "unbound.conf"
        conf.write_text(f"""server:
  interface: {self.dns}
  port: 53
  do-ip6: no
  do-daemonize: no
  username: ""
  chroot: ""
  directory: "{self.work}"
  pidfile: "{self.work}/unbound.pid"
  use-syslog: no
  logfile: "{self.work}/unbound.log"
  verbosity: 0
  access-control: 127.0.0.0/8 allow
  num-threads: 1
  # Nothing is ever looked up on the internet: our zone as local data, the rest refused.
  local-zone: "." refuse
  local-zone: "{DOMAIN}." static
  local-data: '{DOMAIN}. 3600 IN TXT "v=spf1 ip4:{CLIENT_IP} -all"'
  local-data: '{DOMAIN}. 3600 IN MX 10 mx.{DOMAIN}.'
  local-data: 'mx.{DOMAIN}. 3600 IN A {CLIENT_IP}'
  local-data: '_dmarc.{DOMAIN}. 3600 IN TXT "v=DMARC1; p=reject"'
  local-data: 'sel._domainkey.{DOMAIN}. 3600 IN TXT {chunks}'
remote-control:
  control-enable: no
""", encoding="utf-8")
        self.unbound = Proc(["unbound", "-d", "-c", str(conf)], self.work / "unbound.out")
        deadline = time.monotonic() + 20
        import dns.message
        import dns.query
        import dns.rdatatype

        while True:
            try:
                query = dns.message.make_query(f"_dmarc.{DOMAIN}", dns.rdatatype.TXT)
                if dns.query.udp(query, self.dns, port=53, timeout=1.0).answer:
                    return
            except Exception:
                pass
            if time.monotonic() > deadline or self.unbound.process.poll() is not None:
                raise RuntimeError(f"unbound did not start: {self.unbound.tail()}")
            time.sleep(0.1)

    # -- milters ---------------------------------------------------------------------------

    def zegel(self, name: str, *, unix: bool, workers: int = 1, verify: bool = True) -> tuple[list[Proc], str]:
        if unix:
            path = self.sockets / f"{name}.sock"
            socket_line, spec = f"unix:{path}", f"unix:{path}"
        else:
            port = _free_port()
            socket_line, spec = f"inet:127.0.0.1:{port}", f"inet:127.0.0.1:{port}"
        config = self.work / f"{name}.toml"
        config.write_text(f"""authserv_id = "{AUTHSERV_ID}"
socket = "{socket_line}"
workers = {workers}
[dns]
nameservers = ["{self.dns}:53"]
[log]
level = "warning"
[inbound]
verify = {"true" if verify else "false"}
""", encoding="utf-8")
        repo = Path(__file__).resolve().parent.parent
        env = dict(os.environ, PYTHONPATH=str(repo / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""))
        proc = Proc([sys.executable, "-c", "from zegel.cli import main; main()", "milter", "--config", str(config)],
                    self.work / f"{name}.log", env=env)
        self._ready(proc, spec)
        if unix:
            # The socket is 0660 for zegel's group: here Postfix gets it through its group.
            os.chown(path, -1, pwd.getpwnam("postfix").pw_gid)
        return [proc], spec

    def _ready(self, proc: Proc, spec: str) -> None:
        try:
            if spec.startswith("unix:"):
                _wait_path(Path(spec[5:]))
            else:
                _wait_port(int(spec.rsplit(":", 1)[1]))
        except TimeoutError:
            proc.stop()
            raise RuntimeError(f"{spec}: the milter did not start: {proc.tail()}") from None

    def opendkim(self, name: str, *, unix: bool) -> tuple[Proc, str]:
        if unix:
            path = self.sockets / f"{name}.sock"
            socket_line, spec = f"local:{path}", f"unix:{path}"
        else:
            port = _free_port()
            socket_line, spec = f"inet:{port}@127.0.0.1", f"inet:127.0.0.1:{port}"
        conf = self.work / f"{name}.conf"
        conf.write_text(f"""Mode v
Socket {socket_line}
AuthservID {AUTHSERV_ID}
Nameservers {self.dns}
Background no
Syslog no
UMask 000
PidFile {self.work}/{name}.pid
InternalHosts 192.0.2.1
""", encoding="ascii")
        proc = Proc(["opendkim", "-f", "-x", str(conf)], self.work / f"{name}.log")
        self._ready(proc, spec)
        return proc, spec

    def opendmarc(self, name: str, *, unix: bool) -> tuple[Proc, str]:
        if unix:
            path = self.sockets / f"{name}.sock"
            socket_line, spec = f"local:{path}", f"unix:{path}"
        else:
            port = _free_port()
            socket_line, spec = f"inet:{port}@127.0.0.1", f"inet:127.0.0.1:{port}"
        (self.work / "ignore-hosts").write_text("192.0.2.1\n")
        resolv = self.work / "resolv.conf"
        resolv.write_text(f"nameserver {self.dns}\n")
        conf = self.work / f"{name}.conf"
        conf.write_text(f"""Socket {socket_line}
AuthservID {AUTHSERV_ID}
TrustedAuthservIDs {AUTHSERV_ID}
IgnoreHosts {self.work}/ignore-hosts
SPFSelfValidate true
SPFIgnoreResults true
RejectFailures false
FailureReports false
Background false
Syslog false
UMask 000
PidFile {self.work}/{name}.pid
""", encoding="ascii")
        # OpenDMARC resolves through libresolv, which reads /etc/resolv.conf only: give it a
        # private one (a mount namespace) that names our unbound.
        script = f"mount --bind {resolv} /etc/resolv.conf && exec opendmarc -f -c {conf}"
        proc = Proc(["unshare", "-m", "sh", "-c", script], self.work / f"{name}.log")
        self._ready(proc, spec)
        return proc, spec

    def null_milter(self, name: str, *, unix: bool) -> tuple[Proc, str] | None:
        """bench/nullmilter.c, compiled here: a milter that does nothing (the floor). None, with
        the reason on stderr, when there is no C compiler."""
        binary = self.work / "nullmilter"
        if not binary.exists():
            compiler = shutil.which("cc") or shutil.which("gcc")
            source = Path(__file__).with_name("nullmilter.c")
            if compiler is None:
                print("bench milter: no C compiler (apt-get install gcc): no null-milter row", file=sys.stderr)
                return None
            built = subprocess.run([compiler, "-O2", "-o", str(binary), str(source)], capture_output=True, text=True,
                                   check=False)
            if built.returncode != 0:
                print(f"bench milter: {source.name} did not compile: {built.stderr.strip()[-500:]}", file=sys.stderr)
                return None
        spec = f"unix:{self.sockets / f'{name}.sock'}" if unix else f"inet:127.0.0.1:{_free_port()}"
        proc = Proc([str(binary), spec], self.work / f"{name}.log")
        self._ready(proc, spec)
        return proc, spec

    # -- one phase ---------------------------------------------------------------------------

    def run_phase(self, label: str, milters: list[Proc], spec: str | None, *, expect: tuple[str, ...],
                  messages: list[bytes] | None = None) -> Phase:
        """One Postfix run of ``messages`` (default: all) through ``spec`` after a warm-up."""
        batch = self.messages if messages is None else messages
        phase = Phase(label)
        postfix = _postfix(spec, self.queue)
        warm_up = [self.messages[i % len(self.messages)] for i in range(WARM_UP)]
        # Ready before the clock starts (for the C load generator; None without it).
        warm_up_file, batch_file = self.load.payloads(warm_up), self.load.payloads(batch)
        try:
            postfix.start()
            # Warm-up: every milter has the DNS answers cached, and Postfix has started the
            # processes (smtpd, cleanup, virtual) that CLIENTS concurrent sessions need, so the
            # clock below does not include starting them (sent one after another, they left
            # Postfix with a single smtpd).
            failed, first = self.load.send(postfix, warm_up, warm_up_file)
            if failed:
                print(f"bench milter: {label}: warm-up: {failed} sends failed, first: {first}", file=sys.stderr)
            postfix.wait_delivered(len(warm_up) - failed, timeout=60)
            warm = len(postfix.delivered())
            cpu_before = sum(m.cpu_seconds() for m in milters)
            machine_before = _machine_cpu()
            started = time.perf_counter()
            failed, first = self.load.send(postfix, batch, batch_file)
            expected = warm + len(batch) - failed
            postfix.wait_delivered(expected, timeout=300)
            phase.seconds = time.perf_counter() - started
            phase.machine_cpu = _machine_cpu() - machine_before
            phase.cpu = sum(m.cpu_seconds() for m in milters) - cpu_before
            delivered = postfix.delivered()
            phase.delivered = len(delivered) - warm
            phase.failed = failed
            if failed:
                print(f"bench milter: {label}: {failed} sends failed, first: {first}", file=sys.stderr)
            left = postfix.queued()
            if left:
                print(f"bench milter: {label}: {len(left)} messages left in the queue", file=sys.stderr)
            if expect and delivered:
                text = " ".join(delivered[-1].read_bytes().split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
                                .decode(errors="replace").split())
                missing = [e for e in expect if e not in text]
                phase.check = "checked " + ", ".join(expect) if not missing else f"MISSING {', '.join(missing)}"
                if missing:
                    print(f"bench milter: {label}: delivered mail lacks {missing}", file=sys.stderr)
        finally:
            postfix.stop()
        return phase

    def latency(self, label: str, spec: str | None) -> Latency:
        """One client sending ``LATENCY_MESSAGES`` messages one after another through ``spec``:
        the time from connecting to the answer after the message data, per message."""
        warm_up, batch = self.messages[:10], self.messages[10:10 + LATENCY_MESSAGES]
        times: list[float] = []
        failed = 0
        postfix = _postfix(spec, self.queue)
        try:
            postfix.start()
            for number, raw in enumerate(warm_up + batch):
                started = time.perf_counter()
                try:
                    _send(postfix, raw)
                except Exception as exc:  # counted, not hidden
                    failed += 1
                    print(f"bench milter: {label}: one client: {type(exc).__name__}: {exc}", file=sys.stderr)
                    continue
                if number >= len(warm_up):
                    times.append((time.perf_counter() - started) * 1000)
            delivered = len(postfix.wait_delivered(len(warm_up) + len(batch) - failed, timeout=120))
        finally:
            postfix.stop()
        return Latency(label, sorted(times), delivered - len(warm_up), failed)


def _postfix(spec: str | None, queue: Path | None) -> PostfixInstance:
    """A Postfix instance (not started) whose smtpd_milters is ``spec``, its directories under
    ``queue`` (None: the system's temporary directory)."""
    repo = Path(__file__).resolve().parent.parent
    if str(repo) not in sys.path:
        sys.path.insert(0, str(repo))
    from tests.milter.postfix_harness import PostfixInstance

    return PostfixInstance(milter=spec, process_limit=CLIENTS * 2, parent=queue)


def _filesystem(path: Path) -> str:
    """The file system ``path`` is on, as /proc/mounts names it, e.g. "ext4 on /dev/vda, discard"."""
    best, said = -1, "unknown file system"
    with contextlib.suppress(OSError), open("/proc/mounts", encoding="utf-8") as mounts:
        for line in mounts:
            device, point, kind, options = line.split()[:4]
            inside = path == Path(point) or Path(point) in path.parents
            if inside and len(point) > best:
                online_discard = ", discard" if "discard" in options.split(",") else ""
                best, said = len(point), f"{kind} on {device}{online_discard}"
    return said


def _data_payload(raw: bytes) -> bytes:
    """The DATA payload: CRLF lines (RFC 5321 2.3.8; the bench's messages have them already, so these
    are the bytes smtplib sends), dot-stuffed (4.5.2), ending in CRLF . CRLF."""
    data = re.sub(rb"\r\n|\n|\r(?!\n)", b"\r\n", raw)
    data = re.sub(rb"(?m)^\.", b"..", data)
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data + b".\r\n"


def _machine_cpu() -> float:
    """CPU seconds the machine has spent so far, all cores: user, nice, system, irq and softirq
    (not idle, I/O wait, or time the hypervisor stole)."""
    with open("/proc/stat", encoding="ascii") as stat:
        ticks = [int(n) for n in stat.readline().split()[1:]]
    return sum(ticks[i] for i in (0, 1, 2, 5, 6)) / TICKS


def _send(postfix: PostfixInstance, raw: bytes) -> None:
    postfix.send(raw, mail_from=f"alice@{DOMAIN}", rcpt_to=[RCPT], source_address=CLIENT_IP, helo=f"mx.{DOMAIN}")


@contextlib.contextmanager
def _cores(cores: set[int]) -> Iterator[None]:
    """Run (and start children) on ``cores``, then go back to the previous affinity."""
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cores)
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def _stop(procs: list[Proc]) -> None:
    for proc in procs:
        proc.stop()


@dataclass
class Contender:
    key: str  # the phases dict key
    label: str
    milters: list[Proc]  # whose CPU is counted
    spec: str | None  # None: Postfix without a milter
    expect: tuple[str, ...]


def _alternate(bench: Bench, contenders: list[Contender], phases: dict[str, Phase]) -> None:
    """Every contender's share of the messages in ROUNDS rounds, the contenders taking turns
    (in a rotated order each round), all of them running meanwhile: a burst of load from
    elsewhere on the machine falls on each of them alike, not on whichever phase it hit."""
    size = -(-len(bench.messages) // ROUNDS)
    slices = [bench.messages[i:i + size] for i in range(0, len(bench.messages), size)]
    totals = {c.key: Phase(c.label) for c in contenders}
    for number, batch in enumerate(slices):
        for c in contenders[number % len(contenders):] + contenders[:number % len(contenders)]:
            part = bench.run_phase(c.label, c.milters, c.spec, expect=c.expect, messages=batch)
            total = totals[c.key]
            total.delivered += part.delivered
            total.failed += part.failed
            total.seconds += part.seconds
            total.cpu += part.cpu
            total.machine_cpu += part.machine_cpu
            total.rounds.append(part.rate)
            if not total.check or part.check.startswith("MISSING"):
                total.check = part.check
    phases.update(totals)


def _peers(bench: Bench, *, name: str, key: str, label: str, unix: bool) -> tuple[list[Proc], list[Contender]]:
    """OpenDKIM alone and OpenDKIM then OpenDMARC chained: contenders "opendkim KEY", "chain KEY"."""
    dkim, dkim_spec = bench.opendkim(f"opendkim-{name}", unix=unix)
    dmarc, dmarc_spec = bench.opendmarc(f"opendmarc-{name}", unix=unix)
    return [dkim, dmarc], [
        Contender(f"opendkim {key}", f"OpenDKIM{label}", [dkim], dkim_spec, ("dkim=pass",)),
        Contender(f"chain {key}", f"OpenDKIM+OpenDMARC{label}", [dkim, dmarc], f"{dkim_spec}, {dmarc_spec}",
                  ("dkim=pass", "dmarc=pass")),
    ]


def run() -> list[Row]:
    missing = [tool for tool in ("postfix", "opendkim", "opendmarc", "unbound", "unshare")
               if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists()]
    if missing:
        print(f"bench milter: {', '.join(missing)} not installed (`make deps`): no rows", file=sys.stderr)
        return []
    if os.geteuid() != 0:
        print("bench milter: Postfix, unbound on port 53 and a mount namespace need root: no rows", file=sys.stderr)
        return []
    os.environ["PATH"] = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    messages = _messages(MESSAGES, key)
    work = Path(tempfile.mkdtemp(prefix="zegel-bench-milter-"))
    bench = Bench(work, messages, key)
    phases: dict[str, Phase] = {}
    latencies: dict[str, Latency] = {}
    zegel_expect = ("spf=pass", "dkim=pass", "dmarc=pass")
    all_cores = set(os.sched_getaffinity(0)) | set(range(os.cpu_count() or 1))
    in_memory, disk = False, _filesystem(work)
    try:
        bench.start_unbound()
        in_memory = bench.queue_in_memory()
        phases["postfix"] = bench.run_phase("Postfix alone", [], None, expect=())
        if LATENCY_MESSAGES:
            latencies["postfix"] = bench.latency("Postfix alone", None)
        for transport, unix in (("TCP", False), ("unix", True)):
            zegel, spec = bench.zegel(f"zegel-{transport}", unix=unix)
            procs = list(zegel)
            try:
                peers, contenders = _peers(bench, name=transport, key=transport, label=f" {transport}", unix=unix)
                procs += peers
                _alternate(bench, [Contender(f"zegel {transport}", f"zegel {transport}", zegel, spec,
                                             zegel_expect), *contenders], phases)
                if LATENCY_MESSAGES:
                    for who, who_spec in ((f"zegel {transport}", spec), *((c.key, c.spec) for c in contenders)):
                        latencies[who] = bench.latency(who, who_spec)
            finally:
                _stop(procs)
        if len(all_cores) > 1:
            # Scaling: the milter may use every core (Postfix and the clients too).
            with _cores(all_cores):
                procs = []
                try:
                    w1, w1_spec = bench.zegel("zegel-w1", unix=False, workers=1)
                    w2, w2_spec = bench.zegel("zegel-w2", unix=False, workers=2)
                    procs = w1 + w2
                    peers, contenders = _peers(bench, name="all-TCP", key="all", label=", all cores, TCP", unix=False)
                    procs += peers
                    _alternate(bench, [
                        Contender("workers 1", "zegel workers=1", w1, w1_spec, zegel_expect),
                        Contender("workers 2", "zegel workers=2", w2, w2_spec, zegel_expect), *contenders], phases)
                finally:
                    _stop(procs)
                procs = []
                try:
                    w2, w2_spec = bench.zegel("zegel-w2-unix", unix=True, workers=2)
                    w1, w1_spec = bench.zegel("zegel-w1-unix", unix=True, workers=1)
                    session, session_spec = bench.zegel("zegel-w2-unix-session", unix=True, workers=2, verify=False)
                    procs = w2 + w1 + session
                    peers, contenders = _peers(bench, name="all-unix", key="all unix", label=", all cores, unix",
                                               unix=True)
                    procs += peers
                    floor: list[Contender] = [Contender("postfix all", "Postfix alone, all cores", [], None, ())]
                    null = bench.null_milter("null-unix", unix=True)
                    if null is not None:
                        procs.append(null[0])
                        floor.append(Contender("null unix", "null milter, all cores, unix", [null[0]], null[1],
                                               ("null.test; none",)))
                    _alternate(bench, [
                        Contender("workers 2 unix", "zegel workers=2 unix", w2, w2_spec, zegel_expect),
                        # One worker on two cores: no accept herd (a unix socket has no SO_REUSEPORT)
                        # and one process's caches; Postfix keeps the other core.
                        Contender("workers 1 unix", "zegel workers=1 unix", w1, w1_spec, zegel_expect),
                        # What zegel's milter session alone costs (no verification, no header added).
                        Contender("session unix", "zegel workers=2 unix, verification off", session, session_spec,
                                  ()), *contenders, *floor], phases)
                    if in_memory:
                        # The same comparison with the queue on disk: what the disk adds, for all alike.
                        with bench.queue_on_disk():
                            _alternate(bench, [
                                Contender("disk workers 2 unix", "zegel workers=2 unix, queue on disk", w2, w2_spec,
                                          zegel_expect),
                                *(Contender(f"disk {c.key}", f"{c.label}, queue on disk", c.milters, c.spec, c.expect)
                                  for c in (*contenders[:1], *floor))], phases)
                finally:
                    _stop(procs)
    finally:
        if bench.unbound is not None:
            bench.unbound.stop()
        bench.release_memory()
        shutil.rmtree(work, ignore_errors=True)

    def note(phase: Phase) -> str:
        return (f"delivered {phase.delivered}/{MESSAGES}, failed {phase.failed}; "
                f"milter CPU {phase.cpu_ms:.2f} ms/msg, machine {phase.machine_ms:.2f}; {phase.check}").rstrip("; ")

    def per_round(ours: Phase, peer: Phase) -> str:
        """The ratio in each round (the contenders took turns): how far one run's ratio moves."""
        ratios = [f"{a / b:.2f}x" for a, b in zip(ours.rounds, peer.rounds, strict=False) if b]
        return f" | per round {' '.join(ratios)}" if len(ratios) > 1 else ""

    rows: list[Row] = []
    queued = ", queue in tmpfs" if in_memory else ""
    base = phases["postfix"]
    rows.append(Row("milter", f"Postfix alone, {MESSAGES} msgs, {CLIENTS} clients{queued}", "msg/s", base.rate,
                    note=f"delivered {base.delivered}/{MESSAGES}, failed {base.failed}"))
    for transport in ("TCP", "unix"):
        z, d, c = phases[f"zegel {transport}"], phases[f"opendkim {transport}"], phases[f"chain {transport}"]
        rows.append(Row("milter", f"verify via Postfix, {transport}{queued}: zegel SPF+DKIM+ARC+DMARC", "msg/s", z.rate,
                        "OpenDKIM verify", d.rate, note=f"zegel: {note(z)} | OpenDKIM: {note(d)}{per_round(z, d)}"))
        rows.append(Row("milter", f"verify via Postfix, {transport}{queued}: zegel vs chained peers", "msg/s", z.rate,
                        "OpenDKIM+OpenDMARC", c.rate, note=f"chain: {note(c)}"))
        rows.append(Row("milter", f"milter CPU per message via Postfix, {transport}{queued}", "ms", z.cpu_ms,
                        "OpenDKIM", d.cpu_ms, higher_is_better=False,
                        note=f"OpenDKIM+OpenDMARC {c.cpu_ms:.2f} ms"))
    if "workers 2" in phases:
        one, two = phases["workers 1"], phases["workers 2"]
        rows.append(Row("milter", f"zegel workers=2, {len(all_cores)} cores, TCP{queued}", "msg/s", two.rate,
                        "zegel workers=1", one.rate,
                        note=f"w2: {note(two)} | w1: {note(one)}"))
        d, c = phases["opendkim all"], phases["chain all"]
        rows.append(Row("milter", f"verify via Postfix, {len(all_cores)} cores, TCP{queued}: zegel workers=2", "msg/s",
                        two.rate, "OpenDKIM verify", d.rate, note=f"OpenDKIM: {note(d)}{per_round(two, d)}"))
        rows.append(Row("milter", f"verify via Postfix, {len(all_cores)} cores, TCP{queued}: zegel workers=2", "msg/s",
                        two.rate, "OpenDKIM+OpenDMARC", c.rate, note=f"chain: {note(c)}"))
    if "workers 2 unix" in phases:
        two, d, c = phases["workers 2 unix"], phases["opendkim all unix"], phases["chain all unix"]
        rows.append(Row("milter", f"verify via Postfix, {len(all_cores)} cores, unix{queued}: zegel workers=2", "msg/s",
                        two.rate, "OpenDKIM verify", d.rate,
                        note=f"zegel: {note(two)} | OpenDKIM: {note(d)}{per_round(two, d)}"))
        rows.append(Row("milter", f"verify via Postfix, {len(all_cores)} cores, unix{queued}: zegel workers=2", "msg/s",
                        two.rate, "OpenDKIM+OpenDMARC", c.rate, note=f"chain: {note(c)}"))
        one = phases["workers 1 unix"]
        rows.append(Row("milter", f"verify via Postfix, {len(all_cores)} cores, unix{queued}: zegel workers=1", "msg/s",
                        one.rate, "OpenDKIM verify", d.rate,
                        note=f"zegel: {note(one)}; workers=2: {two.rate:.1f}{per_round(one, d)}"))
        session_phase = phases["session unix"]
        rows.append(Row("milter", f"the session alone via Postfix, {len(all_cores)} cores, unix{queued}: zegel workers=2, "
                        "verification off", "msg/s", session_phase.rate, "OpenDKIM verify", d.rate,
                        note=f"{note(session_phase)}; zegel verifying: {two.rate:.1f}{per_round(session_phase, d)}"))
        no_milter = phases["postfix all"]
        null_phase = phases.get("null unix")
        if null_phase is not None:
            rows.append(Row("milter", f"a milter that does nothing via Postfix, {len(all_cores)} cores, unix{queued} "
                            "(bench/nullmilter.c, C)", "msg/s", null_phase.rate, "OpenDKIM verify", d.rate,
                            note=f"{note(null_phase)}; the ceiling for any milter here (zegel verifying: {two.rate:.1f}; "
                                 f"Postfix without a milter: {no_milter.rate:.1f}){per_round(null_phase, d)}"))
        rows.append(Row("milter", f"Postfix alone, {len(all_cores)} cores, {MESSAGES} msgs, {CLIENTS} clients{queued}", "msg/s",
                        no_milter.rate, note=f"delivered {no_milter.delivered}/{MESSAGES}, failed {no_milter.failed}; "
                                             "in turn with the unix contenders above"))
    if "disk workers 2 unix" in phases:
        two, d, no_milter = phases["disk workers 2 unix"], phases["disk opendkim all unix"], phases["disk postfix all"]
        on_disk = f"{len(all_cores)} cores, unix, queue on disk ({disk})"
        rows.append(Row("milter", f"verify via Postfix, {on_disk}: zegel workers=2", "msg/s", two.rate,
                        "OpenDKIM verify", d.rate, note=f"zegel: {note(two)} | OpenDKIM: {note(d)}{per_round(two, d)}"))
        null_phase = phases.get("disk null unix")
        if null_phase is not None:
            rows.append(Row("milter", f"a milter that does nothing via Postfix, {on_disk}", "msg/s", null_phase.rate,
                            "OpenDKIM verify", d.rate, note=f"{note(null_phase)}{per_round(null_phase, d)}"))
        rows.append(Row("milter", f"Postfix alone, {on_disk}", "msg/s", no_milter.rate,
                        note=f"delivered {no_milter.delivered}/{MESSAGES}, failed {no_milter.failed}; in turn with "
                             "the contenders queueing on disk; the kernel's work for the disk is the same per "
                             "message for every contender, and the same cores pay for it"))
    if "postfix" in latencies:
        alone = latencies["postfix"]

        def added(latency: Latency) -> float:
            return max(latency.median - alone.median, 0.0)  # 0: no ratio (within noise)

        def said(latency: Latency) -> str:
            return (f"p50 {latency.median:.2f} ms, p90 {latency.p90:.2f} ms, delivered "
                    f"{latency.delivered}/{LATENCY_MESSAGES}, failed {latency.failed}")

        for transport in ("TCP", "unix"):
            if f"zegel {transport}" not in latencies:
                continue
            ours, peer, chain = (latencies[f"{who} {transport}"] for who in ("zegel", "opendkim", "chain"))
            rows.append(Row("milter", f"latency added via Postfix, one client, {transport}: zegel SPF+DKIM+ARC+DMARC",
                            "ms", added(ours), "OpenDKIM verify", added(peer), higher_is_better=False,
                            note=f"zegel {said(ours)} | OpenDKIM {said(peer)} | OpenDKIM+OpenDMARC "
                                 f"+{added(chain):.2f} ms ({said(chain)}) | Postfix alone {said(alone)}"))
    return rows


if __name__ == "__main__":
    from bench.common import print_table

    print_table(run())
