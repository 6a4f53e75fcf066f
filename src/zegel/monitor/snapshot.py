"""One monitoring run of a domain: ``zegel check`` plus the published records it rests on.

A :class:`Snapshot` is plain JSON-able data (stored as one row per run) so two runs can be
diffed long after the code that made them has changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ssl
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from zegel.audit import CheckOptions, check_domain
from zegel.dns import Resolver, Status

# The record sets a run keeps, in the order the history shows them.
AREAS = ("spf", "dmarc", "dkim", "mx", "mta_sts", "bimi", "mta_sts_policy")
POLICY_BODY_LIMIT = 64 * 1024  # RFC 8461 3.3: senders may refuse larger policies; so do we
POLICY_TIMEOUT = 10.0


@dataclass(frozen=True, slots=True)
class MtaStsPolicy:
    """What the policy host served (RFC 8461 3.2), and when its certificate expires."""

    text: str = ""
    mode: str = ""
    max_age: int = 0
    mx: tuple[str, ...] = ()
    cert_not_after: int | None = None
    error: str = ""


PolicyFetcher = Callable[[str, Resolver], Awaitable[MtaStsPolicy]]


@dataclass(frozen=True, slots=True)
class Snapshot:
    domain: str
    time: int
    grade: str
    findings: tuple[dict[str, str], ...]
    records: dict[str, list[str]] = field(default_factory=dict)
    mta_sts: MtaStsPolicy | None = None

    def to_json(self) -> dict[str, Any]:
        policy = None
        if self.mta_sts is not None:
            policy = {"mode": self.mta_sts.mode, "max_age": self.mta_sts.max_age, "mx": list(self.mta_sts.mx),
                      "cert_not_after": self.mta_sts.cert_not_after, "error": self.mta_sts.error}
        return {"domain": self.domain, "time": self.time, "grade": self.grade, "findings": list(self.findings),
                "records": self.records, "mta_sts_policy": policy}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Snapshot:
        policy = data.get("mta_sts_policy")
        mta_sts = None
        if isinstance(policy, dict):
            mta_sts = MtaStsPolicy(mode=str(policy.get("mode") or ""), max_age=int(policy.get("max_age") or 0),
                                   mx=tuple(policy.get("mx") or ()), cert_not_after=policy.get("cert_not_after"),
                                   error=str(policy.get("error") or ""))
        return cls(str(data["domain"]), int(data["time"]), str(data["grade"]),
                   tuple(dict(f) for f in data.get("findings", ())),
                   {k: list(v) for k, v in dict(data.get("records", {})).items()}, mta_sts)


def _texts(answer: Any, prefix: str) -> list[str]:
    if answer.status != Status.ANSWER:
        return []
    return sorted(str(r) for r in answer.records if str(r).lower().startswith(prefix))


async def take_snapshot(domain: str, resolver: Resolver, *, now: int, selectors: Sequence[str] = (),
                        fetch_policy: PolicyFetcher | None = None) -> Snapshot:
    """Check ``domain`` and read its SPF, DMARC, DKIM, MX, MTA-STS and BIMI records."""
    report = await check_domain(domain, resolver, CheckOptions(selectors=tuple(selectors)))
    name = report.ascii_domain or report.domain
    chosen = tuple(selectors) or report.dkim_selectors
    mx, (spf, dmarc, sts, bimi, *dkim) = await asyncio.gather(
        resolver.mx(name),
        asyncio.gather(resolver.txt(name), resolver.txt(f"_dmarc.{name}"), resolver.txt(f"_mta-sts.{name}"),
                       resolver.txt(f"default._bimi.{name}"), *(resolver.txt(f"{s}._domainkey.{name}") for s in chosen)))
    records: dict[str, list[str]] = {
        "spf": _texts(spf, "v=spf1"),  # RFC 7208 4.5: the record starts with v=spf1
        "dmarc": _texts(dmarc, "v=dmarc1"),
        "dkim": sorted(f"{s}: {text}" for s, answer in zip(chosen, dkim, strict=True) for text in _texts(answer, "")),
        "mx": sorted(f"{r.preference} {r.exchange or '.'}" for r in mx.records) if mx.status == Status.ANSWER else [],
        "mta_sts": _texts(sts, "v=stsv1"),  # RFC 8461 3.1
        "bimi": _texts(bimi, "v=bimi1"),
    }
    policy = None
    if records["mta_sts"] and fetch_policy is not None:
        policy = await fetch_policy(name, resolver)
        records["mta_sts_policy"] = [policy.text.strip()] if policy.text else []
    findings = tuple({"code": f.code, "severity": f.severity, "message": f.message} for f in report.findings)
    return Snapshot(report.domain, now, report.grade, findings, records, policy)


def parse_policy(text: str) -> tuple[str, int, tuple[str, ...]]:
    """(mode, max_age, mx patterns) of an MTA-STS policy body (RFC 8461 3.2: key: value lines)."""
    mode, max_age, mx = "", 0, []
    for line in text.splitlines()[:1000]:
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key, value = key.strip().lower(), value.strip()
        if key == "mode":
            mode = value.lower()[:16]
        elif key == "max_age" and value.isdigit() and len(value) <= 10:
            max_age = int(value)
        elif key == "mx":
            mx.append(value.lower()[:255])
    return mode, max_age, tuple(mx)


def policy_fetcher(*, port: int = 443, context: ssl.SSLContext | None = None,
                   timeout: float = POLICY_TIMEOUT) -> PolicyFetcher:
    """Fetch ``https://mta-sts.DOMAIN/.well-known/mta-sts.txt`` (RFC 8461 3.3) through the
    monitor's resolver, noting when the host's certificate expires. ``port`` and ``context``
    exist for tests (a loopback HTTPS server with its own CA)."""
    tls = context or ssl.create_default_context()

    async def fetch(domain: str, resolver: Resolver) -> MtaStsPolicy:
        host = f"mta-sts.{domain}"
        v4, v6 = await resolver.addresses(host)
        addresses = [str(a) for a in (*v4.records, *v6.records)]
        if not addresses:
            return MtaStsPolicy(error=f"{host} has no address")
        try:
            return await asyncio.wait_for(_get(addresses[0], host, port, tls), timeout)
        except TimeoutError:
            return MtaStsPolicy(error=f"{host}: no answer within {timeout:g} s")
        except (OSError, ssl.SSLError, ValueError) as exc:
            return MtaStsPolicy(error=f"{host}: {exc}"[:300])

    return fetch


async def _get(address: str, host: str, port: int, tls: ssl.SSLContext) -> MtaStsPolicy:
    reader, writer = await asyncio.open_connection(address, port, ssl=tls, server_hostname=host)
    try:
        cert = writer.get_extra_info("peercert") or {}
        not_after = None
        if cert.get("notAfter"):
            not_after = int(ssl.cert_time_to_seconds(cert["notAfter"]))
        writer.write(f"GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n"
                     "User-Agent: zegel-monitor\r\n\r\n".encode("ascii"))
        await writer.drain()
        raw = await reader.read(POLICY_BODY_LIMIT + 8192)
    finally:
        writer.close()
        with contextlib.suppress(OSError, ssl.SSLError):
            await writer.wait_closed()
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0].decode("latin-1")
    if not status_line.startswith("HTTP/1.") or status_line[9:12] != "200":
        # RFC 8461 3.3: only a 200 answer is a policy (no redirects).
        return MtaStsPolicy(cert_not_after=not_after, error=f"{host}: {status_line[:80] or 'no HTTP answer'}")
    if b"transfer-encoding: chunked" in head.lower():
        body = _unchunk(body)
    text = body[:POLICY_BODY_LIMIT].decode("utf-8", "replace")
    mode, max_age, mx = parse_policy(text)
    error = "" if mode in ("enforce", "testing", "none") else f"{host}: policy has no valid mode"
    return MtaStsPolicy(text, mode, max_age, mx, not_after, error)


def _unchunk(body: bytes) -> bytes:
    out, rest = bytearray(), body
    while rest and len(out) <= POLICY_BODY_LIMIT:
        size_line, _, rest = rest.partition(b"\r\n")
        try:
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
        except ValueError:
            break
        if size == 0:
            break
        out += rest[:size]
        rest = rest[size + 2:]
    return bytes(out)


def format_time(seconds: int | None) -> str:
    if seconds is None:
        return ""
    return datetime.datetime.fromtimestamp(seconds, datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
