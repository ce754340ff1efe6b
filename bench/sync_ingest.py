"""sync_ingest: 1,000,000 transfers from 100 villages through the county's ingest, against raw ``COPY``.

A fresh PostgreSQL schema, migrated, with a county instance on it (``POINTSMART_MODE=county``) and
100 villages in 10 townships registered with ``county.add_village``. Each village's change log is
made by :mod:`bench._county_data` the way the village's outbox makes it — 5 categories, 200 households,
then 10,000 transfers over 2026 (awards with their category, redemptions to the shop, deductions with
their category; no household ever below zero), the digest chained, the running totals carried — and
cut into 2,000-record request bodies the way ``sync.batches.build`` cuts them. Making them is timed
on its own and kept out of the comparison.

Timed: every body ``POST /api/v1/sync/batches`` through Flask's test client (in-process: the real
endpoint with the key check, parse, ingest and commit), the villages taking turns batch by batch as
they would when pushing at the same time. Baseline, same run: the same 1,000,000 synced_transfer
rows (same columns, same values) into ``raw_copy``, a table made ``LIKE synced_transfer INCLUDING ALL``
plus its foreign key to ``village`` (so the same indexes and checks), with psycopg's ``cursor.copy``
and ``write_row``: first in the same 2,000-row batches with a commit each (the baseline of the ratio,
since the endpoint commits per batch too), taking turns with the ingest — a batch per village through
the endpoint, then the same batches' rows by COPY, and so on — so both meet the same growth of their
tables and the same load from whatever else runs on the machine; then, for reference, as a single
``COPY`` in one transaction. Before each phase the tables written so far are vacuumed and a
``CHECKPOINT`` is taken, so no phase inherits another's autovacuum or dirty pages.

Afterwards, for every village: ``verify.recount`` equals its link's running totals, the link shows no
mismatch and has acknowledged the whole log, and the county's balance sum is what the log says; and
the ingested rows equal the raw ones (``EXCEPT`` both ways). Aim: ingest within 5× of raw. When it
is slower (or ``POINTSMART_BENCH_PROFILE=1``), five more villages are pushed under cProfile and the
top functions printed.
"""

import cProfile
import io
import os
import pstats
import time
import uuid
from dataclasses import dataclass, field

import psycopg
import sqlalchemy as sa

from . import _county_data as data
from ._common import Latency, Stopwatch, close_app, ms, rate, say, scratch, title, upgrade_app

NAME = "sync_ingest"
VILLAGES = 100
PER_TOWNSHIP = 10
HOUSEHOLDS = 200
TRANSFERS_EACH = 10_000
TRANSFERS = VILLAGES * TRANSFERS_EACH
PROFILE_VILLAGES = 5
AIM = 5.0
MIX = data.Mix(households=HOUSEHOLDS, transfers=TRANSFERS_EACH)
COLUMNS = ("village_id", "uuid", "kind", "amount", "from_kind", "to_kind", "household_uuid", "category",
           "reason", "reverses_uuid", "created_at", "month")  # fmt: skip


def _interleaved(villages: list[data.Place], logs: list[data.Log]) -> list[tuple[data.Place, data.Batch]]:
    """Batches in the order villages pushing at once would send them: round-robin, each in sequence."""
    order = []
    for turn in range(max(len(log.batches) for log in logs)):
        for place, log in zip(villages, logs, strict=True):
            if turn < len(log.batches):
                order.append((place, log.batches[turn]))
    return order


def _transfer_rows(batch: data.Batch, log: data.Log, offsets: dict) -> list[tuple]:
    """The synced_transfer rows of one batch: the log's rows from where the last batch left off."""
    count = batch.transfers
    start = offsets.get(id(log), 0)
    offsets[id(log)] = start + count
    return log.rows[start : start + count]


def _settle(url: str) -> None:
    """Leave nothing pending for the next timed phase: vacuum what was written, then a checkpoint.

    Otherwise autovacuum, woken by the last phase's million inserts, runs during the next one.
    """
    with psycopg.connect(_plain(url), autocommit=True) as conn:
        query = "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
        conn.execute("VACUUM ANALYZE " + ", ".join(f'"{row[0]}"' for row in conn.execute(query)))
        conn.execute("CHECKPOINT")


def _plain(url: str) -> str:
    """A libpq URL from SQLAlchemy's (``postgresql+psycopg://`` → ``postgresql://``)."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def _post(client, place: data.Place, batch: data.Batch) -> None:
    """POST one batch with the village's key; anything but its acknowledgement is an error."""
    headers = {"Authorization": f"Bearer {place.key}", "Content-Type": "application/json"}
    response = client.post("/api/v1/sync/batches", data=batch.body, headers=headers)
    if response.status_code != 200 or response.get_json().get("acked_seq") != batch.to_seq:
        raise RuntimeError(f"{place.code} batch {batch.from_seq}–{batch.to_seq}: "
                           f"{response.status_code} {response.get_data(as_text=True)[:500]}")  # fmt: skip


