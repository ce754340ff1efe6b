"""A crash never loses an answered sale (issue 9), on SQLite and on PostgreSQL.

The counter is served by a real server process (waitress, through the ``pointsmart serve`` entry
point) on a prepared village: households with cards and points, goods with stock (one kind scarce),
a scoring round in draft with two panel members. Three counters stream redemptions through
``POST /api/v1/redemptions`` with idempotency keys and two panel members save cells of the score
grid (its JSON endpoint, logged in, with CSRF) — see ``tests/_crash_traffic.py``. The server is
killed with SIGKILL at a random moment (seeded: ``POINTSMART_CRASH_SEED``), at least
:data:`KILLS` times (``POINTSMART_CRASH_KILLS``), and started again on the same port; the clients
send their unanswered requests again with the same keys.

After each restart, before any new request, :func:`check_books` reads the database and fails on the
first thing out of place:

- ``ledger verify`` is clean (cache = transfers, sum zero, nobody below zero); every household holds
  its opening points less its redemptions;
- every redemption answered 201 is there exactly once, under its key's idempotency record, with the
  answer the client got; every stored key is one a client sent; every redemption has its transfer,
  lines and stock moves, and its audit entry; every refusal answered has its record and audit entry;
- every goods' stock equals the sum of its moves, and its opening stock less what was redeemed;
- the change log is numbered 1..head with no gap, its digest chain and running totals recompute, the
  head row agrees, and it holds every transfer, redemption and stock move exactly once;
- every score answered 2xx is stored (or, for a save in flight at the kill, the value it carried).

A retried request whose first attempt committed must get that committed answer; a request answered
before must get the same answer again. After the last kill the server is started cold, as the plain
console script; every unanswered request is settled, the redemptions in the database are exactly the
ones answered 201, and ``pointsmart ledger verify`` (the CLI command) says ``ledger OK``.

The other starts go through :mod:`tests._crash_server`, a warm parent that forks ``pointsmart serve``
(a cold start costs 1.5–6 s of imports on this loaded 2-core machine; thirty of them would not fit).
"""

import contextlib
import os
import random
import select
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter as Tally
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest
import sqlalchemy as sa

from pointsmart import create_app
from pointsmart.audit.models import AuditEntry
from pointsmart.extensions import db
from pointsmart.idempotency import IdempotencyRecord
from pointsmart.ledger import services as ledger
from pointsmart.ledger.models import Account, AccountKind, Transfer
from pointsmart.scoring.models import Score
from pointsmart.shop.models import Goods, Redemption, RedemptionLine, StockMove
from pointsmart.sync import outbox, wire
from pointsmart.sync.models import ChangeRecord, OutboxHead

from . import _sync_process as proc
from ._crash_traffic import Counter, Gate, Panel
from .conftest import PASSWORD, VILLAGE_CODE, _migrate

#: kills per database (at least 30, issue 9); more by hand with POINTSMART_CRASH_KILLS
KILLS = 30
#: when each kill falls, drawn with these weights: early, in the first EARLY seconds after the restart
#: (retries, first requests); at a commit, as soon as the database holds an answer no counter has yet;
#: or anywhere in the stream, within LATE seconds once it flows again (FLOWING answers in this epoch)
MOMENTS = {"early": 1, "commit": 1, "stream": 2}
EARLY, LATE, FLOWING = 0.4, 0.6, 1
#: seconds a kill "at a commit" waits for one before it falls anyway
COMMIT_WAIT = 3.0
ZYGOTE = Path(__file__).with_name("_crash_server.py")
#: name → (points, opening stock); 毛巾 runs out within the first sales, so refusals for stock are part
#: of the stream (and the poor households' refusals for points)
GOODS = {"洗衣粉": (30, 5000), "食用油": (50, 5000), "大米": (40, 5000), "牙膏": (10, 5000), "毛巾": (20, 6)}
HOUSEHOLDS = 24
#: opening points: most households can buy for a long while; the last few run out quickly
RICH, POOR, POOR_HOUSEHOLDS = 6000, 150, 4
MOST_TIMES = 5


