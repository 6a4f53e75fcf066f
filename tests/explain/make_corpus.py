"""Writes tests/explain/corpus/*.eml and expected.toml from the providers' header layouts (rerun after a change).

Each set follows the layout its provider publishes or shows in delivered mail (trace fields, where
the results sit, their syntax); addresses are documentation ranges and example domains.
"""
# ruff: noqa: E101 - the templates keep each provider's own folding (tabs and spaces)
from __future__ import annotations

import pathlib
import textwrap

OUT = pathlib.Path(__file__).parent / "corpus"
cases = []  # (name, expected verdict, provider, category, text, crlf)

def add(name, verdict, provider, category, text, crlf=True, body="Beste klant,\n\nZie de bijlage.\n"):
    text = textwrap.dedent(text).lstrip("\n")
    if body is not None:
        text = text.rstrip("\n") + "\n\n" + body
    data = text.replace("\n", "\r\n") if crlf else text
    (OUT / f"{name}.eml").write_bytes(data.encode("utf-8"))
    cases.append((name, verdict, provider, category))

DATE = "Tue, 03 Nov 2026 09:14:22 +0100"
def msg(frm, subject="Uw rekeningoverzicht", to="klant@ontvanger.example", extra=""):
    return f"""{extra}From: {frm}
To: {to}
Subject: {subject}
Date: {DATE}
Message-ID: <20261103081422.4711@{frm.rsplit('@',1)[1].rstrip('>')}>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8"""

def DKIM(d, s="sel1"):
    return f"""DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d={d}; s={s};
 t=1793693662; h=from:to:subject:date:message-id;
 bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;
 b=dzdVyOfAKCdLXdJOc9G2q8LoXSlEniSbav+yuU4zGeeruD00lszZVoG4ZHRNiYzR"""

# ---------------------------------------------------------------- Gmail / Google Workspace
def gmail_top(ip, helo, rdns, ar, spf_line, arc="", extra_received=""):
    return f"""Delivered-To: klant@gmail.com
Received: by 2002:a05:7300:5b8a:b0:15c:1d3e:2f40 with SMTP id x10csp3412876dyb;
        Tue, 3 Nov 2026 00:14:23 -0800 (PST)
X-Google-Smtp-Source: AGHT+IGm3v8dXzq0cJ1Yq0S0kVt2x8PZt7bA9S1xjv1Y4kQ3LkYfD0mT9Pq==
X-Received: by 2002:a17:906:4fd4:b0:a9a:1a2b:3c4d with SMTP id i20mr4417162ejw.12.1793693663; Tue, 03 Nov 2026 00:14:23 -0800 (PST)
{arc}Return-Path: <bounce@{spf_line[1]}>
Received: from {helo} ({rdns}. [{ip}])
        by mx.google.com with ESMTPS id a640c23a62f3a-a9a1f8b7c6dsi4421310a12.212.2026.11.03.00.14.22
        for <klant@gmail.com>
        (version=TLS1_3 cipher=TLS_AES_256_GCM_SHA384 bits=256/256);
        Tue, 03 Nov 2026 00:14:23 -0800 (PST)
Received-SPF: {spf_line[0]} (google.com: domain of bounce@{spf_line[1]} designates {ip} as permitted sender) client-ip={ip};
Authentication-Results: mx.google.com;
{ar}
{extra_received}"""

add("gmail-genuine", "genuine", "google", "genuine", gmail_top("192.0.2.10", "mail.ing.nl", "mail.ing.nl",
    """       dkim=pass header.i=@ing.nl header.s=sel1 header.b=dzdVyOfA;
       spf=pass (google.com: domain of bounce@ing.nl designates 192.0.2.10 as permitted sender) smtp.mailfrom=bounce@ing.nl;
       dmarc=pass (p=REJECT sp=REJECT dis=NONE) header.from=ing.nl""", ("pass", "ing.nl"))
    + DKIM("ing.nl") + "\n" + msg("ING <info@ing.nl>"))

add("gmail-spoofed", "suspicious", "google", "spoofed", gmail_top("203.0.113.66", "vps123.example", "vps123.example",
    """       spf=fail (google.com: domain of bounce@bol.com does not designate 203.0.113.66 as permitted sender) smtp.mailfrom=bounce@bol.com;
       dmarc=fail (p=QUARANTINE sp=QUARANTINE dis=QUARANTINE) header.from=bol.com""", ("fail", "bol.com"))
    + msg("bol.com <klantenservice@bol.com>", "Uw bestelling kon niet worden bezorgd"))

ARC_GMAIL = """ARC-Seal: i=2; a=rsa-sha256; t=1793693663; cv=pass; d=google.com; s=arc-20240605;
        b=Xb1c2d3e4f5g6h7i8j9k0l1m2n3o4p5q6r7s8t9u0v1w2x3y4z5A6B7C8D9E0F1G2H3
ARC-Message-Signature: i=2; a=rsa-sha256; c=relaxed/relaxed; d=google.com; s=arc-20240605;
        h=list-id:subject:to:from:date:message-id; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;
        b=Yc2d3e4f5g6h7i8j9k0l1m2n3o4p5q6r7s8t9u0v1w2x3y4z5A6B7C8D9E0F1G2H3I4
ARC-Authentication-Results: i=2; mx.google.com;
       dkim=fail header.i=@bakkerij-jansen.nl header.s=mail2026 header.b=Lw2keqE4;
       arc=pass (i=1 spf=pass spfdomain=bakkerij-jansen.nl dkim=pass dkdomain=bakkerij-jansen.nl dmarc=pass fromdomain=bakkerij-jansen.nl);
       spf=pass (google.com: domain of list-bounces@lists.example.org designates 198.51.100.25 as permitted sender) smtp.mailfrom=list-bounces@lists.example.org;
       dmarc=fail (p=QUARANTINE sp=QUARANTINE dis=NONE arc=pass) header.from=bakkerij-jansen.nl
"""
LIST_ARC_LOWER = """ARC-Seal: i=1; a=rsa-sha256; d=lists.example.org; s=arc; t=1793693662; cv=none;
 b=Zd3e4f5g6h7i8j9k0l1m2n3o4p5q6r7s8t9u0v1w2x3y4z5A6B7C8D9E0F1G2H3I4J5
ARC-Message-Signature: i=1; a=rsa-sha256; c=relaxed/relaxed; d=lists.example.org; s=arc;
 h=from:to:subject:date:message-id; bh=JycfwDgTPRkRmkbev7Ea5SiZC87Ll08Fk4o6RRVEqm8=;
 b=Ae4f5g6h7i8j9k0l1m2n3o4p5q6r7s8t9u0v1w2x3y4z5A6B7C8D9E0F1G2H3I4J5K6
ARC-Authentication-Results: i=1; lists.example.org; spf=pass smtp.mailfrom=bakkerij-jansen.nl;
 dkim=pass header.d=bakkerij-jansen.nl header.s=mail2026; dmarc=pass header.from=bakkerij-jansen.nl
Received: from mail.bakkerij-jansen.nl (mail.bakkerij-jansen.nl [192.0.2.20])
 by lists.example.org (Postfix) with ESMTPS id 4QX7b12Z3Kz9vLs
 for <bakkers@lists.example.org>; Tue, 03 Nov 2026 09:14:21 +0100 (CET)
"""
LIST_FIELDS = """List-Id: Bakkers in de buurt <bakkers.lists.example.org>
List-Unsubscribe: <mailto:bakkers-leave@lists.example.org>
"""
add("gmail-list-arc", "genuine", "google", "mailing_list_arc", gmail_top("198.51.100.25", "lists.example.org", "lists.example.org",
    """       dkim=fail header.i=@bakkerij-jansen.nl header.s=mail2026 header.b=Lw2keqE4;
       arc=pass (i=1 spf=pass spfdomain=bakkerij-jansen.nl dkim=pass dkdomain=bakkerij-jansen.nl dmarc=pass fromdomain=bakkerij-jansen.nl);
       spf=pass (google.com: domain of list-bounces@lists.example.org designates 198.51.100.25 as permitted sender) smtp.mailfrom=list-bounces@lists.example.org;
       dmarc=fail (p=QUARANTINE sp=QUARANTINE dis=NONE arc=pass) header.from=bakkerij-jansen.nl""", ("pass", "lists.example.org"),
    arc=ARC_GMAIL) + LIST_ARC_LOWER + DKIM("bakkerij-jansen.nl", "mail2026") + "\n" + LIST_FIELDS
    + msg("Bakkerij Jansen <info@bakkerij-jansen.nl>", "[bakkers] Nieuw recept"))

