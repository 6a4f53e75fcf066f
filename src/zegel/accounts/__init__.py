"""zegel.accounts — who may use the owner's console, and which domains each may see.

Local users (argon2id password hashes) or a trusted reverse-proxy header; per-domain access;
session ids and API tokens stored only as SHA-256 digests; an audit log of logins and changes.
The tables live in the reports database (SQLite by default, PostgreSQL by URL) and are created
by this package's alembic migrations. Time is injected (``clock``) so tests drive expiry.
"""

from zegel.accounts.store import (
    SESSION_LIFETIME,
    AccessDenied,
    AccountError,
    Accounts,
    AuditEntry,
    Identity,
    open_accounts,
)

__all__ = ["SESSION_LIFETIME", "AccessDenied", "AccountError", "Accounts", "AuditEntry", "Identity", "open_accounts"]
