"""The reports dashboard's queries, on the reports store (zegel.reports.store tables).

Every page's data comes from one or two grouped SQL queries: the database aggregates, Python
only shapes the (bounded) result, so a domain with 100,000 sources stays well under the page
budget (bench/bench_console.py measures it).

Senders: until zegel.reports names senders (Google Workspace, Mailchimp...), a sender is the
envelope-from (RFC 5321.MailFrom) domain the reporter saw, or the source IP when the report
gives none — :func:`sender_key` is the one place to change when named senders arrive.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any, Literal

import sqlalchemy as sa

from zegel.reports.store import ReportStore, agg_records, agg_reports, failure_reports, tls_reports
from zegel.reports.summary import READY_DOMAIN

Lang = Literal["en", "nl"]
DAY = 86400
MAX_SENDERS = 200  # a page lists the senders with the most mail; export has them all
MAX_RECORDS = 500

_r, _rep = agg_records.c, agg_reports.c

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_meta = sa.MetaData()
rollup = sa.Table(
    "console_rollup", _meta,
    sa.Column("domain", sa.String(255)),
    sa.Column("day", sa.BigInteger),
    sa.Column("reporter", sa.String(255)),
    sa.Column("sender", sa.String(255)),
    *(sa.Column(name, sa.BigInteger) for name in ("source_rows", "messages", "dmarc_pass", "spf_pass", "spf_aligned",
                                                  "dkim_pass", "dkim_aligned", "quarantined", "rejected")),
    sa.Column("dkim_sample", sa.Text),
)
rolled = sa.Table("console_rolled", _meta, sa.Column("report", Id, primary_key=True))
rollup_lock = sa.Table("console_rollup_lock", _meta, sa.Column("id", sa.Integer, primary_key=True),
                       sa.Column("version", sa.BigInteger))
_COUNTS = ("source_rows", "messages", "dmarc_pass", "spf_pass", "spf_aligned", "dkim_pass", "dkim_aligned",
           "quarantined", "rejected")
_u = rollup.c


def sender_key() -> Any:
    """SQL expression naming a record's sender (see the module docstring)."""
    return sa.func.substr(sa.case((_r.envelope_from != "", sa.func.lower(_r.envelope_from)), else_=_r.source_ip), 1, 255)


def day_of(seconds: int) -> int:
    return seconds - seconds % DAY


@dataclass(frozen=True, slots=True)
class Filters:
    """Reports whose period begins in [since, until) (whole UTC days), optionally from one
    reporter (org name)."""

    domain: str
    since: int
    until: int | None = None
    reporter: str | None = None

    def where(self) -> list[Any]:
        """Conditions on the raw report tables."""
        conditions = [_rep.domain == self.domain.lower(), _rep.period_begin >= day_of(self.since)]
        if self.until is not None:
            conditions.append(_rep.period_begin < self.until)
        if self.reporter:
            conditions.append(_rep.org_name == self.reporter)
        return conditions

    def rollup_where(self) -> list[Any]:
        conditions = [_u.domain == self.domain.lower(), _u.day >= day_of(self.since)]
        if self.until is not None:
            conditions.append(_u.day < self.until)
        if self.reporter:
            conditions.append(_u.reporter == self.reporter)
        return conditions


def _sum_if(condition: Any) -> Any:
    return sa.func.coalesce(sa.func.sum(sa.case((condition, _r.count), else_=0)), 0)


def _joined() -> Any:
    return agg_records.join(agg_reports, _r.report == _rep.id)


def refresh(store: ReportStore) -> int:
    """Fold reports not yet in the rollup into it; returns how many. Cheap when there are
    none (one indexed anti-join on the reports table), so every page calls it. Refreshers take
    turns on a lock row, so two web workers never count a report twice."""
    pending_query = (sa.select(_rep.id).where(~sa.exists().where(rolled.c.report == _rep.id))
                     .order_by(_rep.id).limit(5000))
    with store.engine.connect() as conn:
        if not conn.execute(pending_query.limit(1)).first():
            return 0
    done = 0
    while True:
        with store.engine.begin() as conn:
            # The lock row: SQLite takes its write lock here, PostgreSQL a row lock.
            conn.execute(rollup_lock.update().where(rollup_lock.c.id == 1)
                         .values(version=rollup_lock.c.version + 1))
            pending = [int(i) for (i,) in conn.execute(pending_query)]
            if not pending:
                return done
            _fold(conn, store, pending)
            conn.execute(rolled.insert(), [{"report": i} for i in pending])
            done += len(pending)