add("gmail-forwarded", "genuine", "google", "forwarded", gmail_top("198.51.100.77", "mx.doorstuur.example", "mx.doorstuur.example",
    """       dkim=pass header.i=@postnl.nl header.s=sel1 header.b=dzdVyOfA;
       spf=softfail (google.com: domain of transitioning bounce@postnl.nl does not designate 198.51.100.77 as permitted sender) smtp.mailfrom=bounce@postnl.nl;
       dmarc=pass (p=REJECT sp=REJECT dis=NONE) header.from=postnl.nl""", ("softfail", "postnl.nl"))
    + """Received: from mail.postnl.nl (mail.postnl.nl [192.0.2.30])
        by mx.doorstuur.example (Postfix) with ESMTPS id 4QX7b0Lk9Wz1;
        Tue, 03 Nov 2026 09:14:21 +0100 (CET)
""" + DKIM("postnl.nl") + "\n" + msg("PostNL <noreply@postnl.nl>", "Uw pakket komt vandaag", to="oud-adres@doorstuur.example"))

add("gmail-lookalike", "phishing", "google", "lookalike", gmail_top("203.0.113.80", "mail.ing-veilig.nl", "mail.ing-veilig.nl",
    """       dkim=pass header.i=@ing-veilig.nl header.s=s1 header.b=Qx1y2z3A;
       spf=pass (google.com: domain of bounce@ing-veilig.nl designates 203.0.113.80 as permitted sender) smtp.mailfrom=bounce@ing-veilig.nl;
       dmarc=pass (p=NONE sp=NONE dis=NONE) header.from=ing-veilig.nl""", ("pass", "ing-veilig.nl"))
    + DKIM("ing-veilig.nl", "s1") + "\n" + msg("ING Veiligheid <alert@ing-veilig.nl>", "Uw pas wordt geblokkeerd"))

add("gmail-forged-ar", "suspicious", "google", "forged", gmail_top("203.0.113.66", "vps123.example", "vps123.example",
    """       spf=fail (google.com: domain of bounce@belastingdienst.nl does not designate 203.0.113.66 as permitted sender) smtp.mailfrom=bounce@belastingdienst.nl;
       dmarc=fail (p=REJECT sp=REJECT dis=QUARANTINE) header.from=belastingdienst.nl""", ("fail", "belastingdienst.nl"))
    + """Received: from [10.0.0.5] (unknown [10.0.0.5]) by vps123.example (Postfix) with ESMTPSA id 1A2B3C;
        Tue, 03 Nov 2026 09:14:20 +0100 (CET)
Authentication-Results: mx.google.com; spf=pass smtp.mailfrom=belastingdienst.nl;
       dkim=pass header.i=@belastingdienst.nl; dmarc=pass (p=REJECT sp=REJECT dis=NONE) header.from=belastingdienst.nl
""" + msg("Belastingdienst <teruggave@belastingdienst.nl>", "Uw teruggave staat klaar"))

# Gmail "show original": the summary above the real header section, as copied from the page.
add("gmail-show-original", "genuine", "google", "genuine", """Original Message
Message ID\t<20261103081422.4711@ing.nl>
Created at:\tTue, Nov 3, 2026 at 9:14 AM (Delivered after 1 second)
From:\tING <info@ing.nl>
To:\tklant@gmail.com
Subject:\tUw rekeningoverzicht
SPF:\tPASS with IP 192.0.2.10 Learn more
DKIM:\t'PASS' with domain ing.nl Learn more
DMARC:\t'PASS' Learn more
Download Original\tCopy to clipboard\t

""" + gmail_top("192.0.2.10", "mail.ing.nl", "mail.ing.nl",
    """       dkim=pass header.i=@ing.nl header.s=sel1 header.b=dzdVyOfA;
       spf=pass (google.com: domain of bounce@ing.nl designates 192.0.2.10 as permitted sender) smtp.mailfrom=bounce@ing.nl;
       dmarc=pass (p=REJECT sp=REJECT dis=NONE) header.from=ing.nl""", ("pass", "ing.nl"))
    + DKIM("ing.nl") + "\n" + msg("ING <info@ing.nl>"), crlf=False)

