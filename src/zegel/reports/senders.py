"""Senders by name: who sends a domain's mail from a source (Google Workspace, Microsoft 365,
Mailchimp, SendGrid, Amazon SES, the domain's own servers...), from the PTR name's base
domain, the DKIM d= and SPF (envelope-from) domains, and the network's AS name; and one
sentence on what to fix, in English and Dutch.

Country and AS name come from the offline database the geoip2fast package ships (its data
files are in the wheel; nothing is downloaded at run time)."""

from __future__ import annotations

import functools
import importlib
import logging
from dataclasses import dataclass
from typing import Any, Literal

Lang = Literal["en", "nl"]

# RFC 7489 6.6.2 / RFC 9990 policy override types that mean the mail was forwarded.
FORWARDING_REASONS = frozenset(("forwarded", "trusted_forwarder", "mailing_list"))


@dataclass(frozen=True)
class Sender:
    name: str
    kind: str  # own | esp | mailbox | other | unknown | spoofing


@dataclass(frozen=True)
class _Known:
    name: str
    kind: str
    domains: tuple[str, ...]  # PTR base domains, DKIM d= and envelope-from domains (and their subdomains)
    networks: tuple[str, ...]  # AS names (upper case, prefix match)


# Mailbox providers both send for businesses (Workspace, Microsoft 365) and forward their
# users' mail: failing mail of the domain's own signature from there is forwarded mail.
KNOWN_SENDERS: tuple[_Known, ...] = (
    _Known("Google Workspace", "mailbox", ("google.com", "googlemail.com", "gmail.com", "1e100.net",
                                           "gappssmtp.com"), ("GOOGLE",)),
    _Known("Microsoft 365", "mailbox", ("outlook.com", "onmicrosoft.com", "hotmail.com", "office365.com",
                                        "microsoft.com"), ("MICROSOFT",)),
    _Known("Yahoo", "mailbox", ("yahoo.com", "yahoodns.net", "aol.com"), ("YAHOO", "OATH")),
    _Known("Mailchimp", "esp", ("mcsv.net", "mcdlv.net", "rsgsv.net", "mailchimpapp.net", "mandrillapp.com",
                                "mailchimp.com"), ("THEROCKETSCIENCEGROUP",)),
    _Known("SendGrid", "esp", ("sendgrid.net", "sendgrid.com"), ("SENDGRID",)),
    _Known("Amazon SES", "esp", ("amazonses.com",), ("AMAZON-AES", "AMAZON-02")),
    _Known("Mailgun", "esp", ("mailgun.org", "mailgun.net", "mailgun.com"), ("MAILGUN",)),
    _Known("Postmark", "esp", ("mtasv.net", "postmarkapp.com"), ("WILDBIT", "POSTMARK")),
    _Known("Brevo", "esp", ("sendinblue.com", "brevo.com", "sibmail.com"), ("SENDINBLUE", "BREVO")),
    _Known("Salesforce Marketing Cloud", "esp", ("exacttarget.com", "salesforce.com"), ("SALESFORCE", "EXACTTARGET")),
    _Known("HubSpot", "esp", ("hubspotemail.net", "hubspot.com", "hs-analytics.net"), ("HUBSPOT",)),
    _Known("Zendesk", "esp", ("zendesk.com",), ("ZENDESK",)),
    _Known("Mailjet", "esp", ("mailjet.com",), ("MAILJET",)),
    _Known("Laposta", "esp", ("laposta.nl", "laposta-mail.nl"), ()),
)


def _matches(name: str, domains: tuple[str, ...]) -> bool:
    return any(name == d or name.endswith("." + d) for d in domains)


# Every known domain -> its sender: a name is matched by looking up its suffixes (one dict
# lookup per label), not by comparing it with every known domain.
_BY_DOMAIN: dict[str, _Known] = {d: known for known in KNOWN_SENDERS for d in known.domains}


def _known_by_name(name: str) -> _Known | None:
    position = 0
    while True:
        found = _BY_DOMAIN.get(name[position:])
        if found is not None:
            return found
        dot = name.find(".", position)
        if dot < 0:
            return None
        position = dot + 1


def base_domain(name: str) -> str:
    """The last two labels (three under a two-letter second level such as co.uk): a cheap
    stand-in for the registrable domain, enough to group PTR names."""
    labels = name.lower().rstrip(".").split(".")
    if len(labels) >= 3 and len(labels[-2]) <= 3 and len(labels[-1]) == 2:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


