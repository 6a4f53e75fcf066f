"""zegel.dkim — DKIM signatures (RFC 6376), with RFC 8301 crypto rules and Ed25519 (RFC 8463).

``await verify(message, resolver=...)`` -> list of :class:`DkimResult`;
``sign(message, domain=..., selector=..., private_key=...)`` -> the DKIM-Signature field.
Building blocks reused by zegel.arc: :mod:`zegel.dkim.tags`, :mod:`zegel.dkim.canonicalize`,
:mod:`zegel.dkim.keys`.
"""

from zegel.dkim.keys import KeyCache, KeyRecord, KeyRecordError, parse_key_record
from zegel.dkim.result import DkimResult
from zegel.dkim.sign import SigningError, sign
from zegel.dkim.verify import DkimVerifier, verify

__all__ = [
    "DkimResult",
    "DkimVerifier",
    "KeyCache",
    "KeyRecord",
    "KeyRecordError",
    "SigningError",
    "parse_key_record",
    "sign",
    "verify",
]
