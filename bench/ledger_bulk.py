"""ledger_bulk: 100,000 transfers through ``ledger.post_many`` against raw ``sqlite3.executemany``.

The shape is a scoring round's finalisation: 1,000 households × 100 awards from the issuance account,
posted in one call and one commit. The baseline puts the same rows into the same ``transfer`` table
(a separate copy of the same migrated database, same PRAGMAs, one ``BEGIN IMMEDIATE`` transaction)
with a plain ``executemany``. The raw rows are built before the clock starts, UUIDs included, so the
baseline is what SQLite itself costs; the UUID cost is printed on its own for reference.

Aim: post_many within 5× of raw. When it is slower (or ``POINTSMART_BENCH_PROFILE=1``), one more
run is profiled with cProfile and the top functions are printed.
"""

import cProfile
import io
import os
import pstats
import statistics
import uuid
from pathlib import Path

import sqlalchemy as sa

from ._common import (
    RAW_TRANSFER_INSERT,
    Stopwatch,
    build_village,
    close_app,
    copy_db,
    fs_note,
    make_app,
    migrate,
    pragmas,
    rate,
    raw_connect,
    say,
    scratch,
    sql_time,
    title,
)

NAME = "ledger_bulk"
HOUSEHOLDS = 1_000
AWARDS_EACH = 100
ROWS = HOUSEHOLDS * AWARDS_EACH
REPEATS = 3
AIM = 5.0


def _rows(village) -> list[dict]:
    """The input post_many gets: round-major, as a round's results come out household by household."""
    issuance = village.system["issuance"]
    accounts = list(village.accounts.values())
    return [
        {
            "from_account_id": issuance,
            "to_account_id": account,
            "amount": 1 + (item * 7 + i) % 20,
            "kind": "award",
            "reason": f"第{item + 1}项 评分奖励",
            "ref": "round:1",
        }
        for item in range(AWARDS_EACH)
        for i, account in enumerate(accounts)
    ]


def _raw_rows(rows: list[dict]) -> list[tuple]:
    """The same transfers as the tuples a raw INSERT takes (UUIDs and time made here, before timing)."""
    from pointsmart.clock import utcnow

    now = sql_time(utcnow())
    return [
        (
            str(uuid.uuid4()),
            r["from_account_id"],
            r["to_account_id"],
            r["amount"],
            r["kind"],
            r["reason"],
            r["ref"],
            None,
            None,
            now,
        )
        for r in rows
    ]


def _post_many(
    db_path: Path, rows: list[dict], profiler: cProfile.Profile | None = None
) -> tuple[float, str]:
    """Post the rows with ledger.post_many and commit; return the seconds it took and the PRAGMAs."""
    from pointsmart.extensions import db
    from pointsmart.ledger import services as ledger
    from pointsmart.ledger.models import Transfer

    app = make_app(db_path)
    try:
        with app.app_context():
            session = db.session
            session.connection()  # check out a connection (and BEGIN) outside the clock, as a request has
            setup = pragmas(session.connection())
            if profiler:
                profiler.enable()
            with Stopwatch() as sw:
                posted = ledger.post_many(session, rows)
                session.commit()
            if profiler:
                profiler.disable()
            count = session.scalar(sa.select(sa.func.count()).select_from(Transfer))
            if posted != len(rows) or count != len(rows):
                raise RuntimeError(f"post_many posted {posted}, table holds {count}, expected {len(rows)}")
            report = ledger.verify(session)
            session.rollback()
            if not report.ok:
                raise RuntimeError(f"ledger inconsistent after post_many: {report}")
    finally:
        close_app(app)
    return sw.seconds, setup


def _raw(db_path: Path, raw_rows: list[tuple]) -> tuple[float, str]:
    """Insert the rows with one executemany in one transaction; return the seconds it took and the PRAGMAs."""
    conn = raw_connect(db_path)
    try:
        setup = pragmas(conn)
        with Stopwatch() as sw:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(RAW_TRANSFER_INSERT, raw_rows)
            conn.execute("COMMIT")
        count = conn.execute("SELECT count(*) FROM transfer").fetchone()[0]
        if count != len(raw_rows):
            raise RuntimeError(f"raw insert left {count} rows, expected {len(raw_rows)}")
    finally:
        conn.close()
    return sw.seconds, setup


def _profile(template: Path, folder: Path, rows: list[dict]) -> None:
    profiler = cProfile.Profile()
    target = copy_db(template, folder / "profile.sqlite3")
    seconds, _setup = _post_many(target, rows, profiler)
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(15)
    stats.sort_stats("cumulative").print_stats(
        "pointsmart|sqlalchemy/(orm/session|engine/(base|default))", 12
    )
    say(f"  cProfile of one more post_many ({seconds:.2f} s under the profiler):")
    for line in out.getvalue().splitlines():
        if line.strip():
            say("    " + line.rstrip())


def _remove(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def run() -> str:
    title(NAME, f"{ROWS:,} transfers ({HOUSEHOLDS:,} households × {AWARDS_EACH} awards) in one commit")
    with scratch(NAME) as folder:
        say(f"  scratch: {fs_note(folder)}")
        template = folder / "template.sqlite3"
        migrate(template)
        app = make_app(template)
        village = build_village(app, HOUSEHOLDS, chair=False)
        close_app(app)

        rows = _rows(village)
        with Stopwatch() as uuid_sw:
            raw_rows = _raw_rows(rows)

        app_times, raw_times = [], []
        for i in range(REPEATS):  # alternate, each on a fresh copy, so drift hits both alike
            target = copy_db(template, folder / f"post_many-{i}.sqlite3")
            seconds, app_setup = _post_many(target, rows)
            app_times.append(seconds)
            _remove(target)
            target = copy_db(template, folder / f"raw-{i}.sqlite3")
            seconds, raw_setup = _raw(target, raw_rows)
            raw_times.append(seconds)
            _remove(target)
            say(f"  run {i + 1}: post_many {app_times[-1]:.3f} s, raw executemany {raw_times[-1]:.3f} s")

        app_rate = ROWS / statistics.median(app_times)
        raw_rate = ROWS / statistics.median(raw_times)
        ratio = raw_rate / app_rate
        say(f"  PRAGMAs: post_many [{app_setup}], raw [{raw_setup}]")
        say(
            f"  post_many (median of {REPEATS}): {rate(app_rate)} rows/s "
            f"(includes {HOUSEHOLDS + 1:,} balance UPDATEs and the commit)"
        )
        say(f"  raw executemany (median of {REPEATS}): {rate(raw_rate)} rows/s (baseline)")
        say(f"  ratio: post_many is {ratio:.1f}× slower than raw (aim ≤{AIM:g}×)")
        say(
            f"  for reference: building the raw tuples with uuid4() took {uuid_sw.seconds:.3f} s "
            "(post_many does this inside its time, the baseline before it)"
        )

        if ratio > AIM or os.environ.get("POINTSMART_BENCH_PROFILE") == "1":
            _profile(template, folder, rows)

    return (
        f"{NAME}: post_many {rate(app_rate)} rows/s, raw executemany {rate(raw_rate)} rows/s, "
        f"ratio {ratio:.1f}x (aim ≤{AIM:g}x)"
    )
