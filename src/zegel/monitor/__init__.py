"""zegel.monitor — watched domains checked on a schedule, their history, and alerts.

A run is ``zegel check`` plus the SPF, DKIM, DMARC, MX, MTA-STS and BIMI records it rests on
(:mod:`zegel.monitor.snapshot`); runs are stored and diffed (:mod:`zegel.monitor.changes`);
alerts go out by e-mail and webhook (:mod:`zegel.monitor.scheduler`). The reports dashboard's
queries live in :mod:`zegel.monitor.dashboard`.
"""

from zegel.monitor.changes import Alert, Change, diff, snapshot_alerts
from zegel.monitor.scheduler import Mailer, Monitor
from zegel.monitor.snapshot import MtaStsPolicy, Snapshot, policy_fetcher, take_snapshot
from zegel.monitor.store import MonitorStore, Run, Watch, open_monitor

__all__ = ["Alert", "Change", "Mailer", "Monitor", "MonitorStore", "MtaStsPolicy", "Run", "Snapshot", "Watch",
           "diff", "open_monitor", "policy_fetcher", "snapshot_alerts", "take_snapshot"]
