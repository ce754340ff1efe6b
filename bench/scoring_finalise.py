"""scoring_finalise: finalise a monthly round of 1,000 households × 10 criteria (10,000 transfers).

The round is built through the services (rulebook, round, panel) with its 10,000 score cells put in
by a bulk insert (entering them is not what is measured), then moved to the end of its notice. The
clock runs over ``finalise_round`` + commit: tallying the scores, locking balances, posting through
``ledger.post_many``, writing the results. The baseline, in the same run, is a raw
``sqlite3.executemany`` of the same 10,000 transfer rows into a copy of the same database.

Aims: under 1 s, and within 5× of raw.
"""

import statistics
import uuid
from datetime import timedelta

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
    rate,
    raw_connect,
    say,
    scratch,
    sql_time,
    title,
)

NAME = "scoring_finalise"
HOUSEHOLDS = 1_000
CRITERIA = 10
REPEATS = 3


def _prepare(db_path) -> int:
    """A village, a rulebook of 10 monthly awards, a round fully scored and past its notice; its id."""
    from pointsmart import clock
    from pointsmart.extensions import db
    from pointsmart.scoring import criteria as scoring_criteria
    from pointsmart.scoring import workflow as scoring_workflow
    from pointsmart.scoring.models import RoundStatus, Score, ScoringRound

    app = make_app(db_path)
    village = build_village(app, HOUSEHOLDS)
    with app.app_context():
        session = db.session
        from pointsmart.org.models import Village

        home = session.get(Village, village.village_id)
        category = scoring_criteria.save_category(session, home.id, {"name": "基准类别"}, None)
        for n in range(CRITERIA):
            scoring_criteria.save_criterion(
                session, category, {"name": f"条目{n + 1}", "points": 1 + n, "cadence": "monthly"}, None
            )
        found = scoring_workflow.create_round(session, home, "monthly", "2026-11", "", None)
        now = clock.utcnow()
        session.execute(
            sa.insert(Score),
            [
                {
                    "round_id": found.id,
                    "household_id": household_id,
                    "round_criterion_id": criterion.id,
                    "times": 1,
                    "updated_at": now,
                }
                for household_id in village.accounts
                for criterion in found.criteria
            ],
        )
        session.execute(
            sa.update(ScoringRound)
            .where(ScoringRound.id == found.id)
            .values(
                status=RoundStatus.NOTICE,
                published_at=now - timedelta(days=6),
                notice_ends_at=now - timedelta(days=1),
            )
        )
        session.commit()
        round_id = found.id
    close_app(app)
    return round_id


def _finalise(db_path, round_id) -> tuple[float, int]:
    from pointsmart.extensions import db
    from pointsmart.ledger.models import Transfer
    from pointsmart.ledger.services import verify
    from pointsmart.scoring import finalisation as scoring_finalisation
    from pointsmart.scoring.models import ScoringRound

    app = make_app(db_path)
    try:
        with app.app_context():
            session = db.session
            found = session.get(ScoringRound, round_id)
            with Stopwatch() as sw:
                scoring_finalisation.finalise_round(session, found, None)
                session.commit()
            posted = session.scalar(sa.select(sa.func.count(Transfer.id)).where(Transfer.ref == found.ref))
            report = verify(session)
            if not report.ok:
                raise RuntimeError("ledger does not verify after finalisation")
            session.rollback()
        return sw.seconds, posted
    finally:
        close_app(app)


CHANGE_COLUMNS = "seq, kind, uuid, payload, digest, balance_sum, transfer_count, created_at"


def _change_rows(db_path, after_seq: int) -> list[tuple]:
    """The change-log rows the finalisation wrote (sync needs them in the same transaction)."""
    conn = raw_connect(db_path)
    try:
        return conn.execute(
            f"SELECT {CHANGE_COLUMNS} FROM change_record WHERE seq > ?", (after_seq,)
        ).fetchall()
    finally:
        conn.close()


