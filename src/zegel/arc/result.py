"""Result types of ARC chain validation (RFC 8617 section 5.2)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

ChainValidation = Literal["none", "pass", "fail"]


@dataclass(frozen=True, slots=True)
class ArcHop:
    """One ARC set (one intermediary), as found in the message.

    ``domain``/``selector``/``cv`` come from the ARC-Seal, ``ams_domain``/``ams_selector`` from the
    ARC-Message-Signature, ``authserv_id``/``results`` from the ARC-Authentication-Results (the
    text after ``i=N;``, unfolded). ``ams_valid``/``seal_valid`` are None when validation stopped
    before that signature was checked.
    """

    instance: int
    domain: str = ""
    selector: str = ""
    cv: str = ""
    authserv_id: str = ""
    results: str = ""
    ams_domain: str = ""
    ams_selector: str = ""
    ams_valid: bool | None = None
    seal_valid: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "instance": self.instance,
            "domain": self.domain,
            "selector": self.selector,
            "cv": self.cv,
            "authserv_id": self.authserv_id,
            "results": self.results,
            "ams_domain": self.ams_domain,
            "ams_selector": self.ams_selector,
            "ams_valid": self.ams_valid,
            "seal_valid": self.seal_valid,
        }


@dataclass(frozen=True, slots=True)
class ArcResult:
    """The chain validation status of a message (RFC 8617 section 4.4).

    ``cv``: ``none`` (no ARC sets), ``pass`` or ``fail``. ``reason`` says why in one line.
    ``hops``: the ARC sets, instance 1 first (empty when the structure could not be read).
    ``oldest_pass``: the lowest instance whose ARC-Message-Signature still validates, checking
    from the newest set downwards and stopping at the first failure (RFC 8617 section 5.2 step 5);
    None when the chain did not get that far. The ``ams-oldest-pass`` Authentication-Results
    property is ``0`` when every AMS validates: see :attr:`ams_oldest_pass`.
    ``temperror``: the result is ``fail`` only because a key could not be fetched (DNS timeout or
    server failure); a receiver may prefer to defer the message.
    """

    cv: ChainValidation
    reason: str
    hops: tuple[ArcHop, ...] = ()
    oldest_pass: int | None = None
    temperror: bool = False

    @property
    def instance(self) -> int:
        """The highest instance number in the chain (0 when there is none)."""
        return self.hops[-1].instance if self.hops else 0

    @property
    def ams_oldest_pass(self) -> int | None:
        """RFC 8617 section 5.2 step 5 / 10.1: 0 when every AMS validates, else the oldest passing."""
        if self.oldest_pass is None:
            return None
        return 0 if self.oldest_pass == 1 else self.oldest_pass

    def to_dict(self) -> dict[str, Any]:
        return {
            "cv": self.cv,
            "reason": self.reason,
            "hops": [hop.to_dict() for hop in self.hops],
            "oldest_pass": self.oldest_pass,
            "temperror": self.temperror,
        }