def _fold(conn: sa.Connection, store: ReportStore, reports: list[int]) -> None:
    day = (_rep.period_begin - _rep.period_begin % DAY).label("day")
    key = sender_key().label("sender")
    misaligned_dkim = sa.and_(_r.dkim_pass, _r.dkim_eval != "pass")
    query = (sa.select(_rep.domain, day, sa.func.substr(_rep.org_name, 1, 255), key, sa.func.count(),
                       sa.func.sum(_r.count), _sum_if(_r.dmarc_pass), _sum_if(_r.spf_pass),
                       _sum_if(_r.spf_eval == "pass"), _sum_if(_r.dkim_pass), _sum_if(_r.dkim_eval == "pass"),
                       _sum_if(_r.disposition == "quarantine"), _sum_if(_r.disposition == "reject"),
                       sa.func.max(sa.case((misaligned_dkim, _r.dkim_results), else_="")))
             .select_from(_joined()).where(_rep.id.in_(reports))
             .group_by(_rep.domain, day, _rep.org_name, key))
    rows = [{"domain": r[0], "day": int(r[1]), "reporter": r[2], "sender": r[3],
             **{name: int(v or 0) for name, v in zip(_COUNTS, r[4:13], strict=True)},
             "dkim_sample": _passing_dkim_domain(r[13])} for r in conn.execute(query)]
    if not rows:
        return
    insert = store._insert(rollup)
    stmt = insert.on_conflict_do_update(
        index_elements=["domain", "day", "reporter", "sender"],
        set_={**{name: getattr(_u, name) + getattr(insert.excluded, name) for name in _COUNTS},
              "dkim_sample": sa.func.max(_u.dkim_sample, insert.excluded.dkim_sample)
              if store.dialect == "sqlite" else sa.func.greatest(_u.dkim_sample, insert.excluded.dkim_sample)})
    for start in range(0, len(rows), 2000):
        conn.execute(stmt, rows[start:start + 2000])


@dataclass(frozen=True, slots=True)
class Point:
    day: int
    messages: int
    dmarc_pass: int

    @property
    def pass_rate(self) -> float:
        return self.dmarc_pass / self.messages if self.messages else 0.0


def timeline(store: ReportStore, filters: Filters) -> list[Point]:
    """Messages and DMARC passes per day (by the start of each report's period)."""
    refresh(store)
    query = (sa.select(_u.day, sa.func.sum(_u.messages), sa.func.sum(_u.dmarc_pass))
             .where(*filters.rollup_where()).group_by(_u.day).order_by(_u.day))
    with store.engine.connect() as conn:
        return [Point(int(d), int(m or 0), int(p or 0)) for d, m, p in conn.execute(query)]


@dataclass(frozen=True, slots=True)
class Sender:
    name: str
    sources: int  # records naming it in reports (a source IP seen by N reporters counts N times)
    messages: int
    dmarc_pass: int
    spf_pass: int
    spf_aligned: int
    dkim_pass: int
    dkim_aligned: int
    quarantined: int
    rejected: int
    dkim_domain: str = ""
    fix: str = ""
    label: str = ""  # the sender's name (zegel.reports.senders), e.g. "Mailchimp"; "" when unknown

    @property
    def failing(self) -> int:
        return self.messages - self.dmarc_pass

    @property
    def pass_rate(self) -> float:
        return self.dmarc_pass / self.messages if self.messages else 0.0

    @property
    def legitimate_looking(self) -> bool:
        # Something authenticates (aligned or not): a real sender, not a spoofer.
        return bool(self.dmarc_pass or self.spf_pass or self.dkim_pass)

    def to_json(self) -> dict[str, Any]:
        return dict(asdict(self), failing=self.failing, pass_rate=round(self.pass_rate, 4))