# ---------------------------------------------------------------- Microsoft 365 / Outlook.com / Exchange Online
def m365(ip, helo, ar, to="klant@bedrijf.nl", fe="AM4PEPF00027A6C.eurprd04.prod.outlook.com", lower=""):
    return f"""Received: from DB9PR04MB8412.eurprd04.prod.outlook.com (2603:10a6:10:2c1::9) by
 PAXPR04MB8749.eurprd04.prod.outlook.com with HTTPS; Tue, 3 Nov 2026 08:14:25 +0000
Received: from {fe} (2603:10a6:20b:5a8:cafe::4d) by DB9PR04MB8412.outlook.office365.com
 (2603:10a6:10:2c1::9) with Microsoft SMTP Server (version=TLS1_3,
 cipher=TLS_AES_256_GCM_SHA384) id 15.20.8158.12 via Frontend Transport; Tue, 3 Nov 2026 08:14:24 +0000
Authentication-Results: {ar}
Received-SPF: {"Pass" if "spf=pass" in ar else "Fail"} (protection.outlook.com: domain of {ar.split("smtp.mailfrom=")[1].split(";")[0]}
 {"designates" if "spf=pass" in ar else "does not designate"} {ip} as permitted sender) receiver=protection.outlook.com;
 client-ip={ip}; helo={helo}; pr=C
Received: from {helo} ({ip}) by
 {fe.replace("eurprd04.prod.outlook.com","mail.protection.outlook.com")} (10.167.16.86) with Microsoft SMTP Server (version=TLS1_3,
 cipher=TLS_AES_256_GCM_SHA384) id 15.20.8158.12 via Frontend Transport; Tue, 3 Nov 2026 08:14:24 +0000
X-MS-Exchange-Organization-ExpirationStartTime: 03 Nov 2026 08:14:24.5129 (UTC)
X-MS-Exchange-Organization-Network-Message-Id: 5a1b2c3d-4e5f-6789-0abc-def012345678
X-MS-Exchange-Organization-AuthSource: AM4PEPF00027A6C.eurprd04.prod.outlook.com
X-MS-Exchange-Organization-AuthAs: Anonymous
X-Forefront-Antispam-Report: CIP:{ip};CTRY:NL;LANG:nl;SCL:1;SRV:;IPV:NLI;SFV:NSPM;H:{helo};PTR:{helo};CAT:NONE;SFS:;DIR:INB;
{lower}"""

add("m365-genuine", "genuine", "microsoft", "genuine", m365("192.0.2.40", "mail.rabobank.nl",
    """spf=pass (sender IP is 192.0.2.40)
 smtp.mailfrom=rabobank.nl; dkim=pass (signature was verified)
 header.d=rabobank.nl;dmarc=pass action=none header.from=rabobank.nl;compauth=pass
 reason=100""") + DKIM("rabobank.nl") + "\n" + msg("Rabobank <info@rabobank.nl>", to="klant@bedrijf.nl"))

add("m365-spoofed", "suspicious", "microsoft", "spoofed", m365("203.0.113.66", "vps123.example",
    """spf=fail (sender IP is 203.0.113.66)
 smtp.mailfrom=ing.nl; dkim=none (message not signed) header.d=none;dmarc=fail
 action=oreject header.from=ing.nl;compauth=fail reason=000""") + msg("ING <info@ing.nl>", to="klant@bedrijf.nl"))

add("m365-bestguesspass", "genuine", "microsoft", "genuine", m365("198.51.100.60", "smtp.bakkerij-jansen.nl",
    """spf=pass (sender IP is 198.51.100.60)
 smtp.mailfrom=bakkerij-jansen.nl; dkim=pass (signature was verified)
 header.d=bakkerij-jansen.nl;dmarc=bestguesspass action=none
 header.from=bakkerij-jansen.nl;compauth=pass reason=109""") + DKIM("bakkerij-jansen.nl", "mail2026") + "\n"
    + msg("Bakkerij Jansen <info@bakkerij-jansen.nl>", "Uw bestelling", to="inkoop@bedrijf.nl"))

add("m365-implicit-fail", "suspicious", "microsoft", "spoofed", m365("203.0.113.90", "mail.facturen-online.example",
    """spf=softfail (sender IP is 203.0.113.90)
 smtp.mailfrom=kleinbedrijf.example; dkim=none (message not signed)
 header.d=none;dmarc=none action=none header.from=kleinbedrijf.example;compauth=fail
 reason=001""") + msg("Kleinbedrijf <facturen@kleinbedrijf.example>", "Factuur 2026-118", to="inkoop@bedrijf.nl"))

add("outlookcom-list-arc", "genuine", "microsoft", "mailing_list_arc", m365("198.51.100.25", "lists.example.org",
    """spf=pass (sender IP is 198.51.100.25)
 smtp.mailfrom=lists.example.org; dkim=fail (body hash did not verify)
 header.d=bakkerij-jansen.nl;dmarc=fail action=none
 header.from=bakkerij-jansen.nl;compauth=pass reason=130""", to="klant@outlook.com",
    fe="AMS0EPF000001A9.eurprd05.prod.outlook.com",
    lower="""ARC-Authentication-Results: i=2; mx.microsoft.com 1; spf=pass (sender ip is
 198.51.100.25) smtp.rcpttodomain=outlook.com smtp.mailfrom=lists.example.org;
 dmarc=fail (p=quarantine sp=quarantine pct=100) action=none
 header.from=bakkerij-jansen.nl; dkim=fail (body hash did not verify)
 header.d=bakkerij-jansen.nl; arc=pass (0 oda=0 ltdi=1
 spf=[1,1,smtp.mailfrom=bakkerij-jansen.nl] dkim=[1,1,header.d=bakkerij-jansen.nl]
 dmarc=[1,1,header.from=bakkerij-jansen.nl])
""" + LIST_ARC_LOWER) + DKIM("bakkerij-jansen.nl", "mail2026") + "\n" + LIST_FIELDS
    + msg("Bakkerij Jansen <info@bakkerij-jansen.nl>", "[bakkers] Nieuw recept", to="klant@outlook.com"))

add("m365-forged-ar", "suspicious", "microsoft", "forged", m365("203.0.113.66", "vps123.example",
    """spf=fail (sender IP is 203.0.113.66)
 smtp.mailfrom=abnamro.nl; dkim=none (message not signed) header.d=none;dmarc=fail
 action=oreject header.from=abnamro.nl;compauth=fail reason=000""",
    lower="""Received: from [10.0.0.5] (unknown [10.0.0.5]) by vps123.example (Postfix) with ESMTPSA id 1A2B3C;
 Tue, 03 Nov 2026 09:14:20 +0100 (CET)
Authentication-Results: spf=pass (sender IP is 192.0.2.50) smtp.mailfrom=abnamro.nl; dkim=pass
 (signature was verified) header.d=abnamro.nl;dmarc=pass action=none header.from=abnamro.nl;compauth=pass reason=100
""") + msg("ABN AMRO <service@abnamro.nl>", to="klant@bedrijf.nl"))

# ---------------------------------------------------------------- Yahoo / AOL
def yahoo(ip, helo, ar, host="atlas216.free.mail.ne1.yahoo.com", to="klant@yahoo.com"):
    return f"""Received: from 10.217.151.75
 by {host} with HTTPS; Tue, 3 Nov 2026 08:14:25 +0000
Return-Path: <bounce@{helo.split('.',1)[1]}>
Received: from {ip} (EHLO {helo})
 by 10.217.151.75 with SMTPs
 (version=TLS1_3 cipher=TLS_AES_128_GCM_SHA256);
 Tue, 3 Nov 2026 08:14:24 +0000
X-Originating-Ip: [{ip}]
Received-SPF: {"pass" if "spf=pass" in ar else "fail"} (domain of {helo.split('.',1)[1]} designates {ip} as permitted sender)
Authentication-Results: {host};
{ar}
X-Apparently-To: {to}; Tue, 3 Nov 2026 08:14:25 +0000
"""
add("yahoo-genuine", "genuine", "yahoo", "genuine", yahoo("192.0.2.70", "mail.bol.com",
    """ dkim=pass header.i=@bol.com header.s=sel1;
 spf=pass smtp.mailfrom=bol.com;
 dmarc=pass(p=REJECT) header.from=bol.com;""") + DKIM("bol.com") + "\n" + msg("bol.com <klantenservice@bol.com>", "Je bestelling is onderweg", to="klant@yahoo.com"))
