"""SPF audit: the record, its syntax, and the DNS-lookup tree over includes and redirects.

Parsing is zegel.spf's (``parse_record`` and its AST); this module walks the AST with the
injected resolver to count lookups per branch the way RFC 7208 4.6.4 counts them at a
receiver, in the worst case (no mechanism matches, so every term is evaluated).
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import itertools
import re
from dataclasses import dataclass, field

from zegel import aio
from zegel.audit.findings import Finding, Texts
from zegel.audit.record_text import corrected_spf, merge_spf, respelled_spf, txt_line
from zegel.dns import Answer, Resolver, Status
from zegel.dns.names import InvalidName, normalize
from zegel.spf import SpfSyntaxError, check_host, parse_record
from zegel.spf.parser import (
    MECHANISM_NAMES,
    A,
    All,
    DnsMechanism,
    Exists,
    Include,
    Ip4,
    Ip6,
    Mx,
    Ptr,
    SpfRecord,
    is_spf_record,
)

# RFC 7208 4.6.4: at most 10 DNS-querying terms, and (SHOULD) at most 2 void lookups.
LOOKUP_LIMIT = 10
VOID_LIMIT = 2
# How far the audit itself follows a tree: far enough past 10 to show the real count, bounded
# so a hostile or looping tree cannot make one domain cost thousands of queries.
MAX_AUDIT_LOOKUPS = 60
MAX_DEPTH = 12
MX_NAME_LIMIT = 10
# An include of another party that authorises more IPv4 addresses than this is flagged: a
# provider's whole-domain record (include:provider.example) often lists every third party the
# provider uses, where its mail-server include (include:smtp.provider.example) lists only its own.
BROAD_INCLUDE_IP4 = 1 << 20
# Ranges wider than these are flagged (own records only: providers' includes are theirs).
BROAD_IP4_PREFIX = 16  # shorter than /16: more than 65,536 addresses
HUGE_IP4_PREFIX = 8  # /8 or shorter: a sixteenth of the IPv4 internet or more
BROAD_IP6_PREFIX = 32
HUGE_IP6_PREFIX = 16

_TERM_START = re.compile(
    r"[+\-~?]?(?:all(?=\s|$)|include:|exists:|ip4:|ip6:|redirect=|exp=|a(?=[:/\s]|$)|mx(?=[:/\s]|$)|ptr(?=[:\s]|$))",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class SpfNode:
    """One branch of the lookup tree.

    ``term``: the term as written ("include:_spf.example.net"), or the domain for the root.
    ``lookups``: DNS-querying terms in this branch, this term included; ``void``: those that
    found nothing. ``note``: why the branch stops ("no SPF record", "loop", ...), or "".
    """

    term: str
    domain: str | None
    lookups: int
    void: int = 0
    note: str = ""
    children: tuple[SpfNode, ...] = ()
    # For an include/redirect (and the root): the record's own ip4:/ip6: terms that pass, and
    # whether it holds anything else that decides a result (a non-pass range, a macro...).
    networks: tuple[str, ...] = ()
    only_ranges: bool = False

    def all_networks(self) -> tuple[str, ...]:
        """Every pass range in this branch (for flattening and for counting addresses)."""
        out = list(self.networks)
        for child in self.children:
            out.extend(child.all_networks())
        return tuple(dict.fromkeys(out))

    def flattenable(self) -> bool:
        """An include branch made only of pass ranges and further such includes."""
        return self.only_ranges and not self.note and all(c.flattenable() for c in self.children)

    def lines(self, *, prefix: str = "", last: bool = True, root: bool = True) -> list[str]:
        """The tree as text lines with box-drawing branches and the count per branch."""
        count = f"[{self.lookups}]"
        label = f"{self.term} {count}" + (f"  ({self.note})" if self.note else "")
        if root:
            out = [label]
            child_prefix = ""
        else:
            out = [prefix + ("└── " if last else "├── ") + label]
            child_prefix = prefix + ("    " if last else "│   ")
        for index, child in enumerate(self.children):
            out.extend(child.lines(prefix=child_prefix, last=index == len(self.children) - 1, root=False))
        return out


@dataclass(frozen=True, slots=True)
class SpfAudit:
    findings: tuple[Finding, ...]
    status: str  # found | none | multiple | invalid | tempfail | nxdomain
    record: str | None = None
    tree: SpfNode | None = None
    lookups: int = 0
    void_lookups: int = 0
    reason: str = ""
    no_mail: bool = False  # exactly "v=spf1 -all": the domain says it sends no mail
    txt: tuple[str, ...] = ()  # every TXT record at the domain (for checks beyond SPF)


@dataclass
class _Walk:
    """Mutable state of one audit's walk (owned by one call, never shared)."""

    domain: str
    resolver: Resolver
    texts: Texts
    findings: list[Finding] = field(default_factory=list)
    budget: int = MAX_AUDIT_LOOKUPS
    truncated: bool = False

    def spend(self) -> bool:
        if self.budget <= 0:
            self.truncated = True
            return False
        self.budget -= 1
        return True

    def add(self, code: str, **params: object) -> None:
        self.add_with_record(code, "", **params)

    def add_with_record(self, code: str, record: str, **params: object) -> None:
        finding = self.texts.finding(code, **params).with_record(record)
        if finding not in self.findings:
            self.findings.append(finding)


