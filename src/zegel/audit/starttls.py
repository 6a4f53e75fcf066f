"""The opt-in STARTTLS probe (``zegel check --smtp``): for each MX, connect to port 25, ask for
STARTTLS (RFC 3207), and record the TLS version, cipher and certificate; then grade them as the
NCSC's TLS guidelines (v2.1) do — the grading internet.nl applies to mail servers.

:class:`SmtpProber` does the I/O (pointable at test servers through :class:`Endpoints`
overrides); :func:`grade_probe` is pure.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ssl
import warnings
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import dsa, rsa

from zegel.audit.dane import Tlsa, matches, tlsa_record
from zegel.audit.findings import Finding, Texts
from zegel.audit.net import Endpoints, tls_context

SMTP_PORT = 25
DEFAULT_PROBE_TIMEOUT = 20.0
LINE_LIMIT = 4096
EXPIRY_WARNING_DAYS = 14
# NCSC TLS guidelines 2.1, table 2: versions.
GOOD_VERSIONS = ("TLSv1.3", "TLSv1.2")
PHASE_OUT_VERSIONS = ("TLSv1.1", "TLSv1")


@dataclass(frozen=True, slots=True)
class _Tls:
    version: str
    cipher: str
    bits: int
    leaf_der: bytes


@dataclass(frozen=True, slots=True)
class ProbeResult:
    host: str
    address: str = ""
    error: str = ""
    starttls: bool = False
    version: str = ""
    cipher: str = ""
    cipher_bits: int = 0
    leaf_der: bytes = b""
    verify_error: str = ""  # "" when the chain and the name validate against the trust store
    old_versions: tuple[str, ...] = ()  # phase-out versions the server still accepts
    weak_cipher: str = ""  # a phase-out or insufficient cipher it accepted, if any


def cipher_grade(name: str, version: str) -> str:
    """NCSC TLS guidelines 2.1, table 5 (simplified to the key exchange and bulk cipher):
    good | sufficient | phase-out | insufficient."""
    upper = name.upper()
    if version == "TLSv1.3" or upper.startswith("TLS_"):
        return "good"  # every TLS 1.3 suite is AEAD with ephemeral key exchange
    if any(bad in upper for bad in ("NULL", "EXP", "RC4", "ANON", "ADH", "AECDH", "MD5")) or "-DES-" in upper:
        return "insufficient"
    ephemeral = upper.startswith(("ECDHE", "DHE", "EDH"))
    aead = "GCM" in upper or "CHACHA20" in upper
    if "3DES" in upper or "DES-CBC3" in upper:
        return "phase-out"
    if not ephemeral:
        return "phase-out"  # static RSA key exchange: no forward secrecy
    if upper.startswith("ECDHE") and aead:
        return "good"
    return "sufficient"


async def _read_reply(reader: asyncio.StreamReader) -> tuple[int, list[str]]:
    lines: list[str] = []
    while True:
        raw = await reader.readline()
        if not raw:
            raise ConnectionError("the server closed the connection")
        line = raw[:LINE_LIMIT].decode("utf-8", "replace").rstrip("\r\n")
        lines.append(line)
        if len(lines) > 100:
            raise ConnectionError("reply too long")
        if len(line) < 4 or line[3] != "-":
            code = line[:3]
            return (int(code) if code.isdigit() else 0), lines


@dataclass(frozen=True, slots=True)
class SmtpProber:
    """Connects to each MX on port 25 (or where ``endpoints`` overrides send it)."""

    endpoints: Endpoints = field(default_factory=Endpoints)
    helo_name: str = "zegel-check.invalid"
    timeout: float = DEFAULT_PROBE_TIMEOUT
    cafile: str | None = None

    async def _session(self, host: str, address: str, port: int, context: ssl.SSLContext) -> _Tls | None:
        reader, writer = await asyncio.open_connection(address, port, limit=LINE_LIMIT * 2)
        try:
            code, _ = await _read_reply(reader)
            if code != 220:
                raise ConnectionError(f"greeting {code}")
            writer.write(f"EHLO {self.helo_name}\r\n".encode("ascii"))
            code, lines = await _read_reply(reader)
            if code != 250:
                raise ConnectionError(f"EHLO answered {code}")
            if not any(line[4:].strip().upper().startswith("STARTTLS") for line in lines):
                return None
            writer.write(b"STARTTLS\r\n")
            code, _ = await _read_reply(reader)
            if code != 220:
                raise ConnectionError(f"STARTTLS answered {code}")
            await writer.start_tls(context, server_hostname=host)
            tls = writer.get_extra_info("ssl_object")
            if not isinstance(tls, ssl.SSLObject):
                return None
            cipher = tls.cipher() or ("", "", 0)
            # Read while the session is open: the object forgets it once the connection closes.
            state = _Tls(tls.version() or "", str(cipher[0]), int(cipher[2] or 0),
                         tls.getpeercert(binary_form=True) or b"")
            writer.write(b"QUIT\r\n")
            return state
        finally:
            writer.close()
            with contextlib.suppress(OSError, ssl.SSLError):
                await writer.wait_closed()

    def _lenient(self, *, maximum: ssl.TLSVersion | None = None, ciphers: str | None = None) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        if maximum is not None:
            with warnings.catch_warnings():
                # Deliberately old: the probe asks whether the server still accepts these.
                warnings.simplefilter("ignore", DeprecationWarning)
                context.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
                context.maximum_version = maximum
        if ciphers is not None:
            context.set_ciphers(ciphers)
        return context

    async def _accepts(self, host: str, address: str, port: int, context: ssl.SSLContext) -> _Tls | None:
        try:
            async with asyncio.timeout(self.timeout):
                return await self._session(host, address, port, context)
        except (OSError, ssl.SSLError, ConnectionError, TimeoutError, ValueError):
            return None

    async def probe(self, host: str) -> ProbeResult:
        targets = await self.endpoints.addresses(host, SMTP_PORT)
        if not targets:
            return ProbeResult(host, error="no address")
        address, port = targets[0]
        try:
            async with asyncio.timeout(self.timeout):
                tls = await self._session(host, address, port, self._lenient())
        except (OSError, ConnectionError, ValueError) as exc:
            return ProbeResult(host, address, error=str(exc)[:200] or type(exc).__name__)
        except ssl.SSLError as exc:
            return ProbeResult(host, address, error=f"TLS handshake failed: {exc.reason or exc}", starttls=True)
        except TimeoutError:
            return ProbeResult(host, address, error=f"no answer within {self.timeout:g} seconds")
        if tls is None:
            return ProbeResult(host, address)
        verify_error = ""
        strict = tls_context(self.cafile)
        try:
            async with asyncio.timeout(self.timeout):
                await self._session(host, address, port, strict)
        except ssl.SSLCertVerificationError as exc:
            verify_error = str(exc.verify_message or exc.reason)
        except (OSError, ssl.SSLError, ConnectionError, TimeoutError, ValueError) as exc:
            verify_error = f"not verified ({type(exc).__name__})"
        old: list[str] = []
        legacy = self._lenient(maximum=ssl.TLSVersion.TLSv1_1, ciphers="ALL:@SECLEVEL=0")
        accepted = await self._accepts(host, address, port, legacy)
        if accepted is not None:
            old.append(accepted.version or "TLSv1.1")
        weak = ""
        weak_context = self._lenient(maximum=ssl.TLSVersion.TLSv1_2, ciphers="kRSA:3DES:RC4:!aNULL:@SECLEVEL=0")
        weak_session = await self._accepts(host, address, port, weak_context)
        if weak_session is not None:
            weak = weak_session.cipher
        return ProbeResult(host, address, starttls=True, version=tls.version, cipher=tls.cipher,
                           cipher_bits=tls.bits, leaf_der=tls.leaf_der, verify_error=verify_error,
                           old_versions=tuple(old), weak_cipher=weak)


def _certificate_findings(result: ProbeResult, texts: Texts, now: datetime.datetime, *, dane: bool) -> list[Finding]:
    findings: list[Finding] = []
    try:
        cert = x509.load_der_x509_certificate(result.leaf_der)
    except ValueError:
        return [texts.finding("starttls.cert-invalid", host=result.host, reason="unreadable certificate")]
    expires = cert.not_valid_after_utc
    if expires < now:
        findings.append(texts.finding("starttls.cert-expired", host=result.host, date=expires.date().isoformat()))
    elif (expires - now).days < EXPIRY_WARNING_DAYS:
        findings.append(texts.finding("starttls.cert-expiring", host=result.host, date=expires.date().isoformat()))
    key = cert.public_key()
    if isinstance(key, (rsa.RSAPublicKey, dsa.DSAPublicKey)) and key.key_size < 2048:
        # NCSC TLS guidelines 2.1 table 9: RSA below 2048 bits is insufficient.
        findings.append(texts.finding("starttls.cert-key-weak", host=result.host, bits=key.key_size))
    if result.verify_error and not dane:
        # With DANE the TLSA record, not a public CA, authenticates the server (RFC 7672 3.1).
        findings.append(texts.finding("starttls.cert-invalid", host=result.host, reason=result.verify_error))
    return findings


def grade_probe(result: ProbeResult, texts: Texts, tlsa: tuple[Tlsa, ...] = (),
                now: datetime.datetime | None = None) -> tuple[Finding, ...]:
    """The findings for one MX from a probe result (pure)."""
    now = now or datetime.datetime.now(datetime.UTC)
    host = result.host
    if result.error:
        return (texts.finding("starttls.failed", host=host, reason=result.error),)
    if not result.starttls:
        return (texts.finding("starttls.not-offered", host=host),)
    findings: list[Finding] = []
    grade = cipher_grade(result.cipher, result.version)
    if result.version not in GOOD_VERSIONS:
        findings.append(texts.finding("starttls.version", host=host, versions=result.version))
    if result.old_versions:
        findings.append(texts.finding("starttls.version", host=host, versions=", ".join(result.old_versions)))
    if grade in ("phase-out", "insufficient"):
        findings.append(texts.finding("starttls.cipher", host=host, cipher=result.cipher, grade=grade))
    if result.weak_cipher:
        findings.append(texts.finding("starttls.cipher", host=host, cipher=result.weak_cipher,
                                      grade=cipher_grade(result.weak_cipher, "TLSv1.2")))
    findings.extend(_certificate_findings(result, texts, now, dane=bool(tlsa)))
    if tlsa:
        if any(matches(record, result.leaf_der) for record in tlsa):
            findings.append(texts.finding("dane.match", host=host))
        else:
            findings.append(texts.finding("dane.mismatch", host=host, record=f"_25._tcp.{host}. TLSA {tlsa_record(result.leaf_der)}"))
    if not any(f.severity != "info" for f in findings):
        findings.append(texts.finding("starttls.ok", host=host, version=result.version, cipher=result.cipher,
                                      grade=grade))
    return tuple(findings)


__all__ = ["ProbeResult", "SmtpProber", "cipher_grade", "grade_probe"]
