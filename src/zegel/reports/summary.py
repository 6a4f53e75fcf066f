"""What the received aggregate reports say about a domain: per sending source (one row per
IP, its reporters merged), message counts, SPF/DKIM pass and alignment, DMARC pass rate, the
envelope-from and DKIM d= domains seen; senders by name (Google Workspace, Mailchimp, the
domain's own servers...) with one sentence on what to fix; forwarded mail apart; which
sources a stricter policy would hurt; a recommendation for the next policy step (English
and Dutch); and trends per day or week.

:func:`build_summary` and :func:`build_trend` are pure (rows in, frozen dataclasses out);
:func:`summarize` and :func:`trend` read the store and resolve PTR names for what is shown.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, fields
from typing import Any, Literal

from zegel.dns import Resolver, Status
from zegel.reports.senders import FORWARDING_REASONS, Sender, advice, as_info, identify_sender
from zegel.reports.store import ReportStore, SourceStats

Lang = Literal["en", "nl"]
# Share of a source's messages that must pass DMARC before we call it healthy, and share of
# all legitimate-looking mail that must pass before recommending the next step.
HEALTHY_SOURCE = 0.98
READY_DOMAIN = 0.98


def _as_dict(item: Any) -> dict[str, Any]:
    """A frozen dataclass's fields as a dict. Unlike dataclasses.asdict it does not deep-copy:
    every value here is immutable, and asdict's copies made 100,000 sources take 9 s."""
    return {field.name: getattr(item, field.name) for field in fields(item)}


@dataclass(frozen=True)
class SourceSummary:
    source_ip: str
    ptr: str
    reporter: str
    messages: int
    spf_pass: int
    spf_aligned: int
    dkim_pass: int
    dkim_aligned: int
    dmarc_pass: int
    quarantined: int
    rejected: int
    category: str  # passing | misaligned | partly-failing | unauthenticated | forwarded
    reporters: tuple[str, ...] = ()
    sender: str = ""  # who sends from it, by name (see zegel.reports.senders)
    sender_kind: str = ""  # own | esp | mailbox | other | unknown
    forwarded: int = 0  # messages that were forwarded (overrides, ARC, known forwarders)
    envelope_from_domains: tuple[str, ...] = ()  # of all its mail
    dkim_domains: tuple[str, ...] = ()  # d= of all its signatures
    misaligned_envelope_from: tuple[str, ...] = ()  # envelope-from of its mail failing DMARC
    misaligned_dkim_domains: tuple[str, ...] = ()  # d= of its mail failing DMARC
    overrides: tuple[tuple[str, int], ...] = ()  # (policy override reason, messages)
    country: str = ""  # ISO code, from the offline database (rows shown only)
    as_name: str = ""  # the network's AS name, from the offline database (rows shown only)
    spf_include: str = ""  # the include: of the domain's own SPF record that authorises it (rows shown only)

    @property
    def dmarc_fail(self) -> int:
        return self.messages - self.dmarc_pass

    @property
    def pass_rate(self) -> float:
        return self.dmarc_pass / self.messages if self.messages else 0.0

    @property
    def legitimate_looking(self) -> bool:
        # Some of its mail authenticates (SPF or DKIM passes, aligned or not): a real sender of
        # the domain's mail (an ESP, a forwarder, a forgotten server), not a spoofer.
        return self.category in ("misaligned", "partly-failing")


@dataclass(frozen=True)
class SenderSummary:
    """The sources of one sender (a service, the domain's own servers, forwarders) together."""

    name: str
    kind: str  # own | esp | mailbox | other | unknown
    sources: int
    messages: int
    dmarc_pass: int
    spf_pass: int
    spf_aligned: int
    dkim_pass: int
    dkim_aligned: int
    forwarded: int
    envelope_from_domains: tuple[str, ...]
    dkim_domains: tuple[str, ...]
    advice: str  # one sentence on what to fix, in the summary's language
    to_fix: bool  # has failing mail that is not forwarded and not spoofing

    @property
    def pass_rate(self) -> float:
        return self.dmarc_pass / self.messages if self.messages else 0.0