add("yahoo-spoofed", "suspicious", "yahoo", "spoofed", yahoo("203.0.113.66", "vps123.example",
    """ dkim=unknown;
 spf=fail smtp.mailfrom=postnl.nl;
 dmarc=fail(p=QUARANTINE) header.from=postnl.nl;""") + msg("PostNL <noreply@postnl.nl>", "Douanekosten voor uw pakket", to="klant@yahoo.com"))
add("aol-lookalike", "phishing", "yahoo", "lookalike", yahoo("203.0.113.81", "mail.paypa1.com",
    """ dkim=pass header.i=@paypa1.com header.s=s1;
 spf=pass smtp.mailfrom=paypa1.com;
 dmarc=pass(p=NONE) header.from=paypa1.com;""", host="atlas-production.v2-mail-prod1-gq1.omega.yahoo.com", to="klant@aol.com")
    + DKIM("paypa1.com", "s1") + "\n" + msg("PayPal <service@paypa1.com>", "Uw account is beperkt", to="klant@aol.com"))

# ---------------------------------------------------------------- Apple iCloud
def icloud(ip, helo, spf, dkim, dmarc, lower=""):
    return f"""Received: from ms43p00im-qufo17281901.me.com by p00-icloudmta-asmtp-us-west-1a-10-percent-2 (mailgateway 2425B14)
 with SMTP id 7b8f0c2e-2d3a-4b5c-9e8f-0a1b2c3d4e5f for <klant@icloud.com>; Tue, 3 Nov 2026 08:14:25 GMT
X-Apple-MoveToFolder: INBOX
X-Apple-Action: MOVE_TO_FOLDER/INBOX
X-Apple-UUID: 7b8f0c2e-2d3a-4b5c-9e8f-0a1b2c3d4e5f
Return-Path: <bounce@{helo.split('.',1)[1]}>
Authentication-Results: dmarc.icloud.com; {dmarc}
Authentication-Results: dkim-verifier.icloud.com; {dkim}
Authentication-Results: spf.icloud.com; {spf}
Received-SPF: {spf.split('=')[1].split()[0]} (spf.icloud.com: domain of bounce@{helo.split('.',1)[1]} designates {ip} as permitted sender) receiver=spf.icloud.com; client-ip={ip}; helo={helo}; envelope-from=bounce@{helo.split('.',1)[1]}
Received: from {helo} (mx.{helo.split('.',1)[1]} [{ip}])
	by ms43p00im-qufo17281901.me.com (Postfix) with ESMTPS id 4QX7b3Mh1Pz7;
	Tue,  3 Nov 2026 08:14:24 +0000 (UTC)
{lower}"""
add("icloud-genuine", "genuine", "apple", "genuine", icloud("192.0.2.90", "mail.kpn.com",
    "spf=pass (spf.icloud.com: domain of bounce@kpn.com designates 192.0.2.90 as permitted sender) smtp.mailfrom=bounce@kpn.com",
    "dkim=pass (2048-bit key) header.d=kpn.com header.i=@kpn.com header.b=dzdVyOfA",
    "dmarc=pass header.from=kpn.com") + DKIM("kpn.com") + "\n" + msg("KPN <factuur@kpn.com>", "Uw factuur van november", to="klant@icloud.com"), crlf=False)
add("icloud-list-noarc", "suspicious", "apple", "mailing_list", icloud("198.51.100.26", "mail.lists.example.org",
    "spf=pass (spf.icloud.com: domain of bounce@lists.example.org designates 198.51.100.26 as permitted sender) smtp.mailfrom=bounce@lists.example.org",
    "dkim=fail (2048-bit key; body hash did not verify) header.d=bakkerij-jansen.nl header.i=@bakkerij-jansen.nl header.b=Lw2keqE4",
    "dmarc=fail header.from=bakkerij-jansen.nl",
    lower="""Received: from mail.bakkerij-jansen.nl (mail.bakkerij-jansen.nl [192.0.2.20])
	by mail.lists.example.org (Postfix) with ESMTPS id 4QX7b12Z3Kz9vLs;
	Tue, 03 Nov 2026 09:14:21 +0100 (CET)
""") + DKIM("bakkerij-jansen.nl", "mail2026") + "\n" + LIST_FIELDS
    + msg("Bakkerij Jansen <info@bakkerij-jansen.nl>", "[bakkers] Nieuw recept", to="klant@icloud.com"), crlf=False)

# ---------------------------------------------------------------- Fastmail
def fastmail(ip, helo, ar, lower=""):
    return f"""Return-Path: <bounce@{helo.split('.',1)[1]}>
Received: from compute3.internal (compute3.nyi.internal [10.202.2.43])
	 by sloti36n05 (Cyrus 3.11.0-alpha0-1108-g3a29173c6-fm-20241018.001-g3a29173c) with LMTPA;
	 Tue, 03 Nov 2026 03:14:25 -0500
X-Cyrus-Session-Id: sloti36n05-1793693665-2561812-2-17285021512871112112
Received: from mx6 ([10.202.2.205])
  by compute3.internal (LMTPProxy); Tue, 03 Nov 2026 03:14:25 -0500
Received: from mx6.messagingengine.com (localhost [127.0.0.1])
	by mailmx.nyi.internal (Postfix) with ESMTP id 6E3F5B40099
	for <klant@fastmail.com>; Tue,  3 Nov 2026 03:14:25 -0500 (EST)
Received: from mx6.messagingengine.com (localhost [127.0.0.1])
    by mx6.messagingengine.com (Authentication Milter) with ESMTP
    id 1B4C2D3E4F5; Tue, 3 Nov 2026 03:14:25 -0500
ARC-Seal: i=1; a=rsa-sha256; cv=none; d=messagingengine.com; s=fm2; t=1793693665;
    b=Kx0y1z2A3B4C5D6E7F8G9H0I1J2K3L4M5N6O7P8Q9R0S1T2U3V4W5X6Y7Z8a9b0c1d2
ARC-Authentication-Results: i=1; mx6.messagingengine.com;
{ar}
Authentication-Results: mx6.messagingengine.com;
{ar}
Received-SPF: {"pass" if "spf=pass" in ar else "fail"}
    (example: domain of {helo.split('.',1)[1]} designates {ip} as permitted sender)
    receiver=mx6.messagingengine.com;
    client-ip={ip};
    envelope-from=<bounce@{helo.split('.',1)[1]}>;
    helo={helo};
Received: from {helo} ({helo} [{ip}])
	(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)
	 key-exchange X25519 server-signature RSA-PSS (2048 bits) server-digest SHA256)
	(No client certificate requested)
	by mx6.messagingengine.com (Postfix) with ESMTPS
	for <klant@fastmail.com>; Tue,  3 Nov 2026 03:14:24 -0500 (EST)
{lower}"""
FM_GOOD = """    arc=none (no signatures found);
    dkim=pass (2048-bit rsa key sha256) header.d=ns.nl header.i=@ns.nl header.b=dzdVyOfA header.a=rsa-sha256 header.s=sel1 x-bits=2048;
    dmarc=pass policy.published-domain-policy=reject
      policy.applied-disposition=none policy.evaluated-disposition=none
      (p=reject,d=none,d.eval=none) policy.policy-from=p header.from=ns.nl;
    iprev=pass smtp.remote-ip=192.0.2.95 (mail.ns.nl);
    spf=pass smtp.mailfrom=bounce@ns.nl smtp.helo=mail.ns.nl;
    x-aligned-from=pass (Address match);
    x-me-sender=none;
    x-ptr=pass smtp.helo=mail.ns.nl policy.ptr=mail.ns.nl"""
