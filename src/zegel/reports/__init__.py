"""zegel.reports — DMARC reporting (RFC 9990 aggregate, RFC 9991 failure reports).

Receiver side: :class:`~zegel.reports.recorder.Recorder` (the ``OutcomeSink`` verify and the
milter feed), :mod:`~zegel.reports.generate` and :mod:`~zegel.reports.send` (``zegel reports
send``), :mod:`~zegel.reports.failure`. Domain-owner side: :mod:`~zegel.reports.ingest`
(``zegel reports ingest``) and :mod:`~zegel.reports.summary` (``zegel reports summary``).
Storage: :func:`~zegel.reports.store.open_store` (SQLite by default, PostgreSQL by URL).
"""

from zegel.reports.model import AggregateReport, DkimOutcome, Outcome, ReportRecord
from zegel.reports.recorder import Recorder, outcome_from_verdict
from zegel.reports.store import ReportStore, StoreError, StoreUnavailable, open_store

__all__ = [
    "AggregateReport",
    "DkimOutcome",
    "Outcome",
    "Recorder",
    "ReportRecord",
    "ReportStore",
    "StoreError",
    "StoreUnavailable",
    "open_store",
    "outcome_from_verdict",
]