@dataclass(frozen=True, repr=False)  # a repr of 100,000 sources helps nobody (and asyncio makes one)
class DomainSummary:
    domain: str
    since: int
    reports: int
    messages: int
    dmarc_pass: int
    policy: str | None
    sources: tuple[SourceSummary, ...]
    hurt: tuple[SourceSummary, ...]  # legitimate-looking sources with failing mail
    spoofing: tuple[SourceSummary, ...]  # sources where nothing authenticates
    next_step: str  # publish-rua | fix-sources | quarantine | reject | stay
    recommendation: str
    lang: str
    senders: tuple[SenderSummary, ...] = ()
    forwarded: int = 0  # messages forwarded (never counted as a sender to fix)
    legitimate_messages: int = 0  # messages from sources where something authenticates, not forwarded
    legitimate_pass: int = 0
    older_reports: int = 0  # reports whose period ended before ``since`` (hidden by it)
    older_earliest: int | None = None  # the earliest period start among those
    shown: int = 0  # sources whose PTR/country/AS were looked up (by volume: the first, or one page)

    @property
    def pass_rate(self) -> float:
        """Share of all reported messages that pass DMARC."""
        return self.dmarc_pass / self.messages if self.messages else 0.0

    @property
    def legitimate_pass_rate(self) -> float:
        """Share of legitimate-looking mail (something authenticates; forwarded and spoofed mail
        left out) that passes DMARC: what decides the next policy step."""
        return self.legitimate_pass / self.legitimate_messages if self.legitimate_messages else 0.0

    def __repr__(self) -> str:
        return (f"DomainSummary(domain={self.domain!r}, reports={self.reports}, messages={self.messages}, "
                f"sources={len(self.sources)}, senders={len(self.senders)}, next_step={self.next_step!r})")

    def to_json(self, limit: int | None = None, offset: int = 0) -> dict[str, Any]:
        """The summary as JSON. ``limit``/``offset`` page ``sources`` (by volume, as the table
        orders them) and cut ``would_be_hurt`` to its first ``limit`` entries; the totals
        (``sources_total``, ``would_be_hurt_total``) and ``next_offset`` say what is left out.
        Without ``limit``, everything (``next_offset`` null)."""
        offset = max(0, offset)
        end = len(self.sources) if limit is None else offset + max(0, limit)
        page = self.sources[offset:end]
        hurt = self.hurt if limit is None else self.hurt[:max(0, limit)]
        data = {k: v for k, v in _as_dict(self).items() if k not in ("sources", "hurt", "spoofing", "senders")}
        data["pass_rate"] = round(self.pass_rate, 4)
        data["legitimate_pass_rate"] = round(self.legitimate_pass_rate, 4)
        data["sources"] = [dict(_as_dict(s), pass_rate=round(s.pass_rate, 4)) for s in page]
        data["sources_total"] = len(self.sources)
        data["offset"] = offset
        data["limit"] = limit
        data["next_offset"] = end if end < len(self.sources) else None
        data["would_be_hurt"] = [{"source_ip": s.source_ip, "ptr": s.ptr, "failing": s.dmarc_fail} for s in hurt]
        data["would_be_hurt_total"] = len(self.hurt)
        data["senders"] = [dict(_as_dict(s), pass_rate=round(s.pass_rate, 4)) for s in self.senders]
        data["explanations"] = dict(EXPLANATIONS["nl" if self.lang == "nl" else "en"])
        return data


@dataclass(frozen=True)
class TrendPoint:
    start: int  # epoch seconds, 00:00 UTC of the day (or the Monday of the week)
    messages: int
    dmarc_pass: int

    @property
    def pass_rate(self) -> float:
        return self.dmarc_pass / self.messages if self.messages else 0.0


@dataclass(frozen=True)
class Trend:
    domain: str
    period: str  # day | week
    points: tuple[TrendPoint, ...]

    def to_json(self) -> dict[str, Any]:
        return {"domain": self.domain, "period": self.period, "series": [
            {"start": p.start, "messages": p.messages, "dmarc_pass": p.dmarc_pass, "pass_rate": round(p.pass_rate, 4)}
            for p in self.points]}