add("fastmail-genuine", "genuine", "fastmail", "genuine", fastmail("192.0.2.95", "mail.ns.nl", FM_GOOD)
    + DKIM("ns.nl") + "\n" + msg("NS <reisinfo@ns.nl>", "Uw reis van morgen", to="klant@fastmail.com"), crlf=False)
add("fastmail-forwarded", "genuine", "fastmail", "forwarded", fastmail("198.51.100.78", "mx.alias.example", """    arc=none (no signatures found);
    dkim=pass (2048-bit rsa key sha256) header.d=ns.nl header.i=@ns.nl header.b=dzdVyOfA header.a=rsa-sha256 header.s=sel1 x-bits=2048;
    dmarc=pass policy.published-domain-policy=reject
      policy.applied-disposition=none policy.evaluated-disposition=none
      (p=reject,d=none,d.eval=none) policy.policy-from=p header.from=ns.nl;
    iprev=pass smtp.remote-ip=198.51.100.78 (mx.alias.example);
    spf=fail smtp.mailfrom=bounce@ns.nl smtp.helo=mx.alias.example;
    x-aligned-from=pass (Address match)""", lower="""Received: from mail.ns.nl (mail.ns.nl [192.0.2.95])
	by mx.alias.example (Postfix) with ESMTPS id 4QX7b0Lk9Wz2
	for <klant@alias.example>; Tue,  3 Nov 2026 09:14:21 +0100 (CET)
""") + DKIM("ns.nl") + "\n" + msg("NS <reisinfo@ns.nl>", "Uw reis van morgen", to="klant@alias.example"), crlf=False)

# ---------------------------------------------------------------- Proton
def proton(ip, helo, spf, dkim, dmarc):
    return f"""Return-Path: <bounce@{helo.split('.',1)[1]}>
X-Original-To: klant@proton.me
Delivered-To: klant@proton.me
Authentication-Results: mail.protonmail.ch; {dkim}
Authentication-Results: mail.protonmail.ch; {dmarc}
Authentication-Results: mail.protonmail.ch; {spf}
Authentication-Results: mail.protonmail.ch; arc=none smtp.remote-ip={ip}
Authentication-Results: mail.protonmail.ch; dkim=none
Received: from {helo} ({helo} [{ip}]) (using TLSv1.3 with cipher
 TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature RSA-PSS
 (2048 bits) server-digest SHA256) (No client certificate requested) by mailin038.protonmail.ch
 (Postfix) with ESMTPS id 4QX7b5Jv0Gz3 for <klant@proton.me>; Tue,  3 Nov 2026 08:14:24 +0000 (UTC)
"""
add("proton-genuine", "genuine", "proton", "genuine", proton("192.0.2.100", "mail.ziggo.nl",
    "spf=pass smtp.mailfrom=ziggo.nl", "dkim=pass (Good 2048 bit rsa-sha256 signature) header.d=ziggo.nl header.a=rsa-sha256",
    "dmarc=pass (p=reject dis=none) header.from=ziggo.nl") + DKIM("ziggo.nl") + "\n" + msg("Ziggo <noreply@ziggo.nl>", "Uw nieuwe factuur", to="klant@proton.me"))
add("proton-spoofed-pnone", "suspicious", "proton", "spoofed", proton("203.0.113.66", "vps123.example",
    "spf=fail smtp.mailfrom=sportclub-de-ster.example", "dkim=none",
    "dmarc=fail (p=none dis=none) header.from=sportclub-de-ster.example") + msg("Penningmeester <penningmeester@sportclub-de-ster.example>", "Contributie nog niet betaald", to="klant@proton.me"))

# ---------------------------------------------------------------- KPN
def kpn(ip, helo, ar, lower="", to="klant@kpnmail.nl"):
    return f"""Return-Path: <bounce@{helo.split('.',1)[1]}>
Received: from mta-in02.kpnmail.nl (mta-in02.kpnmail.nl [10.31.155.12])
	by mailstore21.kpnmail.nl (Dovecot) with LMTP id 5a1b2c3d4e5f
	for <{to}>; Tue, 03 Nov 2026 09:14:25 +0100
{ar}Received: from {helo} ({helo} [{ip}])
	by mta-in02.kpnmail.nl (Halon) with ESMTPS
	id 4c1f9a2e-99b1-11ef-8a3b-005056ab1411;
	Tue, 03 Nov 2026 09:14:24 +0100 (CET)
{lower}"""
add("kpn-genuine", "genuine", "kpn", "genuine", kpn("192.0.2.110", "mail.ing.nl", """Authentication-Results: mta-in02.kpnmail.nl;
	spf=pass smtp.mailfrom=bounce@ing.nl;
	dkim=pass header.d=ing.nl header.s=sel1 header.b=dzdVyOfA;
	dmarc=pass header.from=ing.nl (p=reject)
""") + DKIM("ing.nl") + "\n" + msg("ING <info@ing.nl>", to="klant@kpnmail.nl"))
add("kpn-spoofed", "suspicious", "kpn", "spoofed", kpn("203.0.113.66", "vps123.example", """Authentication-Results: mta-in02.kpnmail.nl;
	spf=fail smtp.mailfrom=bounce@ing.nl;
	dkim=none;
	dmarc=fail header.from=ing.nl (p=reject)
""") + msg("ING <info@ing.nl>", to="klant@kpnmail.nl"))
# The case: no results from KPN, a forged mx.ing.nl header below its Received field.
add("kpn-forged-ar", "suspicious", "kpn", "forged", kpn("203.0.113.66", "vps123.example", "", lower="""Authentication-Results: mx.ing.nl; spf=pass smtp.mailfrom=ing.nl;
 dkim=pass header.d=ing.nl; dmarc=pass header.from=ing.nl
""") + msg("ING <info@ing.nl>", to="klant@kpnmail.nl"))
# The same KPN message pasted from a forum, every line indented.
add("kpn-indented-paste", "genuine", "kpn", "genuine", "\n".join("    " + line for line in (kpn("192.0.2.110", "mail.ing.nl", """Authentication-Results: mta-in02.kpnmail.nl;
	spf=pass smtp.mailfrom=bounce@ing.nl;
	dkim=pass header.d=ing.nl header.s=sel1 header.b=dzdVyOfA;
	dmarc=pass header.from=ing.nl (p=reject)
""") + msg("ING <info@ing.nl>", to="klant@kpnmail.nl")).splitlines()), crlf=False, body=None)

