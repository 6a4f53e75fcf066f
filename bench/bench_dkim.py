"""DKIM: verifications/s and signatures/s for 2 KB, 20 KB and 200 KB messages, RSA-2048 and
Ed25519, relaxed/relaxed, beside dkimpy (same run, same messages, key lookups answered from
memory for both: zegel from a zone overlay + its caches, dkimpy through its ``dnsfunc``;
zegel's verifications run ASYNC_BATCH to an event-loop turn, as in the milter) and
OpenDKIM in its ``-t`` test mode on the same message files (keys from a TestPublicKeys file;
batches of files per process, so process start-up is spread over the batch)."""

from __future__ import annotations

import asyncio
import base64
import importlib.util
import random
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Coroutine
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from bench.common import Row, rate
from zegel.dkim import DkimVerifier, sign
from zegel.dkim.keys import PrivateKey, public_key_record, zone_file_line
from zegel.dns import Resolver, nodes_from_zone_text

DOMAIN = "example.com"
SIZES = {"2KB": 2 * 1024, "20KB": 20 * 1024, "200KB": 200 * 1024}
MIN_SECONDS = 0.6
OPENDKIM_BATCH = 100
# zegel verifies inside an event loop (as the milter does): one loop turn runs this many
# verifications, so the figure is not the cost of starting the loop.
ASYNC_BATCH = 20

WORDS = [
    "de", "het", "een", "factuur", "betaling", "order", "bevestiging", "levering", "klant",
    "account", "meeting", "agenda", "invoice", "payment", "confirmation", "delivery",
    "customer", "report", "update", "schedule", "thanks", "regards",
]


def make_message(size: int, seed: int) -> bytes:
    """A plausible text message of about ``size`` octets: headers, then lines of words (some
    with trailing whitespace and double spaces, which relaxed canonicalization rewrites)."""
    rng = random.Random(seed)
    headers = (
        f"From: Alice Example <alice@{DOMAIN}>\r\nTo: Bob <bob@example.net>\r\n"
        f"Subject: Benchmark message {seed}\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n"
        f"Message-ID: <bench-{seed}@{DOMAIN}>\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n"
    ).encode()
    lines: list[bytes] = []
    total = len(headers)
    while total < size:
        line = " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 12)))
        if rng.random() < 0.1:
            line += "  "
        if rng.random() < 0.1:
            line = line.replace(" ", "  ", 1)
        data = line.encode() + b"\r\n"
        lines.append(data)
        total += len(data)
    return headers + b"".join(lines)


def _dkimpy_key(key: PrivateKey) -> bytes:
    if isinstance(key, rsa.RSAPrivateKey):
        return key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
        )
    raw = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    return base64.b64encode(raw)


class OpenDkimRunner:
    """``opendkim -x CONF -t f1,f2,...`` on copies of one message; rate = files / wall time."""

    def __init__(self, binary: str, workdir: Path, keys: dict[str, PrivateKey]) -> None:
        self.binary = binary
        self.workdir = workdir
        records = "".join(f"{sel}._domainkey.{DOMAIN} {public_key_record(key)}\n" for sel, key in keys.items())
        (workdir / "keys.txt").write_text(records)
        self.confs: dict[str, Path] = {}
        for selector, key in keys.items():
            pem = workdir / f"{selector}.pem"
            pem.write_bytes(
                key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption())
            )
            pem.chmod(0o600)
            algorithm = "rsa-sha256" if isinstance(key, rsa.RSAPrivateKey) else "ed25519-sha256"
            self.confs[f"sign-{selector}"] = self._conf(
                f"sign-{selector}",
                ["Mode s", f"Domain {DOMAIN}", f"Selector {selector}", f"KeyFile {pem}",
                 "Canonicalization relaxed/relaxed", f"SignatureAlgorithm {algorithm}"],
            )
        self.confs["verify"] = self._conf("verify", ["Mode v"])

    def _conf(self, name: str, lines: list[str]) -> Path:
        path = self.workdir / f"{name}.conf"
        path.write_text("\n".join([*lines, f"TestPublicKeys {self.workdir / 'keys.txt'}", "Syslog no",
                                   "RequireSafeKeys no", ""]))
        return path

    def rate(self, conf: str, message: bytes, expect: str) -> float | None:
        names = []
        for index in range(OPENDKIM_BATCH):
            name = f"m{index}.eml"
            (self.workdir / name).write_bytes(message)
            names.append(name)
        args = [self.binary, "-x", str(self.confs[conf]), "-t", ",".join(names)]
        if not expect:  # signing prints nothing per file unless verbose: check one file first
            probe = subprocess.run([self.binary, "-x", str(self.confs[conf]), "-vv", "-t", names[0]],
                                   capture_output=True, text=True, cwd=self.workdir, check=False)
            if "hname='DKIM-Signature'" not in probe.stdout:
                return None
        done_files = 0
        started = time.perf_counter()
        while True:
            done = subprocess.run(args, capture_output=True, text=True, cwd=self.workdir, check=False)
            if expect and (done.stdout + done.stderr).count(expect) != OPENDKIM_BATCH:
                return None  # not every file processed as expected: no figure rather than a wrong one
            done_files += OPENDKIM_BATCH
            elapsed = time.perf_counter() - started
            if elapsed >= MIN_SECONDS and done_files >= 2 * OPENDKIM_BATCH:
                return done_files / elapsed