# What each percentage means, for the terminal and the JSON (docs/reports.md lists them too).
EXPLANATIONS: dict[Lang, dict[str, str]] = {
    "en": {
        "pass_rate": "DMARC pass: share of all reported messages that pass DMARC (aligned SPF or DKIM).",
        "legitimate_pass_rate": ("Legitimate mail passing: the same share counted only over mail from sources "
                                 "where something authenticates, leaving out spoofing and forwarded mail; "
                                 "this decides the next policy step."),
        "spf_aligned": "SPF aligned: SPF passed for the From: domain (or its organisational domain).",
        "dkim_aligned": "DKIM aligned: a DKIM signature with d= the From: domain (or its organisational domain) passed.",
    },
    "nl": {
        "pass_rate": "DMARC geslaagd: aandeel van alle gemelde berichten dat slaagt voor DMARC (uitgelijnde SPF of DKIM).",
        "legitimate_pass_rate": ("Legitieme post geslaagd: hetzelfde aandeel, alleen over post van bronnen waar iets "
                                 "slaagt, zonder vervalsing en doorgestuurde post; dit bepaalt de volgende stap."),
        "spf_aligned": "SPF uitgelijnd: SPF slaagde voor het From:-domein (of het organisatiedomein daarvan).",
        "dkim_aligned": ("DKIM uitgelijnd: een DKIM-handtekening met d= het From:-domein (of het organisatiedomein "
                         "daarvan) slaagde."),
    },
}


def _category(stats: SourceStats) -> str:
    return _category_of(stats.messages, stats.dmarc_pass, stats.spf_pass, stats.dkim_pass)


def _json_list(text: Any, memo: dict[str, list[Any]] | None = None) -> list[Any]:
    if not text or text == "[]":
        return []
    if memo is not None and (found := memo.get(text)) is not None:
        return found
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        value = []
    value = value if isinstance(value, list) else []
    if memo is not None and len(memo) < 100_000:  # rows repeat the same few result lists
        memo[text] = value
    return value


def _is_forwarded(reasons: list[Any]) -> bool:
    """RFC 9990 / RFC 7489 policy overrides that mean forwarding; ``local_policy`` with
    ``arc=pass`` is how RFC 8617 7.2.1 has receivers record an ARC-based override."""
    for reason in reasons:
        if not isinstance(reason, list) or not reason:
            continue
        kind = str(reason[0]).lower()
        if kind in FORWARDING_REASONS:
            return True
        if kind == "local_policy" and len(reason) > 1 and "arc=pass" in str(reason[1]).lower():
            return True
    return False


@dataclass(frozen=True, slots=True)
class _Evidence:
    """What one distinct (envelope-from, DKIM, SPF, reasons) combination says, read once."""

    envelope: str
    dkim_domains: tuple[str, ...]
    spf_domains: tuple[str, ...]
    reasons: tuple[str, ...]
    forwarded: bool


def _evidence(envelope_from: str, dkim_json: str, spf_json: str, reasons_json: str,
              memo: dict[str, list[Any]]) -> _Evidence:
    spf_results = _json_list(spf_json, memo)
    spf_domains = tuple(str(r[0]) for r in spf_results if isinstance(r, list) and r and r[0])
    envelope = (envelope_from or "").rpartition("@")[2]
    if not envelope and spf_domains:  # RFC 7489 reports often leave it out: SPF checked the MAIL FROM domain
        envelope = spf_domains[0]
    dkim_domains = tuple(str(r[0]) for r in _json_list(dkim_json, memo) if isinstance(r, list) and r and r[0])
    reasons = _json_list(reasons_json, memo)
    kinds = tuple(str(r[0]) for r in reasons if isinstance(r, list) and r)
    return _Evidence(envelope, dkim_domains, spf_domains, kinds, _is_forwarded(reasons))


@dataclass(slots=True)
class _Fold:
    """One source's rows added up (internal). ``totals``: messages, dmarc_pass, spf_aligned,
    dkim_aligned, spf_pass, dkim_pass, quarantined, rejected, forwarded."""

    totals: list[int]
    reporters: set[str]
    envelope: dict[str, int]
    dkim: dict[str, int]
    bad_envelope: dict[str, int]
    bad_dkim: dict[str, int]
    spf_domains: set[str]
    overrides: dict[str, int]


