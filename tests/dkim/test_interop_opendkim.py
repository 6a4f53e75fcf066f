"""Interoperability with OpenDKIM (Debian opendkim) in its ``-t`` test mode, keys from a
TestPublicKeys file: zegel's signatures verify in OpenDKIM, OpenDKIM's verify in zegel, for
rsa-sha256 and ed25519-sha256, every canonicalization pair and the message corners in
VARIANTS; a one-byte change fails in zegel exactly when it fails in OpenDKIM."""

from __future__ import annotations

import asyncio
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.conftest import require_tool

from zegel.dkim import sign, verify
from zegel.dkim.keys import public_key_record
from zegel.dns import Resolver
from zegel.dns.testserver import TestDnsServer

from .conftest import CANONICALIZATIONS, DOMAIN, VARIANT_HEADERS, VARIANTS, SigningKeys
from .test_interop_dkimpy import wsp_before_field_colon

KeyDns = Callable[..., tuple[Resolver, TestDnsServer]]
KINDS = ["rsa", "ed25519"]

# Where OpenDKIM (2.11, -t mode) and RFC 6376 part ways; zegel follows the RFC and agrees with
# dkimpy there (tests/dkim/test_interop_dkimpy.py). Each is asserted to still diverge, so a
# fixed OpenDKIM shows up as a failing test rather than a silently skipped case.
MILTER_COLON_SPACE = (
    "OpenDKIM's milter interface passes header values without the whitespace after the colon "
    "and re-inserts one SP, so simple header canonicalization of 'Name:value' or 'Name:   value' "
    "differs from the bytes on the wire"
)
NO_FINAL_CRLF = (
    "OpenDKIM does not add the final CRLF that RFC 6376 3.4.4 requires for a relaxed body "
    "without one, and refuses to sign such a body ('CRLF at end of body missing'); over SMTP "
    "every body ends in CRLF"
)


ED25519_SIMPLE_HEADER = (
    "OpenDKIM 2.11's own ed25519-sha256 signatures with simple header canonicalization verify "
    "nowhere: not in OpenDKIM itself, not in dkimpy, not in zegel (its rsa-sha256 ones do)"
)


def opendkim_divergence(variant: str, canon: tuple[str, str]) -> str | None:
    if variant == "odd-colon-spacing" and canon[0] == "simple":
        return MILTER_COLON_SPACE
    if variant == "no-final-crlf" and canon[1] == "relaxed":
        return NO_FINAL_CRLF
    return None
_VERDICT = re.compile(r"^opendkim: (.+?): verification \(.*\) (succeeded|failed)", re.MULTILINE)
_INSHEADER = re.compile(r"### INSHEADER: idx=\d+ hname='DKIM-Signature' hvalue='(.*?)'\n(?=###|\Z|opendkim)", re.DOTALL)