# --- the village -----------------------------------------------------------------------------------


@dataclass
class World:
    """What the test prepared, and the figures the checks compare the database with."""

    #: household id → (account id, opening points)
    households: dict[int, tuple[int, int]]
    #: card text (number or URL) → household id
    cards: dict[str, int]
    #: goods id → (price, opening stock)
    goods: dict[int, tuple[int, int]]
    shop_account: int
    #: (user id, API token) of the counters: two shopkeepers and the chair
    operators: list[tuple[int, str]]
    #: user names of the two panel members
    panel: list[str]
    round_id: int
    round_criteria: list[int]


def prepare(app) -> World:
    """Set the village up through the services, as the chair would have done."""
    from pointsmart.auth.services import create_api_token, create_user
    from pointsmart.cards.services import card_url, issue_card
    from pointsmart.households.services import adjust_points, create_household
    from pointsmart.org.services import ensure_village
    from pointsmart.scoring import services as scoring
    from pointsmart.shop import services as shop
    from pointsmart.shop.models import MoveKind

    with app.app_context():
        s = db.session
        village = ensure_village(s, VILLAGE_CODE, "测试村", township_name="测试镇", county_name="测试县")
        users = {
            name: create_user(s, name, role, PASSWORD, name, village_id=village.id)
            for name, role in [("chair", "chair"), ("shop1", "shopkeeper"), ("shop2", "shopkeeper"),
                               ("panel1", "panel"), ("panel2", "panel")]
        }  # fmt: skip
        s.flush()
        operators = [(users[n].id, create_api_token(s, users[n])) for n in ("shop1", "shop2", "chair")]
        households, cards = {}, {}
        for n in range(HOUSEHOLDS):
            data = {
                "household_no": f"01-{n + 1:03d}",
                "head_name": f"户主{n + 1}",
                "group": ("一社", "二社")[n % 2],
            }
            home = create_household(s, village.id, data, actor_id=None)
            opening = POOR if n >= HOUSEHOLDS - POOR_HOUSEHOLDS else RICH
            adjust_points(s, home, opening, "开户积分", actor_id=None)
            card = issue_card(s, home, None)
            # half the counters type the number, half scan the QR (the card's URL)
            cards[card.number if n % 2 else card_url("http://pointsmart.test", card)] = home.id
            households[home.id] = (home.account_id, opening)
        goods = {}
        for name, (price, stock) in GOODS.items():
            item = shop.save_goods(s, village.id, {"name": name, "price": price}, None)
            shop.receive_stock(s, item, MoveKind.DONATION, stock, None, donor="爱心企业")
            goods[item.id] = (price, stock)
        category = scoring.save_category(s, village.id, {"name": "美丽庭院"}, None)
        for name, points in [("庭院整洁", 5), ("志愿服务", 3), ("乱堆乱放", -5)]:
            scoring.save_criterion(
                s, category, {"name": name, "points": points, "cadence": "monthly",
                              "max_per_period": MOST_TIMES}, None,
            )  # fmt: skip
        for name in ("panel1", "panel2"):
            scoring.set_panel_member(s, users[name], "执委", [], actor_id=users["chair"].id)
        scoring_round = scoring.create_round(s, village, "monthly", "2026-11", "", users["chair"].id)
        s.flush()
        world = World(
            households=households,
            cards=cards,
            goods=goods,
            shop_account=ledger.system_account(s, AccountKind.SHOP).id,
            operators=operators,
            panel=["panel1", "panel2"],
            round_id=scoring_round.id,
            round_criteria=[c.id for c in scoring_round.criteria],
        )
        s.commit()
        db.session.remove()
        return world


# --- the server ------------------------------------------------------------------------------------


