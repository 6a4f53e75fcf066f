"""zegel.arc — Authenticated Received Chain (RFC 8617, Experimental): validate and seal.

ARC is a separate, optional stage: DMARC does not depend on it.

- ``await validate(message, resolver=...) -> ArcResult`` (``.cv`` none|pass|fail, ``.reason``, ``.hops``)
- ``seal(message, domain=..., selector=..., private_key=..., authserv_id=..., auth_results=...)``
  -> the ARC-Seal, ARC-Message-Signature and ARC-Authentication-Results fields to prepend.
"""

from zegel.arc.headers import MAX_INSTANCE, ArcStructureError
from zegel.arc.result import ArcHop, ArcResult
from zegel.arc.seal import DEFAULT_SIGNED_HEADERS, ArcSealError, collect_auth_results, seal
from zegel.arc.validate import validate

__all__ = [
    "DEFAULT_SIGNED_HEADERS",
    "MAX_INSTANCE",
    "ArcHop",
    "ArcResult",
    "ArcSealError",
    "ArcStructureError",
    "collect_auth_results",
    "seal",
    "validate",
]
