"""Build Authentication-Results header values (RFC 8601 section 2.2).

``build(authserv_id, results)`` takes ``ResInfo`` values — made with ``spf_result``,
``dkim_result``, ``dmarc_result``, ``arc_result`` from plain values — or zegel's own result
objects (SpfResult, DkimResult, DmarcResult, ArcResult), recognised by their attributes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from zegel.authres.model import AuthProperty, ResInfo

_TOKEN_RE = re.compile(r"[!#$%&'*+\-.0-9A-Z^_`a-z{|}~]+")  # RFC 2045 token
_MAILBOX_RE = re.compile(r"([!#$%&'*+\-/=?^_`{|}~.0-9A-Za-z]*)@([A-Za-z0-9_.\-]+)")
_FOLD_WIDTH = 78


# Control characters may not appear in a header field value: each becomes a space.
_CONTROLS_TO_SPACE = {code: " " for code in range(32)}

# quote_value and comment are pure and see the same few values over and over (domains,
# selectors, reasons): memoized, bounded.
@lru_cache(maxsize=4096)
def quote_value(value: str) -> str:
    """``value`` as an RFC 8601 pvalue: a token, local-part@domain, or a quoted-string."""
    if _TOKEN_RE.fullmatch(value) or _MAILBOX_RE.fullmatch(value):
        return value
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped.translate(_CONTROLS_TO_SPACE)}"'


@lru_cache(maxsize=4096)
def comment(text: str) -> str:
    """``text`` as an RFC 5322 comment, parentheses and backslashes escaped."""
    escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    escaped = " ".join(escaped.translate(_CONTROLS_TO_SPACE).split())
    return f"({escaped})"


def _prop(ptype: str, name: str, value: object) -> AuthProperty | None:
    if value is None or value == "":
        return None
    return AuthProperty(ptype, name, str(value))


def _props(*items: AuthProperty | None) -> tuple[AuthProperty, ...]:
    return tuple(item for item in items if item is not None)


def _result(value: object) -> str:
    text = str(getattr(value, "value", value) or "none").strip().lower()
    return text or "none"


def spf_result(result: str, *, mailfrom: str | None = None, helo: str | None = None,
               comment_text: str | None = None) -> ResInfo:
    """``spf=RESULT smtp.mailfrom=... smtp.helo=...`` (RFC 8601 2.7.2)."""
    return ResInfo("spf", _result(result), _props(_prop("smtp", "mailfrom", mailfrom), _prop("smtp", "helo", helo)),
                   comments=(comment_text,) if comment_text else ())


def dkim_result(result: str, *, d: str | None = None, s: str | None = None, b: str | None = None,
                i: str | None = None, a: str | None = None, reason: str | None = None,
                comment_text: str | None = None) -> ResInfo:
    """``dkim=RESULT header.d=... header.s=... header.b=...`` (RFC 8601 2.7.1, RFC 6376)."""
    return ResInfo("dkim", _result(result), _props(
        _prop("header", "d", d), _prop("header", "i", i), _prop("header", "s", s),
        _prop("header", "a", a), _prop("header", "b", b)),
        reason=reason or None, comments=(comment_text,) if comment_text else ())


def dmarc_result(result: str, *, header_from: str | None = None, p: str | None = None,
                 sp: str | None = None, np: str | None = None, disposition: str | None = None,
                 reason: str | None = None) -> ResInfo:
    """``dmarc=RESULT (p=.. sp=.. dis=..) header.from=... policy.dmarc=...
    policy.published-domain-policy=...``.

    ``policy.dmarc`` (RFC 9989 section 9.1) is the policy applied after t=/pct processing — the
    disposition — and is written for a ``fail``; ``policy.published-domain-policy`` is the
    record's p. The comment repeats the record's policies as large receivers write them.
    """
    result = _result(result)
    parts = [f"p={p}" if p else "", f"sp={sp}" if sp else "", f"np={np}" if np else "",
             f"dis={disposition}" if disposition else ""]
    note = " ".join(part for part in parts if part)
    return ResInfo("dmarc", result, _props(
        _prop("header", "from", header_from),
        _prop("policy", "dmarc", disposition if result == "fail" else None),
        _prop("policy", "published-domain-policy", p)),
        reason=reason or None, comments=(note,) if note else ())


def arc_result(cv: str, *, oldest_pass: int | None = None, remote_ip: str | None = None,
               comment_text: str | None = None) -> ResInfo:
    """``arc=CV header.oldest-pass=N smtp.remote-ip=...`` (RFC 8617 section 10.1)."""
    return ResInfo("arc", _result(cv), _props(
        _prop("header", "oldest-pass", oldest_pass), _prop("smtp", "remote-ip", remote_ip)),
        comments=(comment_text,) if comment_text else ())


def _spf_comment(result: str, who: object, ip: object, reason: object) -> str | None:
    """The customary human note (what large receivers write), for people reading headers."""
    if not who:
        return None
    if ip:
        phrases = {
            "pass": f"domain of {who} designates {ip} as permitted sender",
            "fail": f"domain of {who} does not designate {ip} as permitted sender",
            "softfail": f"domain of transitioning {who} does not designate {ip} as permitted sender",
            "neutral": f"{ip} is neither permitted nor denied by domain of {who}",
        }
        if result in phrases:
            return phrases[result]
    if result == "none":
        return f"domain of {who} does not designate permitted sender hosts"
    if result in ("temperror", "permerror") and reason:
        return str(reason)
    return None


def to_resinfo(item: Any) -> ResInfo:
    """A ResInfo from a ResInfo or one of zegel's result objects (duck-typed)."""
    if isinstance(item, ResInfo):
        return item
    if hasattr(item, "cv"):  # zegel.arc.ArcResult
        cv = _result(item.cv)
        reason = getattr(item, "reason", None)
        # IANA email-auth registry / RFC 8617 5.2: oldest-pass is 0 when every AMS validates.
        oldest = getattr(item, "ams_oldest_pass", getattr(item, "oldest_pass", None))
        return arc_result(cv, oldest_pass=oldest,
                          comment_text=reason if cv != "pass" and reason else None)
    if hasattr(item, "disposition"):  # zegel.dmarc.DmarcResult
        record = getattr(item, "record", None)
        return dmarc_result(
            _result(item.result), header_from=getattr(item, "from_domain", None),
            p=(getattr(record, "p", None) or "none") if record is not None else None,
            sp=getattr(record, "sp", None), np=getattr(record, "np", None),
            disposition=item.disposition if record is not None else None,
        )
    if hasattr(item, "selector"):  # zegel.dkim.DkimResult
        result = _result(item.result)
        reason = getattr(item, "reason", None)
        bits = getattr(item, "key_bits", None)
        return dkim_result(result, d=getattr(item, "domain", None), s=item.selector,
                           b=getattr(item, "header_b", None), i=getattr(item, "identity", None),
                           a=getattr(item, "algorithm", None),
                           reason=reason if result != "pass" and reason else None,
                           comment_text=f"{bits}-bit key" if isinstance(bits, int) and bits > 0 else None)
    if hasattr(item, "result") and (hasattr(item, "identity") or hasattr(item, "mechanism")):  # SpfResult
        result = _result(item.result)
        identity = str(getattr(item, "identity", "mailfrom") or "mailfrom")
        domain = getattr(item, "domain", None)
        sender = getattr(item, "sender", None)
        note = _spf_comment(result, sender or domain, getattr(item, "ip", None), getattr(item, "reason", None))
        if identity == "helo":
            return spf_result(result, helo=domain, comment_text=note)
        return spf_result(result, mailfrom=sender or domain, comment_text=note)
    raise TypeError(f"cannot express {type(item).__name__} as an Authentication-Results result")