def run() -> list[Row]:
    import dkim  # dkimpy, the PyPI peer

    have_pynacl = importlib.util.find_spec("nacl") is not None

    keys: dict[str, PrivateKey] = {
        "rsa": rsa.generate_private_key(65537, 2048),
        "ed": ed25519.Ed25519PrivateKey.generate(),
    }
    records = {sel: public_key_record(key) for sel, key in keys.items()}
    zone = "".join(zone_file_line(sel, DOMAIN, text) + "\n" for sel, text in records.items())
    resolver = Resolver(zone_nodes=nodes_from_zone_text(zone), offline=True)
    verifier = DkimVerifier(resolver)
    loop = asyncio.new_event_loop()

    def dnsfunc(name: bytes, timeout: int = 5) -> bytes:
        return records[name.decode().split(".", 1)[0]].encode()

    opendkim_binary = shutil.which("opendkim") or ("/usr/sbin/opendkim" if Path("/usr/sbin/opendkim").exists() else None)
    workdir = Path(tempfile.mkdtemp(prefix="zegel-bench-dkim-"))
    opendkim = OpenDkimRunner(opendkim_binary, workdir, keys) if opendkim_binary else None
    note_missing = "opendkim not installed (apt-get install opendkim; make deps): no figure"

    rows: list[Row] = []
    try:
        for size_name, size in SIZES.items():
            message = make_message(size, seed=size)
            for selector, key in keys.items():
                label = "RSA-2048" if selector == "rsa" else "Ed25519"
                algorithm = b"rsa-sha256" if selector == "rsa" else b"ed25519-sha256"
                signed = sign(message, domain=DOMAIN, selector=selector, private_key=key) + message
                check = loop.run_until_complete(verifier.verify(signed))
                assert check[0].result == "pass", check[0].reason
                dkimpy_ok = selector == "rsa" or have_pynacl
                if dkimpy_ok:
                    assert dkim.verify(signed, dnsfunc=dnsfunc), "dkimpy does not verify the benchmark message"

                async def verify_batch(signed: bytes = signed) -> None:
                    for _ in range(ASYNC_BATCH):
                        await verifier.verify(signed)

                def zegel_verify(verify_batch: Callable[[], Coroutine[None, None, None]] = verify_batch) -> object:
                    return loop.run_until_complete(verify_batch())

                def dkimpy_verify(signed: bytes = signed) -> object:
                    return dkim.verify(signed, dnsfunc=dnsfunc)

                def zegel_sign(message: bytes = message, selector: str = selector, key: PrivateKey = key) -> object:
                    return sign(message, domain=DOMAIN, selector=selector, private_key=key)

                pem = _dkimpy_key(key)

                def dkimpy_sign(message: bytes = message, selector: str = selector, pem: bytes = pem,
                                algorithm: bytes = algorithm) -> object:
                    return dkim.sign(message, selector.encode(), DOMAIN.encode(), pem,
                                     canonicalize=(b"relaxed", b"relaxed"), signature_algorithm=algorithm)

                measured: list[tuple[str, Callable[[], object], Callable[[], object], str, bytes, str]] = [
                    ("verify", zegel_verify, dkimpy_verify, "verify", signed, "succeeded"),
                    ("sign", zegel_sign, dkimpy_sign, f"sign-{selector}", message, ""),
                ]
                for action, ours, theirs, conf, data, expect in measured:
                    metric = f"{action} {label} {size_name}"
                    unit = "verifications/s" if action == "verify" else "signatures/s"
                    ours_rate = rate(ours, min_seconds=MIN_SECONDS) * (ASYNC_BATCH if action == "verify" else 1)
                    if dkimpy_ok:
                        rows.append(Row("dkim", metric, unit, ours_rate, "dkimpy", rate(theirs, min_seconds=MIN_SECONDS)))
                    else:
                        rows.append(Row("dkim", metric, unit, ours_rate, "dkimpy", None,
                                        note="PyNaCl not installed (dkimpy needs it for ed25519): no figure"))
                    if opendkim is None:
                        rows.append(Row("dkim", metric, unit, ours_rate, "OpenDKIM -t", None, note=note_missing))
                    else:
                        figure = opendkim.rate(conf, data, expect)
                        note = "" if figure is not None else "OpenDKIM did not process every file: no figure"
                        rows.append(Row("dkim", metric, unit, ours_rate, "OpenDKIM -t", figure, note=note))
    finally:
        loop.close()
        shutil.rmtree(workdir, ignore_errors=True)
    return rows