def select_spf(answer: Answer[str]) -> list[tuple[str, tuple[bytes, ...]]]:
    """RFC 7208 4.5: the TXT records that start with "v=spf1", with their character-strings."""
    strings = answer.txt_strings or tuple((text.encode(),) for text in answer.records)
    return [(text, parts) for text, parts in zip(answer.records, strings, strict=False) if is_spf_record(text)]


def _is_own(name: str, domain: str) -> bool:
    return name == domain or name.endswith("." + domain)


def _target(spec_text: str) -> str | None:
    try:
        return normalize(spec_text)
    except InvalidName:
        return None


async def _address_void(resolver: Resolver, name: str) -> tuple[bool, str]:
    a, aaaa = await resolver.addresses(name)
    if a.ok or aaaa.ok:
        return False, ""
    if a.is_tempfail or aaaa.is_tempfail:
        return False, a.reason or aaaa.reason
    return True, ""


async def _term_node(walk: _Walk, source: str, mechanism: DnsMechanism, stack: tuple[str, ...],
                     depth: int) -> SpfNode:
    """One DNS-querying mechanism (RFC 7208 4.6.4 counts each as one lookup)."""
    if not walk.spend():
        return SpfNode(mechanism.text, None, 0, note="not followed: audit limit")
    spec = mechanism.domain_spec
    if spec is not None and not spec.is_literal:
        return SpfNode(mechanism.text, None, 1, note="macro: depends on the sender")
    target = source if spec is None else _target(spec.literal)
    if target is None:
        return SpfNode(mechanism.text, None, 1, note="invalid domain")
    if isinstance(mechanism, Include):
        return await _include_node(walk, source, mechanism.text, target, stack, depth)
    if isinstance(mechanism, Ptr):
        if _is_own(source, walk.domain):
            walk.add("spf.ptr", source=source, term=mechanism.text)
        return SpfNode(mechanism.text, target, 1, note="needs the client's address")
    if isinstance(mechanism, Mx):
        answer = await walk.resolver.mx(target)
        if answer.is_void:
            return SpfNode(mechanism.text, target, 1, void=1, note="no MX")
        if len(answer.records) > MX_NAME_LIMIT:
            # RFC 7208 4.6.4: evaluating "mx" may look up at most 10 hosts, else permerror.
            walk.add("mx.spf-limit", term=mechanism.text, source=source, count=len(answer.records))
        return SpfNode(mechanism.text, target, 1)
    if isinstance(mechanism, (A, Exists)):
        void, reason = await _address_void(walk.resolver, target)
        if void:
            return SpfNode(mechanism.text, target, 1, void=1, note="no address")
        return SpfNode(mechanism.text, target, 1, note=f"DNS error: {reason}" if reason else "")
    return SpfNode(mechanism.text, target, 1)