class Running:
    """One server process: killed with SIGKILL, and reaped to make sure it was the kill that ended it."""

    def __init__(self, pid: int, reap, alive, url: str, log: Path):
        self.pid, self._reap, self._alive, self.url, self.log = pid, reap, alive, url, log

    def wait_ready(self) -> "Running":
        deadline = time.monotonic() + proc.START_TIMEOUT
        while True:
            if not self._alive():
                pytest.fail(f"server {self.pid} exited before answering:\n{self.log.read_text()[-3000:]}")
            try:
                # an API call without a token: a cheap answer, from the app and its database
                if httpx.get(self.url + "/api/v1/goods", timeout=2.0, trust_env=False).status_code == 401:
                    return self
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"server {self.pid} did not answer in {proc.START_TIMEOUT}s")
            time.sleep(0.02)

    def kill(self, check: bool = True) -> None:
        """SIGKILL the server; with ``check``, fail unless it was alive until the kill."""
        os.kill(self.pid, signal.SIGKILL)  # one that ended by itself is a zombie until reaped: no error
        status = self._reap()
        if check:
            assert status == -signal.SIGKILL, (
                f"server {self.pid} ended with {status}, not by the kill:\n{self.log.read_text()[-3000:]}"
            )


class Launcher:
    """Starts servers on one port: cold (the console script) or warm (forked by :mod:`_crash_server`)."""

    def __init__(self, env: dict, port: int, log: Path):
        self.env, self.port, self.log = env, port, log
        self.url = f"http://127.0.0.1:{port}"
        self.zygote = subprocess.Popen(
            [sys.executable, str(ZYGOTE)], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=log.open("ab"), text=True, start_new_session=True,
        )  # fmt: skip
        assert self._read() == "ready"

    def _read(self, timeout: float = 60) -> str:
        ready, _w, _x = select.select([self.zygote.stdout], [], [], timeout)
        assert ready, f"the warm parent said nothing for {timeout}s:\n{self.log.read_text()[-3000:]}"
        return self.zygote.stdout.readline().strip()

    def _ask(self, line: str) -> str:
        self.zygote.stdin.write(line + "\n")
        self.zygote.stdin.flush()
        return self._read()

    def warm(self) -> Running:
        answer = self._ask(f"start {self.port} {self.log}")
        pid = int(answer.split()[1])

        def reap() -> int:
            return int(self._ask(f"reap {pid}").split()[1])

        def alive() -> bool:
            return self._ask(f"poll {pid}") == "alive"

        return Running(pid, reap, alive, self.url, self.log).wait_ready()

    def run(self, *args: str) -> tuple[int, str]:
        """``pointsmart ARGS`` to its end, forked from the warm parent: its exit status and output."""
        out = self.log.with_name(f"run-{time.monotonic_ns()}.log")
        status = int(self._ask(f"run {out} {' '.join(args)}").split()[1])
        return status, out.read_text()

    def cold(self) -> Running:
        process = proc.start(self.env, "serve", "--host", "127.0.0.1", "--port", str(self.port), log=self.log)

        def reap() -> int:
            return process.wait(timeout=10)

        return Running(process.pid, reap, lambda: process.poll() is None, self.url, self.log).wait_ready()

    def close(self) -> None:
        self.zygote.stdin.close()
        try:
            self.zygote.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.zygote.kill()
            self.zygote.wait(timeout=10)