class OpenDkim:
    """Drives ``opendkim -x CONF -t FILE[,FILE...]`` in a private directory."""

    def __init__(self, binary: str, workdir: Path, keys: SigningKeys) -> None:
        self.binary = binary
        self.workdir = workdir
        (workdir / "keys.txt").write_text(
            f"rsa._domainkey.{DOMAIN} {public_key_record(keys.rsa)}\n"
            f"ed._domainkey.{DOMAIN} {public_key_record(keys.ed25519)}\n"
        )
        for kind in KINDS:
            path = workdir / f"{kind}.pem"
            path.write_bytes(keys.pem(kind))
            path.chmod(0o600)
        self._count = 0
        self.sentinel = zegel_sign(keys, "rsa", VARIANTS["plain"], ("relaxed", "relaxed"), None)

    def _conf(self, lines: list[str]) -> Path:
        self._count += 1
        conf = self.workdir / f"opendkim-{self._count}.conf"
        conf.write_text("\n".join([*lines, f"TestPublicKeys {self.workdir / 'keys.txt'}", "Syslog no",
                                   "RequireSafeKeys no", ""]))
        return conf

    def _run(self, conf: Path, files: list[Path], verbose: bool = False) -> subprocess.CompletedProcess[str]:
        args = [self.binary, "-x", str(conf)] + (["-vv"] if verbose else []) + ["-t", ",".join(map(str, files))]
        return subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)

    def sign(self, message: bytes, kind: str, canon: tuple[str, str]) -> bytes:
        conf = self._conf([
            "Mode s", f"Domain {DOMAIN}", f"Selector {'rsa' if kind == 'rsa' else 'ed'}",
            f"KeyFile {self.workdir / (kind + '.pem')}", f"Canonicalization {canon[0]}/{canon[1]}",
            f"SignatureAlgorithm {'rsa-sha256' if kind == 'rsa' else 'ed25519-sha256'}",
        ])
        path = self.workdir / "to-sign.eml"
        path.write_bytes(message)
        done = self._run(conf, [path], verbose=True)
        found = _INSHEADER.search(done.stdout)
        assert found, f"opendkim did not sign: {done.stdout}\n{done.stderr}"
        value = found.group(1).replace("\n", "\r\n").encode()
        return b"DKIM-Signature: " + value + b"\r\n" + message

    def verify_many(self, messages: list[bytes]) -> list[bool]:
        """True per message when OpenDKIM reports that verification succeeded.

        OpenDKIM says nothing for some rejected messages (e.g. no From field): no verdict counts
        as failed. It also abandons the rest of a -t file list at a malformed header, so files
        go in batches closed by a known-good sentinel: when the sentinel has no verdict, the
        batch resumes after the last file OpenDKIM mentioned."""
        conf = self._conf(["Mode v"])
        names = []
        for index, message in enumerate(messages):
            (self.workdir / f"v{index}.eml").write_bytes(message)
            names.append(f"v{index}.eml")
        (self.workdir / "sentinel.eml").write_bytes(self.sentinel)
        verdicts: dict[str, bool] = {}
        position = 0
        while position < len(names):
            batch = names[position : position + 50]
            done = subprocess.run(
                [self.binary, "-x", str(conf), "-t", ",".join([*batch, "sentinel.eml"])],
                capture_output=True, text=True, timeout=120, check=False, cwd=self.workdir,
            )
            output = done.stdout + "\n" + done.stderr
            found = dict(_VERDICT.findall(output))
            verdicts.update((name, word == "succeeded") for name, word in found.items() if name != "sentinel.eml")
            if found.get("sentinel.eml") == "succeeded":
                position += len(batch)
                continue
            mentioned = [i for i, name in enumerate(batch) if f"opendkim: {name}:" in output]
            position += (max(mentioned) if mentioned else 0) + 1
        return [verdicts.get(name, False) for name in names]


@pytest.fixture
def opendkim(tmp_path: Path, signing_keys: SigningKeys) -> OpenDkim:
    binary = require_tool("opendkim", "opendkim")
    return OpenDkim(binary, tmp_path, signing_keys)


def zegel_sign(keys: SigningKeys, kind: str, message: bytes, canon: tuple[str, str], headers: list[str] | None) -> bytes:
    key = keys.rsa if kind == "rsa" else keys.ed25519
    return sign(message, domain=DOMAIN, selector="rsa" if kind == "rsa" else "ed", private_key=key,
                canonicalization=canon, headers=headers) + message


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("canon", CANONICALIZATIONS, ids="/".join)
def test_both_directions(
    opendkim: OpenDkim, signing_keys: SigningKeys, key_dns: KeyDns, kind: str, canon: tuple[str, str]
) -> None:
    resolver, _ = key_dns()
    ours = [zegel_sign(signing_keys, kind, VARIANTS[v], canon, VARIANT_HEADERS.get(v)) for v in VARIANTS]
    expected = {v: opendkim_divergence(v, canon) is None for v in VARIANTS}
    assert dict(zip(VARIANTS, opendkim.verify_many(ours), strict=True)) == expected
    for variant, message in VARIANTS.items():
        if variant == "no-final-crlf":
            continue  # OpenDKIM refuses to sign it (NO_FINAL_CRLF); see test_opendkim_refuses_unterminated_body
        theirs = opendkim.sign(message, kind, canon)
        [result] = asyncio.run(verify(theirs, resolver=resolver))
        if kind == "ed25519" and canon[0] == "simple":  # ED25519_SIMPLE_HEADER
            assert result.result == "fail" and opendkim.verify_many([theirs]) == [False]
            continue
        # OpenDKIM signs what its milter interface saw, not the bytes on the wire (divergence)
        assert (result.result == "pass") == (opendkim_divergence(variant, canon) is None), (variant, result.reason)