def _fold(rows: list[Sequence[Any]], evidence: dict[tuple[Any, ...], _Evidence], memo: dict[str, list[Any]]) -> _Fold:
    totals = [0] * 9
    fold = _Fold(totals, set(), {}, {}, {}, {}, set(), {})
    for (_, reporter, envelope_from, dkim_json, spf_json, reasons_json, messages, dmarc_pass, spf_aligned,
         dkim_aligned, spf_pass, dkim_pass, quarantined, rejected) in rows:
        key = (envelope_from, dkim_json, spf_json, reasons_json)
        seen = evidence.get(key)
        if seen is None:
            seen = evidence[key] = _evidence(envelope_from, dkim_json, spf_json, reasons_json, memo)
        messages, dmarc_pass = int(messages or 0), int(dmarc_pass or 0)
        totals[0] += messages
        totals[1] += dmarc_pass
        totals[2] += int(spf_aligned or 0)
        totals[3] += int(dkim_aligned or 0)
        totals[4] += int(spf_pass or 0)
        totals[5] += int(dkim_pass or 0)
        totals[6] += int(quarantined or 0)
        totals[7] += int(rejected or 0)
        fold.reporters.add(reporter)
        failing = messages - dmarc_pass
        if seen.envelope:
            fold.envelope[seen.envelope] = fold.envelope.get(seen.envelope, 0) + messages
            if failing:
                fold.bad_envelope[seen.envelope] = fold.bad_envelope.get(seen.envelope, 0) + failing
        for d in seen.dkim_domains:
            fold.dkim[d] = fold.dkim.get(d, 0) + messages
            if failing:
                fold.bad_dkim[d] = fold.bad_dkim.get(d, 0) + failing
        fold.spf_domains.update(seen.spf_domains)
        for kind in seen.reasons:
            fold.overrides[kind] = fold.overrides.get(kind, 0) + messages
        if failing and seen.forwarded:
            totals[8] += failing
    return fold


def _fold_one(row: Sequence[Any], evidence: dict[tuple[Any, ...], _Evidence], memo: dict[str, list[Any]]) -> _Fold:
    """:func:`_fold` of a source with one row (most of them, at scale), without the loops."""
    (_, reporter, envelope_from, dkim_json, spf_json, reasons_json, messages, dmarc_pass, spf_aligned,
     dkim_aligned, spf_pass, dkim_pass, quarantined, rejected) = row
    key = (envelope_from, dkim_json, spf_json, reasons_json)
    seen = evidence.get(key)
    if seen is None:
        seen = evidence[key] = _evidence(envelope_from, dkim_json, spf_json, reasons_json, memo)
    messages, dmarc_pass = int(messages or 0), int(dmarc_pass or 0)
    failing = messages - dmarc_pass
    envelope = {seen.envelope: messages} if seen.envelope else {}
    dkim = dict.fromkeys(seen.dkim_domains, messages)
    return _Fold(
        [messages, dmarc_pass, int(spf_aligned or 0), int(dkim_aligned or 0), int(spf_pass or 0),
         int(dkim_pass or 0), int(quarantined or 0), int(rejected or 0), failing if seen.forwarded else 0],
        {reporter}, envelope, dkim, {seen.envelope: failing} if failing and seen.envelope else {},
        dict.fromkeys(seen.dkim_domains, failing) if failing else {}, set(seen.spf_domains),
        dict.fromkeys(seen.reasons, messages))


def _sorted(names: Any) -> tuple[str, ...]:
    return tuple(names) if len(names) < 2 else tuple(sorted(names))


def _category_of(messages: int, dmarc_pass: int, spf_pass: int, dkim_pass: int) -> str:
    if messages and dmarc_pass / messages >= HEALTHY_SOURCE:
        return "passing"
    if dmarc_pass:
        return "partly-failing"
    if spf_pass or dkim_pass:
        return "misaligned"
    return "unauthenticated"


def _top(counts: dict[str, int], limit: int = 5) -> tuple[str, ...]:
    if len(counts) <= 1:
        return tuple(name for name in counts if name)
    return tuple(name for name, _ in sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:limit] if name)


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Building 100,000 sources makes a million small containers and no reference cycles:
    the cyclic collector would rescan them over and over (it doubled the time)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def build_summary(domain: str, since: int, rows: Sequence[Sequence[Any]], *, policy: str | None, reports: int,
                  lang: Lang = "en", names: dict[str, str] | None = None,
                  networks: dict[str, tuple[str, str]] | None = None, shown: int = 0,
                  older: tuple[int, int | None] = (0, None), includes: dict[str, str] | None = None) -> DomainSummary:
    """The summary from :meth:`ReportStore.source_details` rows (pure). ``names`` are PTR names,
    ``networks`` (country, AS name) and ``includes`` (the include: of the domain's SPF record
    that authorises the IP) of the sources looked up, the first ``shown`` by volume."""
    with _collector_paused():
        return _build_summary(domain, since, rows, policy=policy, reports=reports, lang=lang, names=names or {},
                              networks=networks or {}, shown=shown, older=older, includes=includes or {})