class Watch:
    """A plain connection beside the app's (no ``BEGIN IMMEDIATE``, autocommit): to time a kill.

    It counts the redemption answers committed to the database; while that is more than the answers
    the counters have received, a sale is committed and its answer is on its way — the moment where
    a kill tests that a retry gets the first answer back.
    """

    SQL = "SELECT count(*) FROM idempotency_record WHERE status <> 0 AND scope LIKE 'redemption:%'"

    def __init__(self, url: str):
        address = sa.engine.make_url(url)
        if address.get_backend_name() == "sqlite":
            self.connection = sqlite3.connect(address.database, isolation_level=None, timeout=15)
        else:
            self.connection = psycopg.connect(
                host=address.host, port=address.port, user=address.username, password=address.password,
                dbname=address.database, options=address.query.get("options", ""), autocommit=True,
            )  # fmt: skip

    def committed(self) -> int:
        return self.connection.execute(self.SQL).fetchone()[0]

    def unanswered_commit(self, gate: Gate, timeout: float) -> bool:
        """Wait until the database holds a sale's answer that no counter has received; False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.committed() > gate.sales_answered:
                return True
            time.sleep(0.001)
        return False

    def close(self) -> None:
        self.connection.close()


# --- the checks --------------------------------------------------------------------------------------


@dataclass
class Books:
    redemptions: int
    refusals: int
    log_head: int


def check_books(app, world: World, counters: list[Counter], panels: list[Panel]) -> Books:
    """Everything the module docstring lists, read in one snapshot; sets ``expected`` on pending sales."""
    with app.app_context():
        s = db.session
        if s.get_bind().dialect.name == "postgresql":  # one snapshot for all the reads below
            s.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        try:
            return _check(s, world, counters, panels)
        finally:
            s.rollback()
            db.session.remove()


def _check(s, world: World, counters: list[Counter], panels: list[Panel]) -> Books:
    # the ledger
    report = ledger.verify(s)
    assert report.ok and not report.negative_households, report
    balances = dict(s.execute(sa.select(Account.id, Account.balance)).all())

    # redemptions, with their transfers, lines, stock moves and audit entries
    reds = {
        row.id: row
        for row in s.execute(
            sa.select(Redemption.id, Redemption.uuid, Redemption.household_id, Redemption.points,
                      Redemption.status, Redemption.transfer_id)
        )
    }  # fmt: skip
    transfers = {
        row.id: row
        for row in s.execute(
            sa.select(Transfer.id, Transfer.uuid, Transfer.from_account_id, Transfer.to_account_id,
                      Transfer.amount, Transfer.kind, Transfer.ref)
        )
    }  # fmt: skip
    lines: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    price_of_lines: dict[int, int] = defaultdict(int)
    redeemed_qty: dict[int, int] = defaultdict(int)
    for red_id, goods_id, qty, unit_price in s.execute(
        sa.select(RedemptionLine.redemption_id, RedemptionLine.goods_id, RedemptionLine.qty,
                  RedemptionLine.unit_price)
    ):  # fmt: skip
        lines[red_id][goods_id] += qty
        price_of_lines[red_id] += qty * unit_price
        redeemed_qty[goods_id] += qty
    moved: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for red_id, goods_id, qty in s.execute(
        sa.select(StockMove.redemption_id, StockMove.goods_id, StockMove.qty).where(
            StockMove.redemption_id.is_not(None)
        )
    ):
        moved[red_id][goods_id] += qty
    spent: dict[int, int] = defaultdict(int)
    for red in reds.values():
        transfer = transfers[red.transfer_id]
        account_id = world.households[red.household_id][0]
        assert (transfer.from_account_id, transfer.to_account_id, transfer.amount, transfer.kind) == (
            account_id, world.shop_account, red.points, "redemption"), (red, transfer)  # fmt: skip
        assert transfer.ref == f"redemption:{red.uuid}" and red.status == "done", (red, transfer)
        assert price_of_lines[red.id] == red.points, red
        assert {g: -q for g, q in moved[red.id].items()} == dict(lines[red.id]), red
        spent[red.household_id] += red.points
    assert sum(t.kind == "redemption" for t in transfers.values()) == len(reds)
    assert set(moved) <= set(reds)
    for household_id, (account_id, opening) in world.households.items():
        assert balances[account_id] == opening - spent[household_id], household_id
    audited = Tally(
        s.scalars(sa.select(AuditEntry.target_id).where(AuditEntry.action == "shop.redemption.done"))
    )
    assert audited == Tally(str(red_id) for red_id in reds), "one audit entry per redemption"

    # stock
    stock = dict(s.execute(sa.select(Goods.id, Goods.stock)).all())
    moves = dict(
        s.execute(
            sa.select(StockMove.goods_id, sa.func.sum(StockMove.qty)).group_by(StockMove.goods_id)
        ).all()
    )
    for goods_id, (_price, opening) in world.goods.items():
        assert stock[goods_id] == moves[goods_id] == opening - redeemed_qty[goods_id] >= 0, goods_id

    # every stored key is a key a client sent; every answer a client got is the stored one
    stored = {
        (scope, key): (status, response)
        for scope, key, status, response in s.execute(
            sa.select(IdempotencyRecord.scope, IdempotencyRecord.key, IdempotencyRecord.status,
                      IdempotencyRecord.response).where(IdempotencyRecord.scope.like("redemption:%"))
        )
    }  # fmt: skip
    sales = {(sale.scope, sale.key): sale for counter in counters for sale in counter.sales}
    assert not stored.keys() - sales.keys(), f"keys no client sent: {stored.keys() - sales.keys()}"
    for ident, sale in sales.items():
        found = stored.get(ident)
        if sale.answers:
            assert found == sale.answers[0], f"key {sale.key}: answered {sale.answers[0]}, stored {found}"
        elif found is not None:  # committed, but the answer never reached the counter: a retry gets it
            sale.expected = found
    sold = {}
    for (scope, key), (status, response) in stored.items():
        assert status in (201, 409), f"key {key} stored with status {status}: {response}"
        if status == 201:
            red = reds.get(response["id"])
            assert red is not None, (
                f"key {key} answered 201 with redemption {response['id']}, not in the database"
            )
            assert (red.uuid, red.points) == (response["uuid"], response["points"]), (red, response)
            assert red.household_id == world.cards[sales[(scope, key)].card], (red, key)
            assert response["id"] not in sold, (
                f"keys {sold.get(response['id'])} and {key} share redemption {red}"
            )
            sold[response["id"]] = key
    assert set(sold) == set(reds), f"redemptions under no key: {set(reds) - set(sold)}"
    refusals = sum(status == 409 for status, _r in stored.values())
    audited_refusals = s.scalar(
        sa.select(sa.func.count(AuditEntry.id)).where(AuditEntry.action == "shop.redemption.refused")
    )
    assert audited_refusals == refusals, (audited_refusals, refusals)

    # the change log: 1..head, no gap, its chain and totals recompute, and it holds what happened
    head = s.execute(sa.select(OutboxHead.seq, OutboxHead.digest, OutboxHead.balance_sum,
                               OutboxHead.transfer_count).where(OutboxHead.id == 1)).one()  # fmt: skip
    digest, balance_sum, transfer_count, expected_seq = "", 0, 0, 0
    logged_transfers: dict[str, int] = {}
    logged_redemptions: set[str] = set()
    logged_moves: dict[str, tuple[str, int]] = {}
    for seq, kind, uuid, payload, row_digest, row_sum, row_count in s.execute(
        sa.select(ChangeRecord.seq, ChangeRecord.kind, ChangeRecord.uuid, ChangeRecord.payload,
                  ChangeRecord.digest, ChangeRecord.balance_sum, ChangeRecord.transfer_count)
        .order_by(ChangeRecord.seq)
    ):  # fmt: skip
        expected_seq += 1
        assert seq == expected_seq, f"change log jumps from {expected_seq - 1} to {seq}"
        digest = wire.chain(digest, wire.record_bytes(seq, kind, uuid, payload.encode()))
        assert row_digest == digest, f"digest chain broken at {seq}"
        if kind == "transfer":
            body = wire.decode(payload)
            assert uuid not in logged_transfers, f"transfer {uuid} logged twice"
            logged_transfers[uuid] = body["amount"]
            transfer_count += 1
            balance_sum += outbox.household_delta(body)
        elif kind == "redemption":
            assert uuid not in logged_redemptions, f"redemption {uuid} logged twice (never changed here)"
            logged_redemptions.add(uuid)
        elif kind == "stock_move":
            body = wire.decode(payload)
            assert uuid not in logged_moves, f"stock move {uuid} logged twice"
            logged_moves[uuid] = (body["goods"], body["qty"])
        assert (row_sum, row_count) == (balance_sum, transfer_count), f"running totals wrong at {seq}"
    assert tuple(head) == (expected_seq, digest, balance_sum, transfer_count), (tuple(head), expected_seq)
    household_sum = sum(balances[account_id] for account_id, _o in world.households.values())
    assert balance_sum == household_sum, (balance_sum, household_sum)
    assert logged_transfers == {t.uuid: t.amount for t in transfers.values()}, "log and transfers differ"
    assert logged_redemptions == {red.uuid for red in reds.values()}, "log and redemptions differ"
    db_moves = set(s.scalars(sa.select(StockMove.uuid)))
    assert set(logged_moves) == db_moves, "log and stock moves differ"
    goods_uuid = dict(s.execute(sa.select(Goods.id, Goods.uuid)).all())
    logged_stock: dict[str, int] = defaultdict(int)
    for goods, qty in logged_moves.values():
        logged_stock[goods] += qty
    assert {goods_uuid[g]: stock[g] for g in world.goods} == dict(logged_stock), "log's stock differs"

    # scores: what was answered is stored; a save cut off by the kill left the old value or its own
    cells = {
        (household_id, criterion_id): times
        for household_id, criterion_id, times in s.execute(
            sa.select(Score.household_id, Score.round_criterion_id, Score.times).where(
                Score.round_id == world.round_id
            )
        )
    }
    for panel in panels:
        for cell in panel.cells:
            allowed = {panel.acked.get(cell, 0)}
            if panel.pending is not None and panel.pending.cell == cell:
                allowed.add(panel.pending.times)
            assert cells.get(cell, 0) in allowed, (
                f"score {cell}: stored {cells.get(cell, 0)}, answered {allowed}"
            )

    return Books(len(reds), refusals, expected_seq)


# --- the test ------------------------------------------------------------------------------------


@pytest.fixture
def crash_db(database, tmp_path, monkeypatch):
    """A migrated database of the run's kind for this test alone: ``(kind, url)``."""
    kind, source = database
    monkeypatch.setenv("POINTSMART_INSTANCE", str(tmp_path / "test-instance"))
    if kind == "sqlite":
        target = tmp_path / "village.sqlite3"
        proc.copy_sqlite(source, target)
        yield kind, f"sqlite:///{target}"
        return
    with proc.pg_schema("pm_crash") as url:
        _migrate(url, str(tmp_path / "migrate-instance"))
        yield kind, url