# ---------------------------------------------------------------- XS4ALL
def xs4all(ip, helo, ar):
    return f"""Return-Path: <bounce@{helo.split('.',1)[1]}>
Delivered-To: klant@xs4all.nl
Received: from mxdrop305.xs4all.net ([10.42.6.5])
	by smtp-cloud9.xs4all.net with LMTP
	id 9dLkYh2bN2dQ4QAAO1a8cw
	for <klant@xs4all.nl>; Tue, 03 Nov 2026 09:14:25 +0100
Authentication-Results: mxdrop305.xs4all.net;
{ar}
Received: from {helo} ({helo} [{ip}])
	by mxdrop305.xs4all.net (8.14.9/8.14.9/Debian-xs4all-2) with ESMTP id 4A38EO2x012345
	for <klant@xs4all.nl>; Tue, 3 Nov 2026 09:14:24 +0100
"""
add("xs4all-genuine", "genuine", "xs4all", "genuine", xs4all("192.0.2.120", "mail.belastingdienst.nl", """	spf=pass smtp.mailfrom=belastingdienst.nl;
	dkim=pass header.d=belastingdienst.nl header.s=sel1;
	dmarc=pass (p=reject dis=none) header.from=belastingdienst.nl""") + DKIM("belastingdienst.nl") + "\n"
    + msg("Belastingdienst <noreply@belastingdienst.nl>", "Uw voorlopige aanslag", to="klant@xs4all.nl"))
add("xs4all-lookalike", "phishing", "xs4all", "lookalike", xs4all("203.0.113.82", "mail.belastingdienst-teruggave.nl", """	spf=pass smtp.mailfrom=belastingdienst-teruggave.nl;
	dkim=none;
	dmarc=none (p=none dis=none) header.from=belastingdienst-teruggave.nl""")
    + msg("Belastingdienst <info@belastingdienst-teruggave.nl>", "U heeft recht op teruggave", to="klant@xs4all.nl"))
add("xs4all-spoofed-lf", "suspicious", "xs4all", "spoofed", xs4all("203.0.113.66", "vps123.example", """	spf=fail smtp.mailfrom=belastingdienst.nl;
	dkim=none;
	dmarc=fail (p=reject dis=none) header.from=belastingdienst.nl""")
    + msg("Belastingdienst <noreply@belastingdienst.nl>", "Laatste aanmaning", to="klant@xs4all.nl"), crlf=False, body=None)

# ---------------------------------------------------------------- Ziggo (results on their own lines, as forum pastes show)
def ziggo(ip, helo, ar, lower="", to="klant@ziggo.nl"):
    return f"""Return-Path: <bounce@{helo.split('.',1)[1]}>
Delivered-To: {to}
Received: from mailstore.ziggo.nl ([10.160.4.12])
	by mailstore06.mail.iss.as9143.net with LMTP id k7R0Nh2bN2e3JgAA
	for <{to}>; Tue, 03 Nov 2026 09:14:25 +0100
Received: from mx-in-03.mail.iss.as9143.net ([10.160.4.33])
	by mailstore06.mail.iss.as9143.net with ESMTP; Tue, 03 Nov 2026 09:14:25 +0100
Authentication-Results: mail.iss.as9143.net;
{ar}
Received: from {helo} ([{ip}])
	by mx-in-03.mail.iss.as9143.net with ESMTPS id 8NhbtTkRwq7vQ8Nhct6wZD
	for <{to}>; Tue, 03 Nov 2026 09:14:24 +0100
{lower}"""
add("ziggo-genuine", "genuine", "ziggo", "genuine", ziggo("192.0.2.57", "mail.mijnbank.nl", """spf=pass (192.0.2.57;mijnbank.nl);
dkim=pass header.d=mijnbank.nl;
dmarc=pass header.from=mijnbank.nl (p=quarantine sp=quarantine dis=pass);""") + DKIM("mijnbank.nl") + "\n"
    + msg("Mijn Bank <service@mijnbank.nl>", to="klant@ziggo.nl"), crlf=False)
add("ziggo-no-dmarc", "suspicious", "ziggo", "spoofed", ziggo("203.0.113.7", "mail.support.net", """spf=neutral (203.0.113.7;support.net);
dkim=none (nosigs);
dmarc=none header.from=support.net (dis=no_record);""")
    + msg("Creditcard Service <service@support.net>", "Uw kaart is geblokkeerd", to="klant@ziggo.nl"), crlf=False)
add("ziggo-via-gmail", "genuine", "ziggo", "forwarded", ziggo("209.85.217.54", "mail-vs1-f54.google.com", """spf=pass (209.85.217.54;gmail.com);
dkim=pass header.d=icloud.com;
dmarc=pass header.from=icloud.com (p=quarantine sp=quarantine dis=pass);""", lower="""Received: by mail-vs1-f54.google.com with SMTP id ada2fe7eead31-4a5b6c7d8e9so1234567137.1
        for <klant@ziggo.nl>; Tue, 03 Nov 2026 00:14:23 -0800 (PST)
Authentication-Results: mx.google.com; dkim=pass header.i=@icloud.com header.s=04042017 header.b=nArKnccN;
       spf=pass (google.com: domain of vriend@icloud.com designates 17.164.72.58 as permitted sender) smtp.mailfrom=vriend@icloud.com;
       dmarc=pass (p=QUARANTINE sp=QUARANTINE dis=NONE) header.from=icloud.com
Received: from ms11p00im-qufo17291401.me.com (ms11p00im-qufo17291401.me.com. [17.164.72.58])
        by mx.google.com with ESMTPS id a1b2c3d4e5f6.12.2026.11.03.00.14.22
        for <vriend.doorstuur@gmail.com>; Tue, 03 Nov 2026 00:14:22 -0800 (PST)
""") + DKIM("icloud.com", "04042017") + "\n" + msg("Vriend <vriend@icloud.com>", "Foto's van zaterdag", to="vriend.doorstuur@gmail.com"), crlf=False)