def _build_summary(domain: str, since: int, rows: Sequence[Sequence[Any]], *, policy: str | None, reports: int,
                   lang: Lang, names: dict[str, str], networks: dict[str, tuple[str, str]], shown: int,
                   older: tuple[int, int | None], includes: dict[str, str]) -> DomainSummary:
    domain = domain.lower().rstrip(".")
    memo: dict[str, list[Any]] = {}
    evidence: dict[tuple[Any, ...], _Evidence] = {}
    groups: dict[str, list[Sequence[Any]]] = {}
    for row in rows:  # one dict operation per row: rows of one source together
        group = groups.get(row[0])
        if group is None:
            groups[row[0]] = [row]
        else:
            group.append(row)
    folded: list[tuple[int, str, _Fold]] = []
    for ip, group in groups.items():
        fold = _fold(group, evidence, memo) if len(group) > 1 else _fold_one(group[0], evidence, memo)
        folded.append((-fold.totals[0], ip, fold))
    folded.sort()
    sources: list[SourceSummary] = []
    for _, ip, f in folded:
        messages, dmarc_pass, spf_aligned, dkim_aligned, spf_pass, dkim_pass, quarantined, rejected, forwarded = f.totals
        ptr = names.get(ip, "")
        country, as_name = networks.get(ip, ("", ""))
        category = _category_of(messages, dmarc_pass, spf_pass, dkim_pass)
        if category == "unauthenticated":  # claims the domain, proves nothing: not a sender of ours
            sender = Sender(SPOOFING[lang], "spoofing")
        else:
            sender = identify_sender(domain, ptr=ptr, dkim_domains=_sorted(f.dkim), spf_domains=_sorted(f.spf_domains),
                                     envelope_domains=_sorted(f.envelope), as_name=as_name,
                                     spf_include=includes.get(ip, ""))
            if sender.kind == "own" and lang == "nl":
                sender = Sender(f"{domain} (eigen servers)", "own")
        if sender.kind == "mailbox" and dmarc_pass < messages and _own(domain, f.bad_dkim):
            # Our own signed mail failing from a mailbox provider's network: forwarded by a user
            # there (the signature broke on the way), not a sender of ours to fix.
            forwarded = messages - dmarc_pass
        if category != "passing" and forwarded >= messages - dmarc_pass:
            category = "forwarded"
        reporters = tuple(sorted(f.reporters))
        sources.append(SourceSummary(
            ip, ptr, ", ".join(reporters), messages, spf_pass, spf_aligned, dkim_pass, dkim_aligned, dmarc_pass,
            quarantined, rejected, category, reporters, sender.name, sender.kind, forwarded, _top(f.envelope),
            _top(f.dkim), _top(f.bad_envelope), _top(f.bad_dkim), tuple(sorted(f.overrides.items())), country,
            as_name, includes.get(ip, "")))
    hurt = tuple(sorted((s for s in sources if s.legitimate_looking and s.dmarc_fail),
                        key=lambda s: (-s.dmarc_fail, s.source_ip)))
    spoofing = tuple(s for s in sources if s.category == "unauthenticated")
    messages = sum(s.messages for s in sources)
    passing = sum(s.dmarc_pass for s in sources)
    forwarded_total = sum(s.forwarded for s in sources)
    legit = [s for s in sources if s.category not in ("unauthenticated", "forwarded")]
    legit_total = sum(s.messages for s in legit)
    legit_pass = sum(s.dmarc_pass for s in legit)
    legit_pass_rate = legit_pass / legit_total if legit_total else 0.0
    step = _next_step(policy, messages, legit_pass_rate, hurt)
    text = _recommend(lang, domain, step, policy, messages, legit_pass_rate, hurt, spoofing)
    if forwarded_total:
        text += "\n" + _RECOMMENDATION_TEXTS[lang]["forwarded"].format(forwarded=forwarded_total)
    senders = _senders(domain, sources, lang)
    return DomainSummary(domain, since, reports, messages, passing, policy, tuple(sources), hurt, spoofing, step,
                         text, lang, senders, forwarded_total, legit_total, legit_pass, older[0], older[1], shown)


def _own(domain: str, counts: dict[str, int]) -> bool:
    return any(d == domain or d.endswith("." + domain) for d in counts)