def _raise_client_errors(clients) -> None:
    for client in clients:
        if client.error is not None:
            raise AssertionError(f"{client.name} failed") from client.error


def test_a_crash_never_loses_an_answered_sale(crash_db, tmp_path, capsys):
    kind, url = crash_db
    seed = int(os.environ.get("POINTSMART_CRASH_SEED") or random.SystemRandom().randrange(2**32))
    kills = max(int(os.environ.get("POINTSMART_CRASH_KILLS") or KILLS), 1)
    print(f"crash test on {kind}: seed {seed} (POINTSMART_CRASH_SEED={seed} repeats the draws)")
    rng = random.Random(seed)
    began = time.monotonic()
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True})
    world = prepare(app)

    env = proc.environment(tmp_path / "server-instance", url)
    log = tmp_path / "server.log"
    launcher = Launcher(env, proc.free_port(), log)
    gate = Gate(clients=len(world.operators) + len(world.panel))
    prices = {goods_id: price for goods_id, (price, _stock) in world.goods.items()}
    counters = [
        Counter(f"counter-{n}", launcher.url, gate, rng.getrandbits(32), token=token, operator_id=user_id,
                cards=sorted(world.cards), prices=prices)
        for n, (user_id, token) in enumerate(world.operators)
    ]  # fmt: skip
    households = sorted(world.households)
    panels = [
        Panel(f"panel-{n}", launcher.url, gate, rng.getrandbits(32), round_id=world.round_id,
              cells=[(h, c) for h in households[n::2] for c in world.round_criteria], most=MOST_TIMES)
        for n in range(len(world.panel))
    ]  # fmt: skip
    clients = [*counters, *panels]
    moments: Tally = Tally()
    watch = Watch(url)
    server = None
    try:
        server = launcher.warm()
        for panel, name in zip(panels, world.panel, strict=True):
            panel.log_in(name, PASSWORD)
        for client in clients:
            client.start()
        gate.settle()
        check_books(app, world, counters, panels)
        loop_began = time.monotonic()
        for n in range(kills):
            if n:
                server = launcher.warm()
                check_books(app, world, counters, panels)
            gate.open()
            moment = rng.choices(list(MOMENTS), weights=list(MOMENTS.values()))[0]
            if moment == "early":
                time.sleep(rng.uniform(0, EARLY))
            else:
                gate.wait_answers(FLOWING, timeout=proc.START_TIMEOUT)
                if moment == "stream":
                    time.sleep(rng.uniform(0, LATE))
                elif not watch.unanswered_commit(gate, COMMIT_WAIT):
                    moment = "stream"  # none came in time: the kill falls where it is
            moments[moment] += 1
            gate.killing = True
            server.kill()
            server = None
            gate.close()
            _raise_client_errors(clients)
        loop_seconds = time.monotonic() - loop_began

        server = launcher.cold()  # the last restart: the console script, from scratch
        check_books(app, world, counters, panels)
        gate.open(drain=True)  # every unanswered request is sent again until it is answered
        gate.settle()
        _raise_client_errors(clients)
        assert [c.name for c in clients if c.pending is not None] == []
        final = check_books(app, world, counters, panels)
        status, output = launcher.run("ledger", "verify")
        assert (status, proc.last_line(output)) == (0, "ledger OK"), output
    finally:
        gate.stop()
        for client in clients:
            client.join(timeout=30)
        if server is not None:
            with contextlib.suppress(Exception):  # don't hide why the test failed
                server.kill(check=False)
        launcher.close()
        watch.close()
        with app.app_context():
            db.session.remove()
            db.engine.dispose()

    _raise_client_errors(clients)
    unexpected = [(c.name, failure) for c in clients for failure in c.unexpected]
    assert unexpected == [], f"connections failed while the server was alive: {unexpected}"
    sales = [sale for counter in counters for sale in counter.sales]
    answered = Tally(sale.answers[0][0] for sale in sales)
    assert all(sale.answers for sale in sales)
    assert final.redemptions == answered[201] and final.refusals == answered[409], (final, answered)
    # the whole run must have exercised what it claims to
    retried = sum(sale.unanswered > 0 for sale in sales)
    assert answered[201] > 0 and answered[409] > 0 and retried > 0
    assert sum(panel.saves for panel in panels) > 0

    committed = sum(sale.expected is not None for sale in sales)
    figures = (
        f"crash test on {kind}: seed {seed}; {kills} SIGKILLs ({moments['early']} early after a restart, "
        f"{moments['commit']} at a commit, {moments['stream']} in the stream), each followed by a restart "
        f"and the checks; kill loop {loop_seconds:.1f} s, whole test {time.monotonic() - began:.1f} s\n"
        f"  redemptions: {answered[201]} answered 201, {answered[409]} refused 409; {retried} cut off by a "
        f"kill and sent again with their key ({committed} had committed before the kill and got that "
        f"answer back, {retried - committed} had left nothing and were done by the retry); "
        f"{sum(c.replays for c in counters)} answered ones re-sent, same answer\n"
        f"  score saves: {sum(p.saves for p in panels)} answered, {sum(p.cut_off for p in panels)} cut off "
        f"and sent again; change log head {final.log_head}\n"
        f"  checked after every restart: ledger verify clean; balances = opening - redemptions; every 201 "
        f"there exactly once under its key, with its transfer, lines, stock moves and audit entry; stock = "
        f"sum of moves; change log 1..head gapless, digest chain and totals recomputed, holding every "
        f"transfer, redemption and stock move once; answered scores stored; at the end `pointsmart "
        f"ledger verify`: ledger OK"
    )
    with capsys.disabled():
        print("\n" + figures)
