"""village_lookup: balance and first history page of a household in a village with 1,000,000 transfers.

The village: 1,000 households registered through the service, then 1,000 scoring rounds in which
every household gets one transfer (mostly awards from issuance, some redemptions to the shop and a
few deductions, never overdrawing), inserted with raw ``executemany``; the cached balances are then
set from the same numbers and ``ledger.verify`` must agree. Each household's transfers are spread
over the whole table, one in every 1,000 rows, as they would be after years of rounds.

Measured over 500 random households, each sample in its own transaction as a request would be:
the balance (``balance_of``, and ``Household.balance`` loaded from a fresh session), the first
history page (``ledger.history(session, account_id, 1, 20)``), and a real ``GET /households/<id>``
through Flask's test client, logged in as a chair. Baseline: ``SELECT 1`` in the same session.
Aims: balance under 2 ms, page under 30 ms.
"""

import random
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from ._common import (
    CHAIR_PASSWORD,
    RAW_TRANSFER_INSERT,
    Latency,
    Stopwatch,
    build_village,
    close_app,
    fs_note,
    make_app,
    migrate,
    ms,
    rate,
    raw_connect,
    sample,
    say,
    scratch,
    sql_time,
    title,
)

NAME = "village_lookup"
HOUSEHOLDS = 1_000
ROUNDS = 1_000
TRANSFERS = HOUSEHOLDS * ROUNDS
SAMPLES = 500
WARMUP = 25
BATCH = 100_000
BALANCE_AIM_MS = 2
PAGE_AIM_MS = 30


#: bits of a random 128-bit number that a version-4 UUID fixes: the version nibble and the variant bits
_UUID_KEEP = ~((0xF << 76) | (0xC << 60))
_UUID_SET = (4 << 76) | (0x8 << 60)


def _uuid4_text(rng: random.Random) -> str:
    """A version-4 UUID as text, drawn from ``rng``: three times faster than ``str(uuid.uuid4())``."""
    h = f"{(rng.getrandbits(128) & _UUID_KEEP) | _UUID_SET:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _rounds(accounts: list[int], system: dict[str, int], balances: dict[int, int]):
    """Yield batches of transfer tuples, round by round; keep ``balances`` (every account) up to date."""
    rng = random.Random(2026)
    issuance, shop, deductions = system["issuance"], system["shop"], system["deductions"]
    start = datetime(2023, 1, 1, 1, 0, 0)
    batch = []
    for r in range(ROUNDS):
        when = sql_time(start + timedelta(hours=20 * r))
        ref = f"round:{r + 1}"
        for account in accounts:
            held = balances[account]
            roll = rng.random()
            if roll < 0.25 and held >= 10:
                amount = rng.randint(5, min(held, 40))
                row = (account, shop, amount, "redemption", "兑换商品", f"redemption:{r}-{account}")
            elif roll < 0.27 and held >= 1:
                amount = rng.randint(1, min(held, 5))
                row = (account, deductions, amount, "deduction", "卫生检查扣分", ref)
            else:
                amount = rng.randint(1, 20)
                row = (issuance, account, amount, "award", "评分奖励", ref)
            balances[row[0]] -= amount
            balances[row[1]] += amount
            batch.append((_uuid4_text(rng), row[0], row[1], amount, row[3], row[4], row[5], None, None, when))
            if len(batch) == BATCH:
                yield batch
                batch = []
    if batch:
        yield batch


def build(db_path: Path):
    """Make the village in the migrated database at ``db_path`` (bench/shop_api.py builds on it too);
    return (village, seconds for the households, seconds for the transfers)."""
    app = make_app(db_path)
    try:
        with Stopwatch() as households_sw:
            village = build_village(app, HOUSEHOLDS)
    finally:
        close_app(app)

    accounts = list(village.accounts.values())
    balances = dict.fromkeys([*accounts, *village.system.values()], 0)
    conn = raw_connect(db_path)
    try:
        # For the build only: a cache that holds the whole file, so the random UUID index is not
        # written out again and again; one transaction. The app's own connections keep the defaults.
        conn.execute("PRAGMA cache_size=-524288")
        with Stopwatch() as transfers_sw:
            conn.execute("BEGIN IMMEDIATE")
            for batch in _rounds(accounts, village.system, balances):
                conn.executemany(RAW_TRANSFER_INSERT, batch)
            conn.executemany(
                "UPDATE account SET balance = ? WHERE id = ?",
                [(balance, account) for account, balance in balances.items()],
            )
            conn.execute("COMMIT")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    return village, households_sw.seconds, transfers_sw.seconds


def _verify(app) -> str:
    from pointsmart.extensions import db
    from pointsmart.ledger import services as ledger

    with app.app_context(), Stopwatch() as sw:
        report = ledger.verify(db.session)
        db.session.close()
    text = (
        f"ok={report.ok}: {report.accounts:,} accounts, {report.transfers:,} transfers, "
        f"{report.points_moved:,} points moved, balance sum {report.balance_sum}, "
        f"{len(report.mismatches)} mismatches, {len(report.negative_households)} negative households "
        f"({sw.seconds:.2f} s)"
    )
    if not report.ok or report.transfers != TRANSFERS:
        raise RuntimeError(f"the built village is inconsistent: {text}")
    return text