def _senders(domain: str, sources: Sequence[SourceSummary], lang: Lang) -> tuple[SenderSummary, ...]:
    grouped: dict[tuple[str, str], list[SourceSummary]] = {}
    for s in sources:
        grouped.setdefault((s.sender, s.sender_kind), []).append(s)
    result = []
    for (name, kind), members in grouped.items():
        envelope: dict[str, int] = {}
        dkim: dict[str, int] = {}
        for s in members:
            for d in s.envelope_from_domains:
                envelope[d] = envelope.get(d, 0) + s.messages
            for d in s.dkim_domains:
                dkim[d] = dkim.get(d, 0) + s.messages
        totals = [sum(getattr(s, name_) for s in members) for name_ in (
            "messages", "dmarc_pass", "spf_pass", "spf_aligned", "dkim_pass", "dkim_aligned", "forwarded")]
        messages, dmarc_pass, spf_pass, spf_aligned, dkim_pass, dkim_aligned, forwarded = totals
        spoofing = all(s.category == "unauthenticated" for s in members)
        failing = messages - dmarc_pass - forwarded
        to_fix = failing > 0 and not spoofing and any(s.legitimate_looking for s in members)
        sender = Sender(name, kind)
        text = advice(sender, domain, lang, failing=failing, spoofing=spoofing, forwarded=forwarded,
                      dkim_domains=_top(dkim), envelope_domains=_top(envelope), dkim_pass=dkim_pass,
                      spf_pass=spf_pass)
        result.append(SenderSummary(name, kind, len(members), messages, dmarc_pass, spf_pass, spf_aligned, dkim_pass,
                                    dkim_aligned, forwarded, _top(envelope), _top(dkim), text, to_fix))
    return tuple(sorted(result, key=lambda s: (-s.messages, s.name)))


async def _ptr_names(ips: list[str], resolver: Resolver | None, concurrency: int = 20,
                     progress: Callable[[int, int], None] | None = None) -> dict[str, str]:
    """PTR names, looked up concurrently (at most ``concurrency`` at a time)."""
    if resolver is None or not ips:
        return {}
    gate = asyncio.Semaphore(concurrency)
    done = 0

    async def one(ip: str) -> tuple[str, str]:
        nonlocal done
        async with gate:
            answer = await resolver.ptr(ip)
        done += 1
        if progress is not None:
            progress(done, len(ips))
        name = str(answer.records[0]) if answer.status == Status.ANSWER and answer.records else ""
        return ip, name.rstrip(".")

    return dict(await asyncio.gather(*(one(ip) for ip in ips)))


async def _spf_includes(domain: str, ips: list[str], resolver: Resolver, concurrency: int = 10) -> dict[str, str]:
    """Which include: of ``domain``'s own SPF record authorises each IP (RFC 7208 5.2: an
    include matches when the included record passes), for naming the sender."""
    from zegel.spf.evaluate import check_host

    gate = asyncio.Semaphore(concurrency)

    async def one(ip: str) -> tuple[str, str]:
        async with gate:
            try:
                result = await check_host(ip, domain, f"postmaster@{domain}", resolver=resolver)
            except ValueError:
                return ip, ""
        mechanism = (result.mechanism or "").lstrip("+")
        return ip, mechanism[len("include:"):] if result.result == "pass" and mechanism.startswith("include:") else ""

    found = await asyncio.gather(*(one(ip) for ip in ips))
    return {ip: include for ip, include in found if include}


PTR_CACHE_SECONDS = 7 * 86400
SPOOFING: dict[Lang, str] = {"en": "nothing authenticates (likely spoofing)",
                             "nl": "niets slaagt (waarschijnlijk vervalsing)"}


async def summarize(store: ReportStore, domain: str, since: int, *, resolver: Resolver | None = None,
                    lang: Lang = "en", top: int = 50, networks: bool = True,
                    progress: Callable[[int, int], None] | None = None, first: int = 0) -> DomainSummary:
    """Summarise received aggregate reports for ``domain`` whose period ends at/after ``since``.
    PTR names (cached in the store for a week), country and AS name are looked up for the
    ``top`` sources by volume from the ``first`` on only: what a table (or a page) shows."""
    domain = domain.lower().rstrip(".")
    # Store reads and the build are seconds of blocking work on a large domain: they run in a
    # thread so a web or MCP event loop keeps answering other requests meanwhile.
    rows = await asyncio.to_thread(store.source_details, domain, since)
    volume: dict[str, int] = {}
    for row in rows:
        volume[row[0]] = volume.get(row[0], 0) + int(row[6] or 0)
    shown = sorted(volume, key=lambda ip: (-volume[ip], ip))[max(0, first):max(0, first) + top]
    names: dict[str, str] = {}
    if resolver is not None and shown:
        names = store.cached_ptr(shown, PTR_CACHE_SECONDS)
        missing = [ip for ip in shown if ip not in names]
        fresh = await _ptr_names(missing, resolver, progress=progress)
        store.cache_ptr(fresh)
        names.update(fresh)
    nets = {ip: as_info(ip) for ip in shown} if networks else {}
    includes = await _spf_includes(domain, shown, resolver) if resolver is not None else {}

    def build() -> DomainSummary:
        published = store.published_policy(domain, since)
        policy = str(published["p"]) if published else None
        reports = len(store.report_totals(domain, since))
        return build_summary(domain, since, rows, policy=policy, reports=reports, lang=lang, names=names,
                             networks=nets, shown=len(shown), older=store.reports_before(domain, since),
                             includes=includes)

    return await asyncio.to_thread(build)