def _line(method: str, result: str, props: Iterable[tuple[str, object]], *, reason: str | None = None,
          comment_text: str | None = None) -> str:
    """``format_resinfo`` of the ResInfo the builders above would make, without making it:
    ``props`` are (``ptype.name``, value) pairs, empty values dropped as ``_prop`` does."""
    parts = [f"{method}={result}"]
    if comment_text:
        parts.append(comment(comment_text))
    if reason:
        parts.append(f"reason={quote_value(reason)}")
    for key, value in props:
        if value is not None and value != "":
            parts.append(f"{key}={quote_value(str(value))}")
    return " ".join(parts)


# Result types whose objects never change (frozen, slotted dataclasses: zegel's own SPF, DMARC
# and ARC results, registered by zegel.verify): the line of the last object of each is reused
# when that very object comes again (the pipeline reuses those results across messages).
_UNCHANGING: set[type] = set()
_last_line: dict[type, tuple[Any, str]] = {}


def reuse_lines_of(*types: type) -> None:
    """Register result types whose objects never change (see :data:`_UNCHANGING`)."""
    _UNCHANGING.update(types)


def _format_item(item: Any) -> str:
    kind = type(item)
    if kind in _UNCHANGING:
        last = _last_line.get(kind)
        if last is not None and last[0] is item:
            return last[1]
        text = _format_item_fresh(item)
        _last_line[kind] = (item, text)
        return text
    return _format_item_fresh(item)


