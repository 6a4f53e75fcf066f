"""ARC chain validation (RFC 8617 section 5.2).

The cryptography is DKIM's (RFC 8617 sections 4.1.2/4.1.3 reuse RFC 6376's signing rules):
canonicalization, header selection, key fetch and signature checks come from zegel.dkim.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass

from zegel import aio
from zegel.arc.headers import (
    ArcSet,
    ArcStructureError,
    build_chain,
    collect_arc_fields,
)
from zegel.arc.result import ArcHop, ArcResult
from zegel.dkim.canonicalize import (
    HeaderField,
    MessageFormatError,
    body_hash,
    canonicalize_header,
    headers_hash_input,
    parse_message,
    signature_field_input,
)
from zegel.dkim.keys import (
    MIN_RSA_BITS,
    SIGNING_ALGORITHMS,
    KeyCache,
    KeyLookup,
    check_signature,
    fetch_key,
)
from zegel.dkim.tags import TagListError, decode_base64
from zegel.dkim.verify import OFFLOAD_BODY_BYTES
from zegel.dns import Resolver
from zegel.rfc5322 import header_section_end

# RFC 6376 section 3.5 (d=, s=): dot-separated labels of letters, digits and hyphens
# (no leading or trailing hyphen); non-ASCII letters pass for U-labels (RFC 8616), and "_",
# which DNS allows and some published selectors use.
_LABEL = r"(?:[\w\u0080-\U0010ffff](?:[\w\u0080-\U0010ffff-]{0,61}[\w\u0080-\U0010ffff])?)"
_DOMAIN = re.compile(rf"{_LABEL}(?:\.{_LABEL})*\Z")
_DIGITS = re.compile(r"[0-9]{1,12}\Z")
_CANON = ("simple", "relaxed")
_HEADER_SCAN_LIMIT = 1 << 20
# RFC 8617 section 4.1.2: the AMS has the DKIM-Signature's syntax and semantics, so a missing c=
# means simple/simple (RFC 6376 section 3.5). (The draft-18 suite expects relaxed: docs/arc.md.)
DEFAULT_C = "simple/simple"

# RFC 8617 section 4.1.3 / 4.1.2: required tags.
_SEAL_REQUIRED = ("a", "b", "cv", "d", "i", "s")
_SIGNATURE_REQUIRED = ("a", "b", "bh", "d", "h", "i", "s")


@dataclass(frozen=True, slots=True)
class _Check:
    ok: bool
    reason: str = ""
    temporary: bool = False


class _ChainFail(Exception):
    """Validation ends with cv=fail (internal control flow)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


_ARC_FIELD_LINE = re.compile(rb"^arc-(?:seal|message-signature|authentication-results)[ \t]*:", re.I | re.M)


# The answer for a message without ARC fields: immutable, so one object serves every such message.
NO_ARC_FIELDS = ArcResult("none", "no ARC header fields")


def has_arc_fields(message: bytes) -> bool:
    """Whether the header section of ``message`` has an ARC-Seal, ARC-Message-Signature or
    ARC-Authentication-Results field line (a cheap test: False means cv=none)."""
    end = header_section_end(message)  # 0 when the message starts with the empty line
    # Every match of _ARC_FIELD_LINE contains "arc-" (ASCII case-insensitive, as bytes.lower()):
    # one C-level scan rules most headers out before the regex walks them line by line. (Not
    # for a huge header, whose lower-cased copy would cost memory: the regex alone then.)
    if end <= _HEADER_SCAN_LIMIT and b"arc-" not in message[:end].lower():
        return False
    return _ARC_FIELD_LINE.search(message, 0, end) is not None