def senders(store: ReportStore, filters: Filters, *, lang: Lang = "en", limit: int = MAX_SENDERS,
            name: str | None = None) -> list[Sender]:
    """Senders by volume (or the one called ``name``), each with what it must fix when its
    mail fails DMARC."""
    refresh(store)
    query = (sa.select(_u.sender, *(sa.func.sum(getattr(_u, c)) for c in _COUNTS), sa.func.max(_u.dkim_sample))
             .where(*filters.rollup_where()).group_by(_u.sender)
             .order_by(sa.func.sum(_u.messages).desc(), _u.sender).limit(limit))
    if name is not None:
        query = query.where(_u.sender == name)
    out = []
    with store.engine.connect() as conn:
        for row in conn.execute(query):
            counts = [int(v or 0) for v in row[1:10]]
            sender = Sender(str(row[0]), counts[0], counts[1], counts[2], counts[3], counts[4], counts[5], counts[6],
                            counts[7], counts[8], str(row[10] or ""))
            out.append(Sender(**{**_fields(sender), "fix": fix_for(sender, filters.domain, sender.dkim_domain, lang),
                                 "label": sender_label(filters.domain, sender.name, sender.dkim_domain)}))
    return out


def sender_label(domain: str, key: str, dkim_domain: str) -> str:
    """The name zegel.reports.senders gives the sender behind a group (from its envelope-from
    and DKIM d= domains), or "" when it has none better than the group's own key."""
    try:
        from zegel.reports.senders import identify_sender
    except ImportError:  # the reports package without sender naming
        return ""
    envelope = (key,) if "." in key and ":" not in key and not key.replace(".", "").isdigit() else ()
    found = identify_sender(domain, dkim_domains=(dkim_domain,) if dkim_domain else (), envelope_domains=envelope)
    return "" if found.kind == "unknown" or found.name == key else found.name


def _fields(sender: Sender) -> dict[str, Any]:
    return {name: getattr(sender, name) for name in Sender.__dataclass_fields__}


def _passing_dkim_domain(raw: str | None) -> str:
    try:
        rows = json.loads(raw or "[]")
    except ValueError:
        return ""
    for row in rows if isinstance(rows, list) else ():
        if isinstance(row, list) and len(row) >= 3 and row[2] == "pass":
            return str(row[0])[:255]
    return ""


_FIX = {
    "en": {
        "ok": "Passes DMARC; nothing to fix.",
        "dkim": ("Signs with DKIM for {d}, not for {domain} (RFC 9989 4.4: the d= must align with the From domain): "
                 "set up DKIM for {domain} in {name}."),
        "spf": ("SPF passes for {name}, which is not {domain}: use a bounce address in {domain} that your SPF record "
                "authorises, or better, have {name} sign with DKIM for {domain}."),
        "partly": ("{failing} of {messages} messages fail DMARC: some of its servers are missing from your SPF "
                   "record or do not sign with DKIM for {domain}."),
        "none": ("Nothing authenticates: if this is your service, authorise it in SPF and sign with DKIM for "
                 "{domain}; if not, it is spoofing, which p=quarantine or p=reject stops."),
    },
    "nl": {
        "ok": "Slaagt voor DMARC; niets te doen.",
        "dkim": ("Ondertekent met DKIM voor {d}, niet voor {domain} (RFC 9989 4.4: d= moet aansluiten bij het "
                 "From-domein): stel DKIM voor {domain} in bij {name}."),
        "spf": ("SPF slaagt voor {name}, en dat is niet {domain}: gebruik een bounce-adres in {domain} dat uw "
                "SPF-record toestaat, of beter: laat {name} met DKIM ondertekenen voor {domain}."),
        "partly": ("{failing} van {messages} berichten falen DMARC: een deel van de servers staat niet in uw "
                   "SPF-record of ondertekent niet met DKIM voor {domain}."),
        "none": ("Niets slaagt: is dit uw dienst, zet hem dan in SPF en onderteken met DKIM voor {domain}; zo niet, "
                 "dan is het vervalsing, en p=quarantine of p=reject houdt die tegen."),
    },
}