async def _include_node(walk: _Walk, source: str, term: str, target: str, stack: tuple[str, ...],
                        depth: int) -> SpfNode:
    """include: or redirect=: fetch the target's record and walk it (RFC 7208 5.2, 6.1)."""
    if target in stack:
        walk.add("spf.include-loop", source=source, term=term, target=target)
        return SpfNode(term, target, 1, note="loop")
    if depth >= MAX_DEPTH:
        return SpfNode(term, target, 1, note="not followed: too deep")
    answer = await walk.resolver.txt(target)
    if answer.is_tempfail:
        walk.add("spf.include-dns-error", term=term, target=target, reason=answer.reason)
        return SpfNode(term, target, 1, note=f"DNS error: {answer.reason}")
    records = select_spf(answer) if answer.ok else []
    if not records:
        void = 1 if answer.is_void else 0
        walk.add("spf.include-no-record", source=source, term=term, target=target)
        return SpfNode(term, target, 1, void=void, note="no SPF record")
    if len(records) > 1:
        walk.add("spf.include-invalid", term=term, target=target,
                 reason=f"{len(records)} SPF records")
        return SpfNode(term, target, 1, note=f"{len(records)} SPF records")
    try:
        record = parse_record(records[0][0])
    except SpfSyntaxError as exc:
        walk.add("spf.include-invalid", term=term, target=target,
                 reason=f"{exc.reason} at character {exc.position + 1}")
        return SpfNode(term, target, 1, note="syntax error")
    children, lookups, void = await _walk_record(walk, target, record, (*stack, target), depth + 1)
    networks, only_ranges = _ranges(record)
    node = SpfNode(term, target, 1 + lookups, void, children=children, networks=networks, only_ranges=only_ranges)
    if not _is_own(target, walk.domain):
        count = ipv4_count(node.all_networks())
        if count > BROAD_INCLUDE_IP4:
            walk.add("spf.broad-include", term=term, count=_count_text(count), domain=walk.domain)
    return node


def _ranges(record: SpfRecord) -> tuple[tuple[str, ...], bool]:
    networks: list[str] = []
    only = record.redirect is None or record.redirect.domain_spec.is_literal
    for mechanism in record.mechanisms:
        if isinstance(mechanism, (Ip4, Ip6)) and mechanism.qualifier == "+":
            networks.append(mechanism.text.lstrip("+"))
        elif isinstance(mechanism, Include) or (isinstance(mechanism, All) and mechanism.qualifier != "+"):
            continue
        else:
            only = False
    return tuple(networks), only


@functools.lru_cache(maxsize=1024)
def ipv4_count(networks: tuple[str, ...]) -> int:
    """How many IPv4 addresses the ip4: terms authorise (overlaps counted once). Memoised: the
    same provider include is counted for every domain that uses it."""
    nets = []
    for text in networks:
        if text.lower().startswith("ip4:"):
            try:
                nets.append(ipaddress.IPv4Network(text[4:], strict=False))
            except ValueError:
                continue
    return sum(n.num_addresses for n in ipaddress.collapse_addresses(nets))


def _repeated_terms(record: SpfRecord) -> list[str]:
    """Terms listed more than once (case and a '+' qualifier aside), in record order."""
    seen: set[str] = set()
    repeated: list[str] = []
    for mechanism in record.mechanisms:
        key = mechanism.text.lower().lstrip("+")
        if key in seen and key not in repeated:
            repeated.append(key)
        seen.add(key)
    return repeated


def _corrected(source: str, record: SpfRecord) -> str:
    return txt_line(source, corrected_spf(record.text))


def _check_repeats(walk: _Walk, source: str, record: SpfRecord) -> None:
    """A term listed twice: only its first copy can match (RFC 7208 4.6.2: the first match
    wins), and every copy of a DNS term still costs one of the 10 lookups (4.6.4)."""
    repeated = _repeated_terms(record)
    if repeated:
        walk.add_with_record("spf.repeated-term", _corrected(source, record), source=source,
                             terms=", ".join(f"'{term}'" for term in repeated))


