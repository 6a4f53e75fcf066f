"""The parsers' and resolver's reasons (English, as the packages give them) in the reader's
language, for the ``reason`` of a finding: a Dutch report should not quote English.

The packages keep one English text per problem (scripts and logs depend on it); this table
matches those texts and says them in Dutch. A text the table does not know stays English, so
a new parser message is never lost, only untranslated (tests/audit/test_reasons.py makes every
known message of the SPF, DMARC and DKIM parsers translate). Every pattern is anchored and has
at most one unbounded group between fixed words, and a text longer than MAX_REASON is left as
it is: matching costs time linear in the (short) reason, whatever a record holds.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Final

MAX_REASON: Final = 1000
# Groups named *_r hold a reason of their own ("rua: <a URI error>; ignored"): translated too.
_NESTING: Final = 3

_V = r"(?P<v>.*)"  # a quoted value from the record, kept as written
_Q = r"(?P<v>['\"].*)"  # a character as Python's repr() quotes it
_N = r"(?P<n>[a-z0-9]+)"  # a tag or mechanism name

_DUTCH: Final[tuple[tuple[str, str], ...]] = (
    # -- SPF record syntax (zegel.spf.parser, RFC 7208) --------------------------------------
    (r"record does not start with 'v=spf1'", "het record begint niet met 'v=spf1'"),
    (rf"character {_Q} not allowed", "teken {v} is niet toegestaan"),
    (rf"non-ASCII character {_Q}", "niet-ASCII-teken {v}"),
    (rf"control character {_Q}", "stuurteken {v}"),
    (r"malformed macro \(expected %\{letter\[digits\]\[r\]\[delimiters\]\}\)",
     "ongeldige macro (verwacht: %{{letter[cijfers][r][scheidingstekens]}})"),
    (rf"unknown macro letter {_V}", "onbekende macroletter {v}"),
    (rf"macro {_V} is allowed only in explanation text", "macro {v} mag alleen in de uitlegtekst (exp) staan"),
    (r"macro part count must be nonzero", "het aantal delen in een macro mag geen 0 zijn"),
    (r"'%' must be followed by '\{', '%', '_' or '-'", "na '%' hoort '{{', '%', '_' of '-'"),
    (r"empty domain-spec", "lege domeinnaam"),
    (rf"domain-spec {_V} must end in a macro or a valid top label",
     "domeinnaam {v} moet eindigen op een macro of een geldig topniveaulabel"),
    (r"CIDR length /(?P<v>\d*) has a leading zero", "CIDR-lengte /{v} begint met een nul"),
    (r"CIDR length /(?P<v>\d*) is over (?P<limit>\d+)", "CIDR-lengte /{v} is groter dan {limit}"),
    (r"expected ':' or '/' after the mechanism name", "na de naam van het mechanisme hoort ':' of '/'"),
    (r"unexpected text after the mechanism name", "onverwachte tekst na de naam van het mechanisme"),
    (rf"not a mechanism or modifier: {_V}", "geen mechanisme of modifier: {v}"),
    (r"'all' takes no argument", "'all' heeft geen argument"),
    (rf"'{_N}' needs ':' and a domain", "'{n}' heeft ':' en een domein nodig"),
    (r"'ptr' takes ':' and a domain, no CIDR length", "'ptr' heeft ':' en een domein, geen CIDR-lengte"),
    (rf"unknown mechanism {_V}", "onbekend mechanisme {v}"),
    (rf"'{_N}' needs ':' and an address", "'{n}' heeft ':' en een adres nodig"),
    (rf"bad IPv4 address {_V}", "ongeldig IPv4-adres {v}"),
    (rf"bad IPv6 address {_V}", "ongeldig IPv6-adres {v}"),
    (rf"bad CIDR length {_V}", "ongeldige CIDR-lengte {v}"),
    (rf"'{_N}' appears more than once", "'{n}' komt meer dan één keer voor"),
    # -- DMARC record (zegel.dmarc.record, RFC 9989) -----------------------------------------
    (r"record must be text", "het record moet tekst zijn"),
    (r"empty record", "leeg record"),
    (rf"version {_V} must be exactly v=DMARC1 \(case-sensitive\)",
     "versie {v} moet precies v=DMARC1 zijn (hoofdlettergevoelig)"),
    (rf"missing ';' after v=DMARC1 in {_V}", "';' ontbreekt na v=DMARC1 in {v}"),
    (rf"not a DMARC record: must start with v=DMARC1, found {_V}",
     "geen DMARC-record: het moet met v=DMARC1 beginnen, maar begint met {v}"),
    (rf"tag {_V} has no '=' \(tag-list syntax, RFC 6376 3.2\)", "tag {v} heeft geen '=' (tag-lijst, RFC 6376 3.2)"),
    (rf"tag {_V} appears more than once \(RFC 6376 3.2\)", "tag {v} komt meer dan één keer voor (RFC 6376 3.2)"),
    (rf"invalid tag name {_V}", "ongeldige tagnaam {v}"),
    (rf"tag {_V} should be lower-case", "tag {v} hoort in kleine letters"),
    (rf"unknown tag {_V} is ignored", "onbekende tag {v} wordt genegeerd"),
    (rf"{_N} was removed by RFC 9989 \(RFC 9989 receivers ignore it; RFC 7489 receivers still apply it\)",
     "{n} is geschrapt in RFC 9989 (RFC 9989-ontvangers negeren het; RFC 7489-ontvangers passen het nog toe)"),
    (rf"{_N} was removed by RFC 9989 \(RFC 9989 receivers ignore it; RFC 7489 receivers still apply it\); "
     r"use t=y instead of pct=0",
     "{n} is geschrapt in RFC 9989 (RFC 9989-ontvangers negeren het; RFC 7489-ontvangers passen het nog toe); "
     "gebruik t=y in plaats van pct=0"),
    (rf"{_N} has an empty value; ignored", "{n} heeft een lege waarde en wordt genegeerd"),
    (rf"{_N}={_V} is not none, quarantine or reject", "{n}={v} is niet none, quarantine of reject"),
    (r"p is not right after v; RFC 7489 receivers expect it there",
     "p staat niet direct na v; RFC 7489-ontvangers verwachten het daar"),
    (rf"psd={_V} is not y, n or u; using u", "psd={v} is niet y, n of u; u geldt"),
    (rf"t={_V} is not y or n; using n", "t={v} is niet y of n; n geldt"),
    (rf"{_N}={_V} is not r or s; using r", "{n}={v} is niet r of s; r geldt"),
    (rf"pct={_V} is not an integer 0-100; using 100", "pct={v} is geen geheel getal van 0 tot en met 100; 100 geldt"),
    (rf"rf={_V}: the only registered format is afrf", "rf={v}: het enige geregistreerde formaat is afrf"),
    (rf"ri={_V} is not a 32-bit unsigned integer; using 86400",
     "ri={v} is geen geheel getal van 0 tot 2^32; 86400 geldt"),
    (rf"fo={_V}: options are 0, 1, d, s separated by ':'; using the default 0",
     "fo={v}: de opties zijn 0, 1, d en s, gescheiden door ':'; de standaardwaarde 0 geldt"),
    (rf"fo={_V}: an option repeats or 0 and 1 are combined; using the default 0",
     "fo={v}: een optie staat er twee keer in, of 0 en 1 samen; de standaardwaarde 0 geldt"),
    (r"the record starts with whitespace; strict receivers ignore it",
     "het record begint met witruimte; strikte ontvangers negeren het"),
    (r"no p tag: RFC 9989 receivers treat the record as p=none; RFC 7489 receivers apply DMARC only if rua "
     r"holds a valid URI",
     "geen p-tag: RFC 9989-ontvangers lezen het record als p=none; RFC 7489-ontvangers passen DMARC alleen toe "
     "als rua een geldige URI bevat"),
    (r"fo is ignored without a \(valid\) ruf tag", "fo wordt genegeerd zonder (geldige) ruf-tag"),
    (r"a policy tag is invalid and rua holds no valid URI: receivers do not apply DMARC with this record "
     r"\(RFC 9989 4\.10\.1\)",
     "een beleidstag is ongeldig en rua bevat geen geldige URI: ontvangers passen met dit record geen DMARC toe "
     "(RFC 9989 4.10.1)"),
    (r"(?P<v>\d+) more warnings not shown", "nog {v} waarschuwingen niet getoond"),
    (r"(?P<v>\d+) DMARC records at _dmarc\.(?P<d>.*): all discarded",
     "{v} DMARC-records op _dmarc.{d}: allemaal genegeerd"),
    # report URIs
    (rf"{_N}: (?P<e_r>.*); ignored", "{n}: {e_r}; genegeerd"),
    (rf"{_N}: size limit in {_V} is obsolete in RFC 9989 \(reporters ignore it\); RFC 7489 reporters still "
     r"honour it",
     "{n}: de groottegrens in {v} is vervallen in RFC 9989 (rapporteurs negeren hem); RFC 7489-rapporteurs "
     "houden er nog rekening mee"),
    (rf"{_N}: (?P<s>[^:]*): URIs are not widely supported \(receivers must support only mailto:\)",
     "{n}: {s}:-URI's worden weinig ondersteund (ontvangers hoeven alleen mailto: te kennen)"),
    (rf"{_N}: more than 32 URIs; the rest ignored", "{n}: meer dan 32 URI's; de rest wordt genegeerd"),
    (rf"{_N} holds no valid URI", "{n} bevat geen geldige URI"),
    (r"empty URI", "lege URI"),
    (rf"size limit in {_V} is too large", "groottegrens in {v} is te groot"),
    (rf"{_V}: '!' must be percent-encoded in a DMARC URI", "{v}: '!' moet in een DMARC-URI als %21 geschreven worden"),
    (rf"{_V} is not a URI \(no scheme such as mailto:\)", "{v} is geen URI (er staat geen schema zoals mailto: voor)"),
    (rf"{_V} contains characters not allowed in a URI", "{v} bevat tekens die in een URI niet mogen"),
    (rf"{_V} is not a mailto: URI with an address", "{v} is geen mailto:-URI met een adres"),
    (rf"{_V} has nothing after the scheme", "{v} heeft niets na het schema"),
    # -- DKIM key record (zegel.dkim.keys and tags, RFC 6376 3.6.1) --------------------------
    (r"p= does not hold a parsable RSA public key", "p= bevat geen leesbare publieke RSA-sleutel"),
    (r"p= holds a non-RSA key but k=rsa", "p= bevat een sleutel die geen RSA is, terwijl k=rsa"),
    (r"p= for k=ed25519 must be 32 octets, got (?P<v>\d+)", "p= voor k=ed25519 moet 32 bytes zijn, niet {v}"),
    (r"key record syntax: (?P<e_r>.*)", "syntaxis van het sleutelrecord: {e_r}"),
    (r"key record: (?P<e_r>.*)", "sleutelrecord: {e_r}"),
    (r"v= must be the first tag of a key record", "v= moet de eerste tag van een sleutelrecord zijn"),
    (rf"unsupported key record version v={_V}", "onbekende versie van het sleutelrecord: v={v}"),
    (r"key record has no p= tag", "het sleutelrecord heeft geen p=-tag"),
    (rf"unknown key type k={_V}", "onbekend sleuteltype k={v}"),
    (r"line break without folding whitespace in tag-list", "regeleinde zonder vouwspatie in de tag-lijst"),
    (r"control character in tag-list", "stuurteken in de tag-lijst"),
    (r"empty tag in tag-list", "lege tag in de tag-lijst"),
    (r"empty tag-list", "lege tag-lijst"),
    (rf"tag {_V} has no '='", "tag {v} heeft geen '='"),
    (rf"duplicate tag {_V}=", "tag {v}= komt meer dan één keer voor"),
    # the base64 library's own words (English) stay out
    (rf"invalid base64 \({_V}\)", "ongeldige base64-tekst"),
    (rf"invalid quoted-printable escape ={_V}", "ongeldige quoted-printable-code ={v}"),
    (r"empty item in colon-separated list", "leeg onderdeel in een lijst met dubbele punten"),
    # -- DNS (zegel.dns) ---------------------------------------------------------------------
    (r"timeout after (?P<v>[\d.]+)s", "geen antwoord binnen {v} s"),
    (rf"server failure: {_V}", "serverfout: {v}"),
    (rf"DNS error: {_V}", "DNS-fout: {v}"),
    (rf"malformed answer: {_V}", "onleesbaar antwoord: {v}"),
    (r"CNAME chain too long", "CNAME-keten te lang"),
    (r"offline: no such record in zone files", "offline: dit record staat niet in de zonebestanden"),
    (r"offline: name not in zone files", "offline: deze naam staat niet in de zonebestanden"),
    (r"DNS failure", "DNS-fout"),
    (r"no answer", "geen antwoord"),
    # -- STARTTLS probe (zegel.audit.starttls; the certificate texts are OpenSSL's) ----------
    (r"no address", "geen adres"),
    (r"no answer within (?P<v>[\d.]+) seconds", "geen antwoord binnen {v} seconden"),
    (rf"TLS handshake failed: {_V}", "TLS-handshake mislukt: {v}"),
    (rf"not verified \({_V}\)", "niet geverifieerd ({v})"),
    (r"unreadable certificate", "onleesbaar certificaat"),
    (r"certificate has expired", "het certificaat is verlopen"),
    (r"certificate is not yet valid", "het certificaat is nog niet geldig"),
    (r"self[- ]signed certificate", "zelfondertekend certificaat"),
    (r"self[- ]signed certificate in certificate chain", "zelfondertekend certificaat in de keten"),
    (r"unable to get local issuer certificate", "de uitgever van het certificaat is onbekend (tussencertificaat ontbreekt?)"),
    (rf"[Hh]ostname mismatch, certificate is not valid for {_V}\.?",
     "naam klopt niet: het certificaat geldt niet voor {v}"),
)

# Endings the parsers add to several messages.
_SUFFIXES: Final[tuple[tuple[str, str], ...]] = (
    (r" \(did you mean (?P<v>'[^']*')\?\)", " (bedoelde u {v}?)"),
    (r" \((?P<n>redirect|exp) is a modifier: write '(?P=n)='\)", " ({n} is een modifier: schrijf '{n}=')"),
    (r" at character (?P<v>\d+)", " bij teken {v}"),
)

_COMPILED: Final = tuple((re.compile(pattern, re.DOTALL), dutch) for pattern, dutch in _DUTCH)
_COMPILED_SUFFIXES: Final = tuple((re.compile(pattern + r"\Z"), dutch) for pattern, dutch in _SUFFIXES)


def translate_reason(text: str, lang: str) -> str:
    """``text`` (a reason in English) in ``lang``; English, or a reason the table does not
    know, comes back unchanged."""
    if lang == "en" or len(text) > MAX_REASON:
        return text
    return _dutch(text, _NESTING)


@lru_cache(maxsize=1024)
def _dutch(text: str, depth: int) -> str:
    ending = ""
    stripped = True
    while stripped:  # "unknown mechanism 'x' (did you mean 'y'?) at character 12": both endings
        stripped = False
        for pattern, dutch in _COMPILED_SUFFIXES:
            found = pattern.search(text)
            if found is not None:
                ending = dutch.format(**found.groupdict()) + ending
                text, stripped = text[:found.start()], True
    for pattern, dutch in _COMPILED:
        match = pattern.fullmatch(text)
        if match is None:
            continue
        groups = {name: (_dutch(value, depth - 1) if name.endswith("_r") and depth > 0 else value)
                  for name, value in match.groupdict().items()}
        return dutch.format(**groups) + ending
    return text + ending


__all__ = ["MAX_REASON", "translate_reason"]
