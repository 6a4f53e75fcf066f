"""What the milter does with one complete message: verify inbound mail, sign outbound mail.

:class:`MessageHandler` takes the collected connection facts, envelope and message and returns
a :class:`Decision`: the header modifications and the final reply, as protocol responses. The
session (:mod:`zegel.milter.server`) only moves packets; this is where the rules live.

- Outbound: the client authenticated (``{auth_authen}`` macro) or connects from a trusted
  network, and the RFC5322.From domain has rows in the signing table: one DKIM-Signature per
  row (RSA and Ed25519 dual signing is two rows), inserted at the top.
- Inbound: everything else. :func:`zegel.verify.verify_message` decides; forged
  Authentication-Results claiming our authserv-id are removed (RFC 8601 section 5), ours is
  inserted at the top, then the local policy's action is applied.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from zegel import aio
from zegel.arc import seal as arc_seal
from zegel.authres.strip import claims, normal_id
from zegel.dkim import sign as dkim_sign
from zegel.dkim.keys import PrivateKey, load_private_key
from zegel.dmarc.author import parse_address_list
from zegel.dns import Resolver
from zegel.milter.config import MilterConfig, SigningKey
from zegel.milter.message import Envelope, MessageBuffer, to_lf
from zegel.milter.protocol import (
    AddHeader,
    ChangeHeader,
    Continue,
    InsertHeader,
    Quarantine,
    ReplyCode,
    Response,
)
from zegel.policy import Policy
from zegel.verify import OutcomeSink, Verifier

if TYPE_CHECKING:
    from zegel.milter.failure import FailureReportQueue

log = logging.getLogger("zegel.milter")

AUTH_RESULTS = b"Authentication-Results"
SUBJECT = b"Subject"
LARGE_MESSAGES_AT_ONCE = 2
INTERNAL_ERROR_REPLY = "4.3.0 Temporary local problem while authenticating the message; try again later"


@dataclass(frozen=True)
class ConnectionFacts:
    """What the MTA told us about the SMTP client."""

    address: str  # client IP ("" for a local or unknown client)
    hostname: str
    helo: str
    macros: dict[str, str] = field(default_factory=dict)

    @property
    def authenticated_as(self) -> str:
        return self.macros.get("{auth_authen}") or self.macros.get("auth_authen") or ""


@dataclass(frozen=True)
class Decision:
    """The modifications (in order) and the final reply for one message, plus what to log."""

    modifications: tuple[Response, ...]
    final: Response
    direction: str  # inbound | outbound
    result: str  # the metrics "result" label
    action: str  # the metrics "action" label
    details: dict[str, str] = field(default_factory=dict)


def from_domain(buffer: MessageBuffer) -> str | None:
    """The single RFC5322.From domain, or None (no From, several From fields or mailboxes)."""
    values = buffer.header_values(b"From")
    if len(values) != 1:
        return None
    text = values[0].decode("utf-8", errors="replace").replace("\r", " ").replace("\n", " ")
    # Linear, never recursing (email.utils.getaddresses recurses per comment level).
    parsed = parse_address_list(text)
    addresses = list(parsed.addresses)
    if parsed.problems or len(addresses) != 1 or "@" not in addresses[0]:
        return None
    return addresses[0].rpartition("@")[2].strip().rstrip(".").lower() or None


def _split_field(raw: bytes) -> tuple[bytes, bytes]:
    """``Name: value\\r\\n`` -> (name, value with its leading whitespace, no final CRLF)."""
    name, colon, value = raw.partition(b":")
    if not colon:
        raise ValueError("signer returned a header field without a colon")
    if value.endswith(b"\r\n"):
        value = value[:-2]
    return name.strip(), value


def fold_results(value: str) -> str:
    """Fold a long Authentication-Results value after each top-level ``;`` (RFC 5322 section 2.2.3).

    Semicolons inside quoted strings and comments (a reason="a; b") are left alone.
    """
    if "\n" in value or len(value) <= 100:
        return value
    if "\\" not in value:
        # Fast path: split at every ";" and rejoin the pieces a ";" inside quotes or a
        # comment cut apart (an odd number of quotes, or more "(" than ")", so far).
        merged: list[str] = []
        for piece in value.split(";"):
            if merged and (merged[-1].count('"') % 2 or merged[-1].count("(") > merged[-1].count(")")):
                merged[-1] += ";" + piece
            else:
                merged.append(piece)
        return ";\n\t".join(p.strip() for p in merged if p.strip())
    return ";\n\t".join(p.strip() for p in _top_level_split(value) if p.strip())


def sanitize_reply_text(text: str) -> str:
    """One printable-ASCII line, bounded, for an SMTP reply (RFC 5321 section 4.2)."""
    cleaned = "".join(c if 32 <= ord(c) < 127 else " " for c in text)
    return " ".join(cleaned.split())[:400]


class MessageHandler:
    """Turns one complete message into a :class:`Decision` (see the module docstring)."""

    def __init__(self, config: MilterConfig, *, resolver: Resolver, policy: Policy | None = None,
                 recorder: OutcomeSink | None = None, failure_reports: FailureReportQueue | None = None) -> None:
        self.config = config
        self.resolver = resolver
        self.policy = policy or Policy.default()
        self.recorder = recorder
        self.failure_reports = failure_reports
        self._signing_keys: dict[tuple[str, str], PrivateKey] = {}
        # One pipeline for every message: its SPF-record and DKIM/ARC-key parse caches (and,
        # in RFC 7489 mode, the Public Suffix List) are kept across messages, not rebuilt per
        # message. A reload builds a new handler, so new settings get a fresh one.
        self.verifier = Verifier(resolver, authserv_id=config.authserv_id, policy=self.policy, recorder=recorder)
        # Spooled (large) messages are read back into memory to be verified or signed: at
        # most this many at once, so memory stays bounded however many arrive together.
        self._large_messages = asyncio.Semaphore(LARGE_MESSAGES_AT_ONCE)

    # -- entry point ---------------------------------------------------------------------

    def is_outbound(self, facts: ConnectionFacts) -> bool:
        if self.config.sign_authenticated and facts.authenticated_as:
            return True
        return self.config.is_trusted(facts.address)

    async def decide(self, facts: ConnectionFacts, envelope: Envelope, buffer: MessageBuffer, *,
                     leading_space: bool, message_id: str) -> Decision:
        """Never raises: an internal error gives the on_error decision, logged."""
        outbound = self.is_outbound(facts)
        direction = "outbound" if outbound else "inbound"
        try:
            if buffer.spooled:
                async with self._large_messages:
                    return await self._decide(outbound, facts, envelope, buffer, leading_space, message_id)
            return await self._decide(outbound, facts, envelope, buffer, leading_space, message_id)
        except TimeoutError:
            log.warning("verification timed out", extra={"fields": {
                "msg_id": message_id, "timeout_s": str(self.config.verify_timeout)}})
            return self._internal_error(direction, "timeout")
        except Exception as exc:
            log.error("internal error", extra={"fields": {
                "msg_id": message_id, "error": f"{type(exc).__name__}: {exc}"}})
            return self._internal_error(direction, "exception")

    async def _decide(self, outbound: bool, facts: ConnectionFacts, envelope: Envelope, buffer: MessageBuffer,
                      leading_space: bool, message_id: str = "") -> Decision:
        if outbound:
            return await self._outbound(facts, buffer, leading_space)
        # Eager: with the DNS answers cached the verification never waits, and then costs no
        # Task, no timer and no timeout context (the session may run this outside a Task).
        # Only when it does wait (a DNS query, a worker thread) is the rest put under
        # verify_timeout, counted from the start.
        started = time.monotonic()
        inbound = self._inbound(facts, envelope, buffer, leading_space, message_id)
        try:
            pending = inbound.send(None)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        left = max(self.config.verify_timeout - (time.monotonic() - started), 0.0)
        return await asyncio.wait_for(aio.resume(inbound, pending), left)

    def _internal_error(self, direction: str, kind: str) -> Decision:
        # Fail-open accepts and adds nothing; fail-closed asks the client to retry later.
        if self.config.on_error == "tempfail":
            return Decision((), ReplyCode(451, INTERNAL_ERROR_REPLY), direction, "error", "tempfail", {"error": kind})
        return Decision((), Continue(), direction, "error", "accept", {"error": kind})

    # -- inbound -------------------------------------------------------------------------

    def _value(self, text: str | bytes, leading_space: bool) -> bytes:
        raw = text.encode("utf-8") if isinstance(text, str) else text
        raw = to_lf(raw).lstrip(b" ")
        # With SMFIP_HDR_LEADSPC the MTA adds no space after the colon: we write it.
        return b" " + raw if leading_space else raw

    def _strip_ours(self, buffer: MessageBuffer) -> list[Response]:
        """CHGHEADER with an empty value for each Authentication-Results claiming our authserv-id.

        RFC 8601 section 5: a border MTA removes such fields (they are forged or stale).
        Deleted from the highest index down, so earlier indexes stay valid whether or not the
        MTA renumbers after a deletion.
        """
        ours = normal_id(self.config.authserv_id)
        indexes = []
        for index, value in enumerate(buffer.auth_results, 1):
            if _claims_authserv_id(value, ours):
                indexes.append(index)
        return [ChangeHeader(i, AUTH_RESULTS, b"") for i in sorted(indexes, reverse=True)]

    async def _inbound(self, facts: ConnectionFacts, envelope: Envelope, buffer: MessageBuffer,
                       leading_space: bool, message_id: str = "") -> Decision:
        strip = self._strip_ours(buffer)
        if buffer.oversized or not self.config.verify_inbound:
            why = (f"{buffer.oversize_reason or 'message too large'} was not verified"
                   if buffer.oversized else "inbound verification is disabled")
            label = "oversized" if buffer.oversized else "unverified"
            if buffer.oversized:
                # Fail closed (docs/security.md): beyond the limits the policy decides through a
                # named outcome (reject by default), never an unverified accept.
                outcome = buffer.oversize_outcome or "message_too_large"
                fault = self.policy.decide_faults([outcome], domain=from_domain(buffer))
                details = {"note": why, "reason": fault.reason}
                if fault.kind in ("reject", "tempfail"):
                    text = fault.smtp_reply or f"5.7.1 {fault.reason}"
                    reply = ReplyCode(fault.smtp_code or (550 if fault.kind == "reject" else 451),
                                      sanitize_reply_text(text))
                    return Decision((), reply, "inbound", label, fault.kind, details)
            results = f"{self.config.authserv_id}; none ({why})"
            mods: list[Response] = [*strip, InsertHeader(0, AUTH_RESULTS, self._value(results, leading_space))]
            if buffer.oversized and fault.header is not None:
                mods.append(AddHeader(fault.header[0].encode("ascii"), self._value(fault.header[1], leading_space)))
            if buffer.oversized and fault.kind == "quarantine":
                mods.append(Quarantine(sanitize_reply_text(fault.reason)) if self.config.quarantine == "milter"
                            else AddHeader(self.config.quarantine_header.encode("ascii"),
                                           self._value(f"yes ({sanitize_reply_text(fault.reason)})", leading_space)))
            kind = fault.kind if buffer.oversized else "accept"
            return Decision(tuple(mods), Continue(), "inbound", label, kind, {"note": why})

        message = buffer.message_bytes()
        verdict = await self.verifier.verify(message, ip=facts.address, helo=facts.helo,
                                             mail_from=envelope.mail_from)
        if self.failure_reports is not None:
            # RFC 9991: a DMARC failure the sender asked to hear about (ruf=, fo=). Only queued
            # here; sending happens in the background and never delays this answer.
            self.failure_reports.submit(message, verdict, ip=facts.address, helo=facts.helo,
                                        mail_from=envelope.mail_from, msg_id=message_id)
        action = verdict.action
        dmarc_result = getattr(verdict.dmarc, "result", None) or "none"
        details = {
            "spf": getattr(verdict.spf, "result", "none") or "none",
            "dkim": ",".join(_dkim_field(d) for d in verdict.dkim) or "none",
            "dmarc": dmarc_result,
            "arc": getattr(verdict.arc, "cv", "none") or "none",
            "from_domain": verdict.from_domain or "",
            "reason": action.reason,
        }
        details["arc_sealed"] = "no"  # rejected and tempfailed mail is never sealed
        if action.kind == "reject":
            text = action.smtp_reply or f"5.7.1 {action.reason or 'Message rejected by local policy'}"
            reply = ReplyCode(action.smtp_code or 550, sanitize_reply_text(text))
            return Decision((), reply, "inbound", dmarc_result, "reject", details)
        if action.kind == "tempfail":
            text = action.smtp_reply or "4.4.3 Temporary DNS failure while authenticating the message; try again later"
            reply = ReplyCode(action.smtp_code or 451, sanitize_reply_text(text))
            return Decision((), reply, "inbound", dmarc_result, "tempfail", details)

        results_value = fold_results(record_override(verdict.authentication_results, action.override))
        mods = [*strip, InsertHeader(0, AUTH_RESULTS, self._value(results_value, leading_space))]
        if action.header is not None:
            name, value = action.header
            mods.append(AddHeader(name.encode("ascii"), self._value(value, leading_space)))
        if action.kind == "quarantine":
            reason = sanitize_reply_text(action.reason or "local policy")
            if self.config.quarantine == "milter":
                mods.append(Quarantine(reason))
            else:
                mods.append(AddHeader(self.config.quarantine_header.encode("ascii"),
                                      self._value(f"yes ({reason})", leading_space)))
        if action.subject_tag:
            mods.extend(self._tag_subject(buffer, action.subject_tag, leading_space))
        sealed = self._arc_seal(buffer, envelope, results_value, mods, leading_space,
                                cv=getattr(verdict.arc, "cv", None))
        details["arc_sealed"] = "yes" if sealed else "no"
        # Applied in order: deletions, our A-R at the top, then the ARC set above it.
        return Decision((*mods, *sealed), Continue(), "inbound", dmarc_result, action.kind, details)

    def _tag_subject(self, buffer: MessageBuffer, tag: str, leading_space: bool) -> list[Response]:
        subjects = buffer.header_values(SUBJECT)
        if not subjects:
            return [AddHeader(SUBJECT, self._value(tag, leading_space))]
        current = subjects[0].lstrip(b" \t")
        if current.startswith(tag.encode("utf-8")):
            return []  # already tagged (a second pass must not stack tags)
        return [ChangeHeader(1, SUBJECT, self._value(tag.encode("utf-8") + b" " + current, leading_space))]

    def _arc_seal(self, buffer: MessageBuffer, envelope: Envelope, results: str,
                  mods: Sequence[Response], leading_space: bool, *, cv: str | None) -> list[Response]:
        arc_config = self.config.arc
        if arc_config is None:
            return []
        if arc_config.recipient_domains:
            domains = {r.rpartition("@")[2].lower().rstrip(".") for r in envelope.recipients}
            if not domains & arc_config.recipient_domains:
                return []
        # RFC 8617 section 5.1: the seal covers the message as it leaves us, so apply our
        # own header changes to the copy we seal.
        message = _apply(buffer, mods)
        results_text = results.replace("\n", " ").split(";", 1)[1].strip() if ";" in results else "none"
        fields = arc_seal(message, domain=arc_config.domain, selector=arc_config.selector,
                      private_key=self._private_key(arc_config.domain, arc_config.selector, arc_config.private_key_pem),
                      authserv_id=self.config.authserv_id, auth_results=results_text,
                      cv=cv if cv in ("none", "pass", "fail") else None)
        out: list[Response] = []
        for index, raw in enumerate(fields):
            name, value = _split_field(raw)
            out.append(InsertHeader(index, name, self._value(value, leading_space)))
        return out

    # -- outbound ------------------------------------------------------------------------

    def _private_key(self, domain: str, selector: str, pem: bytes) -> PrivateKey:
        key = self._signing_keys.get((domain, selector))
        if key is None:
            key = load_private_key(pem)  # parsed once, not per message
            self._signing_keys[(domain, selector)] = key
        return key

    async def _outbound(self, facts: ConnectionFacts, buffer: MessageBuffer, leading_space: bool) -> Decision:
        domain = from_domain(buffer)
        details = {"from_domain": domain or "", "client": facts.address,
                   "auth": facts.authenticated_as or ""}
        # Our users' mail may be delivered locally too: results claiming to be ours go here as well.
        strip = self._strip_ours(buffer)
        if buffer.oversized:
            details["note"] = f"{buffer.oversize_reason}: not signed"
            return Decision(tuple(strip), Continue(), "outbound", "oversized", "accept", details)
        keys: tuple[SigningKey, ...] = self.config.signing_keys_for(domain) if domain else ()
        if not keys:
            details["note"] = "no signing key for the From domain" if domain else "no single From domain"
            return Decision(tuple(strip), Continue(), "outbound", "unsigned", "accept", details)
        message = buffer.message_bytes()
        started = time.perf_counter()
        mods: list[Response] = list(strip)
        for index, key in enumerate(keys):
            raw = dkim_sign(message, domain=key.domain, selector=key.selector,
                            private_key=self._private_key(key.domain, key.selector, key.private_key_pem))
            name, value = _split_field(raw)
            mods.append(InsertHeader(index, name, self._value(value, leading_space)))
        details["signatures"] = ",".join(f"{k.selector}/{k.algorithm}" for k in keys)
        details["sign_ms"] = f"{(time.perf_counter() - started) * 1000:.1f}"
        return Decision(tuple(mods), Continue(), "outbound", "signed", "sign", details)


def _dkim_field(outcome: object) -> str:
    """``result:domain`` for the log line, or just ``result`` when no signature named a domain."""
    result = getattr(outcome, "result", None) or "none"
    domain = getattr(outcome, "domain", None)
    return f"{result}:{domain}" if domain else str(result)


def _top_level_split(value: str) -> list[str]:
    """An Authentication-Results value split at the ``;`` outside quoted strings and comments."""
    parts: list[str] = []
    start = depth = 0
    quoted = escaped = False
    for index, char in enumerate(value):
        if escaped:
            escaped = False
        elif char == "\\" and (quoted or depth):
            escaped = True
        elif char == '"' and not depth:
            quoted = not quoted
        elif char == "(" and not quoted:
            depth += 1
        elif char == ")" and not quoted and depth:
            depth -= 1
        elif char == ";" and not quoted and not depth:
            parts.append(value[start:index])
            start = index + 1
    parts.append(value[start:])
    return parts


def record_override(results: str, override: str | None) -> str:
    """Our Authentication-Results with the local override of the DMARC disposition recorded.

    When the local policy delivers mail the sender's DMARC policy would reject or quarantine
    — an ARC chain sealed by a trusted forwarder vouches for it, or a local rule — the
    ``dmarc=fail (p=reject dis=reject)`` clause alone would contradict what was done. The
    reason is added to that clause as ``policy.override=`` with the RFC 7489 appendix C
    PolicyOverrideType name (``trusted_forwarder``, ``local_policy``), as the aggregate
    report records it.
    """
    if not override:
        return results
    parts = _top_level_split(results)
    for index, part in enumerate(parts):
        if part.strip().lower().startswith("dmarc=") and "policy.override=" not in part:
            parts[index] = f"{part.rstrip()} policy.override={override}"
            return ";".join(parts)
    return results


def _claims_authserv_id(value: bytes, ours: str) -> bool:
    """Whether an Authentication-Results value names ``ours`` (in :func:`normal_id` form) as
    its authserv-id (RFC 8601 section 2.2)."""
    unfolded = value.replace(b"\r", b" ").replace(b"\n", b" ")
    try:
        return claims(unfolded, frozenset({ours}))
    except Exception:
        pass  # unparseable by the RFC 8601 parser: fall back to the first token below
    # authserv-id is the first token, before any version number, comment or ";".
    text = unfolded[:2048].decode("utf-8", errors="replace")
    token = _strip_comments(text).strip().split(";", 1)[0].split()
    return bool(token) and normal_id(token[0]) == ours


def _strip_comments(text: str) -> str:
    out: list[str] = []
    depth = 0
    escaped = False
    for char in text:
        if escaped:
            escaped = False
            continue
        if char == "\\" and depth:
            escaped = True
        elif char == "(":
            depth += 1
        elif char == ")" and depth:
            depth -= 1
        elif not depth:
            out.append(char)
    return "".join(out)


def _apply(buffer: MessageBuffer, mods: Sequence[Response]) -> bytes:
    """The message with ``mods`` applied (header inserts, adds, changes and deletes)."""
    headers = [(h.name, h.value) for h in buffer.headers]
    for mod in mods:
        if isinstance(mod, InsertHeader):
            headers.insert(min(mod.index, len(headers)), (mod.name, mod.value))
        elif isinstance(mod, AddHeader):
            headers.append((mod.name, mod.value))
        elif isinstance(mod, ChangeHeader):
            seen = 0
            for position, (name, _) in enumerate(headers):
                if name.lower() == mod.name.lower():
                    seen += 1
                    if seen == mod.index:
                        if mod.value:
                            headers[position] = (name, mod.value)
                        else:
                            del headers[position]
                        break
    return b"".join(buffer.field_bytes(n, v) for n, v in headers) + b"\r\n" + buffer.body_bytes()
