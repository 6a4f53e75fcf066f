"""Ready-to-paste records for fixable findings: a flattened SPF record within 10 lookups, the
next DMARC step with reports, and small corrections. Zone-file syntax, so a record can be pasted
into a zone or into ``--zone draft.zone`` and checked again."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from zegel import aio
from zegel.audit.findings import Finding
from zegel.audit.record_text import merge_spf, txt_line
from zegel.audit.spf_audit import LOOKUP_LIMIT, SpfNode
from zegel.dmarc import POLICIES, DmarcRecordError, parse_record, parse_report_uri
from zegel.dns import Resolver

# Left out of every DMARC record we suggest: pct, rf and ri are gone from RFC 9989 (the
# dmarc.tag-removed finding), t=y means "still testing".
_REMOVED_TAGS = ("pct", "rf", "ri", "t")
# tag-name (RFC 6376 3.2, which DMARC's tag-list follows): a name that is not one is no tag.
_TAG_NAME = re.compile(r"[a-z][a-z0-9_]*")


def _tags(record: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for part in record.split(";"):
        key, sep, value = part.strip().partition("=")
        key = key.strip().lower()
        if sep and _TAG_NAME.fullmatch(key):
            out.append((key, value.strip()))
    return out


def _report_uris(value: str) -> str:
    """The URIs of a rua/ruf value that receivers would use, comma-separated: one that does not
    parse is left out (receivers skip it, RFC 9989 4.7), except a bare address, which gets
    the mailto: it lacks (what the dmarc.invalid-uri finding tells the owner to write)."""
    kept: list[str] = []
    for item in value.split(","):
        item = item.strip(" \t")
        if not item:
            continue
        for candidate in (item, f"mailto:{item}"):
            try:
                kept.append(parse_report_uri(candidate).raw)
                break
            except ValueError:
                continue
    return ",".join(dict.fromkeys(kept))


def _invalid_tags(values: Mapping[str, str]) -> set[str]:
    """Tags whose value receivers ignore (an invalid or empty value, RFC 9989 4.7), p aside:
    read from the tags as one record would hold them once."""
    try:
        parsed = parse_record("v=DMARC1; " + "; ".join(f"{k}={v}" for k, v in values.items() if k != "v"))
    except DmarcRecordError:
        return set(values) - {"v", "p"}  # unreadable as a whole: keep none of them
    return {issue.tag for issue in parsed.warnings
            if issue.tag and issue.tag != "p" and issue.code in ("invalid-value", "empty-value")}


def dmarc_next(domain: str, record: str | None, *, policy: str | None = None, drop: tuple[str, ...] = ()) -> str:
    """The next DMARC step: none -> quarantine -> reject (or ``policy``), rua kept or added,
    ``drop`` tags removed. What the record's own findings say to remove goes too, so the record
    to publish is one receivers read as written: pct, rf and ri (removed by RFC 9989), t (y only
    while testing), tags with invalid values, report URIs that do not parse (a bare address
    gets its mailto:), and fo when no ruf is left for it (RFC 9989 4.7)."""
    tags = [(k, v) for k, v in (_tags(record) if record else []) if k not in drop]
    values = dict(tags)
    for tag in _invalid_tags(values):
        del values[tag]
    for tag in ("rua", "ruf"):
        if tag in values:
            values[tag] = _report_uris(values[tag])
            if not values[tag]:
                del values[tag]
    if "ruf" not in values:
        values.pop("fo", None)
    # Policy values are case-insensitive (RFC 5234 2.3); one that is none of the three
    # ("rejct") leaves receivers at p=none (RFC 9989 4.7), so the next step is quarantine.
    current = values.get("p", "").strip().lower()
    if current and current not in POLICIES:
        current = "none"
    if policy is None:
        policy = {"": "none", "none": "quarantine", "quarantine": "reject"}.get(current, "reject")
    values["p"] = policy
    for removed in _REMOVED_TAGS:
        values.pop(removed, None)
    values.setdefault("rua", f"mailto:dmarc-reports@{domain}")
    order = ["v", "p"] + [k for k, _ in tags if k not in ("v", "p", *_REMOVED_TAGS)]
    if "rua" not in order:
        order.append("rua")
    values["v"] = "DMARC1"
    text = "; ".join(f"{k}={values[k]}" for k in dict.fromkeys(order) if k in values) + ";"
    return txt_line(f"_dmarc.{domain}", text)



async def _addresses(resolver: Resolver, names: Sequence[str]) -> list[str]:
    results = await aio.gather(*(resolver.addresses(name) for name in names))
    out: list[str] = []
    for a, aaaa in results:
        out.extend(f"ip4:{ip}" for ip in a.records)
        out.extend(f"ip6:{ip}" for ip in aaaa.records)
    return out


async def flatten_spf(domain: str, record: str, tree: SpfNode, resolver: Resolver) -> tuple[str, int]:
    """A record with the same senders in at most 10 lookups, when possible: the branches that
    hold only address ranges are replaced by those ranges (largest first), then the domain's own
    ``a`` and ``mx`` by their current addresses. Returns (record text, its lookup count)."""
    terms = record.split()
    lookups = tree.lookups
    by_term = {child.term: child for child in tree.children}
    replaced: dict[str, list[str]] = {}
    for child in sorted(tree.children, key=lambda c: -c.lookups):
        if lookups <= LOOKUP_LIMIT:
            break
        if child.term.lower().startswith(("include:", "+include:")) and child.flattenable():
            replaced[child.term] = list(child.all_networks())
            lookups -= child.lookups
    if lookups > LOOKUP_LIMIT:
        for term in terms:
            bare = term.lower().lstrip("+")
            node = by_term.get(term)
            if lookups <= LOOKUP_LIMIT or node is None or term in replaced:
                continue
            if bare == "a":
                replaced[term] = await _addresses(resolver, [domain])
                lookups -= node.lookups
            elif bare == "mx":
                mx = await resolver.mx(domain)
                replaced[term] = await _addresses(resolver, [r.exchange for r in mx.records if r.exchange][:10])
                lookups -= node.lookups
    out: list[str] = []
    for term in terms:
        out.extend(replaced.get(term, [term]))
    return " ".join(dict.fromkeys(out)), lookups


def with_records(findings: Sequence[Finding], records: Mapping[str, str]) -> list[Finding]:
    """Attach a record to each finding whose code has one (unless it already carries one)."""
    return [f.with_record(records[f.code]) if f.code in records and not f.record else f for f in findings]


__all__ = ["dmarc_next", "flatten_spf", "merge_spf", "txt_line", "with_records"]