def _check_mechanisms_as_modifiers(walk: _Walk, source: str, record: SpfRecord, *, own: bool) -> None:
    """'include=x' is valid syntax, an unknown modifier (RFC 7208 6), so receivers ignore it
    without an error: the include meant is silently missing."""
    for modifier in record.unknown_modifiers:
        name = modifier.name.lower()
        if name not in MECHANISM_NAMES:
            continue
        meant = modifier.name if name == "all" else f"{modifier.name}:{modifier.value.text}"
        paste = ""  # a record to paste: for the domain's own records, when the corrected one parses
        if own:
            fixed = corrected_spf(record.text.replace(modifier.text, meant, 1))
            with contextlib.suppress(SpfSyntaxError):  # "a=foo": no valid argument either
                parse_record(fixed)
                paste = txt_line(source, fixed)
        walk.add_with_record("spf.mechanism-as-modifier", paste, domain=source, term=modifier.text, meant=meant)


async def _walk_record(walk: _Walk, source: str, record: SpfRecord, stack: tuple[str, ...],
                       depth: int) -> tuple[tuple[SpfNode, ...], int, int]:
    """Children of one record: its DNS terms (concurrently) and a redirect when no 'all'."""
    own = _is_own(source, walk.domain)
    if own:
        _check_repeats(walk, source, record)
    _check_mechanisms_as_modifiers(walk, source, record, own=own)
    for mechanism in record.mechanisms:
        if isinstance(mechanism, All) and mechanism.qualifier == "+":
            # An include of a "+all" record passes every sender too (RFC 7208 5.2 table).
            if own:
                # The fix is in that very record (the domain's own, or a name under it).
                walk.add_with_record("spf.pass-all", _corrected(source, record), domain=source,
                                     term=mechanism.text)
            else:  # someone else's record: the include is what the domain owner can change
                walk.add("spf.include-pass-all", domain=walk.domain, target=source, term=mechanism.text)
        elif isinstance(mechanism, (Ip4, Ip6)):
            _check_range(walk, source, mechanism, own=own)
    dns_terms = [m for m in record.mechanisms if isinstance(m, DnsMechanism)]
    children = list(await aio.gather(*(_term_node(walk, source, m, stack, depth) for m in dns_terms)))
    redirect = record.redirect
    if redirect is not None:
        if record.has_all:
            walk.add("spf.redirect-ignored", domain=source, term=redirect.text)
        elif not walk.spend():
            children.append(SpfNode(redirect.text, None, 0, note="not followed: audit limit"))
        elif not redirect.domain_spec.is_literal:
            children.append(SpfNode(redirect.text, None, 1, note="macro: depends on the sender"))
        else:
            target = _target(redirect.domain_spec.literal)
            if target is None:
                children.append(SpfNode(redirect.text, None, 1, note="invalid domain"))
            else:
                children.append(await _include_node(walk, source, redirect.text, target, stack, depth))
    return tuple(children), sum(c.lookups for c in children), sum(c.void for c in children)


def _check_range(walk: _Walk, source: str, mechanism: Ip4 | Ip6, *, own: bool) -> None:
    network = mechanism.network
    if isinstance(mechanism, Ip4):
        huge, broad = network.prefixlen <= HUGE_IP4_PREFIX, network.prefixlen < BROAD_IP4_PREFIX
    else:
        huge, broad = network.prefixlen <= HUGE_IP6_PREFIX, network.prefixlen < BROAD_IP6_PREFIX
    count = _count_text(network.num_addresses)
    if huge:
        walk.add("spf.huge-range", source=source, term=mechanism.text, count=count, domain=walk.domain)
    elif broad and own:
        walk.add("spf.broad-range", source=source, term=mechanism.text, count=count, domain=walk.domain)


def _count_text(count: int) -> str:
    if count < 10**9:
        return f"{count:,}"
    return f"2^{count.bit_length() - 1}"


def _void_terms(node: SpfNode) -> list[str]:
    """Terms whose own lookup found nothing, in record order (depth first)."""
    own = node.void - sum(child.void for child in node.children)
    found = [node.term] if own > 0 else []
    for child in node.children:
        found.extend(_void_terms(child))
    return found