def _format_item_fresh(item: Any) -> str:
    """``format_resinfo(to_resinfo(item))``: the same branches, formatted directly (the
    pipeline builds one header per message; the intermediate objects were most of its cost).

    Each branch reads the item's values, then formats them in a pure function; for plain
    values (str, int, None) that function is memoized, so a result seen before (the same SPF,
    DMARC or ARC outcome, the same signer) costs a cache lookup."""
    if isinstance(item, ResInfo):
        return format_resinfo(item)
    if hasattr(item, "cv"):  # zegel.arc.ArcResult
        oldest = getattr(item, "ams_oldest_pass", getattr(item, "oldest_pass", None))
        return _formatted(_arc_line, item.cv, getattr(item, "reason", None), oldest)
    if hasattr(item, "disposition"):  # zegel.dmarc.DmarcResult
        record = getattr(item, "record", None)
        p = (getattr(record, "p", None) or "none") if record is not None else None
        return _formatted(_dmarc_line, item.result, getattr(item, "from_domain", None), p,
                          getattr(record, "sp", None), getattr(record, "np", None),
                          item.disposition if record is not None else None)
    if hasattr(item, "selector"):  # zegel.dkim.DkimResult
        b = getattr(item, "header_b", None)
        head = _formatted(_dkim_head, item.result, getattr(item, "reason", None), getattr(item, "key_bits", None),
                          getattr(item, "domain", None), getattr(item, "identity", None), item.selector,
                          getattr(item, "algorithm", None))
        # header.b differs per message: formatted outside the memo (it is the last property).
        return head if b is None or b == "" else f"{head} header.b={quote_value(str(b))}"
    if hasattr(item, "result") and (hasattr(item, "identity") or hasattr(item, "mechanism")):  # SpfResult
        return _formatted(_spf_line, item.result, getattr(item, "identity", "mailfrom"), getattr(item, "domain", None),
                          getattr(item, "sender", None), getattr(item, "ip", None), getattr(item, "reason", None))
    raise TypeError(f"cannot express {type(item).__name__} as an Authentication-Results result")


# Values longer than this in all (a hostile i= or reason) are formatted afresh: the memos stay
# small whatever the messages carry.
_MEMO_CHARS = 1024


def _formatted(line: Any, *values: Any) -> str:
    """``line(*values)``, from its memo when every value is a plain str, int or None (whose
    equality is their text's) and they are short; anything else (an enum, a duck-typed value,
    a long text) is formatted afresh."""
    size = 0
    for value in values:
        kind = type(value)
        if kind is str:
            size += len(value)
        elif kind is not int and value is not None:  # bool too: True == 1 but prints "True"
            size = _MEMO_CHARS + 1
            break
    if size > _MEMO_CHARS:
        text: str = line.__wrapped__(*values)
        return text
    memoized: str = line(*values)
    return memoized


