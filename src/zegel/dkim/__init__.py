"""zegel.dkim — DKIM signatures (RFC 6376), with RFC 8301 crypto rules and Ed25519 (RFC 8463).

Building blocks reused by zegel.arc: :mod:`zegel.dkim.tags`, :mod:`zegel.dkim.canonicalize`,
:mod:`zegel.dkim.keys`.
"""

from zegel.dkim.result import DkimResult

__all__ = ["DkimResult"]