def fix_for(sender: Sender, domain: str, dkim_domain: str, lang: Lang = "en") -> str:
    """One sentence on what this sender must change so its mail passes DMARC."""
    texts = _FIX[lang]
    values = {"name": sender.name, "domain": domain, "d": dkim_domain or "another domain",
              "failing": sender.failing, "messages": sender.messages}
    if sender.messages and sender.pass_rate >= 0.98:
        return texts["ok"]
    if sender.dkim_pass > sender.dkim_aligned:
        return texts["dkim"].format(**values)
    if sender.spf_pass > sender.spf_aligned:
        return texts["spf"].format(**values)
    if sender.dmarc_pass:
        return texts["partly"].format(**values)
    return texts["none"].format(**values)


@dataclass(frozen=True, slots=True)
class Readiness:
    """Whether the domain can take the next policy step, and the evidence."""

    policy: str | None
    next_step: str  # publish-rua | fix-sources | quarantine | reject | stay
    messages: int
    legitimate: int
    legitimate_pass: int
    spoofed: int
    blocking: tuple[Sender, ...]  # legitimate-looking senders with failing mail, most first

    @property
    def legitimate_pass_rate(self) -> float:
        return self.legitimate_pass / self.legitimate if self.legitimate else 0.0

    def to_json(self) -> dict[str, Any]:
        return {"policy": self.policy, "next_step": self.next_step, "messages": self.messages,
                "legitimate": self.legitimate, "legitimate_pass_rate": round(self.legitimate_pass_rate, 4),
                "spoofed": self.spoofed, "blocking": [s.to_json() for s in self.blocking]}


def readiness(store: ReportStore, filters: Filters, sender_list: list[Sender] | None = None,
              *, lang: Lang = "en") -> Readiness:
    """The next step by the rule ``zegel reports summary`` applies (READY_DOMAIN of legitimate
    mail passes and no legitimate-looking sender fails), with the senders that block it."""
    published = store.published_policy(filters.domain, filters.since)
    policy = str(published["p"]) if published else None
    refresh(store)
    totals = (sa.select(sa.func.sum(_u.messages), sa.func.sum(_u.dmarc_pass))
              .where(*filters.rollup_where()))
    legit_query = (sa.select(sa.func.sum(_u.messages))
                   .where(*filters.rollup_where(), sa.or_(_u.dmarc_pass > 0, _u.spf_pass > 0, _u.dkim_pass > 0)))
    with store.engine.connect() as conn:
        row = conn.execute(totals).one()
        legitimate = int(conn.execute(legit_query).scalar() or 0)
    messages, legit_pass = int(row[0] or 0), int(row[1] or 0)
    listed = sender_list if sender_list is not None else senders(store, filters, lang=lang)
    blocking = tuple(sorted((s for s in listed if s.legitimate_looking and s.failing and s.pass_rate < 0.98),
                            key=lambda s: -s.failing))
    rate = legit_pass / legitimate if legitimate else 0.0
    if not messages:
        step = "publish-rua"
    elif policy == "reject":
        step = "stay"
    elif blocking or rate < READY_DOMAIN:
        step = "fix-sources"
    else:
        step = "reject" if policy == "quarantine" else "quarantine"
    return Readiness(policy, step, messages, legitimate, legit_pass, messages - legitimate, blocking)


def reporters(store: ReportStore, domain: str, since: int) -> list[tuple[str, int]]:
    query = (sa.select(_rep.org_name, sa.func.count()).where(_rep.domain == domain.lower(), _rep.period_end >= since)
             .group_by(_rep.org_name).order_by(_rep.org_name))
    with store.engine.connect() as conn:
        return [(name, int(n)) for name, n in conn.execute(query)]


RECORD_COLUMNS = ("reporter", "report_id", "period_begin", "period_end", "source_ip", "count", "disposition",
                  "dkim_eval", "spf_eval", "header_from", "envelope_from", "reasons", "spf_results", "dkim_results")