@functools.lru_cache(maxsize=16384)
def identify_sender(domain: str, *, ptr: str = "", dkim_domains: tuple[str, ...] = (),
                    spf_domains: tuple[str, ...] = (), envelope_domains: tuple[str, ...] = (),
                    as_name: str = "", spf_include: str = "") -> Sender:
    """Who sends from a source. Evidence in order: the PTR name, the include of the domain's
    own SPF record that authorises the IP, the DKIM d= and SPF domains, the AS name; then the
    domain's own names; else the PTR base domain or the AS name. (Memoised: sources of one
    sender share their evidence.)"""
    ptr = ptr.lower().rstrip(".")
    if ptr and (known := _known_by_name(ptr)) is not None:
        return Sender(known.name, known.kind)
    if spf_include and (known := _known_by_name(spf_include.lower().rstrip("."))) is not None:
        return Sender(known.name, known.kind)
    identities = tuple(d.lower() for d in (*dkim_domains, *spf_domains, *envelope_domains) if d)
    for identity in identities:
        if (known := _known_by_name(identity)) is not None:
            return Sender(known.name, known.kind)
    network = as_name.upper()
    if network:
        for known in KNOWN_SENDERS:
            if any(network.startswith(n) for n in known.networks):
                return Sender(known.name, known.kind)
    own = domain.lower().rstrip(".")
    if (ptr and _matches(ptr, (own,))) or (not ptr and identities and all(_matches(d, (own,)) for d in identities)):
        return Sender(f"{own} (own servers)", "own")
    if ptr:
        return Sender(base_domain(ptr), "other")
    if as_name:
        return Sender(f"AS {as_name}", "unknown")
    foreign = sorted({base_domain(d) for d in identities if not _matches(d, (own,))})
    if foreign:
        return Sender(foreign[0], "other")
    return Sender("unknown", "unknown")


def advice(sender: Sender, domain: str, lang: Lang, *, failing: int, spoofing: bool, forwarded: int,
           dkim_domains: tuple[str, ...], envelope_domains: tuple[str, ...], dkim_pass: int, spf_pass: int) -> str:
    """One sentence on what to fix for one sender."""
    texts = _ADVICE[lang]
    foreign_dkim = [d for d in dkim_domains if not _matches(d, (domain,))]
    foreign_envelope = [d for d in envelope_domains if not _matches(d, (domain,))]
    if spoofing:
        return texts["spoofing"]
    if failing <= 0:
        return texts["forwarded"] if forwarded else texts["passing"]
    if sender.kind == "own":
        return texts["own"].format(domain=domain)
    if dkim_pass and foreign_dkim:
        return texts["dkim"].format(name=sender.name, d=foreign_dkim[0], domain=domain)
    if spf_pass and foreign_envelope:
        return texts["spf"].format(name=sender.name, envelope=foreign_envelope[0], domain=domain)
    return texts["other"].format(name=sender.name, domain=domain)


_ADVICE: dict[Lang, dict[str, str]] = {
    "en": {
        "passing": "Passes DMARC: nothing to fix.",
        "forwarded": "Forwarded mail: failures here come from forwarding, not from a sender to fix.",
        "spoofing": "Nothing authenticates: likely spoofing, which a stricter policy stops.",
        "own": "Your own servers send mail failing DMARC: sign it with DKIM for {domain} and list them in your SPF record.",
        "dkim": "{name} signs with d={d}: set up DKIM for your domain {domain} in {name}.",
        "spf": ("{name} uses envelope-from {envelope}: set up DKIM for {domain} in {name} "
                "(or a bounce domain under {domain})."),
        "other": "{name} sends mail failing DMARC: have it sign with DKIM for {domain}, or stop it sending as {domain}.",
    },
    "nl": {
        "passing": "Slaagt voor DMARC: niets te doen.",
        "forwarded": "Doorgestuurde post: de fouten komen van het doorsturen, niet van een verzender om te herstellen.",
        "spoofing": "Niets slaagt: waarschijnlijk vervalsing, die een strenger beleid tegenhoudt.",
        "own": ("Uw eigen servers versturen post die DMARC niet haalt: onderteken die met DKIM voor {domain} en "
                "neem de servers op in uw SPF-record."),
        "dkim": "{name} ondertekent met d={d}: stel in {name} DKIM in voor uw domein {domain}.",
        "spf": ("{name} gebruikt envelope-from {envelope}: stel in {name} DKIM in voor {domain} "
                "(of een bounce-domein onder {domain})."),
        "other": ("{name} verstuurt post die DMARC niet haalt: laat die met DKIM voor {domain} ondertekenen, of laat "
                  "{name} niet meer namens {domain} versturen."),
    },
}


@functools.lru_cache(maxsize=1)
def _database() -> Any:
    """The offline IP database (loaded once, on first use: about half a second)."""
    try:
        module: Any = importlib.import_module("geoip2fast")  # ships no type information

        logging.getLogger("geoip2fast").setLevel(logging.ERROR)
        return module.GeoIP2Fast(geoip2fast_data_file="geoip2fast-asn-ipv6.dat.gz", verbose=False)
    except Exception:
        return None


@functools.lru_cache(maxsize=65536)
def as_info(ip: str) -> tuple[str, str]:
    """(ISO country code, AS name) of an address from the offline database; ("", "") when
    unknown or private."""
    database = _database()
    if database is None:
        return "", ""
    try:
        found = database.lookup(ip)
    except Exception:
        return "", ""
    if getattr(found, "is_private", False):
        return "", ""
    country = str(getattr(found, "country_code", "") or "")
    return ("" if country in ("--", "") else country), str(getattr(found, "asn_name", "") or "")
