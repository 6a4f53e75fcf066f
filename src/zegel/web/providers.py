"""Mail services offered by the SPF record builder: the include each one documents for its
customers' SPF records. Data only; the lookup count is measured from DNS by zegel.audit."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Provider:
    key: str
    name: str
    include: str


PROVIDERS: tuple[Provider, ...] = (
    Provider("google", "Google Workspace", "_spf.google.com"),
    Provider("microsoft", "Microsoft 365 / Exchange Online", "spf.protection.outlook.com"),
    Provider("zoho", "Zoho Mail (EU)", "zoho.eu"),
    Provider("mailchimp", "Mailchimp / Mandrill", "servers.mcsv.net"),
    Provider("sendgrid", "Twilio SendGrid", "sendgrid.net"),
    Provider("amazonses", "Amazon SES", "amazonses.com"),
    Provider("mailgun", "Mailgun", "mailgun.org"),
    Provider("postmark", "Postmark", "spf.mtasv.net"),
    Provider("brevo", "Brevo (Sendinblue)", "spf.brevo.com"),
    Provider("salesforce", "Salesforce", "_spf.salesforce.com"),
)
BY_KEY = {provider.key: provider for provider in PROVIDERS}

__all__ = ["BY_KEY", "PROVIDERS", "Provider"]
