"""Every finding code zegel check can report, with its severity and its texts in English and
Dutch. Codes are stable: scripts match on them. docs/check.md lists them all (a test keeps the
two in step).

Templates use ``str.format`` placeholders; the audit modules pass the values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from zegel.audit.catalog_transport import SPECS as TRANSPORT_SPECS


@dataclass(frozen=True, slots=True)
class FindingSpec:
    severity: str
    message: Mapping[str, str]
    fix: Mapping[str, str]


def _spec(severity: str, en: tuple[str, str], nl: tuple[str, str]) -> FindingSpec:
    return FindingSpec(
        severity,
        MappingProxyType({"en": en[0], "nl": nl[0]}),
        MappingProxyType({"en": en[1], "nl": nl[1]}),
    )


_NOTHING = ("Nothing to do.", "Niets te doen.")

_CATALOG: dict[str, FindingSpec] = {
    # -- the domain itself ---------------------------------------------------------------------
    "domain.invalid": _spec(
        "error",
        ("'{domain}' is not a valid domain name: {reason}.",
         "Check the spelling: a domain name is labels of letters, digits and hyphens separated by dots, such as example.nl."),
        ("'{domain}' is geen geldige domeinnaam: {reason}.",
         "Controleer de spelling: een domeinnaam bestaat uit delen van letters, cijfers en koppeltekens, gescheiden door punten, zoals voorbeeld.nl."),
    ),
    "domain.idna": _spec(
        "info",
        ("Internationalised domain name: checked as {ascii} (IDNA 2008).",
         "Nothing to do; publish the records under the {ascii} form, which is what DNS uses."),
        ("Geïnternationaliseerde domeinnaam: gecontroleerd als {ascii} (IDNA 2008).",
         "Niets te doen; publiceer de records onder de vorm {ascii}, die DNS gebruikt."),
    ),
    "domain.not-found": _spec(
        "error",
        ("{domain} does not exist in DNS (NXDOMAIN).",
         "Check the spelling, or make sure the domain is registered and delegated to working name servers."),
        ("{domain} bestaat niet in DNS (NXDOMAIN).",
         "Controleer de spelling, of zorg dat het domein geregistreerd is en naar werkende nameservers wijst."),
    ),
    "domain.dns-error": _spec(
        "error",
        ("DNS did not answer for {domain}: {reason}. Nothing could be checked.",
         "Check that the domain's name servers are reachable and answer for this zone, then run the check again."),
        ("DNS gaf geen antwoord voor {domain}: {reason}. Er kon niets gecontroleerd worden.",
         "Controleer of de nameservers van het domein bereikbaar zijn en voor deze zone antwoorden, en controleer daarna opnieuw."),
    ),
    "domain.timeout": _spec(
        "error",
        ("The check of {domain} did not finish within {seconds} seconds; its DNS answers too slowly.",
         "Check the domain's name servers (slow or unreachable servers also delay real mail), then try again."),
        ("De controle van {domain} was niet binnen {seconds} seconden klaar; de DNS antwoordt te traag.",
         "Controleer de nameservers van het domein (trage of onbereikbare servers vertragen ook echte mail) en probeer het opnieuw."),
    ),
    "domain.check-failed": _spec(
        "error",
        ("The check of {domain} failed unexpectedly: {reason}.",
         "This is a bug in zegel: please report it with the domain name; the other domains were checked normally."),
        ("De controle van {domain} mislukte onverwacht: {reason}.",
         "Dit is een fout in zegel: meld die met de domeinnaam; de andere domeinen zijn gewoon gecontroleerd."),
    ),
    # -- a domain that sends and receives no mail ----------------------------------------------
    "nomail.ok": _spec(
        "info",
        ("{domain} is set up correctly as a domain that sends and receives no mail: null MX, 'v=spf1 -all' and DMARC p=reject.",
         "Nothing to do."),
        ("{domain} is correct ingericht als domein dat geen mail verstuurt of ontvangt: null MX, 'v=spf1 -all' en DMARC p=reject.",
         "Niets te doen."),
    ),
    "nomail.spf": _spec(
        "warning",
        ("{domain} looks like a domain without mail ({signal}), but its SPF record is not 'v=spf1 -all'.",
         "If the domain sends no mail, publish exactly one TXT record at {domain}: v=spf1 -all"),
        ("{domain} lijkt een domein zonder mail ({signal}), maar het SPF-record is niet 'v=spf1 -all'.",
         "Als het domein geen mail verstuurt, publiceer dan precies één TXT-record op {domain}: v=spf1 -all"),
    ),
    "nomail.dmarc": _spec(
        "warning",
        ("{domain} looks like a domain without mail ({signal}), but its DMARC policy is not p=reject, so mail faking it is still delivered.",
         "Publish a TXT record at _dmarc.{domain}: v=DMARC1; p=reject;"),
        ("{domain} lijkt een domein zonder mail ({signal}), maar het DMARC-beleid is niet p=reject, dus mail die het domein vervalst wordt nog afgeleverd.",
         "Publiceer een TXT-record op _dmarc.{domain}: v=DMARC1; p=reject;"),
    ),
    "nomail.null-mx": _spec(
        "info",
        ("The SPF record says {domain} sends no mail, and it has no MX record; a null MX would also tell senders it receives none.",
         "If the domain receives no mail either, publish the null MX (RFC 7505): {domain}. MX 0 ."),
        ("Het SPF-record zegt dat {domain} geen mail verstuurt, en er is geen MX-record; een null MX vertelt afzenders dat het ook geen mail ontvangt.",
         "Als het domein ook geen mail ontvangt, publiceer dan de null MX (RFC 7505): {domain}. MX 0 ."),
    ),
    # -- SPF -------------------------------------------------------------------------------------
    "spf.none": _spec(
        "error",
        ("{domain} has no SPF record, so receivers cannot tell which servers may send its mail.",
         "Publish one TXT record at {domain} listing your senders, e.g. 'v=spf1 include:<your mail provider> -all'; if the domain sends no mail, publish 'v=spf1 -all'."),
        ("{domain} heeft geen SPF-record, dus ontvangers kunnen niet zien welke servers mail voor het domein mogen versturen.",
         "Publiceer één TXT-record op {domain} met uw verzenders, bijv. 'v=spf1 include:<uw mailprovider> -all'; verstuurt het domein geen mail, publiceer dan 'v=spf1 -all'."),
    ),
    "spf.dns-error": _spec(
        "error",
        ("The SPF lookup for {domain} failed: {reason}. Receivers get a temporary error and may defer mail.",
         "Check that the domain's name servers answer TXT queries."),
        ("Het opvragen van SPF voor {domain} mislukte: {reason}. Ontvangers krijgen een tijdelijke fout en kunnen mail uitstellen.",
         "Controleer of de nameservers van het domein TXT-vragen beantwoorden."),
    ),
    "spf.multiple-records": _spec(
        "error",
        ("{domain} publishes {count} SPF records; receivers treat that as a permanent error (RFC 7208 4.5), so SPF fails for all its mail.",
         "Merge them into one TXT record: one 'v=spf1', every mechanism once, one 'all' at the end; delete the others."),
        ("{domain} publiceert {count} SPF-records; ontvangers zien dat als permanente fout (RFC 7208 4.5), dus SPF faalt voor al zijn mail.",
         "Voeg ze samen tot één TXT-record: één keer 'v=spf1', elk mechanisme één keer, één 'all' aan het eind; verwijder de andere."),
    ),
    "spf.merged-too-many-lookups": _spec(
        "error",
        ("Merged into one, the SPF records of {domain} would need {count} DNS lookups, more than the 10 receivers allow (RFC 7208 4.6.4). Largest branches: {branches}.",
         "Before publishing the merged record, remove includes of services you no longer use or replace 'a' and 'mx' by ip4:/ip6: ranges, until the count is 10 or less."),
        ("Samengevoegd zouden de SPF-records van {domain} {count} DNS-lookups nodig hebben, meer dan de 10 die ontvangers toestaan (RFC 7208 4.6.4). Grootste takken: {branches}.",
         "Verwijder, voordat u het samengevoegde record publiceert, includes van diensten die u niet meer gebruikt, of vervang 'a' en 'mx' door ip4:/ip6:-reeksen, tot het aantal 10 of minder is."),
    ),
    "spf.syntax": _spec(
        "error",
        ("The SPF record of {domain} has a syntax error at character {position}: {reason} (near '{near}'). Receivers treat it as a permanent error.",
         "Correct the record; check the spelling of mechanisms (ip4:, ip6:, include:, a, mx, -all) and that terms are separated by single spaces."),
        ("Het SPF-record van {domain} heeft een syntaxfout bij teken {position}: {reason} (bij '{near}'). Ontvangers zien dat als permanente fout.",
         "Verbeter het record; controleer de spelling van de mechanismen (ip4:, ip6:, include:, a, mx, -all) en dat termen door één spatie gescheiden zijn."),
    ),
    "spf.lookups": _spec(
        "info",
        ("SPF needs {count} of the 10 DNS lookups receivers allow ({void} without result).",
         "Nothing to do; keep the count at 10 or less when you add a sending service."),
        ("SPF heeft {count} van de 10 toegestane DNS-lookups nodig ({void} zonder resultaat).",
         "Niets te doen; houd het aantal op 10 of minder als u een verzenddienst toevoegt."),
    ),
    "spf.too-many-lookups": _spec(
        "error",
        ("SPF needs {count} DNS lookups; receivers stop at 10 and return a permanent error (RFC 7208 4.6.4). Largest branches: {branches}.",
         "Remove includes of services you no longer use, replace 'a' and 'mx' by ip4:/ip6: ranges, or ask a provider for a flatter include, until the count is 10 or less."),
        ("SPF heeft {count} DNS-lookups nodig; ontvangers stoppen bij 10 en geven een permanente fout (RFC 7208 4.6.4). Grootste takken: {branches}.",
         "Verwijder includes van diensten die u niet meer gebruikt, vervang 'a' en 'mx' door ip4:/ip6:-reeksen of vraag een provider om een plattere include, tot het aantal 10 of minder is."),
    ),
    "spf.too-many-void-lookups": _spec(
        "error",
        ("{count} lookups in the SPF tree find no record ({names}); receivers return a permanent error after 2 (RFC 7208 4.6.4).",
         "Remove or correct the mechanisms that point at names without records."),
        ("{count} lookups in de SPF-boom vinden geen record ({names}); ontvangers geven na 2 een permanente fout (RFC 7208 4.6.4).",
         "Verwijder of verbeter de mechanismen die naar namen zonder records wijzen."),
    ),
    "spf.include-no-record": _spec(
        "error",
        ("'{term}' in the SPF record of {source} points to {target}, which publishes no SPF record; receivers return a permanent error when they reach it (RFC 7208 5.2, 6.1).",
         "Correct the name (check your provider's documentation for the exact include) or remove '{term}'."),
        ("'{term}' in het SPF-record van {source} wijst naar {target}, dat geen SPF-record publiceert; ontvangers geven een permanente fout als ze daar komen (RFC 7208 5.2, 6.1).",
         "Verbeter de naam (zie de documentatie van uw provider voor de juiste include) of verwijder '{term}'."),
    ),
    "spf.include-invalid": _spec(
        "error",
        ("{target} (reached through '{term}') has an unusable SPF record: {reason}. Receivers return a permanent error when they reach it.",
         "If {target} is yours, fix its record; otherwise tell its owner, or remove '{term}'."),
        ("{target} (bereikt via '{term}') heeft een onbruikbaar SPF-record: {reason}. Ontvangers geven een permanente fout als ze daar komen.",
         "Is {target} van u, verbeter dan dat record; anders meld het de eigenaar, of verwijder '{term}'."),
    ),
    "spf.include-loop": _spec(
        "error",
        ("'{term}' in the SPF record of {source} leads back to {target}, which is already being evaluated: the SPF tree loops.",
         "Remove '{term}'; a domain must not include itself, directly or through others."),
        ("'{term}' in het SPF-record van {source} leidt terug naar {target}, dat al geëvalueerd wordt: de SPF-boom is een kringloop.",
         "Verwijder '{term}'; een domein mag zichzelf niet insluiten, direct of via andere domeinen."),
    ),
    "spf.include-dns-error": _spec(
        "warning",
        ("The SPF record of {target} (reached through '{term}') could not be fetched: {reason}. Receivers get a temporary error.",
         "Check the name servers of {target}; if the failure persists, remove '{term}'."),
        ("Het SPF-record van {target} (bereikt via '{term}') kon niet opgehaald worden: {reason}. Ontvangers krijgen een tijdelijke fout.",
         "Controleer de nameservers van {target}; blijft de fout, verwijder dan '{term}'."),
    ),
    "spf.pass-all": _spec(
        "error",
        ("The SPF record of {domain} ends in '{term}': every server on the internet passes SPF for {domain}.",
         "End the record with '-all' (or '~all' while you are still testing) after listing your own senders."),
        ("Het SPF-record van {domain} eindigt op '{term}': elke server op internet slaagt voor SPF namens {domain}.",
         "Sluit het record af met '-all' (of '~all' zolang u nog test), na uw eigen verzenders."),
    ),
    "spf.include-pass-all": _spec(
        "error",
        ("The SPF record of {domain} includes {target}, whose record ends in '{term}': every server on the internet passes SPF for {domain}.",
         "Remove the include of {target}, or ask its operator for a record that lists only their servers (and ends in '-all' or '~all')."),
        ("Het SPF-record van {domain} neemt {target} op, waarvan het record eindigt op '{term}': elke server op internet slaagt voor SPF namens {domain}.",
         "Verwijder de include van {target}, of vraag de beheerder om een record met alleen hun servers (eindigend op '-all' of '~all')."),
    ),
    "spf.neutral-all": _spec(
        "warning",
        ("The SPF record of {domain} ends in '{term}': it says nothing about other servers, so SPF does not help against forged mail.",
         "End the record with '-all' (or '~all')."),
        ("Het SPF-record van {domain} eindigt op '{term}': het zegt niets over andere servers, dus SPF helpt niet tegen vervalste mail.",
         "Sluit het record af met '-all' (of '~all')."),
    ),
    "spf.repeated-term": _spec(
        "warning",
        ("The SPF record of {source} lists {terms} more than once; only the first copy can match, and each copy of a DNS term costs one of the 10 lookups.",
         "Remove the repeated copies."),
        ("Het SPF-record van {source} noemt {terms} meer dan eens; alleen de eerste kan overeenkomen, en elke kopie van een DNS-term kost een van de 10 opzoekingen.",
         "Verwijder de herhaalde kopieën."),
    ),
    "spf.ptr": _spec(
        "warning",
        ("The SPF record of {source} uses '{term}'; ptr is slow and unreliable, SHOULD NOT be used (RFC 7208 5.5), and some receivers skip it.",
         "Replace '{term}' by the ip4:/ip6: ranges of your servers or your provider's include."),
        ("Het SPF-record van {source} gebruikt '{term}'; ptr is traag en onbetrouwbaar, hoort niet gebruikt te worden (RFC 7208 5.5) en sommige ontvangers slaan het over.",
         "Vervang '{term}' door de ip4:/ip6:-reeksen van uw servers of de include van uw provider."),
    ),
    "spf.no-all": _spec(
        "warning",
        ("The SPF record of {domain} has no 'all' and no redirect, so mail from servers it does not list gets 'neutral' (RFC 7208 4.7).",
         "Add '-all' (or '~all') at the end of the record."),
        ("Het SPF-record van {domain} heeft geen 'all' en geen redirect, dus mail van niet-genoemde servers krijgt 'neutral' (RFC 7208 4.7).",
         "Zet '-all' (of '~all') aan het eind van het record."),
    ),
    "spf.mechanism-as-modifier": _spec(
        "error",
        ("'{term}' in the SPF record of {domain} has '=' where ':' belongs: receivers read it as an unknown modifier and ignore it (RFC 7208 6), so it authorizes no server.",
         "Write '{meant}' instead."),
        ("'{term}' in het SPF-record van {domain} heeft '=' waar ':' hoort: ontvangers lezen het als onbekende modifier en negeren het (RFC 7208 6), dus het staat geen enkele server toe.",
         "Schrijf in plaats daarvan '{meant}'."),
    ),
    "spf.redirect-ignored": _spec(
        "info",
        ("The SPF record of {domain} has both an 'all' and '{term}'; the redirect is never used (RFC 7208 6.1).",
         "Remove one of the two: keep 'all' if you list your senders here, or only the redirect if another domain lists them."),
        ("Het SPF-record van {domain} heeft zowel 'all' als '{term}'; de redirect wordt nooit gebruikt (RFC 7208 6.1).",
         "Verwijder een van beide: houd 'all' als u uw verzenders hier noemt, of alleen de redirect als een ander domein ze noemt."),
    ),
    "spf.broad-range": _spec(
        "warning",
        ("'{term}' in the SPF record of {source} allows {count} addresses to send as {domain}.",
         "List only the addresses of your own mail servers (a /24 for IPv4 or a /48 for IPv6 is usually plenty)."),
        ("'{term}' in het SPF-record van {source} laat {count} adressen mail versturen als {domain}.",
         "Noem alleen de adressen van uw eigen mailservers (een /24 voor IPv4 of een /48 voor IPv6 is meestal ruim genoeg)."),
    ),
    "spf.huge-range": _spec(
        "error",
        ("'{term}' in the SPF record of {source} allows {count} addresses, a large part of the internet, to send as {domain}: almost '+all'.",
         "Replace '{term}' by the addresses of your own mail servers."),
        ("'{term}' in het SPF-record van {source} laat {count} adressen, een groot deel van internet, mail versturen als {domain}: bijna '+all'.",
         "Vervang '{term}' door de adressen van uw eigen mailservers."),
    ),
    "spf.record-truncated": _spec(
        "error",
        ("The SPF record of {domain} is one string of exactly 255 characters and looks cut off: a DNS text string holds at most 255 characters.",
         "Enter the record as several quoted strings of at most 255 characters, e.g. \"v=spf1 ... \" \"include:... -all\"; receivers join them without a space (RFC 7208 3.3)."),
        ("Het SPF-record van {domain} is één tekst van precies 255 tekens en lijkt afgekapt: een DNS-tekst bevat hoogstens 255 tekens.",
         "Voer het record in als meerdere tekstdelen tussen aanhalingstekens van hoogstens 255 tekens, bijv. \"v=spf1 ... \" \"include:... -all\"; ontvangers plakken ze zonder spatie aan elkaar (RFC 7208 3.3)."),
    ),
    "spf.split-without-space": _spec(
        "error",
        ("The SPF record of {domain} is split into strings that receivers join without a space (RFC 7208 3.3), which glues '{joined}' together.",
         "Put the space inside one of the strings, at the end of the first or the start of the next: \"... {left} \" \"{right} ...\"."),
        ("Het SPF-record van {domain} is gesplitst in tekstdelen die ontvangers zonder spatie samenvoegen (RFC 7208 3.3), waardoor '{joined}' aan elkaar vast komt.",
         "Zet de spatie binnen een van de delen, aan het eind van het eerste of het begin van het volgende: \"... {left} \" \"{right} ...\"."),
    ),
    "spf.mx-not-covered": _spec(
        "warning",
        ("Mail server {host} ({ip}) is an MX of {domain} and sends its mail, but SPF gives '{result}' for it.",
         "Add 'mx' or 'ip4:/ip6:{ip}' to the SPF record of {domain}."),
        ("Mailserver {host} ({ip}) is een MX van {domain} en verstuurt de mail, maar SPF geeft er '{result}' voor.",
         "Voeg 'mx' of 'ip4:/ip6:{ip}' toe aan het SPF-record van {domain}."),
    ),
    # -- DMARC -----------------------------------------------------------------------------------
    "dmarc.none": _spec(
        "error",
        ("{domain} has no DMARC record: receivers have no policy for mail that fakes {domain} in the From address.",
         "Publish a TXT record at _dmarc.{domain}: \"v=DMARC1; p=none; rua=mailto:dmarc@{domain}\", read the reports, then move to p=quarantine and p=reject."),
        ("{domain} heeft geen DMARC-record: ontvangers hebben geen beleid voor mail die {domain} in het From-adres vervalst.",
         "Publiceer een TXT-record op _dmarc.{domain}: \"v=DMARC1; p=none; rua=mailto:dmarc@{domain}\", lees de rapporten en ga daarna naar p=quarantine en p=reject."),
    ),
    "dmarc.dns-error": _spec(
        "error",
        ("The DMARC lookup for {domain} failed: {reason}. Receivers get a temporary error.",
         "Check that the domain's name servers answer TXT queries for _dmarc.{domain}."),
        ("Het opvragen van DMARC voor {domain} mislukte: {reason}. Ontvangers krijgen een tijdelijke fout.",
         "Controleer of de nameservers van het domein TXT-vragen voor _dmarc.{domain} beantwoorden."),
    ),
    "dmarc.inherited": _spec(
        "info",
        ("{domain} has no DMARC record of its own; the record of {policy_domain} applies to it.",
         "Nothing to do, unless this subdomain needs its own policy: then publish one at _dmarc.{domain}."),
        ("{domain} heeft geen eigen DMARC-record; het record van {policy_domain} geldt ervoor.",
         "Niets te doen, tenzij dit subdomein een eigen beleid nodig heeft: publiceer dan een record op _dmarc.{domain}."),
    ),
    "dmarc.wrong-place": _spec(
        "warning",
        ("{domain} itself publishes a DMARC record (a TXT record starting with v=DMARC1); receivers look for it only at _dmarc.{domain} and ignore this one.",
         "Move the record: publish it as a TXT record at _dmarc.{domain} and delete it from {domain}."),
        ("{domain} publiceert zelf een DMARC-record (een TXT-record dat met v=DMARC1 begint); ontvangers zoeken het alleen op _dmarc.{domain} en negeren dit record.",
         "Verplaats het record: publiceer het als TXT-record op _dmarc.{domain} en verwijder het van {domain}."),
    ),
    "dmarc.multiple-records": _spec(
        "error",
        ("_dmarc.{domain} publishes {count} DMARC records; receivers then apply no DMARC policy at all.",
         "Keep exactly one TXT record starting with v=DMARC1 at _dmarc.{domain}."),
        ("_dmarc.{domain} publiceert {count} DMARC-records; ontvangers passen dan helemaal geen DMARC-beleid toe.",
         "Houd precies één TXT-record dat met v=DMARC1 begint op _dmarc.{domain}."),
    ),
    "dmarc.syntax": _spec(
        "error",
        ("The DMARC record at {record_name} has an error: {reason}.",
         "Correct it: until then receivers ignore the record or apply only p=none. A minimal valid record is \"v=DMARC1; p=none; rua=mailto:dmarc@{domain}\"."),
        ("Het DMARC-record op {record_name} bevat een fout: {reason}.",
         "Verbeter het: tot dan negeren ontvangers het record of passen ze alleen p=none toe. Een minimaal geldig record is \"v=DMARC1; p=none; rua=mailto:dmarc@{domain}\"."),
    ),
    "dmarc.warning": _spec(
        "warning",
        ("DMARC record at {record_name}: {reason}.",
         "Correct the record so that every receiver reads it the same way."),
        ("DMARC-record op {record_name}: {reason}.",
         "Verbeter het record zodat elke ontvanger het op dezelfde manier leest."),
    ),
    "dmarc.tag-removed": _spec(
        "info",
        ("The DMARC record uses '{tag}', which RFC 9989 removed; current receivers ignore it, older (RFC 7489) receivers still read it.",
         "Remove '{tag}' when you next edit the record{extra}."),
        ("Het DMARC-record gebruikt '{tag}', dat RFC 9989 heeft geschrapt; huidige ontvangers negeren het, oudere (RFC 7489) ontvangers lezen het nog.",
         "Verwijder '{tag}' bij de volgende wijziging van het record{extra}."),
    ),
    "dmarc.tag-new": _spec(
        "info",
        ("The DMARC record uses '{tag}', new in RFC 9989; receivers that still follow RFC 7489 ignore it.",
         "Nothing to do; make sure the rest of the record says what you want for those receivers too."),
        ("Het DMARC-record gebruikt '{tag}', nieuw in RFC 9989; ontvangers die nog RFC 7489 volgen negeren het.",
         "Niets te doen; zorg dat de rest van het record ook voor die ontvangers zegt wat u wilt."),
    ),
    "dmarc.policy-none": _spec(
        "warning",
        ("DMARC policy p=none: monitoring only. Receivers deliver mail that fakes {domain} as if it were real.",
         "Read the aggregate (rua) reports until all your real senders pass SPF or DKIM with alignment, then publish p=quarantine, and some weeks later p=reject."),
        ("DMARC-beleid p=none: alleen monitoren. Ontvangers leveren mail die {domain} vervalst af alsof die echt is.",
         "Lees de (rua-)rapporten tot al uw echte verzenders slagen voor SPF of DKIM met alignment, publiceer dan p=quarantine en enkele weken later p=reject."),
    ),
    "dmarc.policy-quarantine": _spec(
        "info",
        ("DMARC policy p=quarantine: receivers put mail that fakes {domain} in the spam folder.",
         "When the reports show that only forged mail fails, move to p=reject so it is refused outright."),
        ("DMARC-beleid p=quarantine: ontvangers zetten mail die {domain} vervalst in de spammap.",
         "Als de rapporten laten zien dat alleen vervalste mail faalt, ga dan naar p=reject zodat die meteen geweigerd wordt."),
    ),
    "dmarc.policy-reject": _spec(
        "info",
        ("DMARC policy p=reject: receivers refuse mail that fakes {domain}.",
         "Nothing to do; keep reading the reports when you add a sending service."),
        ("DMARC-beleid p=reject: ontvangers weigeren mail die {domain} vervalst.",
         "Niets te doen; blijf de rapporten lezen als u een verzenddienst toevoegt."),
    ),
    "dmarc.testing": _spec(
        "warning",
        ("The DMARC record has t=y (testing): receivers apply one step less than p={policy}, namely {effective} (RFC 9989).",
         "Remove t=y (or set t=n) once the reports show your real mail passes."),
        ("Het DMARC-record heeft t=y (testen): ontvangers passen een stap minder toe dan p={policy}, namelijk {effective} (RFC 9989).",
         "Verwijder t=y (of zet t=n) zodra de rapporten laten zien dat uw echte mail slaagt."),
    ),
    "dmarc.no-rua": _spec(
        "warning",
        ("The DMARC record has no rua= address: nobody receives the aggregate reports that show who sends mail as {domain}.",
         "Add rua=mailto:dmarc-reports@{domain} (or the address of a report service)."),
        ("Het DMARC-record heeft geen rua=-adres: niemand ontvangt de rapporten die laten zien wie mail verstuurt als {domain}.",
         "Voeg rua=mailto:dmarc-reports@{domain} toe (of het adres van een rapportagedienst)."),
    ),
    "dmarc.pct": _spec(
        "warning",
        ("pct={pct}: receivers that follow RFC 7489 apply the policy to only {pct}% of failing mail; RFC 9989 removed pct, so newer receivers apply it to all.",
         "Remove pct (or set pct=100); to test a stricter policy, use t=y instead."),
        ("pct={pct}: ontvangers die RFC 7489 volgen passen het beleid toe op slechts {pct}% van de falende mail; RFC 9989 heeft pct geschrapt, nieuwere ontvangers passen het op alles toe.",
         "Verwijder pct (of zet pct=100); gebruik t=y om een strenger beleid te testen."),
    ),
    "dmarc.sp-weaker": _spec(
        "warning",
        ("sp={sp} is weaker than p={policy}: mail that fakes a subdomain of {domain} is treated more leniently than mail that fakes {domain} itself.",
         "Remove sp= (subdomains then get p={policy}) or set sp={policy}."),
        ("sp={sp} is zwakker dan p={policy}: mail die een subdomein van {domain} vervalst wordt milder behandeld dan mail die {domain} zelf vervalst.",
         "Verwijder sp= (subdomeinen krijgen dan p={policy}) of zet sp={policy}."),
    ),
    "dmarc.np-weaker": _spec(
        "warning",
        ("np={np} is weaker than p={policy}: mail from subdomains of {domain} that do not even exist is treated more leniently.",
         "Remove np= or set np=reject: a name that does not exist never sends real mail."),
        ("np={np} is zwakker dan p={policy}: mail van subdomeinen van {domain} die niet eens bestaan wordt milder behandeld.",
         "Verwijder np= of zet np=reject: een naam die niet bestaat verstuurt nooit echte mail."),
    ),
    "dmarc.report-unauthorized": _spec(
        "warning",
        ("{tag} address {uri} is in {target}, which has not agreed to receive reports for {domain}: receivers will not send them there.",
         "Ask the owner of {target} to publish the TXT record \"v=DMARC1\" at {domain}._report._dmarc.{target}, or use an address in {domain}."),
        ("{tag}-adres {uri} ligt in {target}, dat niet heeft ingestemd met rapporten voor {domain}: ontvangers sturen ze daar niet heen.",
         "Vraag de eigenaar van {target} het TXT-record \"v=DMARC1\" te publiceren op {domain}._report._dmarc.{target}, of gebruik een adres in {domain}."),
    ),
    "dmarc.report-check-failed": _spec(
        "info",
        ("Whether {target} accepts {tag} reports for {domain} could not be checked: {reason}.",
         "Run the check again later."),
        ("Of {target} {tag}-rapporten voor {domain} accepteert kon niet gecontroleerd worden: {reason}.",
         "Controleer later opnieuw."),
    ),
    "dmarc.invalid-uri": _spec(
        "warning",
        ("'{uri}' in {tag}= is not a valid report address; receivers skip it.",
         "Write report addresses as mailto: URIs, separated by commas, e.g. {tag}=mailto:dmarc@{domain}"),
        ("'{uri}' in {tag}= is geen geldig rapportadres; ontvangers slaan het over.",
         "Schrijf rapportadressen als mailto:-URI's, gescheiden door komma's, bijv. {tag}=mailto:dmarc@{domain}"),
    ),
    "dmarc.alignment": _spec(
        "info",
        ("Alignment: DKIM {adkim}, SPF {aspf}. Relaxed means the signing or envelope domain may be a subdomain of the From domain (mail.{domain} counts for {domain}); strict means it must be exactly {domain}.",
         "Nothing to do; relaxed suits almost everyone, use strict only if every sender signs or sends with exactly {domain}."),
        ("Alignment: DKIM {adkim}, SPF {aspf}. Relaxed betekent dat het ondertekenende of envelopdomein een subdomein van het From-domein mag zijn (mail.{domain} telt voor {domain}); strict betekent dat het precies {domain} moet zijn.",
         "Niets te doen; relaxed past bijna iedereen, gebruik strict alleen als elke verzender precies met {domain} ondertekent of verstuurt."),
    ),
    # -- DKIM ------------------------------------------------------------------------------------
    "dkim.none-found": _spec(
        "warning",
        ("No DKIM key found for {domain} under {count} widely used selector names; without DKIM, forwarded mail fails DMARC.",
         "Ask your mail provider for its DKIM selector, publish the key at SELECTOR._domainkey.{domain}, and check it with: zegel check {domain} --selector SELECTOR"),
        ("Geen DKIM-sleutel gevonden voor {domain} onder {count} veelgebruikte selectornamen; zonder DKIM faalt doorgestuurde mail voor DMARC.",
         "Vraag uw mailprovider om de DKIM-selector, publiceer de sleutel op SELECTOR._domainkey.{domain} en controleer met: zegel check {domain} --selector SELECTOR"),
    ),
    "dkim.selector-missing": _spec(
        "error",
        ("No DKIM key record at {name}: signatures with selector '{selector}' fail.",
         "Publish the public key your mail provider gives you as a TXT record at {name} (or a CNAME if the provider asks for one)."),
        ("Geen DKIM-sleutelrecord op {name}: handtekeningen met selector '{selector}' falen.",
         "Publiceer de publieke sleutel van uw mailprovider als TXT-record op {name} (of een CNAME als de provider daarom vraagt)."),
    ),
    "dkim.dns-error": _spec(
        "warning",
        ("The DKIM key at {name} could not be fetched: {reason}. Receivers get a temporary error.",
         "Check the name servers answering for {name}."),
        ("De DKIM-sleutel op {name} kon niet opgehaald worden: {reason}. Ontvangers krijgen een tijdelijke fout.",
         "Controleer de nameservers die voor {name} antwoorden."),
    ),
    "dkim.key": _spec(
        "info",
        ("DKIM key found at {name}: {key_type}{bits}.",
         "Nothing to do."),
        ("DKIM-sleutel gevonden op {name}: {key_type}{bits}.",
         "Niets te doen."),
    ),
    "dkim.syntax": _spec(
        "error",
        ("The DKIM key record at {name} is invalid: {reason}. Receivers cannot verify signatures with it.",
         "Publish the key record exactly as your mail provider gives it: \"v=DKIM1; k=rsa; p=<base64 key>\", with long keys split into strings of at most 255 characters."),
        ("Het DKIM-sleutelrecord op {name} is ongeldig: {reason}. Ontvangers kunnen er geen handtekeningen mee controleren.",
         "Publiceer het sleutelrecord precies zoals uw mailprovider het geeft: \"v=DKIM1; k=rsa; p=<base64-sleutel>\", lange sleutels gesplitst in delen van hoogstens 255 tekens."),
    ),
    "dkim.multiple-records": _spec(
        "warning",
        ("{name} publishes {count} TXT records; receivers may pick any of them, so verification is unpredictable.",
         "Keep exactly one key record at {name}; use a new selector name for a new key."),
        ("{name} publiceert {count} TXT-records; ontvangers kunnen er willekeurig één kiezen, dus controle is onvoorspelbaar.",
         "Houd precies één sleutelrecord op {name}; gebruik een nieuwe selectornaam voor een nieuwe sleutel."),
    ),
    "dkim.key-1024": _spec(
        "warning",
        ("The RSA key at {name} is 1024 bits: the minimum receivers accept (RFC 8301 3.2), and no longer considered strong.",
         "Generate a 2048-bit key, publish it under a new selector, switch signing to it, then remove the old record."),
        ("De RSA-sleutel op {name} is 1024 bits: het minimum dat ontvangers accepteren (RFC 8301 3.2), en niet meer sterk genoeg.",
         "Maak een sleutel van 2048 bits, publiceer die onder een nieuwe selector, onderteken daarmee en verwijder daarna het oude record."),
    ),
    "dkim.key-too-small": _spec(
        "error",
        ("The RSA key at {name} is only {bits} bits; receivers reject keys under 1024 bits (RFC 8301 3.2), so DKIM fails.",
         "Generate a 2048-bit key, publish it under a new selector and sign with it."),
        ("De RSA-sleutel op {name} is maar {bits} bits; ontvangers weigeren sleutels onder 1024 bits (RFC 8301 3.2), dus DKIM faalt.",
         "Maak een sleutel van 2048 bits, publiceer die onder een nieuwe selector en onderteken daarmee."),
    ),
    "dkim.revoked": _spec(
        "warning",
        ("The key at {name} is revoked (empty p=): signatures with selector '{selector}' fail.",
         "Fine if you stopped using this selector; otherwise publish the current public key there."),
        ("De sleutel op {name} is ingetrokken (lege p=): handtekeningen met selector '{selector}' falen.",
         "Prima als u deze selector niet meer gebruikt; anders publiceer daar de huidige publieke sleutel."),
    ),
    "dkim.testing": _spec(
        "warning",
        ("The key at {name} has t=y (testing): receivers may treat its signatures as unverified (RFC 6376 3.6.1).",
         "Remove the 't=y' flag once signing works."),
        ("De sleutel op {name} heeft t=y (testen): ontvangers kunnen de handtekeningen als ongecontroleerd behandelen (RFC 6376 3.6.1).",
         "Verwijder de vlag 't=y' zodra ondertekenen werkt."),
    ),
    "dkim.ed25519-only": _spec(
        "warning",
        ("Every DKIM key found for {domain} is Ed25519; many large receivers verify only RSA signatures, so for them the mail is unsigned.",
         "Sign every message twice: with the Ed25519 key and with an RSA key of 2048 bits under a second selector (RFC 8463 section 6)."),
        ("Alle gevonden DKIM-sleutels van {domain} zijn Ed25519; veel grote ontvangers controleren alleen RSA-handtekeningen, dus voor hen is de mail niet ondertekend.",
         "Onderteken elk bericht twee keer: met de Ed25519-sleutel en met een RSA-sleutel van 2048 bits onder een tweede selector (RFC 8463 sectie 6)."),
    ),
    # -- MX --------------------------------------------------------------------------------------
    "mx.none": _spec(
        "warning",
        ("{domain} has no MX record: senders fall back to its address record (RFC 5321 5.1), and replies and bounces may not arrive.",
         "Publish the MX records of your mail provider; if the domain receives no mail, publish the null MX: {domain}. MX 0 . (RFC 7505)"),
        ("{domain} heeft geen MX-record: afzenders vallen terug op het adresrecord (RFC 5321 5.1), en antwoorden en bounces komen mogelijk niet aan.",
         "Publiceer de MX-records van uw mailprovider; ontvangt het domein geen mail, publiceer dan de null MX: {domain}. MX 0 . (RFC 7505)"),
    ),
    "mx.dns-error": _spec(
        "error",
        ("The MX lookup for {domain} failed: {reason}; senders will retry and delay mail.",
         "Check that the domain's name servers answer MX queries."),
        ("Het opvragen van MX voor {domain} mislukte: {reason}; afzenders proberen het later opnieuw en mail loopt vertraging op.",
         "Controleer of de nameservers van het domein MX-vragen beantwoorden."),
    ),
    "mx.hosts": _spec(
        "info",
        ("Mail for {domain} goes to: {hosts}.",
         "Nothing to do."),
        ("Mail voor {domain} gaat naar: {hosts}.",
         "Niets te doen."),
    ),
    "mx.null": _spec(
        "info",
        ("{domain} publishes a null MX: it accepts no mail (RFC 7505).",
         "Nothing to do, if the domain is meant to receive no mail."),
        ("{domain} publiceert een null MX: het accepteert geen mail (RFC 7505).",
         "Niets te doen, als het domein geen mail hoort te ontvangen."),
    ),
    "mx.null-mixed": _spec(
        "error",
        ("{domain} publishes a null MX together with other MX records; RFC 7505 section 3 forbids that and senders may treat the domain as taking no mail.",
         "Either remove the null MX (the domain receives mail) or remove all other MX records (it does not)."),
        ("{domain} publiceert een null MX samen met andere MX-records; RFC 7505 sectie 3 verbiedt dat en afzenders kunnen denken dat het domein geen mail ontvangt.",
         "Verwijder de null MX (het domein ontvangt mail) of verwijder alle andere MX-records (het ontvangt geen mail)."),
    ),
    "mx.host-unresolvable": _spec(
        "error",
        ("MX host {host} of {domain} has no address (A/AAAA): {reason}. Mail sent to it cannot be delivered.",
         "Correct the MX record to your provider's exact mail server name, or publish an A/AAAA record for {host}."),
        ("MX-host {host} van {domain} heeft geen adres (A/AAAA): {reason}. Mail daarheen kan niet afgeleverd worden.",
         "Verbeter het MX-record naar de precieze mailservernaam van uw provider, of publiceer een A/AAAA-record voor {host}."),
    ),
    "mx.host-dns-error": _spec(
        "warning",
        ("The address of MX host {host} could not be looked up: {reason}.",
         "Check the name servers of {host}."),
        ("Het adres van MX-host {host} kon niet opgevraagd worden: {reason}.",
         "Controleer de nameservers van {host}."),
    ),
    "mx.host-is-ip": _spec(
        "error",
        ("The MX record of {domain} names '{host}', an IP address; an MX must name a host (RFC 5321 5.1), so senders look up a name that does not exist.",
         "Publish an A record such as mail.{domain} for that address and point the MX at mail.{domain}."),
        ("Het MX-record van {domain} noemt '{host}', een IP-adres; een MX hoort een hostnaam te noemen (RFC 5321 5.1), dus afzenders zoeken een naam die niet bestaat.",
         "Publiceer een A-record zoals mail.{domain} voor dat adres en laat de MX naar mail.{domain} wijzen."),
    ),
}

for _code, (_severity, _en, _nl) in TRANSPORT_SPECS.items():
    _CATALOG[_code] = _spec(_severity, _en, _nl)

CATALOG: Mapping[str, FindingSpec] = MappingProxyType(_CATALOG)

# Sentences of the reports themselves (headings, verdicts), not tied to one finding.
_PHRASES: dict[str, dict[str, str]] = {
    "verdict.reject": {
        "en": "Yes: receivers refuse mail that fakes {domain} in the From address (DMARC p=reject).",
        "nl": "Ja: ontvangers weigeren mail die {domain} in het From-adres vervalst (DMARC p=reject).",
    },
    "verdict.quarantine": {
        "en": "Mostly: receivers send mail that fakes {domain} to the spam folder (DMARC p=quarantine), but do not refuse it.",
        "nl": "Grotendeels: ontvangers zetten mail die {domain} vervalst in de spammap (DMARC p=quarantine), maar weigeren die niet.",
    },
    "verdict.none": {
        "en": "No: anyone can send mail that claims to come from {domain}; receivers have no DMARC policy to stop it.",
        "nl": "Nee: iedereen kan mail versturen die van {domain} lijkt te komen; ontvangers hebben geen DMARC-beleid om dat te stoppen.",
    },
    "verdict.monitor": {
        "en": "No: {domain} only monitors (DMARC p=none); receivers deliver mail that fakes it.",
        "nl": "Nee: {domain} monitort alleen (DMARC p=none); ontvangers leveren mail af die het domein vervalst.",
    },
    "verdict.weakened": {
        "en": "Not fully: the DMARC policy of {domain} is weakened ({why}), so some faked mail is still delivered.",
        "nl": "Niet helemaal: het DMARC-beleid van {domain} is afgezwakt ({why}), dus een deel van de vervalste mail wordt nog afgeleverd.",
    },
    "verdict.spf-open": {
        "en": "No: SPF for {domain} passes mail from any server, so mail that fakes {domain} passes DMARC despite its policy.",
        "nl": "Nee: SPF van {domain} laat mail van elke server slagen, dus mail die {domain} vervalst slaagt voor DMARC, ondanks het beleid.",
    },
    "verdict.unknown": {
        "en": "Unknown: {domain} could not be checked ({why}).",
        "nl": "Onbekend: {domain} kon niet gecontroleerd worden ({why}).",
    },
    "verdict.invalid": {
        "en": "Unknown: '{domain}' is not a valid domain name.",
        "nl": "Onbekend: '{domain}' is geen geldige domeinnaam.",
    },
    "heading.grade": {"en": "Grade", "nl": "Cijfer"},
    "heading.protected": {"en": "Protected against spoofing?", "nl": "Beschermd tegen vervalsing?"},
    "heading.fix": {"en": "Fix", "nl": "Oplossing"},
    "heading.spf-tree": {"en": "SPF lookup tree (DNS lookups per branch, at most 10 in total)",
                         "nl": "SPF-lookupboom (DNS-lookups per tak, hoogstens 10 in totaal)"},
    "heading.report": {"en": "Mail domain check", "nl": "Controle maildomein"},
    "heading.summary": {"en": "errors: {errors}, warnings: {warnings}, notes: {infos}",
                        "nl": "fouten: {errors}, waarschuwingen: {warnings}, opmerkingen: {infos}"},
    "nothing": {"en": "Nothing to do", "nl": "Niets te doen"},
    "heading.generated": {"en": "Generated by zegel check on {when}.",
                          "nl": "Gemaakt door zegel check op {when}."},
    "area.domain": {"en": "Domain", "nl": "Domein"},
    "area.nomail": {"en": "No-mail domain", "nl": "Domein zonder mail"},
    "area.spf": {"en": "SPF", "nl": "SPF"},
    "area.dmarc": {"en": "DMARC", "nl": "DMARC"},
    "area.dkim": {"en": "DKIM", "nl": "DKIM"},
    "area.mx": {"en": "MX", "nl": "MX"},
    "area.dnssec": {"en": "DNSSEC", "nl": "DNSSEC"},
    "area.dane": {"en": "DANE", "nl": "DANE"},
    "area.starttls": {"en": "STARTTLS", "nl": "STARTTLS"},
    "area.mta-sts": {"en": "MTA-STS", "nl": "MTA-STS"},
    "area.tlsrpt": {"en": "TLS-RPT", "nl": "TLS-RPT"},
    "area.bimi": {"en": "BIMI", "nl": "BIMI"},
    "heading.record": {"en": "Record to publish", "nl": "Te publiceren record"},
    "severity.error": {"en": "error", "nl": "fout"},
    "severity.warning": {"en": "warning", "nl": "waarschuwing"},
    "severity.info": {"en": "info", "nl": "info"},
    "tree.lookups": {"en": "{count} lookups", "nl": "{count} lookups"},
    "tree.void": {"en": "{count} void", "nl": "{count} zonder resultaat"},
    "dmarc.pct-extra": {"en": " (to test a stricter policy, RFC 9989 uses t=y)",
                        "nl": " (om een strenger beleid te testen gebruikt RFC 9989 t=y)"},
    "alignment.strict": {"en": "strict (s)", "nl": "strict (s)"},
    "alignment.relaxed": {"en": "relaxed (r)", "nl": "relaxed (r)"},
    "yes": {"en": "yes", "nl": "ja"},
    "no": {"en": "no", "nl": "nee"},
}

PHRASES: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {key: MappingProxyType(value) for key, value in _PHRASES.items()}
)

__all__ = ["CATALOG", "PHRASES", "FindingSpec"]