async def validate(
    message: bytes,
    *,
    resolver: Resolver | None = None,
    key_cache: KeyCache | None = None,
    now: float | None = None,
) -> ArcResult:
    """Validate the ARC chain of ``message`` (raw bytes; CRLF, or bare LF as in .eml files).

    Returns ``cv=none`` when there are no ARC header fields, ``pass`` when the structure is
    sound, the newest ARC-Message-Signature and every ARC-Seal verify, ``fail`` otherwise;
    never raises for bad input. ``key_cache``: parsed key records kept by the caller across
    messages. ``now`` (Unix time) is for tests of x= expiry.
    """
    if not has_arc_fields(message):
        # Most mail carries no ARC set: answer without parsing the message.
        return NO_ARC_FIELDS
    try:
        parsed = parse_message(message)
    except MessageFormatError as exc:
        # Not an RFC 5322 message: no chain can be read. If it mentions ARC fields at all, it
        # carried a chain that is now broken; otherwise there is none.
        head = message[:_HEADER_SCAN_LIMIT].lower()
        if b"arc-seal" in head or b"arc-message-signature" in head:
            return ArcResult("fail", f"ARC header fields in a malformed header: {exc}")
        return ArcResult("none", f"no ARC header fields (malformed header: {exc})")
    headers, body = parsed.headers, parsed.body
    try:
        arc_fields = collect_arc_fields(headers)
    except ArcStructureError as exc:
        return ArcResult("fail", f"invalid chain structure: {exc}")
    if not arc_fields:
        return ArcResult("none", "no ARC header fields")
    try:
        chain = build_chain(arc_fields)
    except ArcStructureError as exc:
        return ArcResult("fail", f"invalid chain structure: {exc}")
    hops = [_hop(arc_set) for arc_set in chain]
    newest = chain[-1]
    # RFC 8617 section 5.2 step 2: a newest seal with cv=fail ends validation.
    if newest.cv == "fail":
        return ArcResult("fail", f"ARC-Seal i={newest.instance} says cv=fail: the chain was already broken",
                         tuple(hops))
    try:
        for arc_set in chain:
            _check_structure(arc_set)
    except _ChainFail as exc:
        return ArcResult("fail", exc.reason, tuple(hops))

    resolver = resolver if resolver is not None else Resolver()
    keys = await _fetch_keys(resolver, chain, key_cache)
    verifier = _Verifier(headers, body, keys, time.time() if now is None else now)

    # Step 4: the newest AMS must validate. Hashing a large body is CPU work: a worker thread
    # keeps the event loop (other milter sessions) answering; later checks reuse the hash.
    if len(body) > OFFLOAD_BODY_BYTES:
        newest_ams = await asyncio.to_thread(verifier.check_signature, newest)
    else:
        newest_ams = verifier.check_signature(newest)
    hops[-1] = _with(hops[-1], ams_valid=newest_ams.ok)
    if not newest_ams.ok:
        return ArcResult("fail", f"ARC-Message-Signature i={newest.instance}: {newest_ams.reason}",
                         tuple(hops), temperror=newest_ams.temporary)
    # Step 5: the oldest AMS that still validates, from the newest downwards.
    oldest_pass = newest.instance
    for arc_set in reversed(chain[:-1]):
        check = verifier.check_signature(arc_set)
        hops[arc_set.instance - 1] = _with(hops[arc_set.instance - 1], ams_valid=check.ok)
        if not check.ok:
            break
        oldest_pass = arc_set.instance
    # Step 6: every ARC-Seal, newest first.
    for arc_set in reversed(chain):
        seal_check = verifier.check_seal(chain, arc_set)
        hops[arc_set.instance - 1] = _with(hops[arc_set.instance - 1], seal_valid=seal_check.ok)
        if not seal_check.ok:
            return ArcResult("fail", f"ARC-Seal i={arc_set.instance}: {seal_check.reason}", tuple(hops),
                             oldest_pass=oldest_pass, temperror=seal_check.temporary)
    count = len(chain)
    return ArcResult("pass", f"{count} ARC set{'s' if count > 1 else ''} validated", tuple(hops),
                     oldest_pass=oldest_pass)


def _hop(arc_set: ArcSet) -> ArcHop:
    return ArcHop(
        instance=arc_set.instance,
        domain=arc_set.seal_tags.get("d", ""),
        selector=arc_set.seal_tags.get("s", ""),
        cv=arc_set.cv,
        authserv_id=arc_set.authserv_id,
        results=arc_set.authres,
        ams_domain=arc_set.signature_tags.get("d", ""),
        ams_selector=arc_set.signature_tags.get("s", ""),
    )


def _with(hop: ArcHop, **changes: bool) -> ArcHop:
    values = hop.to_dict()
    values.update(changes)
    return ArcHop(**values)


