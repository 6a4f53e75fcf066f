"""zegel — email authentication: SPF, DKIM, DMARC, ARC, Authentication-Results, reports, audits."""

__version__ = "0.1.0"