def _copy(conn, chunk: list[tuple]) -> None:
    """COPY ``chunk`` into raw_copy and commit."""
    with conn.cursor() as cursor, cursor.copy(f"COPY raw_copy ({', '.join(COLUMNS)}) FROM STDIN") as copy:
        for row in chunk:
            copy.write_row(row)
    conn.commit()


@dataclass
class Race:
    ingest_s: float = 0.0
    copy_s: float = 0.0
    #: per POST
    latency: Latency = field(default_factory=lambda: Latency([]))
    #: ingest time over copy time, turn by turn
    turns: list[float] = field(default_factory=list)


def _race(app, url: str, order, chunks: list[list[tuple]]) -> Race:
    """The ingest and the batched raw COPY in turns of one batch per village, each timed on its own.

    Taking turns, the two meet the same tables' growth and the same load from anything else running
    on the machine, instead of one getting a quiet minute and the other a busy one.
    """
    client = app.test_client()
    clock = time.perf_counter
    race = Race()
    with psycopg.connect(_plain(url)) as conn:
        for first in range(0, len(order), VILLAGES):
            start = clock()
            for place, batch in order[first : first + VILLAGES]:
                begun = clock()
                _post(client, place, batch)
                race.latency.samples.append(clock() - begun)
            posted = clock()
            for chunk in chunks[first : first + VILLAGES]:
                _copy(conn, chunk)
            copied = clock()
            race.ingest_s += posted - start
            race.copy_s += copied - posted
            race.turns.append((posted - start) / (copied - posted))
    return race


def _verify(app, villages: list[data.Place], logs: list[data.Log]) -> str:
    """Every village's running totals equal a recount and the log; the ingested rows equal the raw ones."""
    from pointsmart.county.models import VillageLink
    from pointsmart.county.verify import recount
    from pointsmart.extensions import db

    problems = []
    with app.app_context(), Stopwatch() as sw:
        session = db.session
        for place, log in zip(villages, logs, strict=True):
            link = session.get(VillageLink, place.village_id)
            running = {"transfers": link.transfer_count, "balance_sum": link.balance_sum,
                       "issued": link.points_issued, "redeemed": link.points_redeemed,
                       "deducted": link.points_deducted}  # fmt: skip
            counted = recount(session, place.village_id)
            if counted != running:
                problems.append(f"{place.code}: recount {counted} != running {running}")
            if link.mismatch or link.acked_seq != log.records:
                problems.append(
                    f"{place.code}: mismatch {link.mismatch!r}, acked {link.acked_seq} of {log.records}"
                )
            if (link.balance_sum, link.transfer_count) != (log.balance_sum, log.transfers):
                problems.append(
                    f"{place.code}: county {link.balance_sum}/{link.transfer_count}, "
                    f"village {log.balance_sum}/{log.transfers}"
                )
        names = ", ".join(COLUMNS)
        differ = session.scalar(sa.text(
            f"SELECT (SELECT count(*) FROM (SELECT {names} FROM synced_transfer EXCEPT SELECT {names} "
            f"FROM raw_copy) a) + (SELECT count(*) FROM (SELECT {names} FROM raw_copy EXCEPT SELECT {names} "
            f"FROM synced_transfer) b)"))  # fmt: skip
        total = session.scalar(sa.text("SELECT count(*) FROM synced_transfer"))
        session.rollback()
    if differ or total != TRANSFERS:
        problems.append(f"synced_transfer holds {total:,} rows, {differ:,} differ from raw_copy")
    if problems:
        raise RuntimeError("the county does not add up after the ingest: " + "; ".join(problems[:5]))
    return (
        f"ok: {len(villages)} villages, recount = running totals = the villages' own totals, "
        f"no mismatch, every log acknowledged to its last record; {total:,} synced rows = raw_copy's "
        f"({sw.seconds:.1f} s)"
    )


def _profile(app, url: str) -> None:
    """Five more villages pushed under cProfile; print where the time goes."""
    extra = data.places(VILLAGES + PROFILE_VILLAGES, PER_TOWNSHIP)[VILLAGES:]
    data.register(app, extra)
    logs = [data.village_log(place, MIX) for place in extra]
    order = _interleaved(extra, logs)
    profiler = cProfile.Profile()
    _settle(url)
    client = app.test_client()
    profiler.enable()
    with Stopwatch() as sw:
        for place, batch in order:
            _post(client, place, batch)
    profiler.disable()
    seconds = sw.seconds
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(18)
    stats.sort_stats("cumulative").print_stats("pointsmart|flask/app|werkzeug/test|psycopg/cursor", 25)
    say(
        f"  cProfile of {len(order)} more batches ({PROFILE_VILLAGES} villages, {seconds:.1f} s under the "
        f"profiler, {rate(PROFILE_VILLAGES * TRANSFERS_EACH / seconds)} transfers/s):"
    )
    for line in out.getvalue().splitlines():
        if line.strip():
            say("    " + line.rstrip())