def _check_structure(arc_set: ArcSet) -> None:
    """RFC 8617 section 4.2.1 and 5.2 step 3: the cv= rules and each field's syntax."""
    instance = arc_set.instance
    seal, ams = arc_set.seal_tags, arc_set.signature_tags
    label_as, label_ams = f"ARC-Seal i={instance}", f"ARC-Message-Signature i={instance}"
    for tag in _SEAL_REQUIRED:
        if tag not in seal:
            raise _ChainFail(f"{label_as} has no {tag}= tag")
    # RFC 8617 section 4.1.3: the ARC-Seal has no h= (its scope is fixed).
    if "h" in seal:
        raise _ChainFail(f"{label_as} has an h= tag, which an ARC-Seal must not have")
    cv = seal["cv"]
    # RFC 8617 section 5.1.1 / 5.2: instance 1 says cv=none, later ones cv=pass (a cv=fail seal
    # can only be the newest, and that case has been handled before).
    if cv not in ("none", "pass", "fail"):
        raise _ChainFail(f"{label_as} has an invalid cv={cv[:20]}")
    if instance == 1 and cv != "none":
        raise _ChainFail(f"{label_as} must say cv=none, not cv={cv}")
    if instance > 1 and cv != "pass":
        raise _ChainFail(f"{label_as} must say cv=pass, not cv={cv}")
    for tag in _SIGNATURE_REQUIRED:
        if tag not in ams:
            raise _ChainFail(f"{label_ams} has no {tag}= tag")
    for label, tags in ((label_as, seal), (label_ams, ams)):
        if not _DOMAIN.match(tags["d"]):
            raise _ChainFail(f"{label} has an invalid domain d={tags['d'][:40]}")
        if not _DOMAIN.match(tags["s"]):
            raise _ChainFail(f"{label} has an invalid selector s={tags['s'][:40]}")
        if "t" in tags and not _DIGITS.match(tags["t"]):
            raise _ChainFail(f"{label} has an invalid timestamp t={tags['t'][:20]}")
        # RFC 8301 section 3.1: rsa-sha1 is no longer acceptable.
        if tags["a"] not in SIGNING_ALGORITHMS:
            raise _ChainFail(f"{label} uses an unsupported algorithm a={tags['a'][:30]}")
        try:
            if not decode_base64(tags["b"]):
                raise _ChainFail(f"{label} has an empty signature b=")
        except TagListError as exc:
            raise _ChainFail(f"{label} b=: {exc}") from None
    try:
        if not decode_base64(ams["bh"]):
            raise _ChainFail(f"{label_ams} has an empty body hash bh=")
    except TagListError as exc:
        raise _ChainFail(f"{label_ams} bh=: {exc}") from None
    canonicalization = ams.get("c", DEFAULT_C)
    header_canon, _, body_canon = canonicalization.partition("/")
    if header_canon not in _CANON or (body_canon or "simple") not in _CANON:
        raise _ChainFail(f"{label_ams} has an invalid canonicalization c={canonicalization[:30]}")
    names = _signed_names(ams["h"])
    # RFC 8617 section 4.1.2: ARC-Seal header fields are never in the AMS's scope.
    if "arc-seal" in names:
        raise _ChainFail(f"{label_ams} signs ARC-Seal, which RFC 8617 forbids")
    if "l" in ams and not _DIGITS.match(ams["l"]):
        raise _ChainFail(f"{label_ams} has an invalid body length l={ams['l'][:20]}")
    if "x" in ams and not _DIGITS.match(ams["x"]):
        raise _ChainFail(f"{label_ams} has an invalid expiry x={ams['x'][:20]}")


def _signed_names(h_value: str) -> list[str]:
    """The h= list, lower-cased. An empty item selects no field (as a missing header would)."""
    return [name.strip(" \t\r\n").lower() for name in h_value.split(":")]


async def _fetch_keys(
    resolver: Resolver, chain: Sequence[ArcSet], cache: KeyCache | None
) -> dict[tuple[str, str], KeyLookup]:
    """Every distinct (selector, domain) of the chain, fetched concurrently."""
    wanted: set[tuple[str, str]] = set()
    for arc_set in chain:
        for tags in (arc_set.seal_tags, arc_set.signature_tags):
            wanted.add((tags["s"], tags["d"]))
    ordered = sorted(wanted)
    outcomes = await aio.gather(*(fetch_key(s, d, resolver=resolver, cache=cache) for s, d in ordered))
    return dict(zip(ordered, outcomes, strict=True))


