"""Why DMARC failed: which of the usual causes the results point to.

The causes people meet (docs/explain.md): no aligned identifier; no DKIM, or only the sending
provider's own d=; a sending source missing from SPF; forwarding (SPF fails at the forwarder,
or a list footer or rewrite broke DKIM); and, when the domain is well configured and nothing
else fits, spoofing. The diagnosis reads the results only; it never queries DNS.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

CauseCode = Literal[
    "not_aligned", "provider_dkim", "no_dkim", "spf_source", "forwarding_spf",
    "forwarding_modified", "forwarding_arc", "spoofing", "unknown",
]

_SPF_NOT_PASSING: Final = ("fail", "softfail", "neutral", "none")
_MODE_NAMES: Final = {"r": "relaxed", "s": "strict"}


@dataclass(frozen=True)
class Cause:
    """One diagnosed cause; ``fields`` fill the text ``cause.<code>`` (see texts.py)."""

    code: CauseCode
    fields: dict[str, str] = field(default_factory=dict)
    # Sub-texts (text key, fields), e.g. each identifier that did not align.
    parts: tuple[tuple[str, dict[str, str]], ...] = ()


def related(domain: str, other: str) -> bool:
    """Whether two domains plausibly belong to one organization: equal, one inside the other,
    or sharing their last two labels (a reading aid; DMARC itself decides alignment)."""
    a, b = domain.lower().rstrip("."), other.lower().rstrip(".")
    if not a or not b:
        return False
    if a == b or a.endswith("." + b) or b.endswith("." + a):
        return True
    return a.split(".")[-2:] == b.split(".")[-2:] and a.count(".") >= 1 and len(a.split(".")[-2]) > 3


def list_id(message: bytes | None) -> str | None:
    """The List-Id of a mailing-list message (RFC 2919), if the header section has one."""
    if not message:
        return None
    head = message[:65536]
    for line in head.split(b"\n"):
        if not line.strip():
            break
        if line[:8].lower() == b"list-id:":
            text = line[8:].decode("utf-8", "replace").strip()
            start, end = text.rfind("<"), text.rfind(">")
            return text[start + 1:end] if 0 <= start < end else text or None
    return None


def diagnose(verdict: Any, *, ip: str, message: bytes | None = None) -> list[Cause]:
    """The likely causes of a DMARC failure, most likely first (empty when DMARC did not fail)."""
    dmarc = verdict.dmarc
    if dmarc is None or dmarc.result != "fail":
        return []
    domain = dmarc.from_domain or ""
    spf = verdict.spf
    spf_result = getattr(spf, "result", "none") or "none"
    spf_domain = getattr(spf, "domain", "") or ""
    signatures: Sequence[Any] = [d for d in verdict.dkim if getattr(d, "domain", "")]
    own = [d for d in signatures if related(d.domain, domain)]
    passing_other = [d for d in signatures if d.result == "pass" and not related(d.domain, domain)]
    arc = verdict.arc
    sealers = [str(getattr(h, "domain", "")) for h in getattr(arc, "hops", ()) if getattr(h, "domain", "")]
    mailing_list = list_id(message)
    via_names = sealers or ([mailing_list] if mailing_list else [])
    via = ", ".join(dict.fromkeys(via_names))
    policy = str(dmarc.policy or "none")
    base = {"domain": domain, "ip": ip, "spf_domain": spf_domain or domain, "policy": policy,
            "servers": via, "via": via}
    causes: list[Cause] = []

    broken_own = [d for d in own if d.result in ("fail", "permerror", "neutral")]
    if broken_own:
        reason = str(getattr(broken_own[0], "reason", "") or "")
        detail = "detail.body_hash" if "body" in reason.lower() else "detail.signature"
        causes.append(Cause("forwarding_modified", {**base, "dkim_domain": broken_own[0].domain, "detail": detail}))
    elif (via_names and spf_result in ("fail", "softfail") and related(spf_domain, domain)):
        causes.append(Cause("forwarding_spf", base))

    if not causes:
        causes.extend(_alignment_causes(dmarc, base, passing_other, signatures, spf_result, spf_domain, domain))

    if not causes:
        if spf_result in _SPF_NOT_PASSING and related(spf_domain, domain):
            if not own and policy in ("quarantine", "reject"):
                causes.append(Cause("spoofing", base))
            else:
                causes.append(Cause("spf_source", base))
        elif not signatures:
            causes.append(Cause("no_dkim", base))
        else:
            causes.append(Cause("unknown", base))

    arc_note = _arc_vouches(arc, domain)
    if arc_note:
        causes.append(Cause("forwarding_arc", {**base, "results": arc_note}))
    return causes


def _alignment_causes(
    dmarc: Any, base: dict[str, str], passing_other: Sequence[Any], signatures: Sequence[Any],
    spf_result: str, spf_domain: str, domain: str,
) -> list[Cause]:
    record = getattr(dmarc, "record", None)
    adkim = _MODE_NAMES.get(str(getattr(record, "adkim", "r")), "relaxed")
    aspf = _MODE_NAMES.get(str(getattr(record, "aspf", "r")), "relaxed")
    spf_passed_unaligned = spf_result == "pass" and spf_domain and not getattr(dmarc, "spf_aligned", False)
    strict_near_miss = any(
        related(str(getattr(a, "identifier", "")), domain) for a in getattr(dmarc, "alignments", ())
        if getattr(a, "aligned", None) is False
    )
    details: list[tuple[str, dict[str, str]]] = []
    if spf_passed_unaligned:
        details.append(("cause.not_aligned.spf", {**base, "spf_domain": spf_domain, "mode": aspf}))
    for sig in passing_other:
        details.append(("cause.not_aligned.dkim", {**base, "dkim_domain": sig.domain, "mode": adkim}))
    if not details:
        return []
    if passing_other and not strict_near_miss:
        # Signed only by the provider's own domain (seed 004: "no DKIM signature for your domain").
        return [Cause("provider_dkim", {**base, "dkim_domain": passing_other[0].domain})]
    relaxed = "relaxed" if "relaxed" in (adkim, aspf) else "strict"
    causes = [Cause("not_aligned", {**base, "mode": relaxed}, tuple(details))]
    if not signatures:
        causes.append(Cause("no_dkim", base))
    return causes


def _arc_vouches(arc: Any, domain: str) -> str:
    """A summary of what the ARC sealers recorded, when the chain validates."""
    if arc is None or getattr(arc, "cv", "none") != "pass":
        return ""
    from zegel.authres import parse

    parts = []
    for hop in getattr(arc, "hops", ()):
        parsed = parse(f"{getattr(hop, 'authserv_id', '') or 'unknown'}; {getattr(hop, 'results', '')}")
        shown = [f"{r.method}={r.result}" for r in parsed.results if r.method in ("spf", "dkim", "dmarc")]
        if shown:
            parts.append(f"{getattr(hop, 'domain', '?')} (i={getattr(hop, 'instance', '?')}): {' '.join(shown)}")
    return "; ".join(parts)