@lru_cache(maxsize=4096)
def _arc_line(cv_value: Any, reason: Any, oldest: Any) -> str:
    cv = _result(cv_value)
    return _line("arc", _result(cv), (("header.oldest-pass", oldest), ("smtp.remote-ip", None)),
                 comment_text=reason if cv != "pass" and reason else None)


@lru_cache(maxsize=4096)
def _dmarc_line(result_value: Any, header_from: Any, p: Any, sp: Any, np: Any, disposition: Any) -> str:
    result = _result(_result(result_value))
    parts = [f"p={p}" if p else "", f"sp={sp}" if sp else "", f"np={np}" if np else "",
             f"dis={disposition}" if disposition else ""]
    note = " ".join(part for part in parts if part)
    return _line("dmarc", result, (
        ("header.from", header_from),
        ("policy.dmarc", disposition if result == "fail" else None),
        ("policy.published-domain-policy", p)), comment_text=note or None)


@lru_cache(maxsize=4096)
def _dkim_head(result_value: Any, reason: Any, bits: Any, d: Any, i: Any, s: Any, a: Any) -> str:
    """The dkim resinfo up to (not including) header.b."""
    result = _result(result_value)
    return _line("dkim", _result(result), (
        ("header.d", d), ("header.i", i), ("header.s", s), ("header.a", a)),
        reason=reason if result != "pass" and reason else None,
        comment_text=f"{bits}-bit key" if isinstance(bits, int) and bits > 0 else None)


@lru_cache(maxsize=4096)
def _spf_line(result_value: Any, identity_value: Any, domain: Any, sender: Any, ip: Any, reason: Any) -> str:
    result = _result(result_value)
    identity = str(identity_value or "mailfrom")
    spf_note = _spf_comment(result, sender or domain, ip, reason)
    if identity == "helo":
        return _line("spf", _result(result), (("smtp.mailfrom", None), ("smtp.helo", domain)),
                     comment_text=spf_note)
    return _line("spf", _result(result), (("smtp.mailfrom", sender or domain), ("smtp.helo", None)),
                 comment_text=spf_note)


def format_resinfo(info: ResInfo) -> str:
    method = info.method + (f"/{info.version}" if info.version else "")
    parts = [f"{method}={info.result}"]
    parts.extend(comment(text) for text in info.comments if text)
    if info.reason:
        parts.append(f"reason={quote_value(info.reason)}")
    parts.extend(f"{prop.ptype}.{prop.name}={quote_value(prop.value)}" for prop in info.properties)
    return " ".join(parts)


def _authserv(authserv_id: str) -> str:
    text = authserv_id.strip()
    if not text:
        raise ValueError("authserv_id must not be empty")
    return text if _TOKEN_RE.fullmatch(text) else quote_value(text)


# One receiver, one authserv-id: memoized (an empty one raises, and is not memoized).
_authserv_memo = lru_cache(maxsize=64)(_authserv)


def build(authserv_id: str, results: Iterable[Any], *, version: int | None = None, fold: bool = False) -> str:
    """The Authentication-Results value: ``authserv-id [version]; result; result`` or
    ``authserv-id; none`` when there are no results (RFC 8601 2.2). ``fold=True`` puts each
    result on its own continuation line (CRLF TAB)."""
    head = (_authserv_memo(authserv_id) if type(authserv_id) is str else _authserv(authserv_id)) + (
        f" {version}" if version is not None else "")
    items = [_format_item(item) for item in results]
    if not items:
        items = ["none"]
    separator = ";\r\n\t" if fold else "; "
    return head + separator + separator.join(items)


def build_field(authserv_id: str, results: Iterable[Any], *, version: int | None = None) -> bytes:
    """The whole header field, folded, with CRLF: ready to prepend to a message."""
    value = build(authserv_id, results, version=version, fold=True)
    return b"Authentication-Results: " + value.encode("utf-8") + b"\r\n"