def _lookup_count(walk: _Walk, lookups: int) -> str:
    """The count as shown: "N+" when the audit stopped following the tree."""
    return f"{lookups}+" if walk.truncated else str(lookups)


def _largest_branches(tree: SpfNode) -> str:
    """The three branches that cost the most lookups, for the too-many-lookups findings."""
    return ", ".join(f"{node.term} ({node.lookups})" for node in sorted(tree.children, key=lambda n: -n.lookups)[:3])


def _too_many_void(texts: Texts, tree: SpfNode) -> list[Finding]:
    """More than 2 lookups that found nothing (RFC 7208 4.6.4), named in record order."""
    if tree.void <= VOID_LIMIT:
        return []
    return [texts.finding("spf.too-many-void-lookups", count=tree.void, names=", ".join(_void_terms(tree)))]


def _effective_all(record: SpfRecord) -> All | None:
    for mechanism in record.mechanisms:
        if isinstance(mechanism, All):
            return mechanism
    return None


def _split_problem(strings: tuple[bytes, ...]) -> tuple[str, str, str] | None:
    """RFC 7208 3.3: strings are joined without adding spaces. A boundary where neither side
    has a space and the right side starts a new term has glued two terms together."""
    for left_raw, right_raw in itertools.pairwise(strings):
        left = left_raw.decode("utf-8", "replace")
        right = right_raw.decode("utf-8", "replace")
        if not left or not right or left[-1].isspace() or right[0].isspace():
            continue
        if _TERM_START.match(right) is None:
            continue
        left_token = left.rsplit(" ", 1)[-1]
        right_token = right.split(" ", 1)[0]
        return left_token + right_token, left_token, right_token
    return None


def _syntax_finding(texts: Texts, domain: str, text: str, error: SpfSyntaxError, record: str = "") -> Finding:
    """spf.syntax for ``text``: where, why, the text around the error, and ``record`` to publish."""
    return texts.finding("spf.syntax", domain=domain, position=error.position + 1, reason=error.reason,
                         near=_syntax_near(text, error.position), record=record)


def _syntax_near(text: str, position: int) -> str:
    start = max(0, position - 12)
    return text[start:position + 12].strip()


async def _merged_findings(domain: str, resolver: Resolver, texts: Texts,
                           records: list[tuple[str, tuple[bytes, ...]]]) -> list[Finding]:
    """What is wrong beyond the duplicates (spf.multiple-records): each record's syntax error,
    since no merge can repair a broken term; else the merged record, the one the owner is
    told to publish, walked like a single record, so the problems of its terms (a provider's
    '+all', ptr, huge ranges, includes that fail) and its lookups are named before it is
    published rather than after."""
    broken: list[Finding] = []
    for text, _ in records:
        try:
            parse_record(text)
        except SpfSyntaxError as exc:
            broken.append(_syntax_finding(texts, domain, text, exc))
    if broken:
        return broken
    try:
        merged = parse_record(corrected_spf(merge_spf([text for text, _ in records])))
    except SpfSyntaxError:  # valid records merge into a valid one; kept as a guard
        return []
    walk = _Walk(domain, resolver, texts)
    children, lookups, void = await _walk_record(walk, domain, merged, (domain,), 0)
    tree = SpfNode(domain, domain, lookups, void, children=children)
    findings = list(walk.findings)
    if lookups > LOOKUP_LIMIT:
        findings.append(texts.finding("spf.merged-too-many-lookups", domain=domain,
                                      count=_lookup_count(walk, lookups), branches=_largest_branches(tree)))
    return findings + _too_many_void(texts, tree)