def build_trend(domain: str, daily: Sequence[tuple[int, int, int]], period: str = "day") -> Trend:
    """Volume and DMARC pass per day, or per ISO week (Monday 00:00 UTC), from
    :meth:`ReportStore.daily_totals` rows (pure)."""
    buckets: dict[int, list[int]] = {}
    for day, messages, passing in daily:
        # 1970-01-01 was a Thursday: shift by 3 days so weeks start on Monday.
        start = day if period == "day" else (day + 3 * 86400) // (7 * 86400) * (7 * 86400) - 3 * 86400
        bucket = buckets.setdefault(start, [0, 0])
        bucket[0] += messages
        bucket[1] += passing
    return Trend(domain, period, tuple(TrendPoint(start, m, p) for start, (m, p) in sorted(buckets.items())))


def trend(store: ReportStore, domain: str, since: int, period: str = "day") -> Trend:
    domain = domain.lower().rstrip(".")
    return build_trend(domain, store.daily_totals(domain, since), period)


SPARK = "▁▂▃▄▅▆▇█"


def sparkline(values: Sequence[float]) -> str:
    """One character per value, scaled between the smallest and largest."""
    if not values:
        return ""
    low, high = min(values), max(values)
    span = high - low
    return "".join(SPARK[int((v - low) / span * (len(SPARK) - 1))] if span else SPARK[-1] for v in values)


def _next_step(policy: str | None, messages: int, legit_pass_rate: float, hurt: tuple[SourceSummary, ...]) -> str:
    if not messages:
        return "publish-rua"
    if policy == "reject":
        return "stay"
    if hurt or legit_pass_rate < READY_DOMAIN:
        return "fix-sources"
    return "reject" if policy == "quarantine" else "quarantine"


def _source_lines(hurt: tuple[SourceSummary, ...], lang: Lang) -> list[str]:
    """One line per source IP (its reporters merged), the most failing mail first."""
    merged: dict[str, list[SourceSummary]] = {}
    for s in hurt:
        merged.setdefault(s.source_ip, []).append(s)
    ordered = sorted(merged.values(), key=lambda group: -sum(s.dmarc_fail for s in group))
    lines = []
    for group in ordered[:10]:
        first = group[0]
        name = f"{first.source_ip} ({first.ptr})" if first.ptr else first.source_ip
        failing, total = sum(s.dmarc_fail for s in group), sum(s.messages for s in group)
        reporters = ", ".join(sorted({s.reporter for s in group}))
        misaligned = all(s.category == "misaligned" for s in group)
        if lang == "nl":
            why = ("SPF of DKIM slaagt, maar niet voor uw eigen domein (niet uitgelijnd)" if misaligned
                   else "een deel van de berichten faalt")
            lines.append(f"  - {name}: {failing} van {total} berichten falen DMARC (gemeld door {reporters}); {why}.")
        else:
            why = ("SPF or DKIM passes, but not for your own domain (not aligned)" if misaligned
                   else "some of its messages fail")
            lines.append(f"  - {name}: {failing} of {total} messages fail DMARC (reported by {reporters}); {why}.")
    return lines


def _recommend(lang: Lang, domain: str, step: str, policy: str | None, messages: int, rate: float,
               hurt: tuple[SourceSummary, ...], spoofing: tuple[SourceSummary, ...]) -> str:
    pct = f"{rate * 100:.1f}%"
    spoof = sum(s.messages for s in spoofing)
    texts = _RECOMMENDATION_TEXTS[lang]
    lines: list[str] = []
    if step in ("publish-rua", "stay"):
        lines.append(texts[step].format(domain=domain, pct=pct))
    elif step == "fix-sources":
        target = "p=reject" if policy == "quarantine" else "p=quarantine"
        lines.append(texts["fix-sources"].format(target=target, pct=pct))
        lines += _source_lines(hurt, lang)
        lines.append(texts["fix-sources-then"])
    else:
        lines.append(texts["next"].format(pct=pct, domain=domain, step=step))
    if spoof:
        lines.append(texts["spoofing"].format(spoof=spoof))
    return "\n".join(lines)