def _record_query(filters: Filters) -> Any:
    return (sa.select(_rep.org_name, _rep.report_id, _rep.period_begin, _rep.period_end, _r.source_ip, _r.count,
                      _r.disposition, _r.dkim_eval, _r.spf_eval, _r.header_from, _r.envelope_from, _r.reasons,
                      _r.spf_results, _r.dkim_results)
            .select_from(_joined()).where(*filters.where()))


def sender_records(store: ReportStore, filters: Filters, sender: str, *, limit: int = MAX_RECORDS,
                   offset: int = 0) -> list[dict[str, Any]]:
    """The report records behind one sender (drill-down), newest first."""
    query = (_record_query(filters).where(sender_key() == sender)
             .order_by(_rep.period_end.desc(), _r.id).limit(max(1, min(limit, MAX_RECORDS))).offset(max(0, offset)))
    with store.engine.connect() as conn:
        return [_record_dict(row) for row in conn.execute(query)]


def _record_dict(row: Any) -> dict[str, Any]:
    out = dict(zip(RECORD_COLUMNS, row, strict=True))
    for name in ("reasons", "spf_results", "dkim_results"):
        try:
            out[name] = json.loads(out[name] or "[]")
        except ValueError:
            out[name] = []
    return out


def export_records(store: ReportStore, filters: Filters, fmt: Literal["csv", "json"]) -> Iterator[str]:
    """Every record in the filters, streamed: CSV with a header line, or JSON lines."""
    query = _record_query(filters).order_by(_rep.period_begin, _r.id).execution_options(yield_per=2000)
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(RECORD_COLUMNS)
        yield buffer.getvalue()
    with store.engine.connect() as conn:
        for row in conn.execute(query):
            if fmt == "json":
                yield json.dumps(_record_dict(row), ensure_ascii=False) + "\n"
            else:
                buffer.seek(0)
                buffer.truncate()
                writer.writerow(row)
                yield buffer.getvalue()


def failure_reports_for(store: ReportStore, domain: str, since: int, limit: int = 200) -> list[dict[str, Any]]:
    f = failure_reports.c
    query = (sa.select(f.id, f.reporter, f.feedback_type, f.auth_failure, f.source_ip, f.arrival_time,
                       f.original_mail_from, f.identity_alignment, f.dkim_domain, f.message_id, f.subject)
             .where(f.reported_domain == domain.lower(), sa.func.coalesce(f.arrival_time, f.ingested_at) >= since)
             .order_by(f.id.desc()).limit(limit))
    with store.engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]


def failure_report(store: ReportStore, domain: str, report_id: int) -> dict[str, Any] | None:
    f = failure_reports.c
    query = sa.select(failure_reports).where(f.id == report_id, f.reported_domain == domain.lower())
    with store.engine.connect() as conn:
        row = conn.execute(query).first()
    return dict(row._mapping) if row is not None else None


def tls_reports_for(store: ReportStore, domain: str, since: int, limit: int = 200) -> list[dict[str, Any]]:
    t = tls_reports.c
    query = (sa.select(t.id, t.organization, t.report_id, t.policy_type, t.period_begin, t.period_end,
                       t.successful, t.failed, t.failure_details)
             .where(t.policy_domain == domain.lower(), t.period_end >= since).order_by(t.period_end.desc()).limit(limit))
    with store.engine.connect() as conn:
        rows = [dict(row._mapping) for row in conn.execute(query)]
    for row in rows:
        try:
            row["failure_details"] = json.loads(row["failure_details"] or "[]")
        except ValueError:
            row["failure_details"] = []
    return rows


def domains_with_reports(store: ReportStore) -> list[str]:
    with store.engine.connect() as conn:
        return [d for (d,) in conn.execute(sa.select(_rep.domain).distinct().order_by(_rep.domain))]


def prepare(store: ReportStore) -> ReportStore:
    """Create or upgrade the console's tables (the rollup) in the reports database."""
    from zegel.monitor.store import MIGRATIONS, VERSION_TABLE
    from zegel.reports.store import migrate

    migrate(store.engine, MIGRATIONS, VERSION_TABLE)
    return store
