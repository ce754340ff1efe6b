"""change_log: what the sync change log costs per record, at the counter and in bulk.

The change log's writer (``pointsmart.sync.outbox``) runs inside every commit: it turns what the
flushes noted into records (``_records``: serialize), then numbers, chains and inserts them after the
head row (``append``). The clock runs over those two, per commit, in two workloads on one village:

1. the counter's: 1,000 commits of one ``ledger.post`` each (one transfer record per commit; an award,
   as the village starts with no points: the change log's work is the same as a redemption's transfer);
2. a round's: one ``ledger.post_many`` of 10,000 transfers (10,000 records in one commit).

The clock is the thread's CPU time (``time.thread_time``), since on a busy machine wall time would
mostly measure the other processes; the figure at the counter is the median over the commits. The
baseline, in the same run, is a raw ``sqlite3`` ``executemany`` of the same rows into a copy of the
same database, per record (CPU time too): what storing the records costs with no work around it.
"""

import statistics
import time
from pathlib import Path

from ._common import (
    build_village,
    close_app,
    copy_db,
    fs_note,
    make_app,
    migrate,
    raw_connect,
    say,
    scratch,
    title,
)

NAME = "change_log"
HOUSEHOLDS = 200
SINGLE = 1_000
BULK = 10_000
WARMUP = 20
CHANGE_COLUMNS = "seq, kind, uuid, payload, digest, balance_sum, transfer_count, created_at"


class HookClock:
    """Time the change log's own work (``outbox._records`` + ``outbox.append``) while installed."""

    def __init__(self):
        from pointsmart.sync import outbox

        self.outbox, self.seconds, self.records, self.on = outbox, 0.0, 0, True
        self._records, self._append = outbox._records, outbox.append

    def __enter__(self):
        clock = time.thread_time  # CPU time: on a shared, loaded machine wall time mostly measures others

        def records(session, entries):
            start = clock()
            made = self._records(session, entries)
            if self.on:
                self.seconds += clock() - start
                self.records += len(made)
            return made

        def append(session, records):
            start = clock()
            seq = self._append(session, records)
            if self.on:
                self.seconds += clock() - start
            return seq

        self.outbox._records, self.outbox.append = records, append
        return self

    def __exit__(self, *exc):
        self.outbox._records, self.outbox.append = self._records, self._append

    def per_record(self) -> float:
        return self.seconds / self.records


def _single(db_path: Path, accounts: list[int], issuance_id: int) -> tuple[float, list[float]]:
    """One ``ledger.post`` + commit at a time; the hook's seconds per record and per-commit samples."""
    from pointsmart.extensions import db
    from pointsmart.ledger import services as ledger
    from pointsmart.ledger.models import Account, TransferKind

    app = make_app(db_path)
    try:
        with app.app_context(), HookClock() as hook:
            session = db.session
            samples = []
            for i in range(SINGLE + WARMUP):
                hook.on = i >= WARMUP
                before = hook.seconds
                household = session.get(Account, accounts[i % len(accounts)])
                issuance = session.get(Account, issuance_id)
                ledger.post(session, issuance, household, 1, TransferKind.AWARD, "志愿服务", ref=f"a:{i}")
                session.commit()
                if hook.on:
                    samples.append(hook.seconds - before)
            return statistics.median(samples), samples
    finally:
        close_app(app)


def _bulk(db_path: Path, accounts: list[int], issuance_id: int) -> float:
    from pointsmart.extensions import db
    from pointsmart.ledger import services as ledger

    app = make_app(db_path)
    try:
        with app.app_context(), HookClock() as hook:
            session = db.session
            rows = [
                {"from_account_id": issuance_id, "to_account_id": accounts[i % len(accounts)],
                 "amount": 1 + i % 5, "kind": "award", "reason": f"基准奖励 {i % 10}"}
                for i in range(BULK)
            ]  # fmt: skip
            ledger.post_many(session, rows)
            session.commit()
            return hook.per_record()
    finally:
        close_app(app)


def _raw(template: Path, app_db: Path, folder: Path, after_seq: int) -> float:
    """Seconds per record of a raw executemany of the rows the app wrote, into a copy of the template."""
    conn = raw_connect(app_db)
    try:
        query = f"SELECT {CHANGE_COLUMNS} FROM change_record WHERE seq > ?"
        rows = conn.execute(query, (after_seq,)).fetchall()
    finally:
        conn.close()
    conn = raw_connect(copy_db(template, folder / "raw.sqlite3"))
    try:
        start = time.thread_time()
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(f"INSERT INTO change_record ({CHANGE_COLUMNS}) VALUES ({', '.join('?' * 8)})", rows)
        seconds = time.thread_time() - start
        conn.execute("ROLLBACK")
    finally:
        conn.close()
    (folder / "raw.sqlite3").unlink()
    return seconds / len(rows)


def us(seconds: float) -> str:
    return f"{seconds * 1e6:,.1f} µs"


def run() -> str:
    title(NAME, f"the change log's work per record: {SINGLE:,} one-transfer commits, one of {BULK:,}")
    with scratch(NAME) as folder:
        say(f"  scratch: {fs_note(folder)}")
        template = folder / "template.sqlite3"
        migrate(template)
        app = make_app(template)
        village = build_village(app, HOUSEHOLDS, chair=False)
        close_app(app)
        conn = raw_connect(template)
        head = conn.execute("SELECT coalesce(max(seq), 0) FROM change_record").fetchone()[0]
        conn.close()
        accounts = list(village.accounts.values())

        single_db = copy_db(template, folder / "single.sqlite3")
        single, samples = _single(single_db, accounts, village.system["issuance"])
        single_raw = _raw(template, single_db, folder, head + WARMUP)
        bulk_db = copy_db(template, folder / "bulk.sqlite3")
        bulk = _bulk(bulk_db, accounts, village.system["issuance"])
        bulk_raw = _raw(template, bulk_db, folder, head)
    say(f"  at the counter ({SINGLE:,} commits of one transfer): median {us(single)} per record "
        f"(mean {us(statistics.mean(samples))}, p95 {us(sorted(samples)[int(len(samples) * 0.95)])}); raw "
        f"executemany of the same rows {us(single_raw)} per record (baseline) → "
        f"{single / single_raw:.1f}×")  # fmt: skip
    say(f"  in bulk (one commit of {BULK:,} transfers): {us(bulk)} per record; raw executemany "
        f"{us(bulk_raw)} per record (baseline) → {bulk / bulk_raw:.1f}×")  # fmt: skip
    return (
        f"{NAME}: per record {us(single)} at the counter ({single / single_raw:.1f}x raw insert), "
        f"{us(bulk)} in bulk ({bulk / bulk_raw:.1f}x raw insert)"
    )
