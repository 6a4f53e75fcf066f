"""Network edges of the audit: where to connect for a host and port (DNS through the injected
resolver, or a ``--connect-to`` override for private test servers), and a bounded HTTPS GET.

Pure evaluation lives elsewhere (mta_sts, bimi, starttls grading); this module only moves bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import ssl
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from zegel.dns import Resolver

HEADER_LIMIT = 16 * 1024
DEFAULT_FETCH_TIMEOUT = 10.0


def parse_connect_to(spec: str) -> tuple[tuple[str, int], tuple[str, int]]:
    """``HOST:PORT:ADDRESS:PORT`` (as curl's --connect-to): connections meant for HOST:PORT go to
    ADDRESS:PORT instead, still with HOST as the TLS server name. IPv6: ``[::1]``."""
    text = spec.strip()
    host, sep, rest = text.partition(":")
    port_text, sep2, target = rest.partition(":")
    if not sep or not sep2 or not host or not port_text.isdigit():
        raise ValueError(f"--connect-to {spec!r}: use HOST:PORT:ADDRESS:PORT")
    if target.startswith("["):
        address, close, tail = target[1:].partition("]")
        target_port = tail[1:] if close and tail.startswith(":") else ""
    else:
        address, _, target_port = target.rpartition(":")
    try:
        ipaddress.ip_address(address)
    except ValueError:
        raise ValueError(f"--connect-to {spec!r}: ADDRESS must be an IP address") from None
    if not target_port.isdigit() or not 0 < int(target_port) < 65536 or not 0 < int(port_text) < 65536:
        raise ValueError(f"--connect-to {spec!r}: ports are 1-65535")
    return (host.lower().rstrip("."), int(port_text)), (address, int(target_port))


@dataclass(frozen=True, slots=True)
class Endpoints:
    """Where a connection to (host, port) goes. Overrides first, then the host's A and AAAA
    records through the injected resolver (IPv6 tried after IPv4)."""

    resolver: Resolver | None = None
    overrides: Mapping[tuple[str, int], tuple[str, int]] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def from_specs(cls, specs: Iterable[str], resolver: Resolver | None = None) -> Endpoints:
        return cls(resolver, MappingProxyType(dict(parse_connect_to(spec) for spec in specs)))

    async def addresses(self, host: str, port: int) -> list[tuple[str, int]]:
        override = self.overrides.get((host.lower().rstrip("."), port))
        if override is not None:
            return [override]
        if self.resolver is None:
            return []
        a, aaaa = await self.resolver.addresses(host)
        return [(ip, port) for ip in (*a.records, *aaaa.records)]


@dataclass(frozen=True, slots=True)
class Fetched:
    """One HTTPS GET. ``status`` 0 means no HTTP response; ``error`` says why in words."""

    url: str
    status: int = 0
    content_type: str = ""
    body: bytes = b""
    error: str = ""
    too_large: bool = False
    location: str = ""


def tls_context(cafile: str | None = None) -> ssl.SSLContext:
    """The system trust store; OpenSSL's defaults honour SSL_CERT_FILE and SSL_CERT_DIR, so a
    private CA works without code changes. ``cafile`` adds one more trust anchor file."""
    context = ssl.create_default_context()
    if cafile:
        context.load_verify_locations(cafile=cafile)
    return context


def _certificate_error(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"certificate not valid: {exc.verify_message or exc.reason}"
    return f"TLS failed: {getattr(exc, 'reason', None) or exc}"


async def _read_headers(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    raw = await reader.readuntil(b"\r\n\r\n")
    if len(raw) > HEADER_LIMIT:
        raise ValueError("response headers too long")
    lines = raw.decode("iso-8859-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise ValueError("not an HTTP response")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return int(parts[1]), headers


async def _read_body(reader: asyncio.StreamReader, headers: Mapping[str, str], limit: int) -> tuple[bytes, bool]:
    """The body, at most ``limit`` bytes (True when there was more)."""
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = bytearray()
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size_text = size_line.split(b";", 1)[0].strip()
            if len(size_text) > 8:
                raise ValueError("bad chunk size")
            size = int(size_text, 16)
            if size == 0:
                return bytes(body), False
            if len(body) + size > limit:
                return bytes(body), True
            body += await reader.readexactly(size)
            await reader.readexactly(2)
    length_text = headers.get("content-length")
    if length_text is not None and length_text.isdigit():
        length = int(length_text)
        if length > limit:
            return b"", True
        return await reader.readexactly(length), False
    data = await reader.read(limit + 1)
    while len(data) <= limit:
        more = await reader.read(limit + 1 - len(data))
        if not more:
            break
        data += more
    return data[:limit], len(data) > limit


@dataclass(frozen=True, slots=True)
class HttpsFetcher:
    """A bounded HTTPS GET client: one request per connection, no redirects followed (RFC 8461
    3.3 forbids following them for MTA-STS, and a BIMI logo must be served where it is named),
    the certificate checked against the host name."""

    endpoints: Endpoints = field(default_factory=Endpoints)
    cafile: str | None = None
    timeout: float = DEFAULT_FETCH_TIMEOUT

    async def get(self, host: str, path: str, *, limit: int, port: int = 443) -> Fetched:
        url = f"https://{host}{'' if port == 443 else f':{port}'}{path}"
        try:
            async with asyncio.timeout(self.timeout):
                targets = await self.endpoints.addresses(host, port)
                if not targets:
                    return Fetched(url, error=f"{host} has no address")
                last = ""
                for address, target_port in targets:
                    try:
                        return await self._get_from(url, host, path, address, target_port, limit)
                    except (ssl.SSLError, ssl.CertificateError) as exc:
                        return Fetched(url, error=_certificate_error(exc))
                    except OSError as exc:
                        last = f"cannot connect to {address} port {target_port}: {exc.strerror or exc}"
                return Fetched(url, error=last)
        except TimeoutError:
            return Fetched(url, error=f"no answer within {self.timeout:g} seconds")
        except (ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
            return Fetched(url, error=f"bad HTTP response: {exc}"[:200])

    async def _get_from(self, url: str, host: str, path: str, address: str, port: int, limit: int) -> Fetched:
        context = tls_context(self.cafile)
        reader, writer = await asyncio.open_connection(address, port, ssl=context, server_hostname=host,
                                                       limit=HEADER_LIMIT)
        try:
            request = (f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: zegel-check\r\n"
                       "Accept: */*\r\nConnection: close\r\n\r\n")
            writer.write(request.encode("ascii"))
            await writer.drain()
            status, headers = await _read_headers(reader)
            content_type = headers.get("content-type", "")
            if 300 <= status < 400:
                return Fetched(url, status, content_type, location=headers.get("location", "")[:300])
            body, too_large = await _read_body(reader, headers, limit)
            return Fetched(url, status, content_type, body, too_large=too_large)
        finally:
            writer.close()
            with contextlib.suppress(OSError, ssl.SSLError):
                await writer.wait_closed()


__all__ = ["Endpoints", "Fetched", "HttpsFetcher", "parse_connect_to", "tls_context"]