def run() -> str:
    title(NAME, f"{TRANSFERS:,} transfers from {VILLAGES} villages through POST /api/v1/sync/batches "
                "on PostgreSQL, against raw COPY")  # fmt: skip
    schema = f"pm_bench_ingest_{uuid.uuid4().hex[:8]}"
    with scratch(NAME), data.temporary_schema(schema) as url:
        say(f"  database: {sa.engine.make_url(data.pg_url()).render_as_string()} schema {schema}")
        app = data.county_app(url)
        try:
            upgrade_app(app)
            villages = data.places(VILLAGES, PER_TOWNSHIP)
            data.register(app, villages)
            with Stopwatch() as made:
                logs = [data.village_log(place, MIX, rows=True) for place in villages]
            records = sum(log.records for log in logs)
            order = _interleaved(villages, logs)
            body_bytes = sum(len(batch.body) for _place, batch in order)
            say(
                f"  made: {records:,} records ({VILLAGES * HOUSEHOLDS:,} households, "
                f"{TRANSFERS:,} transfers, {VILLAGES * len(data.CATEGORIES)} categories) "
                f"in {len(order)} batches of ≤2,000, "
                f"{body_bytes / 1e6:.0f} MB of JSON, in {made.seconds:.1f} s (not timed below)"
            )

            with app.app_context():
                from pointsmart.extensions import db

                db.session.execute(sa.text("CREATE TABLE raw_copy (LIKE synced_transfer INCLUDING ALL)"))
                db.session.execute(sa.text("ALTER TABLE raw_copy ADD FOREIGN KEY (village_id) "
                                           "REFERENCES village (id)"))  # fmt: skip
                db.session.commit()

            offsets: dict = {}
            chunks = [_transfer_rows(batch, logs[place.number], offsets) for place, batch in order]
            if sum(len(chunk) for chunk in chunks) != TRANSFERS:
                raise RuntimeError("the raw rows do not match the batches")
            _settle(url)
            race = _race(app, url, order, chunks)
            ingest_s, batched_s = race.ingest_s, race.copy_s
            say(
                f"  ingest: {len(order)} POSTs in {ingest_s:.1f} s: "
                f"{rate(TRANSFERS / ingest_s)} transfers/s, {rate(records / ingest_s)} records/s; "
                f"per batch {race.latency.text()}, max {ms(max(race.latency.samples))}"
            )
            say(
                f"  raw COPY, same {len(chunks)} batches, a commit each, taking turns with the ingest "
                f"(a batch per village each turn): {batched_s:.1f} s, {rate(TRANSFERS / batched_s)} rows/s "
                "(the baseline)"
            )
            check = _verify(app, villages, logs)
            with psycopg.connect(_plain(url)) as conn:
                conn.execute("TRUNCATE raw_copy")
            _settle(url)
            with psycopg.connect(_plain(url)) as conn, Stopwatch() as single:
                _copy(conn, [row for log in logs for row in log.rows])
            single_s = single.seconds
            say(
                f"  raw COPY, all {TRANSFERS:,} rows in one COPY and one commit: {single_s:.1f} s, "
                f"{rate(TRANSFERS / single_s)} rows/s (for reference)"
            )

            ratio = ingest_s / batched_s
            say(
                f"  ratio: ingest takes {ratio:.1f}× the batched raw COPY's time "
                f"({ingest_s / single_s:.1f}× the single COPY's) (aim ≤{AIM:g}×); turn by turn "
                f"{', '.join(f'{r:.1f}×' for r in race.turns)}"
            )
            say(f"  check: {check}")
            if ratio > AIM or os.environ.get("POINTSMART_BENCH_PROFILE") == "1":
                _profile(app, url)
        finally:
            close_app(app)
    return (
        f"{NAME}: ingest {rate(TRANSFERS / ingest_s)} transfers/s ({ingest_s:.1f} s for {TRANSFERS:,}), "
        f"raw COPY {rate(TRANSFERS / batched_s)} rows/s batched, {rate(TRANSFERS / single_s)} single; "
        f"ratio {ratio:.1f}x batched, {ingest_s / single_s:.1f}x single (aim ≤{AIM:g}x)"
    )
