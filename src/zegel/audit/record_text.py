"""Records as text to publish: a TXT line in zone-file syntax, and SPF records merged into one
or corrected. Pure string work, shared by the SPF audit (which attaches corrected records to
its findings) and the fixes (which attach the rest)."""

from __future__ import annotations

from collections.abc import Sequence

from zegel.spf import SpfSyntaxError, parse_record

TXT_STRING = 255  # RFC 1035 3.3: one character-string holds at most 255 octets


def _split(value: str) -> list[str]:
    """Strings of at most 255 octets, cut after a space where possible so each term stays whole
    (receivers join them without adding anything, RFC 7208 3.3)."""
    parts: list[str] = []
    raw = value.encode()
    while len(raw) > TXT_STRING:
        cut = raw.rfind(b" ", 0, TXT_STRING) + 1 or TXT_STRING
        parts.append(raw[:cut].decode("utf-8", "replace"))
        raw = raw[cut:]
    parts.append(raw.decode("utf-8", "replace"))
    return parts


def txt_line(name: str, value: str) -> str:
    """``name. TXT "..."``, split into 255-octet strings where needed (joined without spaces by
    receivers, RFC 7208 3.3)."""
    parts = _split(value)
    quoted = " ".join('"' + part.replace("\\", "\\\\").replace('"', '\\"') + '"' for part in parts)
    return f"{name}. TXT {quoted}"


def merge_spf(records: Sequence[str]) -> str:
    """RFC 7208 4.5 allows one record: every distinct term of all of them, one ``all`` (the
    first record's) at the end."""
    terms: list[str] = []
    final = ""
    for record in records:
        for term in record.split()[1:]:
            bare = term.lower().lstrip("+-~?")
            if bare == "all" or bare.startswith("redirect="):
                final = final or term
            elif term not in terms:
                terms.append(term)
    return " ".join(["v=spf1", *terms, final or "~all"])


def corrected_spf(text: str) -> str:
    """``text`` with every problem fixed that needs no owner's knowledge: a repeated term
    dropped, '+all' made '-all', '?all' made '~all', a second 'all' or a redirect beside one
    dropped, a missing 'all' (and no redirect) added as '~all'. One record for all of them, so two findings about the same record never ask
    for two different ones."""
    kept: list[str] = []
    keys: set[str] = set()
    has_all = False
    for term in text.split():
        term = {"all": "-all", "+all": "-all", "?all": "~all"}.get(term.lower(), term)
        key = term.lower().lstrip("+")
        is_all = key in ("-all", "~all")
        if key in keys or (is_all and has_all):  # a second 'all' is never reached (RFC 7208 5.1)
            continue
        keys.add(key)
        has_all = has_all or is_all
        kept.append(term)
    if has_all:  # RFC 7208 6.1: a redirect beside an 'all' is never followed
        kept = [term for term in kept if not term.lower().startswith("redirect=")]
    elif not any(k.startswith("redirect=") for k in keys):
        kept.append("~all")
    return " ".join(kept)


# A record with more misspelt names than this is rewritten by its owner, not by us.
MAX_RESPELLINGS = 8


def respelled_spf(text: str) -> str | None:
    """``text`` with each misspelt mechanism written as the parser suggests ("inlcude:" as
    "include:", "redirect:" as "redirect=", RFC 7208 5 and 6), when the result then parses;
    None when an error has no sure correction (a bad address, say)."""
    for _ in range(MAX_RESPELLINGS + 1):
        try:
            parse_record(text)
            return text
        except SpfSyntaxError as exc:
            if exc.fix is None:
                return None
            start, end, replacement = exc.fix
            text = text[:start] + replacement + text[end:]
    return None


__all__ = ["MAX_RESPELLINGS", "TXT_STRING", "corrected_spf", "merge_spf", "respelled_spf", "txt_line"]