# ---------------------------------------------------------------- Mimecast
def mimecast(ip, helo, ar, top=""):
    return f"""{top}Received: from us-smtp-delivery-162.mimecast.com (us-smtp-delivery-162.mimecast.com [170.10.133.162])
	by mail.bedrijf.nl (Postfix) with ESMTPS id 4QX7b9Tz1Rz4
	for <klant@bedrijf.nl>; Tue,  3 Nov 2026 09:14:26 +0100 (CET)
Authentication-Results: relay.mimecast.com;
{ar}
Received: from {helo} ({helo} [{ip}]) by relay.mimecast.com with ESMTP with
 STARTTLS (version=TLSv1.3, cipher=TLS_AES_256_GCM_SHA384) id
 us-mta-412-Xq1r2S3tU4v5W6x7Y8z9Aa-1; Tue, 03 Nov 2026 03:14:25 -0500
X-MC-Unique: Xq1r2S3tU4v5W6x7Y8z9Aa-1
X-Mimecast-MFC-AGG-ID: Xq1r2S3tU4v5W6x7Y8z9Aa
"""
add("mimecast-genuine", "genuine", "mimecast", "genuine", mimecast("192.0.2.130", "mail.abnamro.nl", """	dkim=pass header.d=abnamro.nl header.s=sel1 header.b=dzdVyOfA;
	dmarc=pass (policy=reject) header.from=abnamro.nl;
	spf=pass (relay.mimecast.com: domain of bounce@abnamro.nl designates 192.0.2.130 as permitted sender) smtp.mailfrom=bounce@abnamro.nl""")
    + DKIM("abnamro.nl") + "\n" + msg("ABN AMRO <service@abnamro.nl>", to="klant@bedrijf.nl"))
add("mimecast-spoofed", "suspicious", "mimecast", "spoofed", mimecast("203.0.113.66", "vps123.example", """	dkim=none;
	dmarc=fail reason="SPF not aligned (relaxed), No valid DKIM" header.from=abnamro.nl (policy=reject);
	spf=fail (relay.mimecast.com: domain of bounce@abnamro.nl does not designate 203.0.113.66 as permitted sender) smtp.mailfrom=bounce@abnamro.nl""")
    + msg("ABN AMRO <service@abnamro.nl>", "Verifieer uw gegevens", to="klant@bedrijf.nl"))
# Mimecast in front of Exchange Online: Microsoft only sees Mimecast, so Mimecast's results decide.
add("mimecast-m365", "genuine", "mimecast", "genuine", """Received: from AM9PR04MB8412.eurprd04.prod.outlook.com (2603:10a6:10:2c1::9) by
 PAXPR04MB8749.eurprd04.prod.outlook.com with HTTPS; Tue, 3 Nov 2026 08:14:27 +0000
Authentication-Results: spf=pass (sender IP is 170.10.133.162)
 smtp.mailfrom=abnamro.nl; dkim=pass (signature was verified)
 header.d=abnamro.nl;dmarc=pass action=none header.from=abnamro.nl;compauth=pass reason=100
Received: from eu-smtp-delivery-151.mimecast.com (185.58.86.151) by
 AM4PEPF00027A6C.mail.protection.outlook.com (10.167.16.86) with Microsoft SMTP Server
 (version=TLS1_3, cipher=TLS_AES_256_GCM_SHA384) id 15.20.8158.12 via Frontend Transport; Tue, 3 Nov 2026 08:14:26 +0000
Authentication-Results: relay.mimecast.com;
	dkim=pass header.d=abnamro.nl header.s=sel1 header.b=dzdVyOfA;
	dmarc=pass (policy=reject) header.from=abnamro.nl;
	spf=pass (relay.mimecast.com: domain of bounce@abnamro.nl designates 192.0.2.130 as permitted sender) smtp.mailfrom=bounce@abnamro.nl
Received: from mail.abnamro.nl (mail.abnamro.nl [192.0.2.130]) by relay.mimecast.com with ESMTP with
 STARTTLS (version=TLSv1.3, cipher=TLS_AES_256_GCM_SHA384) id
 eu-mta-38-Zq1r2S3tU4v5W6x7Y8z9Aa-1; Tue, 03 Nov 2026 08:14:25 +0000
X-MC-Unique: Zq1r2S3tU4v5W6x7Y8z9Aa-1
""" + DKIM("abnamro.nl") + "\n" + msg("ABN AMRO <service@abnamro.nl>", to="klant@bedrijf.nl"))

# ---------------------------------------------------------------- Proofpoint
def proofpoint(ip, helo, ar):
    return f"""Received: from mx0b-00123401.pphosted.com (mx0b-00123401.pphosted.com [148.163.158.5])
	by mail.bedrijf.nl (Postfix) with ESMTPS id 4QX7bBq2Xz5
	for <klant@bedrijf.nl>; Tue,  3 Nov 2026 09:14:26 +0100 (CET)
Received: from pps.filterd (m0127361.ppops.net [127.0.0.1])
	by mx0b-00123401.pphosted.com (8.18.1.2/8.18.1.2) with ESMTP id 4A37ZpQf012345
	for <klant@bedrijf.nl>; Tue, 3 Nov 2026 08:14:26 GMT
Authentication-Results: ppops.net;
{ar}
Received: from {helo} ({helo} [{ip}])
	by mx0b-00123401.pphosted.com (PPS) with ESMTPS id 42mcb8r3ab-1
	(version=TLSv1.3 cipher=TLS_AES_256_GCM_SHA384 bits=256 verify=NOT)
	for <klant@bedrijf.nl>; Tue, 03 Nov 2026 08:14:25 +0000 (GMT)
X-Proofpoint-Spam-Details: rule=outbound_notspam policy=outbound score=0 spamscore=0 adultscore=0
"""
add("proofpoint-genuine", "genuine", "proofpoint", "genuine", proofpoint("192.0.2.140", "mail.kvk.nl", """	spf=pass smtp.mailfrom=bounce@kvk.nl;
	dkim=pass header.d=kvk.nl header.s=sel1;
	dmarc=pass header.from=kvk.nl""") + DKIM("kvk.nl") + "\n" + msg("KVK <noreply@kvk.nl>", "Uw inschrijving", to="klant@bedrijf.nl"))
add("proofpoint-lookalike", "phishing", "proofpoint", "lookalike", proofpoint("203.0.113.83", "mail.postnl-pakket.nl", """	spf=pass smtp.mailfrom=bounce@postnl-pakket.nl;
	dkim=none;
	dmarc=none header.from=postnl-pakket.nl""") + msg("PostNL <bezorging@postnl-pakket.nl>", "Uw pakket ligt klaar", to="klant@bedrijf.nl"))