def in_wsp_after_field_colon(message: bytes, pos: int) -> bool:
    """``pos`` lies in (or just after) the whitespace run that follows a field name's colon:
    inserting or deleting WSP there is invisible to OpenDKIM (MILTER_COLON_SPACE)."""
    if pos > message.index(b"\r\n\r\n"):
        return False
    line_start = message.rfind(b"\n", 0, pos) + 1
    if message[line_start : line_start + 1] in (b" ", b"\t"):
        return False
    colon = message.find(b":", line_start, pos)
    return colon >= 0 and message[colon + 1 : pos].strip(b" \t") == b""


def _mutations(message: bytes) -> list[bytes]:
    start = message.index(b"\r\n", message.index(b"b=")) + 2
    while message[start : start + 1] in (b" ", b"\t"):
        start = message.index(b"\r\n", start) + 2
    out = []
    for pos in range(start, len(message)):
        if message[pos] in (0x0D, 0x0A):
            continue
        out.append(message[:pos] + (b"X" if message[pos] != ord("X") else b"Y") + message[pos + 1 :])
        colon_space = in_wsp_after_field_colon(message, pos)
        if not wsp_before_field_colon(message, pos) and not colon_space:
            out.append(message[:pos] + b" " + message[pos:])
        if not (colon_space and message[pos] in b" \t"):
            out.append(message[:pos] + message[pos + 1 :])
    return out


@pytest.mark.parametrize("signer", ["zegel", "opendkim"])
@pytest.mark.parametrize("canon", CANONICALIZATIONS, ids="/".join)
def test_one_byte_changes_agree(
    opendkim: OpenDkim, signing_keys: SigningKeys, key_dns: KeyDns, signer: str, canon: tuple[str, str]
) -> None:
    resolver, _ = key_dns()
    base = VARIANTS["trailing-whitespace"]
    message = (
        zegel_sign(signing_keys, "rsa", base, canon, None) if signer == "zegel" else opendkim.sign(base, "rsa", canon)
    )
    mutated = _mutations(message)
    theirs = opendkim.verify_many(mutated)

    async def ours_all() -> list[bool]:
        return [(await verify(m, resolver=resolver))[0].result == "pass" for m in mutated]

    ours = asyncio.run(ours_all())
    disagreements = [(o, t, m) for o, t, m in zip(ours, theirs, mutated, strict=True) if o != t]
    assert not disagreements, disagreements[:3]


@pytest.mark.parametrize("canon", ["relaxed", "simple"])
def test_wsp_before_colon_agrees(opendkim: OpenDkim, signing_keys: SigningKeys, key_dns: KeyDns, canon: str) -> None:
    """``Subject : x`` (RFC 5322 obsolete syntax): RFC 6376 3.4.2 relaxed deletes the WSP."""
    resolver, _ = key_dns()
    message = zegel_sign(signing_keys, "rsa", VARIANTS["plain"], (canon, "simple"), None)
    obsolete = message.replace(b"\r\nSubject: ", b"\r\nSubject : ")
    ours = asyncio.run(verify(obsolete, resolver=resolver))[0].result == "pass"
    assert [ours] == opendkim.verify_many([obsolete])


def test_opendkim_refuses_unterminated_body(opendkim: OpenDkim) -> None:
    with pytest.raises(AssertionError, match="CRLF at end of body missing"):
        opendkim.sign(VARIANTS["no-final-crlf"], "rsa", ("relaxed", "relaxed"))