async def audit_spf(domain: str, resolver: Resolver, texts: Texts,
                    *, answer: Answer[str] | None = None) -> SpfAudit:
    """Audit the SPF record of ``domain`` (A-label). ``answer``: its TXT answer, if fetched."""
    if answer is None:
        answer = await resolver.txt(domain)
    if answer.is_tempfail:
        return SpfAudit((texts.finding("spf.dns-error", domain=domain, reason=answer.reason),),
                        "tempfail", reason=answer.reason)
    if answer.status is Status.NXDOMAIN:
        return SpfAudit((), "nxdomain", reason=answer.reason)
    records = select_spf(answer) if answer.ok else []
    if not records:
        return SpfAudit((texts.finding("spf.none", domain=domain),), "none", txt=answer.records)
    if len(records) > 1:
        merged = await _merged_findings(domain, resolver, texts, records)
        return SpfAudit((texts.finding("spf.multiple-records", domain=domain, count=len(records)), *merged),
                        "multiple", txt=answer.records)
    text, strings = records[0]
    findings: list[Finding] = []
    glued = _split_problem(strings)
    if glued is not None:
        findings.append(texts.finding("spf.split-without-space", domain=domain, joined=glued[0],
                                      left=glued[1], right=glued[2]))
    try:
        record = parse_record(text)
    except SpfSyntaxError as exc:
        if len(strings) == 1 and len(strings[0]) == 255:
            findings.append(texts.finding("spf.record-truncated", domain=domain))
        # A misspelt name ("inlcude:") has one sure correction: offer the record with it.
        respelled = respelled_spf(text)
        findings.append(_syntax_finding(texts, domain, text, exc,
                                        txt_line(domain, corrected_spf(respelled)) if respelled else ""))
        return SpfAudit(tuple(findings), "invalid", record=text, txt=answer.records)
    if len(strings) == 1 and len(strings[0]) == 255 and not record.has_all and record.redirect is None:
        findings.append(texts.finding("spf.record-truncated", domain=domain))

    walk = _Walk(domain, resolver, texts)
    children, lookups, void = await _walk_record(walk, domain, record, (domain,), 0)
    networks, only_ranges = _ranges(record)
    tree = SpfNode(domain, domain, lookups, void, children=children, networks=networks, only_ranges=only_ranges)
    findings.extend(walk.findings)

    # The result for unlisted senders comes from the top record's "all", else its redirect
    # target's (RFC 7208 6.1); "no all" only when neither exists.
    all_term = _effective_all(record)
    if all_term is None and record.redirect is None:
        findings.append(texts.finding("spf.no-all", domain=domain))
    elif all_term is not None and all_term.qualifier == "?":
        findings.append(texts.finding("spf.neutral-all", domain=domain, term=all_term.text))

    shown = _lookup_count(walk, lookups)
    if lookups > LOOKUP_LIMIT:
        findings.append(texts.finding("spf.too-many-lookups", count=shown, branches=_largest_branches(tree)))
    else:
        findings.append(texts.finding("spf.lookups", count=shown, void=void))
    findings.extend(_too_many_void(texts, tree))
    no_mail = (record.redirect is None and len(record.mechanisms) == 1
               and isinstance(record.mechanisms[0], All) and record.mechanisms[0].qualifier == "-")
    return SpfAudit(tuple(findings), "found", record=text, tree=tree, lookups=lookups,
                    void_lookups=void, no_mail=no_mail, txt=answer.records)


async def mx_coverage(domain: str, resolver: Resolver, texts: Texts,
                      addresses: dict[str, tuple[str, ...]]) -> tuple[Finding, ...]:
    """For an owner whose MX hosts also send: does SPF pass each of their addresses?

    Evaluated with zegel.spf's check_host, MAIL FROM postmaster@domain (RFC 7208 2.4).
    """
    pairs = [(host, ip) for host, ips in addresses.items() for ip in ips]
    results = await aio.gather(*(
        check_host(ip, domain, f"postmaster@{domain}", resolver=resolver) for _, ip in pairs
    ))
    findings = []
    for (host, ip), result in zip(pairs, results, strict=True):
        if result.result != "pass":
            findings.append(texts.finding("spf.mx-not-covered", host=host, ip=ip, domain=domain,
                                          result=result.result))
    return tuple(findings)


__all__ = ["LOOKUP_LIMIT", "VOID_LIMIT", "SpfAudit", "SpfNode", "audit_spf", "ipv4_count", "mx_coverage",
           "select_spf"]
