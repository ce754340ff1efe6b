"""ledger_commit: single-transfer transactions per second with ``synchronous=FULL``.

This is the counter's pattern: one redemption, one commit, the customer waits for the fsync. Each
iteration loads the household's account and the shop account (as a request would, since the last
commit expired them), calls ``ledger.post`` and commits. The baseline, on a separate copy of the same
database with the same PRAGMAs, is one raw ``BEGIN IMMEDIATE; INSERT INTO transfer …; COMMIT`` per
iteration through plain sqlite3.
"""

import random
import statistics
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

from ._common import (
    RAW_TRANSFER_INSERT,
    Latency,
    build_village,
    close_app,
    copy_db,
    fs_note,
    make_app,
    migrate,
    ms,
    pragmas,
    rate,
    raw_connect,
    say,
    scratch,
    sql_time,
    title,
)

NAME = "ledger_commit"
COMMITS = 2_000
HOUSEHOLDS = 100
OPENING_POINTS = 1_000
WARMUP = 20


def _seed(db_path: Path) -> tuple[list[int], int, int]:
    """A village whose households hold points to spend; returns (household accounts, shop, issuance)."""
    from pointsmart.extensions import db
    from pointsmart.ledger import services as ledger

    app = make_app(db_path)
    try:
        village = build_village(app, HOUSEHOLDS, chair=False)
        accounts = list(village.accounts.values())
        with app.app_context():
            ledger.post_many(
                db.session,
                [
                    {
                        "from_account_id": village.system["issuance"],
                        "to_account_id": account,
                        "amount": OPENING_POINTS,
                        "kind": "award",
                        "reason": "开户积分",
                    }
                    for account in accounts
                ],
            )
            db.session.commit()
    finally:
        close_app(app)
    return accounts, village.system["shop"], village.system["issuance"]


def _plan(accounts: list[int], n: int) -> list[tuple[int, int]]:
    """(household account, points) for each redemption: small amounts that never overdraw."""
    rng = random.Random(7)
    return [(rng.choice(accounts), rng.randint(1, 3)) for _ in range(n)]


def _app_loop(db_path: Path, plan, shop_id: int) -> tuple[Latency, float, str]:
    """``ledger.post`` + ``commit`` per redemption; return per-commit latency, total seconds, PRAGMAs."""
    from pointsmart.extensions import db
    from pointsmart.ledger import services as ledger
    from pointsmart.ledger.models import Account, Transfer, TransferKind

    app = make_app(db_path)
    try:
        with app.app_context():
            session = db.session
            setup = pragmas(session.connection())
            session.rollback()

            def once(i, account_id, points):
                household = session.get(Account, account_id)
                shop = session.get(Account, shop_id)
                ledger.post(
                    session,
                    household,
                    shop,
                    points,
                    TransferKind.REDEMPTION,
                    "兑换商品",
                    ref=f"redemption:bench-{i}",
                )
                session.commit()

            samples, total = _timed(once, plan)
            count = session.scalar(
                sa.select(sa.func.count())
                .select_from(Transfer)
                .where(Transfer.kind == TransferKind.REDEMPTION)
            )
            report = ledger.verify(session)
            session.rollback()
            if count != len(plan) or not report.ok:
                raise RuntimeError(
                    f"after the loop: {count} redemptions (expected {len(plan)}), ledger ok={report.ok}"
                )
    finally:
        close_app(app)
    return Latency(samples), total, setup


def _timed(once, plan) -> tuple[list[float], float]:
    """Run ``once`` for the warm-up rows untimed, then for the rest timed one by one."""
    for i, (account_id, points) in enumerate(plan[:WARMUP]):
        once(-1 - i, account_id, points)
    samples = []
    clock = time.perf_counter
    started = clock()
    for i, (account_id, points) in enumerate(plan[WARMUP:]):
        start = clock()
        once(i, account_id, points)
        samples.append(clock() - start)
    return samples, clock() - started


def _raw_loop(db_path: Path, plan, shop_id: int) -> tuple[Latency, float, str]:
    """One raw single-row INSERT + COMMIT per redemption, same table and PRAGMAs."""
    from pointsmart.clock import utcnow

    conn = raw_connect(db_path)
    try:
        setup = pragmas(conn)

        def once(i, account_id, points):
            conn.execute("BEGIN IMMEDIATE")
            row = (
                str(uuid.uuid4()),
                account_id,
                shop_id,
                points,
                "redemption",
                "兑换商品",
                f"redemption:bench-{i}",
                None,
                None,
                sql_time(utcnow()),
            )
            conn.execute(RAW_TRANSFER_INSERT, row)
            conn.execute("COMMIT")

        samples, total = _timed(once, plan)
    finally:
        conn.close()
    return Latency(samples), total, setup


def run() -> str:
    title(NAME, f"{COMMITS:,} single-transfer commits (ledger.post + commit) with synchronous=FULL")
    with scratch(NAME) as folder:
        say(f"  scratch: {fs_note(folder)}")
        template = folder / "template.sqlite3"
        migrate(template)
        accounts, shop_id, _issuance = _seed(template)
        plan = _plan(accounts, COMMITS + WARMUP)

        app_db, raw_db = copy_db(template, folder / "app.sqlite3"), copy_db(template, folder / "raw.sqlite3")
        app_latency, app_total, app_setup = _app_loop(app_db, plan, shop_id)
        raw_latency, raw_total, raw_setup = _raw_loop(raw_db, plan, shop_id)

    app_rate = COMMITS / app_total
    raw_rate = COMMITS / raw_total
    ratio = raw_rate / app_rate
    say(f"  PRAGMAs: app [{app_setup}], raw [{raw_setup}]")
    say(f"  ledger.post + commit: {rate(app_rate)} commits/s; per commit {app_latency.text()}")
    say(f"  raw INSERT + COMMIT:  {rate(raw_rate)} commits/s; per commit {raw_latency.text()} (baseline)")
    share = statistics.median(raw_latency.samples) / statistics.median(app_latency.samples)
    say(
        f"  ratio: the app's commit loop is {ratio:.1f}× slower than raw; a raw one-row commit "
        f"(BEGIN, INSERT, fsync'd COMMIT) is {share:.0%} of the app's median"
    )
    say(
        f"  app work on top of the raw commit: {ms(app_latency.median - raw_latency.median)} "
        "per redemption (two account loads, two conditional UPDATEs, the INSERT, the ORM)"
    )
    return (
        f"{NAME}: ledger.post+commit {rate(app_rate)} commits/s "
        f"(median {ms(app_latency.median)}, p95 {ms(app_latency.p95)}), "
        f"raw INSERT+COMMIT {rate(raw_rate)} commits/s, ratio {ratio:.1f}x"
    )
