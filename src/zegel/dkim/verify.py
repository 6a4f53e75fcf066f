"""DKIM verification (RFC 6376 section 6, RFC 8301, RFC 8463).

Every DKIM-Signature field is verified on its own and gets its own :class:`DkimResult`.
Results follow RFC 8601 section 2.7.1:

- ``pass``: body hash and signature verified;
- ``fail``: the signature could be evaluated but does not verify (the reason says whether the
  body hash or the header signature did not match, or l= is longer than the body);
- ``permerror``: the signature or its key cannot be used — syntax, a missing required tag,
  From not signed, i= outside d=, expired / future-dated, unknown algorithm, rsa-sha1 (RFC
  8301 section 3.1: never accepted), an RSA key under 1024 bits (RFC 8301 section 3.2), no
  key, revoked key, key that does not parse or does not allow this use;
- ``temperror``: the key lookup failed temporarily (DNS);
- ``policy``: verified, but only part of the body is signed (l=) and the verifier is set to
  refuse that (``fail_partial_body=True``);
- ``neutral``: signatures beyond the cap (``max_signatures``) were not evaluated;
- ``none``: the message carries no DKIM-Signature.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from zegel.dkim.canonicalize import (
    CANONICALIZATIONS,
    BodyHash,
    HeaderField,
    Message,
    MessageFormatError,
    body_hash,
    parse_message,
    signed_header_data,
)
from zegel.dkim.keys import (
    MIN_RSA_BITS,
    SIGNING_ALGORITHMS,
    KeyCache,
    KeyLookup,
    check_signature,
    domain_name,
    fetch_key,
    key_name,
)
from zegel.dkim.result import DkimResult
from zegel.dkim.tags import TagListError, decode_base64, decode_qp, parse_tag_list, split_colon_list
from zegel.dns import InvalidName, Resolver

__all__ = [
    "DEFAULT_CLOCK_SKEW",
    "DEFAULT_FUTURE_SKEW",
    "DEFAULT_MAX_SIGNATURES",
    "DkimVerifier",
    "SignatureError",
    "verify",
]

DEFAULT_MAX_SIGNATURES = 10
DEFAULT_CLOCK_SKEW = 300  # seconds an x= may lie in the past (clocks differ)
DEFAULT_FUTURE_SKEW = 3600  # seconds a t= may lie in the future before it counts as "far"

_FWS = r"[ \t]*(?:\r?\n[ \t]+)?"
_HDR_NAME = r"[\x21-\x39\x3b-\x7e]+"
_H_VALUE = re.compile(rf"{_HDR_NAME}(?:{_FWS}:{_FWS}{_HDR_NAME})*\Z")
_ALL_WSP = re.compile(r"[ \t\r\n]+")
_SIGNATURE_LINE = re.compile(rb"(?im)^dkim-signature[ \t]*:")


class SignatureError(ValueError):
    """A DKIM-Signature field that cannot be evaluated (permerror); one-line reason."""


@dataclass(slots=True)
class ParsedSignature:
    """A syntactically valid DKIM-Signature (RFC 6376 section 3.5)."""

    field: HeaderField
    algorithm: str
    key_type: str
    hash_name: str
    signature: bytes
    body_hash: bytes
    header_canon: str
    body_canon: str
    domain: str
    selector: str
    signed_headers: tuple[str, ...]
    identity: str
    body_length: int | None
    timestamp: int | None
    expiration: int | None
    header_b: str


def _header_b(tags: dict[str, str]) -> str:
    value = tags.get("b", "")
    head = "".join(value[:64].split())  # the first 8 non-space characters, without a full pass
    return head[:8] if len(head) >= 8 or len(value) <= 64 else _ALL_WSP.sub("", value)[:8]


def _number(tags: dict[str, str], name: str, max_digits: int) -> int | None:
    value = tags.get(name)
    if value is None:
        return None
    if not (value.isascii() and value.isdigit()) or len(value) > max_digits:
        raise SignatureError(f"{name}= is not a number of at most {max_digits} digits: {value[:20]!r}")
    return int(value)


def _check_copied_headers(value: str) -> None:
    """z= (RFC 6376 3.5): ``name:qp-value`` copies separated by ``|``. Only diagnostic (it
    MUST NOT be used in verification), but a malformed one makes the signature's syntax
    invalid."""
    for copy in value.split("|"):
        name, colon, copied = copy.partition(":")
        if not colon or not re.fullmatch(_HDR_NAME, name.strip(" \t\r\n")):
            raise SignatureError(f"z= holds a malformed header copy {copy[:40]!r}")
        try:
            decode_qp(copied)
        except TagListError as exc:
            raise SignatureError(f"z= {exc}") from None


# domain_name is pure (it raises for a bad name, which is not cached) and sees the same few
# d=, s= and i= names on every message: memoized, bounded.
_domain_name = functools.lru_cache(maxsize=4096)(domain_name)


_REQUIRED_TAGS = ("v", "a", "b", "bh", "d", "h", "s")
_REQUIRED_SET = frozenset(_REQUIRED_TAGS)
# Tags whose checks depend on nothing else and repeat across a signer's messages.
_STABLE_TAGS = ("v", "a", "c", "d", "s", "h", "q", "i")
# The memo below holds the stable tag values only of fields up to this size (bounded memory).
_MEMO_FIELD_BYTES = 4096

_Algorithm = tuple[str, str, str]  # algorithm, key type, hash name
_Names = tuple[str, str, str, str, tuple[str, ...], str]  # c= pair, domain, selector, h=, identity


def _check_algorithm(tags: dict[str, str]) -> _Algorithm:
    if tags["v"] != "1":
        raise SignatureError(f"unsupported version v={tags['v'][:20]}")
    algorithm = tags["a"].lower()
    if algorithm == "rsa-sha1":
        # RFC 8301 section 3.1: rsa-sha1 MUST NOT be considered valid by verifiers.
        raise SignatureError("rsa-sha1 is not accepted (RFC 8301 section 3.1)")
    if algorithm not in SIGNING_ALGORITHMS:
        raise SignatureError(f"unknown algorithm a={tags['a'][:30]}")
    key_type, hash_name = SIGNING_ALGORITHMS[algorithm]
    return algorithm, key_type, hash_name


def _decode_signature_values(tags: dict[str, str]) -> tuple[bytes, bytes]:
    try:
        signature = decode_base64(tags["b"])
    except TagListError as exc:
        raise SignatureError(f"b= {exc}") from None
    if not signature:
        raise SignatureError("b= is empty")
    try:
        declared_body_hash = decode_base64(tags["bh"])
    except TagListError as exc:
        raise SignatureError(f"bh= {exc}") from None
    return signature, declared_body_hash


def _check_names(tags: dict[str, str]) -> _Names:
    canon = tags.get("c", "simple/simple").lower()
    header_canon, _, body_canon = canon.partition("/")
    body_canon = body_canon or "simple"  # RFC 6376 3.5: c=relaxed means relaxed/simple
    if header_canon not in CANONICALIZATIONS or body_canon not in CANONICALIZATIONS:
        raise SignatureError(f"unknown canonicalization c={tags['c'][:30]}")
    try:
        domain = _domain_name(tags["d"])
        _domain_name(f"{tags['s']}._domainkey.{domain}")
    except InvalidName as exc:
        raise SignatureError(f"d= or s= is not a valid domain name ({exc})") from None
    if not tags["s"]:
        raise SignatureError("s= is empty")
    selector = tags["s"].lower()
    # RFC 6376 3.5: sig-h-tag = hdr-name *( [FWS] ":" [FWS] hdr-name ), checked in one match
    if not _H_VALUE.match(tags["h"]):
        raise SignatureError(f"h= is not a colon-separated list of field names: {tags['h'][:40]!r}")
    signed = tuple(name.strip(" \t\r\n") for name in tags["h"].lower().split(":"))
    try:
        query_methods = [q.lower() for q in split_colon_list(tags["q"])] if "q" in tags else ["dns/txt"]
    except TagListError as exc:
        raise SignatureError(f"q=: {exc}") from None
    # RFC 6376 sections 5.4 and 6.1.1: the From field MUST be signed.
    if "from" not in signed:
        raise SignatureError("From is not signed (h= lacks from)")
    # RFC 6376 3.5 q=: dns/txt is the only defined method.
    if "dns/txt" not in query_methods and "dns" not in query_methods:
        raise SignatureError(f"no supported query method in q={tags['q'][:30]}")
    identity = f"@{domain}"
    if "i" in tags:
        try:
            identity = decode_qp(tags["i"])
        except TagListError as exc:
            raise SignatureError(f"i= {exc}") from None
        local, at, identity_domain = identity.rpartition("@")
        if not at:
            raise SignatureError("i= has no '@'")
        try:
            identity_domain = _domain_name(identity_domain)
        except InvalidName:
            raise SignatureError(f"i= domain {identity_domain[:60]!r} is not a domain name") from None
        # RFC 6376 3.5 i=: the domain MUST be the same as, or a subdomain of, d=.
        if identity_domain != domain and not identity_domain.endswith("." + domain):
            raise SignatureError(f"i= domain {identity_domain} is not within d={domain}")
        identity = f"{local}@{identity_domain}"
    return header_canon, body_canon, domain, selector, signed, identity


@functools.lru_cache(maxsize=256)
def _stable_checks(values: tuple[str | None, ...]) -> tuple[_Algorithm, _Names] | None:
    """The checks of the _STABLE_TAGS (pure, memoized): their outcome, or None when one fails
    (the caller then runs all checks in order, for the first failure's reason)."""
    tags = {name: value for name, value in zip(_STABLE_TAGS, values, strict=True) if value is not None}
    try:
        return _check_algorithm(tags), _check_names(tags)
    except SignatureError:
        return None


def parse_signature(field: HeaderField, tags: dict[str, str]) -> ParsedSignature:
    """Check a DKIM-Signature's tags (RFC 6376 sections 3.5 and 6.1.1). Raises SignatureError."""
    if not tags.keys() >= _REQUIRED_SET:
        for required in _REQUIRED_TAGS:
            if required not in tags:
                raise SignatureError(f"required tag {required}= is missing")
    stable = None
    if len(field.raw) <= _MEMO_FIELD_BYTES:
        get = tags.get
        stable = _stable_checks((tags["v"], tags["a"], get("c"), tags["d"], tags["s"], tags["h"], get("q"), get("i")))
    if stable is None:  # the checks in order: v=, a=, b=, bh=, then c= to i=
        algorithm_info = _check_algorithm(tags)
        signature, declared_body_hash = _decode_signature_values(tags)
        names = _check_names(tags)
    else:  # v= to i= pass: the first failure, if any, is in b= or bh= or after
        algorithm_info, names = stable
        signature, declared_body_hash = _decode_signature_values(tags)
    algorithm, key_type, hash_name = algorithm_info
    header_canon, body_canon, domain, selector, signed, identity = names
    if "z" in tags:
        _check_copied_headers(tags["z"])
    body_length = _number(tags, "l", 76)
    timestamp = _number(tags, "t", 12)
    expiration = _number(tags, "x", 12)
    # RFC 6376 3.5 x=: the expiration MUST be later than the signing time.
    if timestamp is not None and expiration is not None and expiration < timestamp:
        raise SignatureError("x= is earlier than t=")
    return ParsedSignature(
        field, algorithm, key_type, hash_name, signature, declared_body_hash, header_canon, body_canon, domain,
        selector, signed, identity, body_length, timestamp, expiration, _header_b(tags),
    )


def _utc(stamp: int) -> str:
    try:
        return datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        return str(stamp)


# Bodies larger than this are hashed in a worker thread (asyncio.to_thread).
OFFLOAD_BODY_BYTES = 1 << 20


class DkimVerifier:
    """A reusable verifier: the resolver (DNS answers cached there, with TTLs), a cache of
    parsed keys, and the options. ``await verifier.verify(message)``.

    Options: ``max_signatures`` (signatures evaluated per message; more are reported once as
    neutral), ``clock_skew`` (seconds an expired x= is still accepted), ``future_skew``
    (seconds a t= may lie in the future: a signer's clock running fast), ``check_times`` (False ignores
    x= and t=, e.g. for archived messages and old test vectors), ``now`` (a fixed clock),
    ``fail_partial_body`` (l= shorter than the body gives ``policy`` instead of ``pass``),
    ``min_rsa_bits`` (at least 1024, RFC 8301).
    """

    def __init__(
        self,
        resolver: Resolver | None = None,
        *,
        key_cache: KeyCache | None = None,
        max_signatures: int = DEFAULT_MAX_SIGNATURES,
        clock_skew: int = DEFAULT_CLOCK_SKEW,
        future_skew: int = DEFAULT_FUTURE_SKEW,
        check_times: bool = True,
        now: float | None = None,
        fail_partial_body: bool = False,
        min_rsa_bits: int = MIN_RSA_BITS,
    ) -> None:
        if max_signatures < 1:
            raise ValueError("max_signatures must be at least 1")
        self.resolver = resolver if resolver is not None else Resolver()
        self.key_cache = key_cache if key_cache is not None else KeyCache()
        self.max_signatures = max_signatures
        self.clock_skew = clock_skew
        self.future_skew = future_skew
        self.check_times = check_times
        self.now = now
        self.fail_partial_body = fail_partial_body
        self.min_rsa_bits = max(min_rsa_bits, MIN_RSA_BITS)

    async def verify(self, message: bytes) -> list[DkimResult]:
        """One :class:`DkimResult` per DKIM-Signature field (top first), or a single ``none``."""
        results = self._verify_now(message)
        return results if results is not None else await self._verify(message)

    def _verify_now(self, message: bytes) -> list[DkimResult] | None:
        """The usual case without awaiting anything: a well-formed message of normal size whose
        keys are all cached. None when something needs the full path (_verify), which then
        starts over."""
        try:
            parsed = parse_message(message)
        except MessageFormatError:
            return None
        fields = [field for field in parsed.headers if field.name == "dkim-signature"]
        if not fields:
            return [DkimResult("none", reason="message is not signed (no DKIM-Signature field)")]
        if len(fields) > self.max_signatures or len(parsed.body) > OFFLOAD_BODY_BYTES:
            return None
        now = time.time() if self.now is None else self.now
        outcomes = [self._parse(field, now) for field in fields]
        lookups: dict[tuple[str, str], KeyLookup] = {}
        for outcome in outcomes:
            if type(outcome) is ParsedSignature:
                wanted = (outcome.selector, outcome.domain)
                if wanted not in lookups:
                    cached = self.key_cache.get_lookup(key_name(*wanted))
                    if cached is None:
                        return None
                    lookups[wanted] = cached
        body_hashes: dict[tuple[str, str, int | None], BodyHash] = {}
        return [
            outcome if isinstance(outcome, DkimResult)
            else self._check(parsed, outcome, lookups[(outcome.selector, outcome.domain)], body_hashes)
            for outcome in outcomes
        ]

    async def _verify(self, message: bytes) -> list[DkimResult]:
        try:
            parsed = parse_message(message)
        except MessageFormatError as exc:
            if _SIGNATURE_LINE.search(message, 0, 1 << 22):  # look in the first 4 MiB only
                return [DkimResult("permerror", reason=f"malformed message: {exc}")]
            return [DkimResult("none", reason=f"no DKIM-Signature (and malformed message: {exc})")]
        fields = [field for field in parsed.headers if field.name == "dkim-signature"]
        if not fields:
            return [DkimResult("none", reason="message is not signed (no DKIM-Signature field)")]
        evaluated = fields[: self.max_signatures]
        now = time.time() if self.now is None else self.now
        outcomes: list[ParsedSignature | DkimResult] = [self._parse(field, now) for field in evaluated]
        # Keys still cached are taken at once; the others are fetched concurrently.
        lookups: dict[tuple[str, str], KeyLookup] = {}
        missing: list[tuple[str, str]] = []
        for outcome in outcomes:
            if isinstance(outcome, ParsedSignature):
                wanted = (outcome.selector, outcome.domain)
                if wanted in lookups or wanted in missing:
                    continue
                cached = self.key_cache.get_lookup(key_name(*wanted))
                if cached is not None:
                    lookups[wanted] = cached
                else:
                    missing.append(wanted)
        if missing:
            fetched = await asyncio.gather(
                *(fetch_key(sel, dom, resolver=self.resolver, cache=self.key_cache) for sel, dom in missing)
            )
            lookups.update(zip(missing, fetched, strict=True))
        body_hashes: dict[tuple[str, str, int | None], BodyHash] = {}
        results: list[DkimResult] = []
        for outcome in outcomes:
            if isinstance(outcome, DkimResult):
                results.append(outcome)
            else:
                lookup = lookups[(outcome.selector, outcome.domain)]
                if len(parsed.body) > OFFLOAD_BODY_BYTES:
                    # Hashing a large body is CPU work: a worker thread keeps the event loop
                    # (other milter sessions) answering meanwhile; hashlib releases the GIL.
                    results.append(await asyncio.to_thread(self._check, parsed, outcome, lookup, body_hashes))
                else:
                    results.append(self._check(parsed, outcome, lookup, body_hashes))
        if len(fields) > len(evaluated):
            skipped = len(fields) - len(evaluated)
            results.append(
                DkimResult(
                    "neutral",
                    reason=f"{skipped} more DKIM-Signature field(s) not evaluated (limit {self.max_signatures})",
                )
            )
        return results

    def _parse(self, field: HeaderField, now: float) -> ParsedSignature | DkimResult:
        raw_value = field.raw[field.raw.find(b":") + 1 :].decode("utf-8", "replace")
        try:
            tags = parse_tag_list(raw_value)
        except TagListError as exc:
            return DkimResult("permerror", reason=f"signature syntax: {exc}")
        try:
            signature = parse_signature(field, tags)
        except SignatureError as exc:
            return DkimResult(
                "permerror",
                domain=tags.get("d", "")[:253].lower(),
                selector=tags.get("s", "")[:253].lower(),
                algorithm=tags.get("a", "")[:30].lower(),
                reason=str(exc),
                header_b=_header_b(tags),
            )
        if self.check_times:
            if signature.expiration is not None and signature.expiration + self.clock_skew < now:
                # RFC 6376 3.5 x= / 6.1.1: an expired signature is not valid.
                return self._result(signature, "permerror", f"signature expired at {_utc(signature.expiration)}")
            if signature.timestamp is not None and signature.timestamp > now + self.future_skew:
                # RFC 6376 3.5 t=: verifiers MAY ignore signatures dated in the future.
                return self._result(signature, "permerror", f"signature dated in the future (t={_utc(signature.timestamp)})")
        return signature

    def _result(
        self, sig: ParsedSignature, result: str, reason: str, *, testing: bool = False, key_bits: int = 0,
        body_total: int | None = None,
    ) -> DkimResult:
        return DkimResult(
            result, sig.domain, sig.selector, sig.algorithm, reason, sig.header_b, sig.identity,
            f"{sig.header_canon}/{sig.body_canon}", sig.body_length, body_total, testing, key_bits,
            sig.signed_headers,
        )

    def _check(
        self,
        message: Message,
        sig: ParsedSignature,
        lookup: KeyLookup,
        body_hashes: dict[tuple[str, str, int | None], BodyHash],
    ) -> DkimResult:
        if lookup.status != "ok" or lookup.record is None:
            return self._result(sig, lookup.status if lookup.status != "ok" else "permerror", lookup.reason)
        key = lookup.record
        testing_flag, key_bits = key.testing, key.key_bits
        # RFC 6376 section 6.1.2 and RFC 8301 section 3.2: the key must suit this signature.
        problem = ""
        if key.revoked or key.public_key is None:
            problem = "key revoked (empty p=)"
        elif key.key_type != sig.key_type:
            problem = f"key type k={key.key_type} does not match a={sig.algorithm}"
        elif not key.allows_hash(sig.hash_name):
            problem = f"key h= does not allow {sig.hash_name}"
        elif not key.allows_email:
            problem = "key s= does not include email"
        elif key.strict and sig.identity.rpartition("@")[2] != sig.domain:
            problem = "key flag t=s requires the i= domain to equal d="
        if not problem and key.key_type == "rsa" and key.key_bits < self.min_rsa_bits:
            # RFC 8301 3.2: such a signature is never valid. The key itself is well-formed, so
            # this is a verification failure (as issue #3 puts it), not a broken-record permerror.
            reason = f"RSA key of {key.key_bits} bits is under {self.min_rsa_bits} (RFC 8301 section 3.2)"
            return self._result(sig, "fail", reason, testing=testing_flag, key_bits=key_bits)
        if problem:
            return self._result(sig, "permerror", problem, testing=testing_flag, key_bits=key_bits)
        assert key.public_key is not None
        testing = " (key in testing mode, t=y)" if testing_flag else ""
        cache_key = (sig.body_canon, sig.hash_name, sig.body_length)
        computed = body_hashes.get(cache_key)
        if computed is None:
            computed = body_hash(
                message.body, sig.body_canon, hash_name=sig.hash_name, limit=sig.body_length,
                unix_newlines=message.unix_newlines,
            )
            body_hashes[cache_key] = computed
        total = computed.length
        if sig.body_length is not None and sig.body_length > total:
            reason = f"l={sig.body_length} is longer than the body ({total} octets){testing}"
            return self._result(sig, "fail", reason, testing=testing_flag, key_bits=key_bits, body_total=total)
        if not hmac.compare_digest(computed.digest, sig.body_hash):
            reason = f"body hash mismatch: the body changed after signing{testing}"
            return self._result(sig, "fail", reason, testing=testing_flag, key_bits=key_bits, body_total=total)
        data = signed_header_data(message.headers, sig.signed_headers, sig.header_canon, sig.field)
        if not check_signature(key.public_key, sig.algorithm, data, sig.signature):
            reason = f"signature mismatch: signed header fields changed or wrong key{testing}"
            return self._result(sig, "fail", reason, testing=testing_flag, key_bits=key_bits, body_total=total)
        result = "pass"
        if sig.body_length is not None and sig.body_length < total:
            partial = f"l={sig.body_length} signs only {sig.body_length} of {total} body octets"
            if self.fail_partial_body:
                result, reason = "policy", f"{partial}; partial-body signatures refused{testing}"
            else:
                reason = f"verified; {partial}{testing}"
        else:
            note = "" if message.has_separator else " (message has no header/body separator: empty body)"
            reason = f"verified{note}{testing}"
        return self._result(sig, result, reason, testing=testing_flag, key_bits=key_bits, body_total=total)


async def verify(
    message: bytes,
    *,
    resolver: Resolver | None = None,
    key_cache: KeyCache | None = None,
    max_signatures: int = DEFAULT_MAX_SIGNATURES,
    clock_skew: int = DEFAULT_CLOCK_SKEW,
    future_skew: int = DEFAULT_FUTURE_SKEW,
    check_times: bool = True,
    now: float | None = None,
    fail_partial_body: bool = False,
) -> list[DkimResult]:
    """Verify every DKIM-Signature of ``message`` (raw bytes; CRLF or bare LF).

    See :class:`DkimVerifier` for the options; keep a verifier (or pass ``key_cache``) to
    reuse parsed keys across messages.
    """
    verifier = DkimVerifier(
        resolver,
        key_cache=key_cache,
        max_signatures=max_signatures,
        clock_skew=clock_skew,
        future_skew=future_skew,
        check_times=check_times,
        now=now,
        fail_partial_body=fail_partial_body,
    )
    results = verifier._verify_now(message)  # the usual case, without another coroutine
    return results if results is not None else await verifier._verify(message)


def summarize(results: Sequence[DkimResult]) -> str:
    """``pass (d=example.com s=sel)`` style one-liners, joined by ``; `` (for logs)."""
    return "; ".join(f"{r.result} (d={r.domain} s={r.selector})" if r.domain else r.result for r in results)