class _Verifier:
    """Checks one message's signatures; body hashes are shared between AMSs."""

    def __init__(
        self,
        headers: Sequence[HeaderField],
        body: memoryview,
        keys: dict[tuple[str, str], KeyLookup],
        now: float,
    ) -> None:
        self.headers = headers
        self.body = body
        self.keys = keys
        self.now = now
        self._body_hashes: dict[tuple[str, str, int | None], bytes] = {}

    def _body_hash(self, canon: str, algorithm: str, length: int | None) -> bytes:
        key = (canon, algorithm, length)
        if key not in self._body_hashes:
            hash_name = algorithm.rpartition("-")[2]
            self._body_hashes[key] = body_hash(self.body, canon, hash_name=hash_name, limit=length).digest
        return self._body_hashes[key]

    def _key(self, tags: dict[str, str]) -> KeyLookup:
        return self.keys[(tags["s"], tags["d"])]

    def check_signature(self, arc_set: ArcSet) -> _Check:
        """RFC 8617 section 4.1.2: the AMS is a DKIM signature without v= (RFC 6376 section 6.1.3)."""
        tags = arc_set.signature_tags
        # RFC 6376 section 3.5 x=: an expired signature does not verify. Only this AMS is
        # affected; older ones need not verify for the chain to pass.
        if "x" in tags and int(tags["x"]) < self.now:
            return _Check(False, f"signature expired (x={tags['x']})")
        header_canon, _, body_canon = tags.get("c", DEFAULT_C).partition("/")
        body_canon = body_canon or "simple"
        length = int(tags["l"]) if "l" in tags else None
        try:
            expected = decode_base64(tags["bh"])
        except TagListError as exc:
            return _Check(False, f"bh=: {exc}")
        if self._body_hash(body_canon, tags["a"], length) != expected:
            return _Check(False, "body hash does not match (the body was changed)")
        data = headers_hash_input(self.headers, _signed_names(tags["h"]), header_canon)
        data += signature_field_input(arc_set.signature.raw, header_canon)
        return self._verify(self._key(tags), tags, data)

    def check_seal(self, chain: Sequence[ArcSet], arc_set: ArcSet) -> _Check:
        """RFC 8617 section 5.1.1: the AS signs sets 1..i (AAR, AMS, AS each), relaxed, with its
        own b= emptied and last."""
        tags = arc_set.seal_tags
        data = b""
        for earlier in chain[: arc_set.instance]:
            for arc_field in earlier.fields_in_seal_order():
                if arc_field is arc_set.seal:
                    data += signature_field_input(arc_field.raw, "relaxed")
                else:
                    data += canonicalize_header(arc_field.raw, "relaxed")
        return self._verify(self._key(tags), tags, data)

    @staticmethod
    def _verify(lookup: KeyLookup, tags: dict[str, str], data: bytes) -> _Check:
        if lookup.record is None:
            return _Check(False, lookup.reason, lookup.status == "temperror")
        record = lookup.record
        algorithm = tags["a"]
        key_type, hash_name = SIGNING_ALGORITHMS[algorithm]
        # RFC 6376 section 3.6.1 / 6.1.3 as applied to ARC keys (RFC 8617 section 4.1.3).
        if record.public_key is None:
            return _Check(False, f"key {lookup.name} is revoked")
        if record.key_type != key_type:
            return _Check(False, f"key {lookup.name} is k={record.key_type}, signature is a={algorithm}")
        if key_type == "rsa" and record.key_bits < MIN_RSA_BITS:
            return _Check(False, f"key {lookup.name} has {record.key_bits} bits; RFC 8301 requires {MIN_RSA_BITS}")
        if not record.allows_hash(hash_name):
            return _Check(False, f"key {lookup.name} does not allow {hash_name} (h=)")
        if not record.allows_email:
            return _Check(False, f"key {lookup.name} is not for email (s=)")
        try:
            signature = decode_base64(tags["b"])
        except TagListError as exc:
            return _Check(False, f"b=: {exc}")
        if check_signature(record.public_key, algorithm, data, signature):
            return _Check(True)
        return _Check(False, "signature does not verify")
