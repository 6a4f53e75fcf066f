"""Plain-language explanation of a :class:`zegel.verify.Verdict` (``zegel verify --explain``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from zegel.explain.causes import Cause, diagnose
from zegel.explain.texts import text


@dataclass(frozen=True)
class Section:
    title: str
    lines: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"title": self.title, "lines": list(self.lines)}


def _detail(reason: object) -> str:
    reason_text = str(reason or "").strip()
    return f" ({reason_text})" if reason_text else ""


def explain_verdict(verdict: Any, *, ip: str, lang: str = "en", message: bytes | None = None) -> list[Section]:
    """Sections (SPF, DKIM, ARC, DMARC, cause, action, notes) in ``lang`` (``en`` or ``nl``)."""
    sections: list[Section] = []
    spf = verdict.spf
    spf_domain = getattr(spf, "domain", "") or "?"
    spf_result = getattr(spf, "result", "unknown")
    spf_key = f"spf.{spf_result}" if spf is not None else "spf.unknown"
    sections.append(Section(text(lang, "title.spf", domain=spf_domain), (
        text(lang, spf_key, domain=spf_domain, ip=ip, detail=_detail(getattr(spf, "reason", ""))),)))

    dkim_lines = []
    signed = [d for d in verdict.dkim if d.result != "none"]
    for sig in signed:
        reason = str(sig.reason or "")
        if "body hash" in reason.lower():  # the commonest failure, worth saying in the reader's language
            reason = text(lang, "detail.body_hash")
        dkim_lines.append(text(lang, f"dkim.{sig.result}", domain=sig.domain or "?", selector=sig.selector or "?",
                               detail=_detail(reason)))
    if not signed:
        dkim_lines.append(text(lang, "dkim.none"))
    sections.append(Section(text(lang, "title.dkim"), tuple(dkim_lines)))

    arc = verdict.arc
    if arc is not None:
        hops = list(getattr(arc, "hops", ()))
        servers = ", ".join(dict.fromkeys(str(getattr(h, "domain", "?")) for h in hops)) or "?"
        plural = ("y" if len(hops) == 1 else "ies") if lang == "en" else ("" if len(hops) == 1 else "s")
        sections.append(Section(text(lang, "title.arc"), (
            text(lang, f"arc.{arc.cv}", count=len(hops), plural=plural, servers=servers,
                 detail=_detail(getattr(arc, "reason", ""))),)))

    dmarc = verdict.dmarc
    domain = getattr(dmarc, "from_domain", None) or "?"
    if dmarc is not None and dmarc.result in ("pass", "fail", "none", "temperror", "permerror"):
        by = _confirmed_by(dmarc, lang)
        policy = text(lang, f"policy.{dmarc.policy}") if dmarc.policy else text(lang, "policy.unknown")
        key = f"dmarc.{dmarc.result}"
        author = getattr(dmarc, "author", None)
        if dmarc.result == "permerror" and author is not None and (
                getattr(author, "unattributed", False) or not getattr(author, "domains", ())):
            key = "dmarc.permerror_author"  # the From, not the record, is what is wrong
        line = text(lang, key, domain=domain, by=by, policy=policy, detail=_detail(getattr(dmarc, "reason", "")))
    else:
        line = text(lang, "dmarc.unknown", detail=_detail(getattr(dmarc, "reason", "")))
    sections.append(Section(text(lang, "title.dmarc", domain=domain), (line,)))

    causes = diagnose(verdict, ip=ip, message=message)
    if causes:
        sections.append(Section(text(lang, "title.cause"), tuple(render_cause(c, lang) for c in causes)))

    sections.append(Section(text(lang, "title.action"), (render_action(verdict.action, lang),)))
    notes = tuple(getattr(verdict, "notes", ()))
    if notes:
        sections.append(Section(text(lang, "title.notes"), notes))
    return sections


def _confirmed_by(dmarc: Any, lang: str) -> str:
    spf_aligned = bool(getattr(dmarc, "spf_aligned", False))
    dkim_domains = tuple(getattr(dmarc, "dkim_domains", ()))
    if spf_aligned and dkim_domains:
        return text(lang, "dmarc.by_both")
    if dkim_domains:
        return text(lang, "dmarc.by_dkim", dkim_domain=", ".join(dkim_domains))
    return text(lang, "dmarc.by_spf", spf_domain=getattr(dmarc, "spf_domain", None) or "?")


def render_cause(cause: Cause, lang: str) -> str:
    fields = dict(cause.fields)
    if cause.code == "not_aligned":
        fields["details"] = " ".join(
            text(lang, key, **{**values, "mode": text(lang, f"cause.mode.{values.get('mode', 'relaxed')}")})
            for key, values in cause.parts
        )
        fields["relaxed"] = text(lang, "cause.relaxed") if fields.get("mode") == "relaxed" else ""
    if "detail" in fields and fields["detail"].startswith("detail."):
        fields["detail"] = text(lang, fields["detail"])
    if cause.code in ("forwarding_spf", "forwarding_modified"):
        fields["via"] = text(lang, "via", servers=fields["servers"]) if fields.get("servers") else ""
    return text(lang, f"cause.{cause.code}", **fields)


def render_action(action: Any, lang: str) -> str:
    header = f"{action.header[0]}: {action.header[1]}" if getattr(action, "header", None) else ""
    line = text(lang, f"action.{action.kind}", header=header, tag=action.subject_tag or "",
                code=action.smtp_code or "", reply=action.smtp_reply or "")
    if action.subject_tag and action.kind not in ("tag_subject", "reject", "tempfail"):
        line += text(lang, "action.tag_also", tag=action.subject_tag)
    if action.override:
        line += text(lang, f"action.override.{action.override}")
    return line


def render(sections: list[Section]) -> str:
    out = []
    for section in sections:
        out.append(section.title)
        out.extend(f"  {line}" for line in section.lines)
    return "\n".join(out)


def action_reason(action: Any, verdict: Any, lang: str) -> str:
    """The policy's reason for ``action`` in ``lang``: its outcome codes, each explained.

    English is the policy's own text. Other languages name the outcome whose rule decided
    (``dmarc_reject``, ...) with its meaning from the catalogue, so new outcomes still read
    sensibly (``outcome.other``), or say that no rule applied.
    """
    reason = str(getattr(action, "reason", "") or "")
    if lang == "en" or not reason:
        return reason
    domain = getattr(getattr(verdict, "dmarc", None), "from_domain", None) or "?"
    if getattr(action, "override", None) == "trusted_forwarder":
        forwarder = reason.split(" vouches", 1)[0].rsplit(" ", 1)[-1]
        return text(lang, "outcome.trusted_forwarder", forwarder=forwarder, domain=domain)
    # Only the outcome whose rule chose the action explains it: when no rule applied, naming one
    # that merely matched would give a reason the policy did not act on.
    decided = getattr(action, "decided_by", None)
    if not decided:
        return text(lang, "outcome.no_rule")
    return f"{decided}: {_outcome_text(str(decided), lang)}"


def _outcome_text(code: str, lang: str) -> str:
    key = f"outcome.{code}"
    meaning = text(lang, key)
    return meaning if meaning != key else text(lang, "outcome.other", outcome=code)