def _query_plans(app, account_id: int) -> list[str]:
    """EXPLAIN QUERY PLAN of every statement ``ledger.history`` sends, with its real parameters."""
    from pointsmart.extensions import db
    from pointsmart.ledger import services as ledger

    lines = []
    with app.app_context():
        sent = []

        def capture(conn, cursor, statement, parameters, context, executemany):
            if statement.lstrip().upper().startswith("SELECT"):
                sent.append((statement, parameters))

        sa.event.listen(db.engine, "before_cursor_execute", capture)
        try:
            ledger.history(db.session, account_id, 1, 20)
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", capture)
        for statement, parameters in sent:
            lines.append("    " + " ".join(statement.split()))
            for row in db.session.connection().exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters):
                lines.append(f"      plan: {row[-1]}")
        db.session.close()
    return lines


def _measure(app, village, chosen: list[int]) -> dict[str, Latency]:
    from pointsmart.extensions import db
    from pointsmart.households.models import Household
    from pointsmart.ledger import services as ledger

    account_of = village.accounts
    results = {}
    with app.app_context():
        session = db.session

        def select_one(_household_id):
            session.execute(sa.text("SELECT 1")).scalar()
            session.close()

        def balance_of(household_id):
            ledger.balance_of(session, account_of[household_id])
            session.close()

        def household_balance(household_id):
            session.get(Household, household_id).balance  # noqa: B018  (loading it is the point)
            session.close()

        def history(household_id):
            ledger.history(session, account_of[household_id], 1, 20)
            session.close()

        cases = (
            ("SELECT 1 (baseline)", select_one),
            ("balance_of", balance_of),
            ("Household.balance", household_balance),
            ("history page 1", history),
        )
        for label, fn in cases:
            for household_id in chosen[:WARMUP]:
                fn(household_id)
            results[label] = sample(fn, chosen)

    client = app.test_client()
    response = client.post("/login", data={"username": village.chair_username, "password": CHAIR_PASSWORD})
    if response.status_code != 302:
        raise RuntimeError(f"chair log-in failed: HTTP {response.status_code}")

    def page(household_id):
        response = client.get(f"/households/{household_id}")
        if response.status_code != 200:
            raise RuntimeError(f"GET /households/{household_id}: HTTP {response.status_code}")
        response.close()

    for household_id in chosen[:WARMUP]:
        page(household_id)
    results["GET /households/<id>"] = sample(page, chosen)
    return results


def run() -> str:
    title(NAME, f"{HOUSEHOLDS:,} households, {TRANSFERS:,} transfers; {SAMPLES} random households")
    with scratch(NAME) as folder:
        say(f"  scratch: {fs_note(folder)}")
        db_path = folder / "village.sqlite3"
        migrate(db_path)
        village, households_s, transfers_s = build(db_path)
        say(
            f"  built: {HOUSEHOLDS:,} households through create_household in {households_s:.1f} s; "
            f"{TRANSFERS:,} transfers by executemany + balances in {transfers_s:.1f} s "
            f"({rate(TRANSFERS / transfers_s)} rows/s); file {db_path.stat().st_size / 2**20:,.0f} MiB"
        )

        app = make_app(db_path)
        try:
            say(f"  ledger.verify: {_verify(app)}")
            chosen = random.Random(99).sample(sorted(village.accounts), SAMPLES)
            say(f"  EXPLAIN QUERY PLAN of ledger.history (household {chosen[0]}):")
            for line in _query_plans(app, village.accounts[chosen[0]]):
                say(line)
            results = _measure(app, village, chosen)
        finally:
            close_app(app)

    baseline = results["SELECT 1 (baseline)"].median
    say(f"  over {SAMPLES} households, each sample its own transaction (BEGIN IMMEDIATE … close):")
    for label, latency in results.items():
        say(f"    {label:<22} {latency.text()}  ({latency.median / baseline:.1f}× SELECT 1)")
    balance, household_balance = results["balance_of"], results["Household.balance"]
    history, page = results["history page 1"], results["GET /households/<id>"]
    balance_met = max(balance.p95, household_balance.p95) * 1000 < BALANCE_AIM_MS
    page_met = page.p95 * 1000 < PAGE_AIM_MS
    say(
        f"  aims: balance under {BALANCE_AIM_MS} ms ({'met' if balance_met else 'missed'} at p95), "
        f"page under {PAGE_AIM_MS} ms ({'met' if page_met else 'missed'} at p95)"
    )
    return (
        f"{NAME}: 1M transfers built in {transfers_s:.0f} s; SELECT 1 {ms(baseline)}; "
        f"balance_of median {ms(balance.median)} p95 {ms(balance.p95)}, "
        f"Household.balance median {ms(household_balance.median)} p95 {ms(household_balance.p95)} "
        f"(aim <{BALANCE_AIM_MS} ms); history median {ms(history.median)} p95 {ms(history.p95)}; "
        f"GET page median {ms(page.median)} p95 {ms(page.p95)} (aim <{PAGE_AIM_MS} ms)"
    )