# One decision flow (_recommend), its sentences per language.
_RECOMMENDATION_TEXTS: dict[Lang, dict[str, str]] = {
    "en": {
        "publish-rua": ("No reports for {domain} in this period yet. Check that your DMARC record has an "
                        "rua=mailto: address and that those reports are ingested here; give it a few days."),
        "stay": ("{domain} is at p=reject, the strongest step. {pct} of legitimate mail passes DMARC; "
                 "keep reading the reports and watch for new sources."),
        "fix-sources": ("Do not move to {target} yet: {pct} of legitimate-looking mail passes DMARC. "
                        "These sources would be hurt:"),
        "fix-sources-then": ("Have these services DKIM-sign with your own domain (or use a bounce address in your "
                             "domain that your SPF record authorises), then move on."),
        "next": ("{pct} of legitimate mail for {domain} passes DMARC and no known sender would be hurt. "
                 "Next step: p={step} (optionally with t=y first to test)."),
        "spoofing": ("{spoof} messages came from sources where nothing authenticates (likely spoofing); "
                     "a stricter policy stops them."),
        "forwarded": ("{forwarded} failing messages were forwarded (mailing lists, forwarding, ARC); they are "
                      "left out above: forwarding breaks SPF and often DKIM, and there is nothing to fix."),
    },
    "nl": {
        "publish-rua": ("Er zijn nog geen rapporten voor {domain} in deze periode. Controleer of uw DMARC-record "
                        "een rua=mailto:-adres heeft en of die rapporten hier worden ingelezen; wacht enkele dagen."),
        "stay": ("{domain} staat al op p=reject, de strengste stap. {pct} van de legitieme post slaagt voor DMARC; "
                 "blijf de rapporten volgen en let op nieuwe bronnen."),
        "fix-sources": ("Nog niet overstappen naar {target}: {pct} van de legitiem ogende post slaagt voor DMARC. "
                        "Deze bronnen zouden geraakt worden:"),
        "fix-sources-then": ("Laat deze diensten met DKIM ondertekenen voor uw eigen domein (of een bounce-adres in uw "
                             "domein gebruiken dat uw SPF-record toestaat); stap daarna over."),
        "next": ("{pct} van de legitieme post voor {domain} slaagt voor DMARC en geen bekende verzender zou "
                 "geraakt worden. Volgende stap: p={step} (eventueel eerst met t=y om te testen)."),
        "spoofing": ("{spoof} berichten kwamen van bronnen waar niets slaagt (waarschijnlijk vervalsing); "
                     "een strenger beleid houdt die tegen."),
        "forwarded": ("{forwarded} falende berichten waren doorgestuurd (mailinglijsten, doorsturen, ARC); die "
                      "tellen hierboven niet mee: doorsturen breekt SPF en vaak DKIM, en er valt niets te herstellen."),
    },
}


CSV_COLUMNS = ("source_ip", "ptr", "reporter", "messages", "spf_pass", "spf_aligned", "dkim_pass", "dkim_aligned",
               "dmarc_pass", "pass_rate", "quarantined", "rejected", "category", "would_be_hurt",
               "sender", "forwarded", "envelope_from_domains", "dkim_domains", "misaligned_envelope_from",
               "misaligned_dkim_domains", "country", "as_name", "spf_include")


def csv_rows(summary: DomainSummary) -> list[list[str]]:
    hurt = {s.source_ip for s in summary.hurt}
    return [
        [s.source_ip, s.ptr, s.reporter, str(s.messages), str(s.spf_pass), str(s.spf_aligned), str(s.dkim_pass),
         str(s.dkim_aligned), str(s.dmarc_pass), f"{s.pass_rate:.4f}", str(s.quarantined), str(s.rejected),
         s.category, "yes" if s.source_ip in hurt else "no", s.sender, str(s.forwarded),
         " ".join(s.envelope_from_domains), " ".join(s.dkim_domains), " ".join(s.misaligned_envelope_from),
         " ".join(s.misaligned_dkim_domains), s.country, s.as_name, s.spf_include]
        for s in summary.sources
    ]
