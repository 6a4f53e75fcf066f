"""Language of a page (``?lang=en|nl``, then Accept-Language, then English) and the interface
texts in both languages. Texts of findings and explanations come from zegel.audit and
zegel.explain in the chosen language; only the page furniture lives here."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from starlette.requests import HTTPConnection

Lang = Literal["en", "nl"]
LANGUAGES: tuple[Lang, ...] = ("en", "nl")
_MAX_ACCEPT_LANGUAGE = 512  # a longer header is cut, not parsed (bounded work)


def _base(tag: str) -> str:
    return tag.strip().lower().replace("_", "-").partition("-")[0]


def from_accept_language(header: str) -> Lang | None:
    """The first supported language by q-value (RFC 9110 12.5.4); None when none is wanted."""
    best: tuple[float, int, Lang] | None = None
    for index, part in enumerate(header[:_MAX_ACCEPT_LANGUAGE].split(",")[:32]):
        tag, _, params = part.partition(";")
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value.strip()[:5])
                except ValueError:
                    quality = 0.0
        base = _base(tag)
        if quality <= 0 or base not in LANGUAGES:
            continue
        lang: Lang = "nl" if base == "nl" else "en"
        candidate = (-quality, index, lang)
        if best is None or candidate < best:
            best = candidate
    return None if best is None else best[2]


def choose_lang(request: HTTPConnection) -> tuple[Lang, bool]:
    """(language, chosen explicitly by ?lang=): the query parameter wins, then Accept-Language."""
    asked = _base(request.query_params.get("lang", ""))
    if asked == "nl":
        return "nl", True
    if asked == "en":
        return "en", True
    return from_accept_language(request.headers.get("accept-language", "")) or "en", False


class _Params(dict[str, object]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


class Catalog:
    """Interface texts by key and language; extensions add their own with :meth:`add`."""

    def __init__(self, messages: Mapping[str, Mapping[str, str]]) -> None:
        self._messages: dict[str, dict[str, str]] = {k: dict(v) for k, v in messages.items()}

    def add(self, messages: Mapping[str, Mapping[str, str]]) -> None:
        for key, texts in messages.items():
            self._messages[key] = dict(texts)

    def __contains__(self, key: str) -> bool:
        return key in self._messages

    def text(self, lang: str, key: str, **params: object) -> str:
        texts = self._messages.get(key)
        if texts is None:
            return key
        template = texts.get(lang) or texts.get("en") or key
        return template.format_map(_Params(params)) if params else template


MESSAGES: dict[str, dict[str, str]] = {
    # navigation and furniture
    "site.tagline": {"en": "Email authentication checks: SPF, DKIM, DMARC",
                     "nl": "Controles voor e-mailauthenticatie: SPF, DKIM, DMARC"},
    "nav.home": {"en": "Home", "nl": "Start"},
    "nav.check": {"en": "Domain check", "nl": "Domeincheck"},
    "nav.explain": {"en": "Header analyzer", "nl": "Headers analyseren"},
    "nav.tester": {"en": "Mail tester", "nl": "Mailtester"},
    "nav.tools": {"en": "Tools", "nl": "Hulpmiddelen"},
    "nav.api": {"en": "API", "nl": "API"},
    "nav.skip": {"en": "Skip to content", "nl": "Naar de inhoud"},
    "nav.language": {"en": "Language", "nl": "Taal"},
    "nav.main": {"en": "Main menu", "nl": "Hoofdmenu"},
    "footer.text": {"en": "zegel checks email authentication to the letter of the RFCs. Nothing you enter is stored unless you ask for a link.",
                    "nl": "zegel controleert e-mailauthenticatie volgens de RFC's. Wat u invoert wordt niet bewaard, tenzij u om een link vraagt."},
    "home.title": {"en": "Is your email trustworthy?", "nl": "Is uw e-mail betrouwbaar?"},
    "home.intro": {"en": "Check a domain's SPF, DKIM and DMARC records, read the headers of a suspicious message, send a test mail, or create records.",
                   "nl": "Controleer de SPF-, DKIM- en DMARC-records van een domein, lees de headers van een verdacht bericht, stuur een testmail of maak records aan."},
    "home.examples": {"en": "Offline demo — try:", "nl": "Offline demo — probeer:"},
    "home.check": {"en": "Can mail faking your domain be delivered? Grade, findings and ready-to-paste fixes.",
                   "nl": "Kan mail die uw domein vervalst worden afgeleverd? Cijfer, bevindingen en kant-en-klare oplossingen."},
    "home.explain": {"en": "Paste the headers of a message and see whether its sender is genuine.",
                     "nl": "Plak de headers van een bericht en zie of de afzender echt is."},
    "home.tester": {"en": "Send a mail to a test address and get the full report.",
                    "nl": "Stuur een mail naar een testadres en krijg het volledige rapport."},
    "home.tools": {"en": "DKIM keys, SPF and DMARC records, built for you.",
                   "nl": "DKIM-sleutels, SPF- en DMARC-records, voor u opgesteld."},
    # errors
    "error.title": {"en": "Something went wrong", "nl": "Er ging iets mis"},
    "error.404": {"en": "This page does not exist (or the result has expired).",
                  "nl": "Deze pagina bestaat niet (of het resultaat is verlopen)."},
    "error.413": {"en": "What you sent is too large.", "nl": "Wat u stuurde is te groot."},
    "error.429": {"en": "Too many requests from your address. Please wait a minute and try again.",
                  "nl": "Te veel verzoeken vanaf uw adres. Wacht een minuut en probeer het opnieuw."},
    "error.403": {"en": "The form expired or came from another site. Reload the page and try again.",
                  "nl": "Het formulier is verlopen of kwam van een andere site. Laad de pagina opnieuw en probeer het nog eens."},
    "error.back": {"en": "Back to the start page", "nl": "Terug naar de startpagina"},
    # domain check
    "check.title": {"en": "Domain check", "nl": "Domeincheck"},
    "check.intro": {"en": "Enter a domain to see whether mail faking it can be delivered, and how to fix what is wrong.",
                    "nl": "Vul een domein in om te zien of mail die het vervalst kan worden afgeleverd, en hoe u oplost wat er mis is."},
    "check.domain": {"en": "Domain", "nl": "Domein"},
    "check.selector": {"en": "DKIM selector (optional)", "nl": "DKIM-selector (optioneel)"},
    "check.selector.help": {"en": "Without one, widely used selector names are tried.",
                            "nl": "Zonder selector worden veelgebruikte namen geprobeerd."},
    "check.submit": {"en": "Check", "nl": "Controleren"},
    "check.draft": {"en": "Draft mode: test records before you publish them",
                    "nl": "Conceptmodus: test records voordat u ze publiceert"},
    "check.draft.help": {"en": "Records entered here are used instead of the published ones, only for this check.",
                         "nl": "Records die u hier invult worden alleen voor deze controle gebruikt in plaats van de gepubliceerde."},
    "check.draft.spf": {"en": "Draft SPF record", "nl": "Concept-SPF-record"},
    "check.draft.dmarc": {"en": "Draft DMARC record", "nl": "Concept-DMARC-record"},
    "check.draft.dkim": {"en": "Draft DKIM key record (for the selector above)",
                         "nl": "Concept-DKIM-sleutelrecord (voor de selector hierboven)"},
    "check.draft.mtasts": {"en": "Draft MTA-STS record (_mta-sts)", "nl": "Concept-MTA-STS-record (_mta-sts)"},
    "check.draft.zone": {"en": "Other records, as zone-file lines (names under the domain only)",
                         "nl": "Andere records, als zonebestandregels (alleen namen onder het domein)"},
    "check.draft.badge": {"en": "Draft", "nl": "Concept"},
    "check.draft.note": {"en": "This result uses draft records that are not (yet) published.",
                         "nl": "Dit resultaat gebruikt conceptrecords die (nog) niet gepubliceerd zijn."},
    "check.grade": {"en": "Grade", "nl": "Cijfer"},
    "check.question": {"en": "Protected against spoofing?", "nl": "Beschermd tegen vervalsing?"},
    "check.yes": {"en": "Yes", "nl": "Ja"},
    "check.no": {"en": "No", "nl": "Nee"},
    "check.findings": {"en": "Findings", "nl": "Bevindingen"},
    "check.nofindings": {"en": "No findings.", "nl": "Geen bevindingen."},
    "check.fix": {"en": "Fix", "nl": "Oplossing"},
    "check.records": {"en": "Records checked", "nl": "Gecontroleerde records"},
    "check.record.none": {"en": "(none)", "nl": "(geen)"},
    "check.dkim.no-valid-key": {"en": "(no valid key: see the records below and the DKIM findings)",
                                "nl": "(geen geldige sleutel: zie de records hieronder en de DKIM-bevindingen)"},
    # The DNSSEC states of zegel.audit.dnssec_audit.
    "check.dnssec.secure": {"en": "signed and validated", "nl": "ondertekend en gevalideerd"},
    "check.dnssec.insecure": {"en": "not signed", "nl": "niet ondertekend"},
    "check.dnssec.bogus": {"en": "signed, but validation fails", "nl": "ondertekend, maar de validatie faalt"},
    "check.dnssec.error": {"en": "could not be checked (DNS error)", "nl": "niet te controleren (DNS-fout)"},
    "check.dnssec.draft": {"en": "not checked (records from zone files)",
                           "nl": "niet gecontroleerd (records uit zonebestanden)"},
    "check.mta_sts_policy": {"en": "MTA-STS policy", "nl": "MTA-STS-beleid"},
    "check.smtp.none": {"en": "no STARTTLS", "nl": "geen STARTTLS"},
    "check.spf.tree": {"en": "SPF lookup tree", "nl": "SPF-opzoekboom"},
    "check.spf.bar": {"en": "{lookups} of at most 10 DNS lookups", "nl": "{lookups} van maximaal 10 DNS-opzoekingen"},
    "check.spf.void": {"en": "{n} void", "nl": "{n} leeg"},
    "check.spf.over": {"en": "Over the limit: receivers return permerror and SPF fails.",
                       "nl": "Boven de limiet: ontvangers geven permerror en SPF faalt."},
    "check.share": {"en": "Link to this result", "nl": "Link naar dit resultaat"},
    "check.share.help": {"en": "Anyone with this link sees this result (kept for 30 days).",
                         "nl": "Iedereen met deze link ziet dit resultaat (30 dagen bewaard)."},
    "check.live": {"en": "Link to this check", "nl": "Link naar deze controle"},
    "check.live.help": {"en": "opens a fresh check of the published records.",
                        "nl": "opent een nieuwe controle van de gepubliceerde records."},
    "check.save": {"en": "Keep this result and give me a link", "nl": "Bewaar dit resultaat en geef mij een link"},
    "check.checked_at": {"en": "Checked {when}", "nl": "Gecontroleerd {when}"},
    "check.again": {"en": "Check again", "nl": "Opnieuw controleren"},
    "check.json": {"en": "As JSON", "nl": "Als JSON"},
    "check.bulk": {"en": "Bulk check", "nl": "Bulkcontrole"},
    "check.bulk.intro": {"en": "Upload a list of domains (one per line, or a CSV whose first column is the domain; at most {max}).",
                         "nl": "Upload een lijst met domeinen (één per regel, of een CSV met het domein in de eerste kolom; maximaal {max})."},
    "check.bulk.file": {"en": "List of domains", "nl": "Lijst met domeinen"},
    "check.bulk.submit": {"en": "Start bulk check", "nl": "Bulkcontrole starten"},
    "check.bulk.progress": {"en": "{done} of {total} domains checked", "nl": "{done} van {total} domeinen gecontroleerd"},
    "check.bulk.done": {"en": "Done.", "nl": "Klaar."},
    "check.bulk.running": {"en": "Checking… this page updates by itself.",
                           "nl": "Bezig met controleren… deze pagina werkt zichzelf bij."},
    "check.bulk.truncated": {"en": "Only the first {max} domains were checked.",
                             "nl": "Alleen de eerste {max} domeinen zijn gecontroleerd."},
    "check.bulk.empty": {"en": "The list holds no domains.", "nl": "De lijst bevat geen domeinen."},
    "check.bulk.busy": {"en": "Too many bulk checks are running; try again in a minute.",
                        "nl": "Er lopen te veel bulkcontroles; probeer het over een minuut opnieuw."},
    "check.bulk.download": {"en": "Download results (JSON lines)", "nl": "Resultaten downloaden (JSON-regels)"},
    "check.protected": {"en": "Protected", "nl": "Beschermd"},
    "check.error.domain": {"en": "Enter a domain name, such as example.nl.", "nl": "Vul een domeinnaam in, zoals voorbeeld.nl."},
    "check.error.draft": {"en": "The draft records could not be read: {reason}", "nl": "De conceptrecords konden niet worden gelezen: {reason}"},
    "check.error.selector": {"en": "A selector is one or more DNS labels, such as s2026 or selector1.",
                             "nl": "Een selector bestaat uit een of meer DNS-labels, zoals s2026 of selector1."},
    "severity.error": {"en": "Error", "nl": "Fout"},
    "severity.warning": {"en": "Warning", "nl": "Waarschuwing"},
    "severity.info": {"en": "Information", "nl": "Informatie"},
    # header analyzer
    "explain.title": {"en": "Header analyzer", "nl": "Headers analyseren"},
    "explain.intro": {"en": "Paste the headers (or the whole message) of an email you received, or upload the .eml file. zegel reads what your mail server concluded about the sender.",
                      "nl": "Plak de headers (of het hele bericht) van een ontvangen e-mail, of upload het .eml-bestand. zegel leest wat uw mailserver over de afzender concludeerde."},
    "explain.paste": {"en": "Headers or message", "nl": "Headers of bericht"},
    "explain.file": {"en": "Or upload an .eml file", "nl": "Of upload een .eml-bestand"},
    "explain.trust": {"en": "Your mail server's name (optional)", "nl": "Naam van uw mailserver (optioneel)"},
    "explain.trust.help": {"en": "The authserv-id in Authentication-Results; by default the topmost one is trusted.",
                           "nl": "De authserv-id in Authentication-Results; standaard wordt de bovenste vertrouwd."},
    "explain.save": {"en": "Keep the result and give me a link to share it", "nl": "Bewaar het resultaat en geef mij een link om te delen"},
    "explain.save.help": {"en": "Without this, nothing is stored.", "nl": "Zonder dit wordt niets bewaard."},
    "explain.submit": {"en": "Analyze", "nl": "Analyseren"},
    "explain.limit": {"en": "At most {size}.", "nl": "Maximaal {size}."},
    "explain.verdict": {"en": "Verdict", "nl": "Oordeel"},
    "explain.authenticated.true": {"en": "Authenticated: the sender {domain} is genuine, according to {server}.",
                                   "nl": "Geauthenticeerd: de afzender {domain} is echt, volgens {server}."},
    "explain.authenticated.false": {"en": "Not authenticated: nothing proves this mail comes from {domain}.",
                                    "nl": "Niet geauthenticeerd: niets bewijst dat deze mail van {domain} komt."},
    "explain.authenticated.none": {"en": "Unknown: the headers hold no result from a trusted server.",
                                   "nl": "Onbekend: de headers bevatten geen resultaat van een vertrouwde server."},
    "explain.from": {"en": "From domain", "nl": "Afzenderdomein"},
    "explain.from.none": {"en": "none: the From field names no usable sender domain",
                          "nl": "geen: het From-veld noemt geen bruikbaar afzenderdomein"},
    "explain.reasons": {"en": "Why", "nl": "Waarom"},
    "explain.hops": {"en": "Servers on the way (oldest first)", "nl": "Servers onderweg (oudste eerst)"},
    "explain.hops.none": {"en": "No Authentication-Results headers found.", "nl": "Geen Authentication-Results-headers gevonden."},
    "explain.hop.trusted": {"en": "trusted", "nl": "vertrouwd"},
    "explain.hop.untrusted": {"en": "not trusted (could be written by the sender)", "nl": "niet vertrouwd (kan door de afzender geschreven zijn)"},
    "explain.lookalike": {"en": "Look-alike domain", "nl": "Lijkt-op-domein"},
    "explain.lookalike.none": {"en": "The From domain does not imitate a well-known domain.",
                               "nl": "Het afzenderdomein imiteert geen bekend domein."},
    "explain.lookalike.found": {"en": "Imitates {imitates}: {reason}", "nl": "Imiteert {imitates}: {reason}"},
    "explain.samples": {"en": "Try a sample message", "nl": "Probeer een voorbeeldbericht"},
    "explain.error.empty": {"en": "Paste headers or choose a file.", "nl": "Plak headers of kies een bestand."},
    "explain.saved": {"en": "Saved. Anyone with this link sees this result:", "nl": "Bewaard. Iedereen met deze link ziet dit resultaat:"},
    "explain.method": {"en": "Method", "nl": "Methode"},
    "explain.result": {"en": "Result", "nl": "Uitkomst"},
    "explain.server": {"en": "Server", "nl": "Server"},
    "explain.details": {"en": "Details", "nl": "Details"},
    # mail tester
    "tester.title": {"en": "Mail tester", "nl": "Mailtester"},
    "tester.intro": {"en": "Get a unique address, send a mail to it from the mail system you want to test, and see how a receiving server judges it: SPF, DKIM, DMARC and ARC.",
                     "nl": "Vraag een uniek adres aan, stuur er een mail naartoe vanaf het mailsysteem dat u wilt testen, en zie hoe een ontvangende server die beoordeelt: SPF, DKIM, DMARC en ARC."},
    "tester.start": {"en": "Give me a test address", "nl": "Geef mij een testadres"},
    "tester.off": {"en": "The mail tester is not enabled on this server.", "nl": "De mailtester staat niet aan op deze server."},
    "tester.send": {"en": "Send a message to:", "nl": "Stuur een bericht naar:"},
    "tester.waiting": {"en": "Waiting for your message… this page updates by itself.",
                       "nl": "Wachten op uw bericht… deze pagina werkt zichzelf bij."},
    "tester.expires": {"en": "This address and its result expire at {when}.", "nl": "Dit adres en het resultaat verlopen om {when}."},
    "tester.received": {"en": "Received from {ip} (HELO {helo}, MAIL FROM {mail_from}).",
                        "nl": "Ontvangen van {ip} (HELO {helo}, MAIL FROM {mail_from})."},
    "tester.report": {"en": "Report", "nl": "Rapport"},
    "tester.action": {"en": "What a receiving server would do", "nl": "Wat een ontvangende server zou doen"},
    "tester.authres": {"en": "Authentication-Results", "nl": "Authentication-Results"},
    "tester.reload": {"en": "Check for the result", "nl": "Kijk of het resultaat er is"},
    "tester.fix": {"en": "What to fix for {domain}", "nl": "Wat er te verbeteren is voor {domain}"},
    "tester.fullcheck": {"en": "Full domain check of {domain}", "nl": "Volledige domeincheck van {domain}"},
    "tester.records": {"en": "DNS records involved", "nl": "Betrokken DNS-records"},
    "action.accept": {"en": "Deliver", "nl": "Afleveren"},
    "action.add_header": {"en": "Deliver, with a warning header", "nl": "Afleveren, met een waarschuwingsheader"},
    "action.tag_subject": {"en": "Deliver, with a tag in the subject", "nl": "Afleveren, met een markering in het onderwerp"},
    "action.quarantine": {"en": "Spam folder (quarantine)", "nl": "Spammap (quarantaine)"},
    "action.reject": {"en": "Reject", "nl": "Weigeren"},
    "action.tempfail": {"en": "Try again later", "nl": "Later opnieuw proberen"},
    # tools
    "tools.title": {"en": "Tools", "nl": "Hulpmiddelen"},
    "tools.dkim": {"en": "DKIM key generator", "nl": "DKIM-sleutelgenerator"},
    "tools.dkim.intro": {"en": "Creates a signing key pair. Publish the record in DNS; install the private key on your mail server. The key is not stored here.",
                         "nl": "Maakt een sleutelpaar om te ondertekenen. Publiceer het record in DNS; installeer de privésleutel op uw mailserver. De sleutel wordt hier niet bewaard."},
    "tools.dkim.type": {"en": "Key type", "nl": "Sleuteltype"},
    "tools.dkim.rsa": {"en": "RSA 2048 (verified everywhere)", "nl": "RSA 2048 (overal geverifieerd)"},
    "tools.dkim.rsa4096": {"en": "RSA 4096 (record longer than 255 characters)", "nl": "RSA 4096 (record langer dan 255 tekens)"},
    "tools.dkim.ed25519": {"en": "Ed25519 (small; not verified by all receivers, sign with RSA too)",
                           "nl": "Ed25519 (klein; niet door alle ontvangers geverifieerd, onderteken ook met RSA)"},
    "tools.dkim.selector": {"en": "Selector", "nl": "Selector"},
    "tools.dkim.generate": {"en": "Generate key", "nl": "Sleutel maken"},
    "tools.dkim.record": {"en": "DNS record to publish", "nl": "DNS-record om te publiceren"},
    "tools.dkim.name": {"en": "Name", "nl": "Naam"},
    "tools.dkim.value": {"en": "Value (type TXT)", "nl": "Waarde (type TXT)"},
    "tools.dkim.zone": {"en": "As a zone-file line", "nl": "Als zonebestandregel"},
    "tools.dkim.private": {"en": "Private key (keep it secret)", "nl": "Privésleutel (houd hem geheim)"},
    "tools.dkim.download": {"en": "Download the private key", "nl": "Privésleutel downloaden"},
    "tools.spf": {"en": "SPF record builder", "nl": "SPF-recordbouwer"},
    "tools.spf.intro": {"en": "Pick the services that send mail for your domain. The record is checked against the limit of 10 DNS lookups a receiver allows.",
                        "nl": "Kies de diensten die mail voor uw domein versturen. Het record wordt getoetst aan de limiet van 10 DNS-opzoekingen die een ontvanger toestaat."},
    "tools.spf.providers": {"en": "Services that send your mail", "nl": "Diensten die uw mail versturen"},
    "tools.spf.own": {"en": "Your own servers' addresses (IPv4/IPv6, optional)", "nl": "Adressen van uw eigen servers (IPv4/IPv6, optioneel)"},
    "tools.spf.mx": {"en": "The domain's MX servers send mail too", "nl": "De MX-servers van het domein versturen ook mail"},
    "tools.spf.include": {"en": "Other includes (optional)", "nl": "Andere includes (optioneel)"},
    "tools.spf.all": {"en": "Mail from elsewhere", "nl": "Mail van elders"},
    "tools.spf.all.fail": {"en": "-all: fail (recommended once DMARC reports show all your senders)",
                           "nl": "-all: fail (aanbevolen zodra DMARC-rapporten al uw afzenders tonen)"},
    "tools.spf.all.softfail": {"en": "~all: softfail (while you are still finding senders)",
                               "nl": "~all: softfail (zolang u nog afzenders zoekt)"},
    "tools.spf.build": {"en": "Build record", "nl": "Record opstellen"},
    "tools.spf.result": {"en": "Your SPF record", "nl": "Uw SPF-record"},
    "tools.spf.within": {"en": "Within the limit.", "nl": "Binnen de limiet."},
    "tools.spf.over": {"en": "Over the limit of 10 lookups: remove a service, or replace an include by the provider's IP ranges.",
                       "nl": "Boven de limiet van 10 opzoekingen: laat een dienst weg, of vervang een include door de IP-bereiken van de aanbieder."},
    "tools.spf.unresolved": {"en": "Counted from DNS where it answers; a service whose record could not be read counts as {n}.",
                             "nl": "Geteld uit DNS waar die antwoordt; een dienst waarvan het record niet gelezen kon worden telt als {n}."},
    "tools.dmarc": {"en": "DMARC record builder", "nl": "DMARC-recordbouwer"},
    "tools.dmarc.intro": {"en": "DMARC tells receivers what to do with mail that fakes your domain, and where to send reports. Roll it out in stages:",
                          "nl": "DMARC vertelt ontvangers wat ze moeten doen met mail die uw domein vervalst, en waar ze rapporten heen sturen. Voer het in stappen in:"},
    "tools.dmarc.stage.none": {"en": "p=none — monitor: nothing is blocked; reports show who sends mail in your name. Fix SPF and DKIM for every real sender you find. Keep this for a few weeks.",
                               "nl": "p=none — meekijken: er wordt niets tegengehouden; rapporten tonen wie mail in uw naam verstuurt. Herstel SPF en DKIM voor elke echte afzender die u vindt. Houd dit enkele weken aan."},
    "tools.dmarc.stage.quarantine": {"en": "p=quarantine — failing mail goes to the spam folder. Watch the reports for genuine mail that still fails.",
                                     "nl": "p=quarantine — mail die faalt gaat naar de spammap. Houd de rapporten in de gaten voor echte mail die nog faalt."},
    "tools.dmarc.stage.reject": {"en": "p=reject — failing mail is refused. Your domain is now protected against spoofing.",
                                 "nl": "p=reject — mail die faalt wordt geweigerd. Uw domein is nu beschermd tegen vervalsing."},
    "tools.dmarc.policy": {"en": "Policy", "nl": "Beleid"},
    "tools.dmarc.rua": {"en": "Send aggregate reports to (e-mail address)", "nl": "Stuur verzamelrapporten naar (e-mailadres)"},
    "tools.dmarc.sp": {"en": "Policy for subdomains", "nl": "Beleid voor subdomeinen"},
    "tools.dmarc.sp.same": {"en": "the same", "nl": "hetzelfde"},
    "tools.dmarc.strict": {"en": "Strict alignment (the exact domain, not a subdomain)", "nl": "Strikte afstemming (precies het domein, geen subdomein)"},
    "tools.dmarc.testing": {"en": "Testing mode (t=y): receivers apply one step less", "nl": "Testmodus (t=y): ontvangers passen één stap minder toe"},
    "tools.dmarc.build": {"en": "Build record", "nl": "Record opstellen"},
    "tools.dmarc.result": {"en": "Your DMARC record", "nl": "Uw DMARC-record"},
    "tools.dmarc.next": {"en": "Next step", "nl": "Volgende stap"},
    "tools.dmarc.warnings": {"en": "Notes", "nl": "Opmerkingen"},
    "tools.dmarc.external": {"en": "Reports go to another domain: {rua_domain} must publish this record to accept reports for {domain} (RFC 9990), or receivers send none.",
                             "nl": "De rapporten gaan naar een ander domein: {rua_domain} moet dit record publiceren om rapporten voor {domain} te accepteren (RFC 9990), anders sturen ontvangers er geen."},
    "tools.dmarc.norua": {"en": "Without a report address you receive no reports, and at p=none the reports are the point: add rua.",
                          "nl": "Zonder rapportadres krijgt u geen rapporten, en bij p=none draait het juist om die rapporten: vul rua in."},
    "tools.error.domain": {"en": "Enter a valid domain name.", "nl": "Vul een geldige domeinnaam in."},
    "tools.error.address": {"en": "Enter a valid e-mail address, or leave it empty.", "nl": "Vul een geldig e-mailadres in, of laat het leeg."},
    "tools.error.ip": {"en": "Not an IP address or network: {value}", "nl": "Geen IP-adres of netwerk: {value}"},
    "tools.error.include": {"en": "Not a domain name: {value}", "nl": "Geen domeinnaam: {value}"},
    "common.name": {"en": "Name", "nl": "Naam"},
    "common.copy": {"en": "Copy", "nl": "Kopiëren"},
    "common.copied": {"en": "Copied", "nl": "Gekopieerd"},
    "api.title": {"en": "JSON API", "nl": "JSON-API"},
    "api.intro": {"en": "The same JSON as the zegel command line. The OpenAPI document describes every endpoint.",
                  "nl": "Dezelfde JSON als de zegel-opdrachtregel. Het OpenAPI-document beschrijft elk eindpunt."},
}

__all__ = ["LANGUAGES", "MESSAGES", "Catalog", "Lang", "choose_lang", "from_accept_language"]