add("proofpoint-spoofed", "suspicious", "proofpoint", "spoofed", proofpoint("203.0.113.66", "vps123.example", """	spf=softfail smtp.mailfrom=bounce@kvk.nl;
	dkim=none;
	dmarc=fail header.from=kvk.nl""") + msg("KVK <noreply@kvk.nl>", "Boete: jaarrekening niet gedeponeerd", to="klant@bedrijf.nl"))

# ---------------------------------------------------------------- Any other receiver (point 1 of the issue)
GEN_TOP = """Received: from mx1.small-isp.example (mx1.small-isp.example [10.1.2.3])
	by imap.small-isp.example (Postfix) with ESMTP id 7F2A1C0045
	for <klant@small-isp.example>; Tue,  3 Nov 2026 09:14:26 +0100 (CET)
"""
add("generic-forged-issue", "suspicious", "", "forged", GEN_TOP + """Received: from vps123.example ([203.0.113.66]) by mx1.small-isp.example
	with ESMTP id 4QX7bCd3Yz6; Tue, 03 Nov 2026 09:14:25 +0100 (CET)
Authentication-Results: mx.ing.nl; spf=pass smtp.mailfrom=ing.nl;
	dkim=pass header.d=ing.nl; dmarc=pass header.from=ing.nl
""" + msg("ING <info@ing.nl>", to="klant@small-isp.example"))
add("generic-no-results", "unknown", "", "no_results", GEN_TOP + """Received: from mail.bakkerij-jansen.nl (mail.bakkerij-jansen.nl [192.0.2.20])
	by mx1.small-isp.example with ESMTPS id 4QX7bCd3Yz7; Tue, 03 Nov 2026 09:14:25 +0100 (CET)
""" + DKIM("bakkerij-jansen.nl", "mail2026") + "\n" + msg("Bakkerij Jansen <info@bakkerij-jansen.nl>", "Uw bestelling", to="klant@small-isp.example"))
add("generic-genuine", "genuine", "", "genuine", """Authentication-Results: mx.ontvanger.example; spf=pass smtp.mailfrom=bakkerij-jansen.nl;
	dkim=pass header.d=bakkerij-jansen.nl header.s=mail2026; dmarc=pass header.from=bakkerij-jansen.nl
Received: from mail.bakkerij-jansen.nl (mail.bakkerij-jansen.nl [192.0.2.20])
	by mx.ontvanger.example (Postfix) with ESMTPS id 4QX7bDf4Zz8
	for <klant@ontvanger.example>; Tue,  3 Nov 2026 09:14:25 +0100 (CET)
""" + DKIM("bakkerij-jansen.nl", "mail2026") + "\n" + msg("Bakkerij Jansen <info@bakkerij-jansen.nl>", "Uw bestelling"))
add("generic-list-noarc", "suspicious", "", "mailing_list", """Authentication-Results: mx.ontvanger.example; spf=pass smtp.mailfrom=lists.example.org;
	dkim=fail reason="body hash did not verify" header.d=bakkerij-jansen.nl header.s=mail2026;
	dmarc=fail (p=quarantine) header.from=bakkerij-jansen.nl
Received: from lists.example.org (lists.example.org [198.51.100.25])
	by mx.ontvanger.example (Postfix) with ESMTPS id 4QX7bEg5Az9
	for <klant@ontvanger.example>; Tue,  3 Nov 2026 09:14:25 +0100 (CET)
Received: from mail.bakkerij-jansen.nl (mail.bakkerij-jansen.nl [192.0.2.20])
	by lists.example.org (Postfix) with ESMTPS id 4QX7b12Z3Kz9vLs;
	Tue, 03 Nov 2026 09:14:21 +0100 (CET)
""" + DKIM("bakkerij-jansen.nl", "mail2026") + "\n" + LIST_FIELDS + msg("Bakkerij Jansen <info@bakkerij-jansen.nl>", "[bakkers] Nieuw recept"))
add("generic-internal-hops", "genuine", "", "genuine", """Received: from filter2.ontvanger.example (filter2.ontvanger.example [192.168.10.12])
	by mailbox.ontvanger.example (Dovecot) with LMTP; Tue, 03 Nov 2026 09:14:27 +0100
Received: from mx2.ontvanger.example (mx2.ontvanger.example [192.168.10.2])
	by filter2.ontvanger.example (amavis) with ESMTP; Tue, 03 Nov 2026 09:14:26 +0100
Authentication-Results: mx2.ontvanger.example; spf=pass smtp.mailfrom=bounce@ns.nl;
	dkim=pass header.d=ns.nl; dmarc=pass (p=reject) header.from=ns.nl
Received: from mail.ns.nl (mail.ns.nl [192.0.2.95])
	by mx2.ontvanger.example (Postfix) with ESMTPS id 4QX7bFh6Bz0;
	Tue, 03 Nov 2026 09:14:25 +0100 (CET)
""" + DKIM("ns.nl") + "\n" + msg("NS <reisinfo@ns.nl>", "Uw reis van morgen"))
add("generic-lookalike-idn", "phishing", "", "lookalike", """Authentication-Results: mx.ontvanger.example; spf=pass smtp.mailfrom=xn--pypal-4ve.com;
	dkim=none; dmarc=none header.from=xn--pypal-4ve.com
Received: from mail.xn--pypal-4ve.com (mail.xn--pypal-4ve.com [203.0.113.84])
	by mx.ontvanger.example (Postfix) with ESMTPS id 4QX7bGi7Cz1;
	Tue, 03 Nov 2026 09:14:25 +0100 (CET)
""" + msg("PayPal <service@xn--pypal-4ve.com>", "Uw account is beperkt"))
add("generic-spoofed-no-dmarc-own", "suspicious", "", "spoofed", """Authentication-Results: mx.ontvanger.example; spf=fail smtp.mailfrom=gemeente-voorbeeld.nl;
	dkim=none; dmarc=fail (p=reject) header.from=gemeente-voorbeeld.nl
Received: from vps123.example (vps123.example [203.0.113.66])
	by mx.ontvanger.example (Postfix) with ESMTP id 4QX7bHj8Dz2;
	Tue, 03 Nov 2026 09:14:25 +0100 (CET)
Authentication-Results: mx.ontvanger.example; spf=pass smtp.mailfrom=gemeente-voorbeeld.nl;
	dkim=pass header.d=gemeente-voorbeeld.nl; dmarc=pass header.from=gemeente-voorbeeld.nl
""" + msg("Gemeente Voorbeeld <belastingen@gemeente-voorbeeld.nl>", "Aanslag gemeentelijke belastingen"))

lines = ["# Expected verdicts of zegel explain on the header sets in this directory.",
         "# provider: the recognised provider whose format the set follows (empty: any other receiver).", ""]
for name, verdict, provider, category in cases:
    lines += ["[[case]]", f'file = "{name}.eml"', f'verdict = "{verdict}"', f'provider = "{provider}"',
              f'category = "{category}"', ""]
(OUT / "expected.toml").write_text("\n".join(lines))
print(len(cases), "cases")
