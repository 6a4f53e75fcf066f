"""BIMI: the ``default._bimi`` TXT record, the logo checked against the SVG Tiny Portable/Secure
profile (pure, on bytes), and the DMARC policy BIMI requires. The logo is fetched through an
injected :class:`HttpsFetcher`."""

from __future__ import annotations

import xml.parsers.expat
from dataclasses import dataclass

from zegel.audit.findings import Finding, Texts
from zegel.audit.mta_sts import parse_tags
from zegel.audit.net import HttpsFetcher
from zegel.dns import Resolver

MAX_SVG_BYTES = 32 * 1024  # the BIMI logo profile's size limit
MAX_ELEMENTS = 20_000
# SVG Tiny PS forbids scripting, animation, embedded or linked content and interactivity.
FORBIDDEN_ELEMENTS = frozenset({
    "script", "foreignobject", "image", "video", "audio", "animate", "animatemotion",
    "animatecolor", "animatetransform", "set", "a", "use", "iframe", "handler", "listener",
})


class _Stop(Exception):
    pass


class _SvgState:
    def __init__(self) -> None:
        self.elements = 0
        self.root = ""
        self.title = False


def check_svg(body: bytes) -> tuple[str, ...]:
    """Problems that make ``body`` not an SVG Tiny PS logo, in words; empty when it passes.

    Parsed with expat with DOCTYPE and entity declarations refused (no entity expansion bombs,
    no external entities), elements counted (bounded work)."""
    problems: list[str] = []
    if len(body) > MAX_SVG_BYTES:
        return (f"{len(body):,} bytes, more than the {MAX_SVG_BYTES // 1024} KiB allowed",)
    parser = xml.parsers.expat.ParserCreate(namespace_separator=" ")
    state = _SvgState()

    def refuse(*_: object) -> None:
        raise _Stop("a DOCTYPE or entity declaration is not allowed")

    def start(name: str, attrs: dict[str, str]) -> None:
        local = name.rpartition(" ")[2].lower()
        state.elements += 1
        if state.elements > MAX_ELEMENTS:
            raise _Stop("too many elements")
        if not state.root:
            state.root = local
            if local != "svg":
                raise _Stop(f"the root element is <{local}>, not <svg>")
            attributes = {k.rpartition(" ")[2]: v for k, v in attrs.items()}
            if attributes.get("baseProfile") != "tiny-ps":
                problems.append('the <svg> element lacks baseProfile="tiny-ps"')
            if attributes.get("version") != "1.2":
                problems.append('the <svg> element lacks version="1.2"')
            if "x" in attributes or "y" in attributes:
                problems.append("the <svg> element must not have x= or y= attributes")
        if local == "title":
            state.title = True
        if local in FORBIDDEN_ELEMENTS:
            problems.append(f"<{local}> is not allowed")
        for key, value in attrs.items():
            attribute = key.rpartition(" ")[2].lower()
            if attribute.startswith("on"):
                problems.append(f"event attribute {attribute}= (scripting) is not allowed")
            elif attribute == "href" and not value.strip().startswith("#"):
                problems.append(f"external reference {value.strip()[:80]!r} is not allowed")

    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.StartElementHandler = start
    try:
        parser.Parse(body, True)
    except _Stop as exc:
        return (*problems, str(exc))
    except xml.parsers.expat.ExpatError as exc:
        return (*problems, f"not well-formed XML: {xml.parsers.expat.errors.messages.get(exc.code, exc)}")
    if not state.title:
        problems.append("a <title> element is required")
    return tuple(dict.fromkeys(problems))


def parse_bimi_record(text: str) -> tuple[str | None, str | None, tuple[str, ...]]:
    """(l=, a=, problems). Both URIs must be https: when present; l= may be empty (a declination)."""
    record = parse_tags(text, "v", "BIMI1")
    problems = list(record.problems)
    logo, authority = record.get("l"), record.get("a")
    for tag, value in (("l", logo), ("a", authority)):
        if value and not value.lower().startswith("https://"):
            problems.append(f"{tag}= must be an https: URL, not '{value[:80]}'")
    if logo and not logo.lower().split("?", 1)[0].endswith(".svg"):
        problems.append("l= should point at an .svg file")
    if logo is None:
        problems.append("the l tag is missing")
    return logo, authority, tuple(problems)


@dataclass(frozen=True, slots=True)
class BimiAudit:
    findings: tuple[Finding, ...]
    record: str | None = None


def _split_url(url: str) -> tuple[str, int, str]:
    rest = url[len("https://"):]
    authority, slash, path = rest.partition("/")
    host, _, port = authority.rpartition("@")[2].partition(":")
    return host.lower(), int(port) if port.isdigit() else 443, "/" + path if slash else "/"


async def audit_bimi(domain: str, resolver: Resolver, texts: Texts, fetcher: HttpsFetcher | None, *,
                     dmarc_enforced: bool) -> BimiAudit:
    """BIMI is optional: no record is an info finding. With a record: its syntax, the logo
    (fetched when ``fetcher`` is given) and DMARC at enforcement (p=quarantine or reject, pct=100)."""
    name = f"default._bimi.{domain}"
    answer = await resolver.txt(name)
    if answer.is_tempfail:
        return BimiAudit((texts.finding("bimi.dns-error", name=name, reason=answer.reason),))
    records = [t for t in answer.records if t.replace(" ", "").startswith("v=BIMI1")] if answer.ok else []
    if not records:
        return BimiAudit((texts.finding("bimi.none", domain=domain),))
    text = records[0]
    findings: list[Finding] = []
    logo, authority, problems = parse_bimi_record(text)
    if len(records) > 1:
        problems = (*problems, f"{len(records)} BIMI records")
    if problems:
        findings.append(texts.finding("bimi.syntax", name=name, reason="; ".join(problems)))
    else:
        findings.append(texts.finding("bimi.record", name=name))
    if not dmarc_enforced:
        findings.append(texts.finding("bimi.dmarc-not-enforced", domain=domain))
    if not authority:
        findings.append(texts.finding("bimi.no-certificate", domain=domain))
    if fetcher is not None and logo and logo.lower().startswith("https://"):
        host, port, path = _split_url(logo)
        fetched = await fetcher.get(host, path, limit=MAX_SVG_BYTES, port=port)
        if fetched.error or fetched.status != 200:
            findings.append(texts.finding("bimi.logo-fetch-failed", url=logo,
                                          reason=fetched.error or f"HTTP {fetched.status}"))
        elif fetched.too_large:
            findings.append(texts.finding("bimi.svg-invalid", url=logo,
                                          reason=f"more than {MAX_SVG_BYTES // 1024} KiB"))
        else:
            svg_problems = check_svg(fetched.body)
            if svg_problems:
                findings.append(texts.finding("bimi.svg-invalid", url=logo, reason="; ".join(svg_problems)))
            else:
                findings.append(texts.finding("bimi.svg-ok", url=logo))
    return BimiAudit(tuple(findings), text)


__all__ = ["MAX_SVG_BYTES", "BimiAudit", "audit_bimi", "check_svg", "parse_bimi_record"]
