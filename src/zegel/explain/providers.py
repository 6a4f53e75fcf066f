"""What the big providers' Authentication-Results say beyond the RFC 8601 grammar.

- Ziggo (``mail.iss.as9143.net``): ``spf=pass (192.0.2.1;example.nl)`` names the SPF domain
  only in a comment; ``dmarc=pass header.from=x (p=quarantine sp=quarantine dis=pass)`` and
  ``dmarc=none ... (dis=no_record)``.
- Gmail (``mx.google.com``): DKIM as ``header.i=@example.com``; ``dmarc=... (p=REJECT
  sp=REJECT dis=NONE)``.
- Yahoo / AOL: ``dmarc=pass(p=REJECT)``; Proton: ``dmarc=pass (p=reject dis=none)``.
- Fastmail: ``policy.published-domain-policy=reject``.
- Microsoft 365 / Outlook.com / Exchange Online: no authserv-id; ``dmarc=fail action=oreject``
  (``bestguesspass``: no DMARC record, but it would have passed); ``compauth=fail
  reason=000``, Microsoft's composite authentication, explained by :func:`compauth`.
"""

from __future__ import annotations

from zegel.authres import ResInfo

_POLICIES = ("none", "quarantine", "reject")


def _domain_of(value: str) -> str:
    return value.rpartition("@")[2].strip().strip("<>").rstrip(".").lower()


def spf_domain(result: ResInfo) -> str:
    """The domain SPF checked: smtp.mailfrom, smtp.helo, or Ziggo's ``(IP;domain)`` comment."""
    for key in ("smtp.mailfrom", "smtp.helo"):
        value = result.get(key)
        if value and _domain_of(value) and "[" not in value:
            return _domain_of(value)
    for comment in result.comments:
        _ip, semicolon, domain = comment.partition(";")
        if semicolon and domain.strip() and " " not in domain.strip():
            return domain.strip().rstrip(".").lower()
        words = comment.split()
        if "domain" in words and "of" in words:  # Gmail / iCloud: "domain of a@b designates ..."
            at = words.index("of", words.index("domain"))
            if at + 1 < len(words):
                return _domain_of(words[at + 1])
    return ""


def dkim_domain(result: ResInfo) -> str:
    """The signing domain: header.d, or the domain of header.i (Gmail, Yahoo)."""
    value = result.get("header.d") or result.get("header.i") or ""
    return _domain_of(value)


def _comment_tags(result: ResInfo) -> dict[str, str]:
    tags: dict[str, str] = {}
    for comment in result.comments:
        for word in comment.replace(",", " ").split():
            key, equals, value = word.partition("=")
            if equals:
                tags.setdefault(key.lower(), value.lower())
    return tags


def dmarc_policy(result: ResInfo | None) -> str:
    """The published policy the receiver recorded (``none``/``quarantine``/``reject``) or ''."""
    if result is None:
        return ""
    published = (result.get("policy.published-domain-policy") or "").lower()
    if published in _POLICIES:
        return published
    tags = _comment_tags(result)
    policy = tags.get("p", "") or tags.get("policy", "")  # Mimecast: "(policy=reject)"
    if policy in _POLICIES:
        return policy
    action = (result.get("policy.action") or "").lower()  # Microsoft: action=oreject / pct.quarantine
    if action.startswith("o") and action[1:] in _POLICIES:
        return action[1:]
    if action.startswith("pct.") and action[4:] in _POLICIES:
        return action[4:]
    return action if action in ("quarantine", "reject") else ""


def no_dmarc_record(result: ResInfo | None) -> bool:
    if result is None:
        return False
    return result.result == "bestguesspass" or _comment_tags(result).get("dis") == "no_record"


def compauth(result: ResInfo) -> tuple[str, tuple[tuple[str, str], ...]]:
    """The text key and fields explaining Microsoft's ``compauth=RESULT reason=CODE``.

    Reason codes as Microsoft's anti-spam message header documentation lists them: 000 explicit
    failure (DMARC reject/quarantine); 001 implicit failure (no or weak records); 002 the
    organisation forbids this sender/domain pair to spoof; 010 DMARC failure of one of your own
    accepted domains; 1xx and 7xx pass (130: ARC overrode a DMARC failure); 2xx soft pass;
    3xx not checked; 4xx and 9xx bypassed (9xx: complex routing); 6xx implicit failure of one
    of your own accepted domains.
    """
    code = (result.reason or "").strip()
    fields = (("result", result.result), ("code", code or "?"))
    if len(code) != 3 or not (code.isascii() and code.isdigit()):
        return "compauth_unknown", fields
    if code in ("000", "001", "002", "010", "130"):
        return f"compauth_{code}", fields
    family = {"1": "pass", "7": "pass", "2": "softpass", "3": "none", "4": "bypass", "9": "bypass",
              "6": "self"}.get(code[0], "unknown")
    return f"compauth_{family}", fields
