"""The receiver's local policy: what to do with each authentication outcome.

DMARC tells a receiver what the *sender* asks for (RFC 9989 / RFC 7489 section 6.3 ``p=``);
the receiver decides what it actually does (RFC 7489 section 6.7: "final disposition is
a matter of local policy"). This module holds that decision, loaded from one TOML file::

    [dmarc]
    mode = "rfc9989"            # or "rfc7489" (organizational domain from the PSL)

    [on]                        # outcome -> action (a string, or a table with options)
    dmarc_reject = "quarantine"                                 # KPN: spam folder, never reject
    dkim_fail = { action = "quarantine", tag = "[dkim]" }      # KPN: spam folder + subject tag
    spf_and_dkim_fail = "reject"                               # Centric: even at p=none
    spf_fail = "accept"                                        # never act on SPF alone
    dmarc_temperror = "tempfail"

    [arc]
    trusted_forwarders = ["lists.example.org"]

The decision is a pure function of the results (:meth:`Policy.decide`); the strictest
matched action wins (reject > tempfail > quarantine > tag_subject > add_header > accept).
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal, Protocol

ActionKind = Literal["accept", "add_header", "tag_subject", "quarantine", "reject", "tempfail"]
Override = Literal["local_policy", "trusted_forwarder"]
Disposition = Literal["none", "quarantine", "reject"]

ACTION_KINDS: Final[tuple[ActionKind, ...]] = (
    "accept", "add_header", "tag_subject", "quarantine", "tempfail", "reject",
)
# Strictest wins when several outcomes match.
_SEVERITY: Final[dict[str, int]] = {
    "accept": 0, "add_header": 1, "tag_subject": 2, "quarantine": 3, "tempfail": 4, "reject": 5,
}

# Every outcome the policy can map to an action, with what it means (shown by docs and errors).
OUTCOMES: Final[dict[str, str]] = {
    "dmarc_reject": "DMARC fails and the sender's policy says reject",
    "dmarc_quarantine": "DMARC fails and the sender's policy says quarantine",
    "dmarc_none": "DMARC fails and the sender's policy says none (monitoring)",
    "dmarc_temperror": "DMARC could not be evaluated because of a temporary DNS error",
    "dmarc_permerror": "the sender's DMARC record is broken, or the From names no clear author",
    "spf_fail": "SPF fails (-all: the client is not an allowed sender)",
    "spf_softfail": "SPF soft-fails (~all)",
    "spf_temperror": "SPF could not be evaluated because of a temporary DNS error",
    "spf_permerror": "the SPF record is broken",
    "dkim_fail": "the message has DKIM signatures and none verifies",
    "dkim_temperror": "a DKIM key could not be fetched because of a temporary DNS error",
    "spf_and_dkim_fail": "SPF does not pass and no DKIM signature passes",
    "arc_fail": "the ARC chain is broken",
    # Fail-closed outcomes (docs/security.md): a message that is stranger or bigger than the
    # plain spoof never earns a better action than it.
    "author_unknown": "no single valid author domain: no From field, several From fields or domains, "
                      "or a malformed, NUL-bearing or encoded-word address",
    "header_limits": "the header section exceeds zegel's limits (bytes or fields); DKIM and ARC were not verified",
    "message_too_large": "the message exceeds the milter's inbound.max_message_size and was not verified",
}

# Outcomes that say the message could not be authenticated as a whole; they are matched from
# the pipeline's own findings, not from an engine's result.
FAULT_OUTCOMES: Final[tuple[str, ...]] = ("author_unknown", "header_limits", "message_too_large")

# What an outcome does when the policy file does not mention it: honour the sender's DMARC
# policy (RFC 7489 section 6.3), accept everything else.
DEFAULT_ACTIONS: Final[dict[str, ActionKind]] = {
    "dmarc_reject": "reject",
    "dmarc_quarantine": "quarantine",
}
# Fail closed: RFC 7489 section 6.6.1 advises rejecting mail whose author domain cannot be
# determined; a message beyond the limits is treated the same, never accepted unverified.
# These stay in force with honour_sender_policy = false; a policy file may map them.
FAULT_DEFAULT_ACTIONS: Final[dict[str, ActionKind]] = {outcome: "reject" for outcome in FAULT_OUTCOMES}

# 5.7.1 (RFC 3463: delivery not authorized) by default, as receivers and their scripts expect;
# a policy file may choose the finer RFC 7372 codes (5.7.20-5.7.29) per outcome.
_REJECT_REPLIES: Final[dict[str, str]] = {
    "dmarc_reject": "5.7.1 Unauthenticated email from {domain} is not accepted due to its DMARC policy",
    "dmarc_quarantine": "5.7.1 Unauthenticated email from {domain} is not accepted due to its DMARC policy",
    "dmarc_none": "5.7.1 Unauthenticated email from {domain} is not accepted",
    "spf_and_dkim_fail": "5.7.1 Neither SPF nor DKIM authenticates this message from {domain}",
    "spf_fail": "5.7.1 SPF validation failed for {domain}",
    "spf_softfail": "5.7.1 SPF validation failed for {domain}",
    "spf_permerror": "5.7.1 SPF validation error for {domain}",
    "dkim_fail": "5.7.1 No passing DKIM signature found",
    "dmarc_permerror": "5.7.1 DMARC record error for {domain}",
    "arc_fail": "5.7.1 ARC validation failure",
    "author_unknown": "5.7.1 Message rejected: no single valid author (From) domain",
    "header_limits": "5.7.1 Message rejected: header section exceeds local limits",
    "message_too_large": "5.7.1 Message rejected: too large to authenticate",
}
_DEFAULT_TEMPFAIL_REPLY: Final = "4.4.3 Temporary DNS failure while authenticating the message; try again later"
_DEFAULT_HEADER: Final = "X-Zegel-Policy"
_DEFAULT_TAG: Final = "[spam]"


class PolicyError(ValueError):
    """A policy file that cannot be used; ``str()`` is one line naming the problem."""


# -- the facts the policy decides on (structural: the engines' result types satisfy them) ----


class SpfFacts(Protocol):
    @property
    def result(self) -> str: ...


class DkimFacts(Protocol):
    @property
    def result(self) -> str: ...
    @property
    def domain(self) -> str: ...


class DmarcFacts(Protocol):
    @property
    def result(self) -> str: ...
    @property
    def disposition(self) -> str: ...
    @property
    def from_domain(self) -> str | None: ...


@dataclass(frozen=True)
class Action:
    """What the receiver does with the message.

    ``override`` records, for DMARC aggregate reports (RFC 7489 appendix C,
    PolicyOverrideType), why the action is milder than the sender's DMARC disposition.
    ``disposition`` is the DMARC disposition actually applied (``none|quarantine|reject``).
    ``decided_by`` is the outcome whose rule chose the action; None when no rule applied.
    """

    kind: ActionKind
    smtp_code: int | None = None
    smtp_reply: str | None = None
    subject_tag: str | None = None
    reason: str = ""
    override: Override | None = None
    header: tuple[str, str] | None = None
    disposition: Disposition = "none"
    outcomes: tuple[str, ...] = ()
    decided_by: str | None = None


@dataclass(frozen=True)
class Rule:
    """The action for one outcome, with its options."""

    action: ActionKind
    tag: str | None = None
    reply: str | None = None
    header: str | None = None


@dataclass(frozen=True)
class Policy:
    """A validated local policy. Build with :meth:`load`, :meth:`from_toml` or :meth:`default`."""

    rules: Mapping[str, Rule] = field(default_factory=dict)
    dmarc_mode: Literal["rfc9989", "rfc7489"] = "rfc9989"
    trusted_forwarders: frozenset[str] = frozenset()
    trusted_action: ActionKind = "accept"
    header_name: str = _DEFAULT_HEADER
    subject_tag: str = _DEFAULT_TAG
    tempfail_reply: str = _DEFAULT_TEMPFAIL_REPLY
    # RFC 8601 2.7.1: a signature whose l= leaves part of the body unsigned is dkim=policy and
    # does not count for DMARC ("policy"); "pass" keeps the RFC 6376 behaviour (an appended
    # body verifies).
    dkim_partial_body: Literal["policy", "pass"] = "policy"
    source: str = "<default>"

    # -- construction ------------------------------------------------------------------

    @classmethod
    def default(cls) -> Policy:
        """Honour the sender's DMARC policy, reject what cannot be authenticated (the fault
        outcomes); accept everything else."""
        return cls(rules={k: Rule(v) for k, v in {**DEFAULT_ACTIONS, **FAULT_DEFAULT_ACTIONS}.items()})

    @classmethod
    def load(cls, path: str | Path) -> Policy:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise PolicyError(f"{path}: cannot read: {exc.strerror or exc}") from None
        except UnicodeDecodeError:
            raise PolicyError(f"{path}: not UTF-8 text") from None
        return cls.from_toml(text, source=str(path))

    @classmethod
    def from_toml(cls, text: str, *, source: str = "<policy>") -> Policy:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise PolicyError(f"{source}: not valid TOML: {exc}") from None
        return cls.from_mapping(data, source=source)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, source: str = "<policy>") -> Policy:
        def fail(message: str) -> PolicyError:
            return PolicyError(f"{source}: {message}")

        _known_keys(data, {"dmarc", "dkim", "on", "arc", "reply", "version"}, "", fail)
        dmarc = _table(data, "dmarc", fail)
        _known_keys(dmarc, {"mode", "honour_sender_policy"}, "dmarc.", fail)
        mode = dmarc.get("mode", "rfc9989")
        if mode not in ("rfc9989", "rfc7489"):
            raise fail(f"dmarc.mode must be \"rfc9989\" or \"rfc7489\", not {mode!r}")
        honour = dmarc.get("honour_sender_policy", True)
        if not isinstance(honour, bool):
            raise fail("dmarc.honour_sender_policy must be true or false")

        dkim = _table(data, "dkim", fail)
        _known_keys(dkim, {"partial_body"}, "dkim.", fail)
        partial_body = dkim.get("partial_body", "policy")
        if partial_body not in ("policy", "pass"):
            raise fail(f"dkim.partial_body must be \"policy\" or \"pass\", not {partial_body!r}")

        rules: dict[str, Rule] = {k: Rule(v) for k, v in FAULT_DEFAULT_ACTIONS.items()}
        if honour:
            rules.update({k: Rule(v) for k, v in DEFAULT_ACTIONS.items()})
        for outcome, value in _table(data, "on", fail).items():
            if outcome not in OUTCOMES:
                raise fail(f"on.{outcome}: unknown outcome (known: {', '.join(OUTCOMES)})")
            rules[outcome] = _rule(value, f"on.{outcome}", fail)

        arc = _table(data, "arc", fail)
        _known_keys(arc, {"trusted_forwarders", "action"}, "arc.", fail)
        forwarders = arc.get("trusted_forwarders", [])
        if not isinstance(forwarders, list) or not all(isinstance(d, str) and d for d in forwarders):
            raise fail("arc.trusted_forwarders must be a list of domain names")
        trusted_action = arc.get("action", "accept")
        if trusted_action not in ACTION_KINDS or trusted_action in ("reject", "tempfail"):
            raise fail("arc.action must be one of accept, add_header, tag_subject, quarantine")

        reply = _table(data, "reply", fail)
        _known_keys(reply, {"header", "subject_tag", "tempfail"}, "reply.", fail)
        header_name = _string(reply, "header", _DEFAULT_HEADER, "reply.", fail)
        if not _is_field_name(header_name):
            raise fail(f"reply.header: {header_name!r} is not a valid header field name (RFC 5322 section 3.6.8)")
        tag = _string(reply, "subject_tag", _DEFAULT_TAG, "reply.", fail)
        tempfail = _string(reply, "tempfail", _DEFAULT_TEMPFAIL_REPLY, "reply.", fail)
        _check_reply(tempfail, "4", "reply.tempfail", fail)
        return cls(
            rules=rules,
            dmarc_mode=mode,
            trusted_forwarders=frozenset(d.strip(".").lower() for d in forwarders),
            trusted_action=trusted_action,
            header_name=header_name,
            subject_tag=tag,
            tempfail_reply=tempfail,
            dkim_partial_body=partial_body,
            source=source,
        )

    # -- the decision ------------------------------------------------------------------

    def outcomes(
        self, spf: SpfFacts | None, dkim: Sequence[DkimFacts], dmarc: DmarcFacts | None, arc_cv: str | None
    ) -> list[str]:
        """The outcomes these results match (keys of :data:`OUTCOMES`), in a stable order."""
        found: list[str] = []
        if dmarc is not None:
            if dmarc.result == "fail":
                found.append(f"dmarc_{dmarc.disposition}" if dmarc.disposition in ("reject", "quarantine") else "dmarc_none")
            elif dmarc.result in ("temperror", "permerror"):
                found.append(f"dmarc_{dmarc.result}")
        spf_result = spf.result if spf is not None else "none"
        if spf_result in ("fail", "softfail", "temperror", "permerror"):
            found.append(f"spf_{spf_result}")
        dkim_results = [d.result for d in dkim]
        dkim_pass = "pass" in dkim_results
        if any(r == "temperror" for r in dkim_results) and not dkim_pass:
            found.append("dkim_temperror")
        elif dkim_results and not dkim_pass and any(r in ("fail", "permerror", "neutral", "policy") for r in dkim_results):
            found.append("dkim_fail")
        # Centric's stance: SPF and DKIM both not valid. Temporary errors are not failures.
        if (spf_result not in ("pass", "temperror") and not dkim_pass
                and "dkim_temperror" not in found):
            found.append("spf_and_dkim_fail")
        if arc_cv == "fail":
            found.append("arc_fail")
        return found

    def decide(
        self,
        spf: SpfFacts | None,
        dkim: Sequence[DkimFacts],
        dmarc: DmarcFacts | None,
        *,
        arc_cv: str | None = None,
        trusted_forwarder: str | None = None,
        faults: Sequence[str] = (),
    ) -> Action:
        """The action for these results (see :meth:`_decide_fresh`). The decision is a pure
        function of the policy and the facts it reads, so it is memoized per policy on those
        facts when they are all plain strings (a bounded table; Actions are immutable)."""
        key = _facts_key(spf, dkim, dmarc, arc_cv, trusted_forwarder, faults)
        if key is None:
            return self._decide_fresh(spf, dkim, dmarc, arc_cv=arc_cv, trusted_forwarder=trusted_forwarder,
                                      faults=faults)
        decisions = self._decisions
        action = decisions.get(key)
        if action is None:
            action = self._decide_fresh(spf, dkim, dmarc, arc_cv=arc_cv, trusted_forwarder=trusted_forwarder,
                                        faults=faults)
            if len(decisions) >= _MAX_DECISIONS:
                decisions.clear()
            decisions[key] = action
        return action

    @functools.cached_property
    def _decisions(self) -> dict[tuple[Any, ...], Action]:
        # Not a dataclass field: invisible to ==, repr and replace(); cached_property writes the
        # instance __dict__ directly, which a frozen dataclass allows.
        return {}

    def _decide_fresh(
        self,
        spf: SpfFacts | None,
        dkim: Sequence[DkimFacts],
        dmarc: DmarcFacts | None,
        *,
        arc_cv: str | None = None,
        trusted_forwarder: str | None = None,
        faults: Sequence[str] = (),
    ) -> Action:
        """The action for these results, computed.

        ``trusted_forwarder``: the caller found a validating ARC chain sealed by a listed
        forwarder whose recorded results authenticate the From domain; authentication
        failures are then forgiven and the action is ``arc.action`` (RFC 8617 section 7.2:
        ARC lets a receiver override a DMARC failure; the reason is reported as
        trusted_forwarder, RFC 7489 appendix C).

        ``faults``: fault outcomes (:data:`FAULT_OUTCOMES`) the caller found; they match first,
        and a trusted forwarder never forgives them.
        """
        unknown = [f for f in faults if f not in FAULT_OUTCOMES]
        if unknown:
            raise ValueError(f"not fault outcomes: {', '.join(unknown)}")
        matched = [*dict.fromkeys(faults), *self.outcomes(spf, dkim, dmarc, arc_cv)]
        domain = (dmarc.from_domain if dmarc is not None else None) or "the sender's domain"
        sender_disposition: Disposition = "none"
        if dmarc is not None and dmarc.result == "fail" and dmarc.disposition in ("quarantine", "reject"):
            sender_disposition = "reject" if dmarc.disposition == "reject" else "quarantine"

        if trusted_forwarder is not None:
            forgiven = [o for o in matched if o.startswith(("dmarc_", "spf_", "dkim_")) and not o.endswith("temperror")]
            if forgiven:
                matched = [o for o in matched if o not in forgiven]
                decided = self._decide(matched, domain)
                if _SEVERITY[decided.kind] <= _SEVERITY[self.trusted_action]:
                    decided = self._action_for(Rule(self.trusted_action), "trusted_forwarder", domain)
                return _replace(
                    decided,
                    reason=f"ARC chain from trusted forwarder {trusted_forwarder} vouches for {domain}; "
                    f"overrides {', '.join(forgiven)}",
                    override="trusted_forwarder",
                    disposition=_applied_disposition(decided.kind),
                    outcomes=tuple(forgiven) + decided.outcomes,
                )
        decided = self._decide(matched, domain)
        applied = _applied_disposition(decided.kind)
        override = None
        # RFC 7489 section 6.7 / appendix C: a milder action than the sender asked for is a
        # local policy override, reported as such.
        if _rank(applied) < _rank(sender_disposition):
            override = "local_policy"
        return _replace(decided, override=override, disposition=applied)

    def decide_faults(self, faults: Sequence[str], *, domain: str | None = None) -> Action:
        """The action for fault outcomes alone, when the engines could not run at all (a
        message over the milter's ``inbound.max_message_size``)."""
        unknown = [f for f in faults if f not in FAULT_OUTCOMES]
        if unknown:
            raise ValueError(f"not fault outcomes: {', '.join(unknown)}")
        decided = self._decide([*dict.fromkeys(faults)], domain or "the sender's domain")
        return _replace(decided, disposition=_applied_disposition(decided.kind))

    def _decide(self, matched: Iterable[str], domain: str) -> Action:
        best: Action | None = None
        tags: list[str] = []
        for outcome in matched:
            rule = self.rules.get(outcome)
            if rule is None:
                continue
            action = self._action_for(rule, outcome, domain)
            if action.subject_tag and action.subject_tag not in tags:
                tags.append(action.subject_tag)
            if best is None or _SEVERITY[action.kind] > _SEVERITY[best.kind]:
                best = action
        if best is None:
            return Action("accept", reason="no local policy rule applies", outcomes=tuple(matched))
        # Tags from milder matched rules still apply when the message is delivered.
        subject_tag = " ".join(tags) if tags and best.kind not in ("reject", "tempfail") else None
        return _replace(best, subject_tag=subject_tag, outcomes=tuple(matched))

    def _action_for(self, rule: Rule, outcome: str, domain: str) -> Action:
        meaning = OUTCOMES.get(outcome, "the ARC chain of a trusted forwarder authenticates the message")
        reason = f"{outcome}: {meaning}"
        tag = rule.tag if rule.tag is not None else (self.subject_tag if rule.action == "tag_subject" else None)
        header = None
        if rule.action == "add_header" or rule.header is not None:
            header = (self.header_name, rule.header or outcome)
        if rule.action == "reject":
            reply = (rule.reply or _REJECT_REPLIES.get(outcome, "5.7.1 Message rejected by local policy"))
            return Action("reject", 550, _fill(reply, domain), None, reason, header=header, decided_by=outcome)
        if rule.action == "tempfail":
            return Action("tempfail", 451, _fill(rule.reply or self.tempfail_reply, domain), None, reason,
                          header=header, decided_by=outcome)
        return Action(rule.action, None, None, tag, reason, header=header, decided_by=outcome)


# -- helpers ----------------------------------------------------------------------------------

_MAX_DECISIONS = 1024


def _facts_key(spf: SpfFacts | None, dkim: Sequence[DkimFacts], dmarc: DmarcFacts | None, arc_cv: str | None,
               trusted_forwarder: str | None, faults: Sequence[str]) -> tuple[Any, ...] | None:
    """Every fact decide() reads, or None when one is not a plain str (or None), or they are
    long: those are decided afresh, never memoized."""
    if type(faults) not in (list, tuple) or type(dkim) not in (list, tuple):
        return None  # iterated twice below: only a real sequence
    facts = (
        None if spf is None else spf.result,
        *((None, None, None) if dmarc is None else (dmarc.result, dmarc.disposition, dmarc.from_domain)),
        arc_cv, trusted_forwarder, *faults, *[d.result for d in dkim],
    )
    size = 0
    for value in facts:
        if type(value) is str:
            size += len(value)
        elif value is not None:
            return None
    if size > 1024:
        return None  # the table stays small whatever the facts hold
    # The flags and the fault count make the flat tuple unambiguous.
    key: tuple[Any, ...] = (spf is None, dmarc is None, len(faults), *facts)
    return key


def _replace(action: Action, **changes: Any) -> Action:
    # dataclasses.replace, without its per-field checks: every Action field is an init field
    # held in the instance __dict__ (not slotted, no __post_init__).
    return Action(**{**action.__dict__, **changes})


def _applied_disposition(kind: str) -> Disposition:
    if kind in ("reject", "tempfail"):
        return "reject" if kind == "reject" else "none"
    if kind == "quarantine":
        return "quarantine"
    return "none"


def _rank(disposition: str) -> int:
    return {"none": 0, "quarantine": 1, "reject": 2}.get(disposition, 0)


def _fill(reply: str, domain: str) -> str:
    return reply.replace("{domain}", domain)


def _table(data: Mapping[str, Any], key: str, fail: Any) -> Mapping[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise fail(f"{key} must be a table ([{key}])")
    return value


def _known_keys(data: Mapping[str, Any], known: set[str], prefix: str, fail: Any) -> None:
    for key in data:
        if key not in known:
            raise fail(f"{prefix}{key}: unknown setting (known: {', '.join(sorted(known))})")


def _string(data: Mapping[str, Any], key: str, default: str, prefix: str, fail: Any) -> str:
    value = data.get(key, default)
    if not isinstance(value, str) or not value.strip():
        raise fail(f"{prefix}{key} must be a non-empty string")
    if "\r" in value or "\n" in value:
        raise fail(f"{prefix}{key} must be one line")
    return value


def _is_field_name(name: str) -> bool:
    # RFC 5322 section 3.6.8: printable US-ASCII except colon.
    return bool(name) and all(33 <= ord(c) <= 126 and c != ":" for c in name)


def _check_reply(reply: str, klass: str, where: str, fail: Any) -> None:
    # RFC 3463: the reply text starts with an enhanced status code class.subject.detail.
    code = reply.split(" ", 1)[0]
    parts = code.split(".")
    if len(parts) != 3 or not all(p.isascii() and p.isdigit() for p in parts) or parts[0] != klass:
        raise fail(f"{where} must start with an enhanced status code {klass}.x.y (RFC 3463), not {code!r}")


def _rule(value: Any, where: str, fail: Any) -> Rule:
    if isinstance(value, str):
        value = {"action": value}
    if not isinstance(value, dict):
        raise fail(f"{where} must be an action name or a table {{ action = ..., ... }}")
    _known_keys(value, {"action", "tag", "reply", "header"}, f"{where}.", fail)
    action = value.get("action")
    if action not in ACTION_KINDS:
        raise fail(f"{where}: unknown action {action!r} (use one of {', '.join(ACTION_KINDS)})")
    tag = value.get("tag")
    if tag is not None and (not isinstance(tag, str) or not tag.strip() or "\n" in tag or "\r" in tag):
        raise fail(f"{where}.tag must be a one-line string such as \"[dkim]\"")
    reply = value.get("reply")
    if reply is not None:
        if action not in ("reject", "tempfail"):
            raise fail(f"{where}.reply is only used with action \"reject\" or \"tempfail\"")
        if not isinstance(reply, str) or "\n" in reply or "\r" in reply:
            raise fail(f"{where}.reply must be a one-line string")
        _check_reply(reply, "5" if action == "reject" else "4", f"{where}.reply", fail)
    header = value.get("header")
    if header is not None and (not isinstance(header, str) or "\n" in header or "\r" in header):
        raise fail(f"{where}.header must be a one-line string (the header value)")
    return Rule(action, tag, reply, header)
