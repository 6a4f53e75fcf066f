"""DKIM keys: key records (RFC 6376 section 3.6.1), key fetch (section 6.1.2), private keys,
and signing / signature checking for rsa-sha256 (RFC 6376, RFC 8301) and ed25519-sha256
(RFC 8463).

Public, stable API (zegel.arc depends on it; ARC keys are DKIM keys, RFC 8617 section 4.1.3):

- ``parse_key_record(text) -> KeyRecord`` (raises ``KeyRecordError``).
- ``KeyCache(max_entries)``: a caller-owned cache of parsed key records, keyed by record text.
- ``await fetch_key(selector, domain, resolver=..., cache=None) -> KeyLookup`` with
  ``.status`` (``"ok" | "temperror" | "permerror"``), ``.record``, ``.reason``, ``.name``.
- ``load_private_key(data, password=None) -> PrivateKey`` (raises ``KeyFormatError``).
- ``algorithm_for_key(key) -> "rsa-sha256" | "ed25519-sha256"``.
- ``sign_bytes(private_key, algorithm, data) -> bytes``: the raw signature over ``data``
  (the exact octets RFC 6376 section 3.7 feeds to the hash).
- ``check_signature(public_key, algorithm, data, signature) -> bool``.
- ``public_key_record(key, testing=False) -> str``: the TXT record text for a key.
- ``domain_name(name) -> str``: a d=/selector name, lower-cased and checked (IDNA when needed).
- ``key_name(selector, domain) -> str``: ``selector._domainkey.domain``.
- ``zone_file_line(selector, domain, record) -> str``: a master-file TXT line, 255-octet strings.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, cast

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from zegel.dkim.tags import TagListError, decode_base64, parse_tag_list, split_colon_list
from zegel.dns import InvalidName, normalize

if TYPE_CHECKING:
    from zegel.dns import Answer, Resolver

__all__ = [
    "MIN_RSA_BITS",
    "SIGNING_ALGORITHMS",
    "KeyCache",
    "KeyFormatError",
    "KeyLookup",
    "KeyRecord",
    "KeyRecordError",
    "PrivateKey",
    "PublicKey",
    "algorithm_for_key",
    "check_signature",
    "domain_name",
    "fetch_key",
    "generate_private_key",
    "key_name",
    "load_private_key",
    "parse_key_record",
    "private_key_pem",
    "public_key_record",
    "sign_bytes",
    "zone_file_line",
]

PublicKey = rsa.RSAPublicKey | ed25519.Ed25519PublicKey
PrivateKey = rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey

# RFC 8301 section 3.2: verifiers MUST NOT accept RSA keys under 1024 bits.
MIN_RSA_BITS = 1024
# a= values this package signs and verifies; rsa-sha1 is recognized but refused (RFC 8301 3.1).
SIGNING_ALGORITHMS = {"rsa-sha256": ("rsa", "sha256"), "ed25519-sha256": ("ed25519", "sha256")}
KEY_TYPES = ("rsa", "ed25519")
# Immutable parameter objects, built once rather than per signature.
_PKCS1V15 = padding.PKCS1v15()
_SHA256 = hashes.SHA256()


class KeyRecordError(ValueError):
    """A DKIM key record that cannot be used: syntax, unknown key type, or a p= that does not
    decode to a public key. One-line reason."""


class KeyFormatError(ValueError):
    """A private key that cannot be loaded (one-line reason)."""


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """A parsed DKIM key record (RFC 6376 section 3.6.1, RFC 8463 section 4.2).

    ``public_key`` is None when the key is revoked (empty p=). ``key_bits`` is the RSA
    modulus size, 256 for Ed25519, 0 when revoked. ``hash_algorithms`` is None when h= is
    absent (all allowed). ``testing`` is the t=y flag, ``strict`` the t=s flag (i= must use
    exactly the d= domain).
    """

    key_type: str
    public_key: PublicKey | None
    key_bits: int
    testing: bool
    strict: bool
    revoked: bool
    hash_algorithms: tuple[str, ...] | None
    service_types: tuple[str, ...]
    flags: tuple[str, ...]
    notes: str
    version: str | None
    text: str

    def allows_hash(self, hash_name: str) -> bool:
        """h= in the key record limits the hash algorithms a signature may use."""
        return self.hash_algorithms is None or hash_name in self.hash_algorithms

    @property
    def allows_email(self) -> bool:
        """s= must be ``*`` or include ``email`` for the key to sign mail (RFC 6376 3.6.1)."""
        return "*" in self.service_types or "email" in self.service_types


def _load_rsa_public(der: bytes) -> rsa.RSAPublicKey:
    # RFC 6376 3.6.1 publishes a SubjectPublicKeyInfo; some signers publish the bare PKCS#1
    # RSAPublicKey, which OpenDKIM and dkimpy also accept.
    try:
        key = serialization.load_der_public_key(der)
    except (ValueError, UnsupportedAlgorithm):
        pem = b"-----BEGIN RSA PUBLIC KEY-----\n" + base64.encodebytes(der) + b"-----END RSA PUBLIC KEY-----\n"
        try:
            key = serialization.load_pem_public_key(pem)
        except (ValueError, UnsupportedAlgorithm):
            raise KeyRecordError("p= does not hold a parsable RSA public key") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise KeyRecordError("p= holds a non-RSA key but k=rsa")
    return key


def _load_ed25519_public(raw: bytes) -> ed25519.Ed25519PublicKey:
    # RFC 8463 section 4.2: p= is the bare 32-octet public key.
    if len(raw) == 32:
        return ed25519.Ed25519PublicKey.from_public_bytes(raw)
    try:
        key = serialization.load_der_public_key(raw)
    except (ValueError, UnsupportedAlgorithm):
        key = None
    if isinstance(key, ed25519.Ed25519PublicKey):
        return key  # a SubjectPublicKeyInfo wrapper: tolerated
    raise KeyRecordError(f"p= for k=ed25519 must be 32 octets, got {len(raw)}")


def parse_key_record(text: str) -> KeyRecord:
    """Parse a DKIM key record (the joined TXT strings). Raises :class:`KeyRecordError`.

    Checks: tag-list syntax; v= (when present) first and equal to DKIM1; p= present and
    valid base64; k= a known key type (rsa, ed25519); the key decodes. Policy questions —
    RSA size, s=, h=, t= flags — are left to the caller; the record reports them.
    """
    try:
        tags = parse_tag_list(text)
    except TagListError as exc:
        raise KeyRecordError(f"key record syntax: {exc}") from None
    version = tags.get("v")
    if version is not None:
        if next(iter(tags)) != "v":
            raise KeyRecordError("v= must be the first tag of a key record")
        if version != "DKIM1":
            raise KeyRecordError(f"unsupported key record version v={version}")
    if "p" not in tags:
        raise KeyRecordError("key record has no p= tag")
    key_type = tags.get("k", "rsa").lower()
    if key_type not in KEY_TYPES:
        raise KeyRecordError(f"unknown key type k={tags['k']}")
    try:
        hash_algorithms = tuple(split_colon_list(tags["h"])) if "h" in tags else None
        service_types = tuple(split_colon_list(tags.get("s", "*")))
        flags = tuple(split_colon_list(tags.get("t", "")))
        der = decode_base64(tags["p"])
    except TagListError as exc:
        raise KeyRecordError(f"key record: {exc}") from None
    public_key: PublicKey | None = None
    bits = 0
    if der:
        if key_type == "rsa":
            public_key = _load_rsa_public(der)
            bits = public_key.key_size
        else:
            public_key = _load_ed25519_public(der)
            bits = 256
    return KeyRecord(
        key_type=key_type,
        public_key=public_key,
        key_bits=bits,
        testing="y" in flags,
        strict="s" in flags,
        revoked=not der,
        hash_algorithms=hash_algorithms,
        service_types=service_types,
        flags=flags,
        notes=tags.get("n", ""),
        version=version,
        text=text,
    )


# parse_key_record is pure and its result immutable (a frozen record holding an immutable key
# object): memoized by record text, bounded, so a verifier made per message (verify_message)
# does not decode the same published key again. Errors are not memoized (KeyCache keeps them).
_parse_key_memoized = functools.lru_cache(maxsize=1024)(parse_key_record)


class KeyCache:
    """Parsed key records by record text, and key lookups by DNS name until their TTL runs
    out; least recently used evicted first (at most ``max_entries`` of each).

    Owned by the caller (a verifier, the milter): it spares the hot path the resolver round
    trip and the key parse. Parse failures are cached too; temporary DNS failures are not.
    """

    def __init__(self, max_entries: int = 1024, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, KeyRecord | KeyRecordError] = OrderedDict()
        self._lookups: OrderedDict[str, tuple[float, KeyLookup]] = OrderedDict()

    def parse(self, text: str) -> KeyRecord:
        """:func:`parse_key_record`, memoized."""
        entry = self._entries.get(text)
        if entry is None:
            try:
                entry = _parse_key_memoized(text)
            except KeyRecordError as exc:
                entry = exc
            self._entries[text] = entry
            if len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        else:
            self._entries.move_to_end(text)
        if isinstance(entry, KeyRecordError):
            raise entry
        return entry

    def get_lookup(self, name: str) -> KeyLookup | None:
        """The cached lookup for a key name, or None when absent or past its TTL."""
        entry = self._lookups.get(name)
        if entry is None:
            return None
        if entry[0] <= self._clock():
            del self._lookups[name]
            return None
        self._lookups.move_to_end(name)
        return entry[1]

    def put_lookup(self, name: str, lookup: KeyLookup, ttl: int) -> None:
        """Remember ``lookup`` for ``ttl`` seconds (the DNS answer's TTL); temperrors are not kept."""
        if ttl <= 0 or lookup.status == "temperror":
            return
        self._lookups[name] = (self._clock() + ttl, lookup)
        self._lookups.move_to_end(name)
        if len(self._lookups) > self.max_entries:
            self._lookups.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


@dataclass(frozen=True, slots=True)
class KeyLookup:
    """The outcome of a key fetch: ``status`` ok (``record`` set), temperror (DNS failed),
    or permerror (no record, or no usable record); ``reason`` says why; ``name`` is the
    DNS name queried."""

    status: Literal["ok", "temperror", "permerror"]
    record: KeyRecord | None
    reason: str
    name: str


def key_name(selector: str, domain: str) -> str:
    """The DNS name of a DKIM key (RFC 6376 section 3.6.2.1)."""
    return f"{selector}._domainkey.{domain}"


async def fetch_key(selector: str, domain: str, *, resolver: Resolver, cache: KeyCache | None = None) -> KeyLookup:
    """Fetch and parse the key for ``selector`` / ``domain`` (RFC 6376 section 6.1.2).

    A DNS failure is a temperror; no record (NXDOMAIN, NODATA) or no record that parses is a
    permerror. When several TXT records are published the first that parses is used
    (section 6.1.2 leaves the choice to the verifier). With a ``cache``, lookups are reused
    for the answer's TTL and parsed keys by record text.
    """
    name = key_name(selector, domain)
    if cache is not None:
        cached = cache.get_lookup(name)
        if cached is not None:
            return cached
    answer = await resolver.txt(name)
    lookup = _lookup_from_answer(name, answer, cache)
    if cache is not None:
        cache.put_lookup(name, lookup, answer.ttl)
    return lookup


def _lookup_from_answer(name: str, answer: Answer[str], cache: KeyCache | None) -> KeyLookup:
    if answer.is_tempfail:
        return KeyLookup("temperror", None, f"key lookup for {name} failed: {answer.reason}", name)
    if not answer.ok or not answer.records:
        detail = "NXDOMAIN" if answer.status.value == "nxdomain" else "no TXT record"
        if answer.reason and answer.reason not in ("NXDOMAIN", "NODATA"):
            detail = answer.reason
        return KeyLookup("permerror", None, f"no key published at {name} ({detail})", name)
    first_error: KeyRecordError | None = None
    for text in answer.records:
        try:
            record = cache.parse(text) if cache is not None else parse_key_record(text)
        except KeyRecordError as exc:
            first_error = first_error or exc
            continue
        return KeyLookup("ok", record, "", name)
    return KeyLookup("permerror", None, f"key record at {name} unusable: {first_error}", name)


# A plain ASCII host name (labels of letters, digits, '-', '_'): accepted without IDNA work.
_PLAIN_DOMAIN = re.compile(r"(?:[A-Za-z0-9_-]{1,63}\.)*[A-Za-z0-9_-]{1,63}\Z")


def domain_name(name: str) -> str:
    """``name`` as a lower-case A-label domain without trailing dot (d=, i= domains,
    selectors); raises ``zegel.dns.InvalidName``. Labels are letters, digits, '-' and '_'
    (RFC 6376 3.5 domain-name / selector; '_' because DNS and real selectors use it); U-labels
    (RFC 8616) are converted with IDNA first."""
    if len(name) <= 253 and _PLAIN_DOMAIN.match(name):
        return name.lower()
    if name.isascii():
        raise InvalidName(f"invalid domain name {name[:80]!r}: labels are letters, digits, '-' and '_'")
    converted = normalize(name)
    if not _PLAIN_DOMAIN.match(converted):
        raise InvalidName(f"invalid domain name {name[:80]!r}")
    return converted


def load_private_key(data: bytes | str | PrivateKey, password: bytes | None = None) -> PrivateKey:
    """An RSA or Ed25519 private key from PEM (PKCS#8 or traditional) or DER bytes, or a key
    object from ``cryptography`` (returned as is). Raises :class:`KeyFormatError`."""
    if isinstance(data, rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey):
        return data
    raw = data.encode("ascii", "replace") if isinstance(data, str) else bytes(data)
    try:
        if b"-----BEGIN" in raw:
            key = serialization.load_pem_private_key(raw, password=password)
        else:
            key = serialization.load_der_private_key(raw, password=password)
    except TypeError as exc:  # password missing / not expected
        raise KeyFormatError(f"private key: {exc}") from None
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise KeyFormatError(f"private key does not load: {str(exc).splitlines()[0] if str(exc) else 'bad data'}") from None
    if not isinstance(key, rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey):
        raise KeyFormatError(f"private key is {type(key).__name__}; DKIM needs RSA or Ed25519")
    return key


def algorithm_for_key(key: PrivateKey | PublicKey) -> str:
    """The a= value for a key: rsa-sha256 or ed25519-sha256."""
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        return "rsa-sha256"
    return "ed25519-sha256"


def sign_bytes(private_key: PrivateKey, algorithm: str, data: bytes) -> bytes:
    """Sign the hash input ``data`` (RFC 6376 section 3.7).

    rsa-sha256: RSASSA-PKCS1-v1_5 with SHA-256 (RFC 6376 3.3.1). ed25519-sha256: PureEdDSA
    Ed25519 over the SHA-256 digest of ``data`` (RFC 8463 section 3).
    """
    if algorithm == "rsa-sha256" and isinstance(private_key, rsa.RSAPrivateKey):
        return private_key.sign(data, _PKCS1V15, _SHA256)
    if algorithm == "ed25519-sha256" and isinstance(private_key, ed25519.Ed25519PrivateKey):
        return private_key.sign(hashlib.sha256(data).digest())
    raise ValueError(f"algorithm {algorithm} does not match the private key type")


# Concrete classes seen to be RSA public keys: a set lookup instead of the ABC isinstance check
# (ABC registrations only ever grow, so a class once in stays in).
_RSA_PUBLIC_TYPES: set[type] = set()


def _is_rsa_public(key: object) -> bool:
    if isinstance(key, rsa.RSAPublicKey):
        _RSA_PUBLIC_TYPES.add(type(key))
        return True
    return False


def check_signature(public_key: PublicKey, algorithm: str, data: bytes, signature: bytes) -> bool:
    """True when ``signature`` is valid for the hash input ``data`` under ``algorithm``
    (see :func:`sign_bytes`); a key / algorithm mismatch is False."""
    try:
        if algorithm == "rsa-sha256" and (type(public_key) in _RSA_PUBLIC_TYPES or _is_rsa_public(public_key)):
            cast("rsa.RSAPublicKey", public_key).verify(signature, data, _PKCS1V15, _SHA256)
            return True
        if algorithm == "ed25519-sha256" and isinstance(public_key, ed25519.Ed25519PublicKey):
            public_key.verify(signature, hashlib.sha256(data).digest())
            return True
    except (InvalidSignature, ValueError):
        return False
    return False


def public_key_record(key: PrivateKey | PublicKey, *, testing: bool = False) -> str:
    """The TXT record text publishing ``key``: ``v=DKIM1; k=...; p=...`` (RFC 6376 3.6.1,
    RFC 8463 4.2); ``testing`` adds t=y."""
    public = key.public_key() if isinstance(key, rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey) else key
    if isinstance(public, rsa.RSAPublicKey):
        der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        key_type = "rsa"
    else:
        der = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        key_type = "ed25519"
    flags = "; t=y" if testing else ""
    return f"v=DKIM1; k={key_type}{flags}; p={base64.b64encode(der).decode('ascii')}"


def generate_private_key(key_type: str = "rsa", bits: int = 2048) -> PrivateKey:
    """A new signing key: RSA (public exponent 65537, ``bits`` from MIN_RSA_BITS; RFC 8301 3.2
    wants 2048 for signers) or Ed25519 (RFC 8463)."""
    if key_type == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    if key_type != "rsa" or not MIN_RSA_BITS <= bits <= 8192:
        raise ValueError(f"unsupported key: {key_type} {bits}")
    return rsa.generate_private_key(65537, bits)


def private_key_pem(key: PrivateKey) -> bytes:
    """The private key as unencrypted PKCS#8 PEM (what OpenDKIM, Postfix milters and zegel read)."""
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def zone_file_line(selector: str, domain: str, record: str, ttl: int = 3600) -> str:
    """``selector._domainkey.domain. 3600 IN TXT ( "..." "..." )``: the record as an RFC 1035
    master-file line, split into character-strings of at most 255 octets (RFC 1035 3.3.14;
    resolvers join them, RFC 6376 3.6.2.2)."""
    data = record.encode("ascii")
    strings = [data[i : i + 255].decode("ascii") for i in range(0, len(data), 255)] or [""]
    quoted = " ".join(f'"{s}"' for s in strings)
    owner = key_name(selector, domain).rstrip(".") + "."
    if len(strings) == 1:
        return f"{owner} {ttl} IN TXT {quoted}"
    return f"{owner} {ttl} IN TXT ( {quoted} )"
