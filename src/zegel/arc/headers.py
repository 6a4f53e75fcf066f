"""ARC header fields: parse ARC sets out of a message and check the chain's structure.

RFC 8617 section 4.1 defines the three header fields of an ARC set, section 4.2.1 the
structure of a chain: instances 1..N without gaps, exactly one of each field per instance,
N at most 50. The ARC-Seal and ARC-Message-Signature are DKIM tag-lists (zegel.dkim.tags);
the ARC-Authentication-Results is ``i=N;`` followed by an RFC 8601 payload.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from zegel.dkim.canonicalize import HeaderField
from zegel.dkim.tags import TagListError, parse_tag_list

SEAL = "arc-seal"
SIGNATURE = "arc-message-signature"
RESULTS = "arc-authentication-results"
ARC_FIELDS = (RESULTS, SIGNATURE, SEAL)  # the order of one set inside the ARC-Seal's scope

# RFC 8617 section 4.2.1: "The maximum number of ARC Sets that can be attached to a message is 50."
MAX_INSTANCE = 50
# Reading stops once this many ARC header fields are seen: more than any valid chain carries
# (3 per set), so an abusive header block costs bounded memory and time.
MAX_ARC_FIELDS = 3 * MAX_INSTANCE + 3

# RFC 8617 section 4.1.1: AAR = "i=" instance ";" authres-payload (instance 1*2DIGIT).
_AAR_PREFIX = re.compile(r"\A[ \t\r\n]*i[ \t\r\n]*=[ \t\r\n]*([0-9]+)[ \t\r\n]*;(.*)\Z", re.S)
_INSTANCE = re.compile(r"[0-9]{1,2}\Z")
_FOLD = re.compile(r"[ \t]*\r?\n[ \t]*|[ \t]+")


class ArcStructureError(ValueError):
    """The ARC header fields do not form a well-formed chain (one-line reason)."""


@dataclass(frozen=True, slots=True)
class ArcField:
    """One ARC header field as it appears in the message."""

    name: str  # lower-case field name
    raw: bytes  # the whole field as received: name, colon, value, CRLF
    value: str  # the value after the colon (decoded, unfolding left to the parser)
    position: int  # index among all header fields, 0 = top


@dataclass(frozen=True, slots=True)
class ArcSet:
    """The three fields of one instance, with their parsed content."""

    instance: int
    seal: ArcField
    signature: ArcField
    results: ArcField
    seal_tags: dict[str, str] = field(hash=False, compare=False)
    signature_tags: dict[str, str] = field(hash=False, compare=False)
    authres: str  # the AAR payload after "i=N;", unfolded and stripped

    @property
    def authserv_id(self) -> str:
        return self.authres.split(";", 1)[0].strip()

    @property
    def cv(self) -> str:
        return self.seal_tags.get("cv", "")

    def fields_in_seal_order(self) -> tuple[ArcField, ArcField, ArcField]:
        # RFC 8617 section 5.1.1: within a set, AAR then AMS then AS.
        return (self.results, self.signature, self.seal)


def unfold(text: str) -> str:
    """Unfold and collapse whitespace runs to one space (for display)."""
    return _FOLD.sub(" ", text).strip()


def parse_instance(text: str) -> int:
    """An ``i=`` value: 1..50 in decimal (RFC 8617 section 4.2.1)."""
    value = text.strip(" \t\r\n")
    if not _INSTANCE.match(value):
        raise ArcStructureError(f"invalid instance i={_short(value)}")
    instance = int(value)
    if not 1 <= instance <= MAX_INSTANCE:
        raise ArcStructureError(f"instance i={instance} out of range 1..{MAX_INSTANCE}")
    return instance


def _field_instance(arc_field: ArcField) -> tuple[int, dict[str, str] | None, str]:
    """(instance, tags for AS/AMS, AAR payload) of one field; raises ArcStructureError."""
    label = _LABELS[arc_field.name]
    if arc_field.name == RESULTS:
        match = _AAR_PREFIX.match(arc_field.value)
        if match is None:
            raise ArcStructureError(f"{label} does not start with 'i=N;'")
        return parse_instance(match.group(1)), None, unfold(match.group(2))
    try:
        tags = parse_tag_list(arc_field.value)
    except TagListError as exc:
        raise ArcStructureError(f"{label}: {exc}") from None
    if "i" not in tags:
        raise ArcStructureError(f"{label} has no i= tag")
    try:
        return parse_instance(tags["i"]), tags, ""
    except ArcStructureError as exc:
        raise ArcStructureError(f"{label}: {exc}") from None


_LABELS = {SEAL: "ARC-Seal", SIGNATURE: "ARC-Message-Signature", RESULTS: "ARC-Authentication-Results"}


def collect_arc_fields(headers: Sequence[HeaderField]) -> list[ArcField]:
    """The ARC header fields of a parsed message, top first.

    Raises ArcStructureError when there are more than any valid chain can hold.
    """
    found: list[ArcField] = []
    for position, header in enumerate(headers):
        if header.name not in ARC_FIELDS:
            continue
        if len(found) >= MAX_ARC_FIELDS:
            raise ArcStructureError(f"more than {MAX_INSTANCE} ARC sets")
        _, _, value = header.raw.partition(b":")
        text = value.decode("utf-8", "replace")
        found.append(ArcField(header.name, header.raw, text, position))
    return found


def build_chain(arc_fields: Sequence[ArcField]) -> list[ArcSet]:
    """Group ARC fields into sets 1..N and check the structure (RFC 8617 section 4.2.1).

    Every field must carry a valid instance; each instance 1..N must have exactly one AAR,
    AMS and AS; there must be no gaps. Raises ArcStructureError with the first problem.
    The cv= rules are checked by the validator (they depend on the position in the chain).
    """
    by_instance: dict[int, dict[str, tuple[ArcField, dict[str, str] | None, str]]] = {}
    for arc_field in arc_fields:
        instance, tags, payload = _field_instance(arc_field)
        members = by_instance.setdefault(instance, {})
        if arc_field.name in members:
            raise ArcStructureError(f"more than one {_LABELS[arc_field.name]} with i={instance}")
        members[arc_field.name] = (arc_field, tags, payload)
    if not by_instance:
        return []
    highest = max(by_instance)
    chain: list[ArcSet] = []
    for instance in range(1, highest + 1):
        if instance not in by_instance:
            raise ArcStructureError(f"ARC set i={instance} is missing (chain goes up to i={highest})")
        members = by_instance[instance]
        missing = [_LABELS[name] for name in ARC_FIELDS if name not in members]
        if missing:
            raise ArcStructureError(f"ARC set i={instance} has no {' and no '.join(missing)}")
        seal_field, seal_tags, _ = members[SEAL]
        ams_field, ams_tags, _ = members[SIGNATURE]
        aar_field, _, payload = members[RESULTS]
        assert seal_tags is not None and ams_tags is not None
        chain.append(ArcSet(instance, seal_field, ams_field, aar_field, seal_tags, ams_tags, payload))
    return chain


def _short(text: str, limit: int = 20) -> str:
    return text if len(text) <= limit else text[:limit] + "..."
