"""MTA-STS (RFC 8461) and SMTP TLS Reporting (RFC 8460): parsing the TXT records and the policy
file (pure), and the audit that fetches the policy through an injected :class:`HttpsFetcher`."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from zegel.audit.findings import Finding, Texts
from zegel.audit.net import HttpsFetcher
from zegel.dns import Resolver, Status

POLICY_PATH = "/.well-known/mta-sts.txt"
# RFC 8461 3.3 leaves the size to the sender; a policy is a few lines, so 64 KiB is generous.
MAX_POLICY_BYTES = 64 * 1024
MAX_AGE_LIMIT = 31_557_600  # RFC 8461 3.2: max_age is at most 31557600 seconds (one year)
GOOD_MAX_AGE = 7 * 86_400  # RFC 8461 3.2: "weeks or greater" is recommended
SUGGESTED_MAX_AGE = 1_209_600  # two weeks
_STS_ID = re.compile(r"[A-Za-z0-9]{1,32}\Z")  # RFC 8461 3.1 sts-id
_FIELD_NAME = re.compile(r"[A-Za-z0-9_-]{1,32}\Z")
_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)\Z")


@dataclass(frozen=True, slots=True)
class TagRecord:
    """A ``tag=value;`` record (MTA-STS, TLS-RPT, BIMI). ``problems``: syntax errors in words."""

    tags: tuple[tuple[str, str], ...]
    problems: tuple[str, ...] = ()

    def get(self, name: str) -> str | None:
        for key, value in self.tags:
            if key == name:
                return value
        return None


def parse_tags(text: str, version_tag: str, version: str) -> TagRecord:
    """Split ``v=X; a=b; c=d`` (RFC 8461 3.1, RFC 8460 3 share this grammar): the version
    first, each tag once, tag names case-sensitive."""
    tags: list[tuple[str, str]] = []
    problems: list[str] = []
    seen: set[str] = set()
    for index, part in enumerate(text[:4096].split(";")):
        item = part.strip()
        if not item:
            continue
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not _FIELD_NAME.match(key):
            problems.append(f"'{item[:40]}' is not tag=value")
            continue
        if key in seen:
            problems.append(f"tag '{key}' appears twice")
            continue
        seen.add(key)
        if index == 0 and (key != version_tag or value.strip() != version):
            problems.append(f"the record must start with {version_tag}={version}")
        tags.append((key, value.strip()))
    if not tags:
        problems.append("empty record")
    return TagRecord(tuple(tags), tuple(problems))


def parse_sts_record(text: str) -> TagRecord:
    record = parse_tags(text, "v", "STSv1")
    problems = list(record.problems)
    sts_id = record.get("id")
    if sts_id is None:
        problems.append("the id tag is missing")
    elif not _STS_ID.match(sts_id):
        problems.append(f"id '{sts_id[:40]}' must be 1 to 32 letters and digits")
    return TagRecord(record.tags, tuple(problems))


@dataclass(frozen=True, slots=True)
class StsPolicy:
    version: str | None
    mode: str | None
    max_age: int | None
    mx: tuple[str, ...]
    problems: tuple[str, ...]


def parse_policy(body: bytes) -> StsPolicy:
    """RFC 8461 3.2: ``key: value`` lines (CRLF or LF); version, mode and max_age once each, mx
    repeated. Unknown keys are ignored, as senders do."""
    text = body.decode("utf-8", "replace")
    problems: list[str] = []
    fields: dict[str, str] = {}
    mx: list[str] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        key, sep, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if not sep or not _FIELD_NAME.match(key):
            problems.append(f"line {number} is not 'key: value'")
            continue
        if key == "mx":
            mx.append(value.lower())
        elif key in fields:
            problems.append(f"'{key}' appears twice")
        else:
            fields[key] = value
    version = fields.get("version")
    if version != "STSv1":
        problems.append("'version: STSv1' is missing" if version is None else f"version '{version}' is not STSv1")
    mode = fields.get("mode")
    if mode not in ("enforce", "testing", "none"):
        problems.append("'mode' is missing" if mode is None else f"mode '{mode}' is not enforce, testing or none")
    max_age: int | None = None
    age_text = fields.get("max_age")
    if age_text is None:
        problems.append("'max_age' is missing")
    elif not age_text.isdigit() or len(age_text) > 10:
        problems.append(f"max_age '{age_text[:20]}' is not a number of seconds")
    else:
        max_age = int(age_text)
        if max_age > MAX_AGE_LIMIT:
            problems.append(f"max_age {max_age} is above the maximum {MAX_AGE_LIMIT}")
    for pattern in mx:
        if not valid_pattern(pattern):
            problems.append(f"mx pattern '{pattern[:80]}' is not a host name or *.host name")
    if mode in ("enforce", "testing") and not mx:
        problems.append("no 'mx' line: senders cannot match any server")
    return StsPolicy(version, mode, max_age, tuple(mx), tuple(problems))


def valid_pattern(pattern: str) -> bool:
    name = pattern[2:] if pattern.startswith("*.") else pattern
    labels = name.rstrip(".").split(".")
    return len(labels) >= 2 and all(_LABEL.match(label) for label in labels)


def mx_matches(host: str, pattern: str) -> bool:
    """RFC 8461 4.1: a pattern is a host name, or "*." and a name whose wildcard stands for
    exactly one left-most label."""
    host = host.lower().rstrip(".")
    pattern = pattern.lower().rstrip(".")
    if pattern.startswith("*."):
        head, dot, rest = host.partition(".")
        return bool(dot and head) and rest == pattern[2:]
    return host == pattern


def suggested_policy(mx_hosts: Sequence[str], mode: str = "testing") -> str:
    lines = ["version: STSv1", f"mode: {mode}", *(f"mx: {host}" for host in mx_hosts),
             f"max_age: {SUGGESTED_MAX_AGE}"]
    return "\r\n".join(lines) + "\r\n"


@dataclass(frozen=True, slots=True)
class MtaStsAudit:
    findings: tuple[Finding, ...]
    record: str | None = None
    policy: StsPolicy | None = None
    policy_text: str | None = None


def _select(records: Sequence[str], prefix: str) -> list[str]:
    return [text for text in records if text.replace(" ", "").startswith(prefix)]


def _policy_block(domain: str, hosts: Sequence[str], mode: str, sts_id: str) -> str:
    policy = suggested_policy(hosts, mode).replace("\r\n", "\n")
    return (f'_mta-sts.{domain}. TXT "v=STSv1; id={sts_id}"\n'
            f"# https://mta-sts.{domain}{POLICY_PATH} (Content-Type: text/plain):\n{policy}")


async def audit_mta_sts(domain: str, resolver: Resolver, texts: Texts, mx_hosts: Sequence[str],
                        fetcher: HttpsFetcher | None, *, sts_id: str) -> MtaStsAudit:
    """RFC 8461: the ``_mta-sts`` record, then (when ``fetcher`` is given) the policy file and
    whether it covers every MX host. ``sts_id`` is the id a suggested new record gets."""
    name = f"_mta-sts.{domain}"
    answer = await resolver.txt(name)
    if answer.is_tempfail:
        return MtaStsAudit((texts.finding("mta-sts.dns-error", name=name, reason=answer.reason),))
    # RFC 8461 3.1: records not starting with "v=STSv1;" are discarded.
    records = _select(answer.records, "v=STSv1") if answer.ok else []
    if not records:
        record = _policy_block(domain, mx_hosts, "testing", sts_id) if mx_hosts else ""
        return MtaStsAudit((texts.finding("mta-sts.none", domain=domain, record=record),))
    if len(records) > 1:
        return MtaStsAudit((texts.finding("mta-sts.multiple-records", name=name, count=len(records),
                                          record=f'{name}. TXT "v=STSv1; id={sts_id}"'),))
    text = records[0]
    parsed = parse_sts_record(text)
    findings: list[Finding] = []
    if parsed.problems:
        fixed = f'{name}. TXT "v=STSv1; id={sts_id}"'
        findings.append(texts.finding("mta-sts.syntax", name=name, reason="; ".join(parsed.problems),
                                      record=fixed))
        return MtaStsAudit(tuple(findings), record=text)
    findings.append(texts.finding("mta-sts.record", name=name, id=parsed.get("id")))
    if fetcher is None:
        return MtaStsAudit(tuple(findings), record=text)
    host = f"mta-sts.{domain}"
    fetched = await fetcher.get(host, POLICY_PATH, limit=MAX_POLICY_BYTES)
    url = f"https://{host}{POLICY_PATH}"
    if fetched.error:
        findings.append(texts.finding("mta-sts.fetch-failed", url=url, reason=fetched.error))
        return MtaStsAudit(tuple(findings), record=text)
    if fetched.status != 200:
        # RFC 8461 3.3: only a 200 answer is a policy; redirects are not followed.
        reason = f"HTTP {fetched.status}" + (f" redirect to {fetched.location}" if fetched.location else "")
        findings.append(texts.finding("mta-sts.fetch-failed", url=url, reason=reason))
        return MtaStsAudit(tuple(findings), record=text)
    if fetched.too_large:
        findings.append(texts.finding("mta-sts.policy-too-large", url=url, limit=MAX_POLICY_BYTES))
        return MtaStsAudit(tuple(findings), record=text)
    media_type = fetched.content_type.split(";", 1)[0].strip().lower()
    if media_type != "text/plain":
        # RFC 8461 3.3: the media type is "text/plain".
        findings.append(texts.finding("mta-sts.content-type", url=url, content_type=media_type or "none"))
    policy = parse_policy(fetched.body)
    policy_text = fetched.body.decode("utf-8", "replace")
    hosts = list(mx_hosts)
    if policy.problems:
        mode = policy.mode if policy.mode in ("enforce", "testing") else "testing"
        findings.append(texts.finding("mta-sts.policy-syntax", url=url, reason="; ".join(policy.problems),
                                      record=suggested_policy(hosts or list(policy.mx), mode).replace("\r\n", "\n")))
        return MtaStsAudit(tuple(findings), text, policy, policy_text)
    uncovered = [h for h in hosts if not any(mx_matches(h, p) for p in policy.mx)]
    if uncovered and policy.mode != "none":
        findings.append(texts.finding("mta-sts.mx-not-covered", hosts=", ".join(uncovered),
                                      patterns=", ".join(policy.mx), record=_policy_block(
                                          domain, hosts, policy.mode or "testing", sts_id)))
    if policy.max_age is not None and policy.max_age < GOOD_MAX_AGE and policy.mode != "none":
        findings.append(texts.finding("mta-sts.max-age-short", max_age=policy.max_age))
    if policy.mode == "testing":
        enforce = "" if uncovered else _policy_block(domain, hosts, "enforce", sts_id)
        findings.append(texts.finding("mta-sts.testing", domain=domain, record=enforce))
    elif policy.mode == "none":
        findings.append(texts.finding("mta-sts.mode-none", domain=domain))
    elif not uncovered:
        findings.append(texts.finding("mta-sts.enforce", domain=domain))
    return MtaStsAudit(tuple(findings), text, policy, policy_text)


# -- TLS-RPT ---------------------------------------------------------------------------------

def parse_tlsrpt_record(text: str) -> TagRecord:
    """RFC 8460 3: ``v=TLSRPTv1; rua=URI[,URI]``, each URI mailto: or https:."""
    record = parse_tags(text, "v", "TLSRPTv1")
    problems = list(record.problems)
    rua = record.get("rua")
    if rua is None:
        problems.append("the rua tag is missing")
    else:
        for uri in rua.split(","):
            uri = uri.strip()
            scheme = uri.partition(":")[0].lower()
            if scheme == "mailto":
                address = uri[7:]
                if "@" not in address or address.startswith("@") or address.endswith("@"):
                    problems.append(f"'{uri[:80]}' is not a mailto: address")
            elif scheme == "https":
                if not uri[8:].split("/", 1)[0]:
                    problems.append(f"'{uri[:80]}' has no host")
            else:
                problems.append(f"'{uri[:80]}' is neither mailto: nor https:")
    return TagRecord(record.tags, tuple(problems))


async def audit_tlsrpt(domain: str, resolver: Resolver, texts: Texts, *, rua: str) -> tuple[Finding, ...]:
    """RFC 8460 3: the ``_smtp._tls`` TXT record. ``rua``: the address a suggested record uses."""
    name = f"_smtp._tls.{domain}"
    answer = await resolver.txt(name)
    suggestion = f'{name}. TXT "v=TLSRPTv1; rua=mailto:{rua}"'
    if answer.is_tempfail:
        return (texts.finding("tlsrpt.dns-error", name=name, reason=answer.reason),)
    records = _select(answer.records, "v=TLSRPTv1") if answer.status is Status.ANSWER else []
    if not records:
        return (texts.finding("tlsrpt.none", domain=domain, record=suggestion),)
    if len(records) > 1:
        return (texts.finding("tlsrpt.multiple-records", name=name, count=len(records), record=suggestion),)
    parsed = parse_tlsrpt_record(records[0])
    if parsed.problems:
        return (texts.finding("tlsrpt.syntax", name=name, reason="; ".join(parsed.problems), record=suggestion),)
    return (texts.finding("tlsrpt.ok", name=name, rua=parsed.get("rua")),)


__all__ = [
    "MtaStsAudit",
    "StsPolicy",
    "TagRecord",
    "audit_mta_sts",
    "audit_tlsrpt",
    "mx_matches",
    "parse_policy",
    "parse_sts_record",
    "parse_tags",
    "parse_tlsrpt_record",
    "suggested_policy",
    "valid_pattern",
]