def _head_seq(db_path) -> int:
    conn = raw_connect(db_path)
    try:
        return conn.execute("SELECT coalesce(max(seq), 0) FROM change_record").fetchone()[0]
    finally:
        conn.close()


def _raw(db_path, rows: list[tuple], change_rows: list[tuple] = ()) -> float:
    conn = raw_connect(db_path)
    try:
        with Stopwatch() as sw:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(RAW_TRANSFER_INSERT, rows)
            if change_rows:
                insert = f"INSERT INTO change_record ({CHANGE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                conn.executemany(insert, change_rows)
            conn.execute("COMMIT")
        return sw.seconds
    finally:
        conn.close()


def _raw_rows(db_path) -> list[tuple]:
    """The transfers a finalisation posts (issuance → household, one per criterion), built before timing."""
    conn = raw_connect(db_path)
    try:
        issuance = conn.execute("SELECT id FROM account WHERE code = 'issuance'").fetchone()[0]
        accounts = [r[0] for r in conn.execute("SELECT account_id FROM household ORDER BY id")]
    finally:
        conn.close()
    from pointsmart.clock import utcnow

    now = sql_time(utcnow())
    return [
        (
            str(uuid.uuid4()),
            issuance,
            account,
            1 + n,
            "award",
            f"2026-11 基准类别·条目{n + 1}",
            "round:x",
            None,
            None,
            now,
        )
        for account in accounts
        for n in range(CRITERIA)
    ]


def run() -> str:
    title(NAME, f"finalise a round of {HOUSEHOLDS:,} households × {CRITERIA} criteria")
    with scratch(NAME) as folder:
        say(f"  scratch: {fs_note(folder)}")
        template = folder / "template.sqlite3"
        migrate(template)
        round_id = _prepare(template)
        raw_rows = _raw_rows(template)
        before = _head_seq(template)
        app_times, raw_times, both_times = [], [], []
        for n in range(REPEATS):
            app_db = copy_db(template, folder / f"app{n}.sqlite3")
            seconds, posted = _finalise(app_db, round_id)
            change_rows = _change_rows(app_db, before)
            raw_seconds = _raw(copy_db(template, folder / f"raw{n}.sqlite3"), raw_rows)
            both_seconds = _raw(copy_db(template, folder / f"both{n}.sqlite3"), raw_rows, change_rows)
            say(
                f"  run {n + 1}: finalise_round {seconds:.3f} s ({posted:,} transfers, {len(change_rows):,} "
                f"change-log records), raw executemany {raw_seconds:.3f} s, with the change-log rows "
                f"{both_seconds:.3f} s"
            )
            app_times.append(seconds)
            raw_times.append(raw_seconds)
            both_times.append(both_seconds)
    app_s, raw_s = statistics.median(app_times), statistics.median(raw_times)
    both_s = statistics.median(both_times)
    ratio, both_ratio = app_s / raw_s, app_s / both_s
    say(
        f"  finalise_round (median of {REPEATS}): {app_s:.3f} s = {rate(posted / app_s)} transfers/s "
        "(includes tallying, locking, results and the commit)"
    )
    say(f"  raw executemany (median of {REPEATS}): {raw_s:.3f} s = {rate(posted / raw_s)} rows/s (baseline)")
    say(
        f"  raw executemany of the transfers and the same change-log rows (median): {both_s:.3f} s "
        "(what the finalisation must write since issue 5)"
    )
    say(f"  ratio: {ratio:.1f}× raw transfers, {both_ratio:.1f}× raw transfers + change log (aim ≤5×); "
        "time aim under 1 s")  # fmt: skip
    return (
        f"{NAME}: {posted:,} transfers in {app_s:.3f} s (aim <1 s), raw executemany {raw_s:.3f} s "
        f"(+ change log {both_s:.3f} s), ratio {ratio:.1f}x ({both_ratio:.1f}x with the change log) (aim ≤5x)"
    )
