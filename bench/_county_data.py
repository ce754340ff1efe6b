"""Synthetic county data for the county benchmarks: PostgreSQL schemas, villages, valid change logs.

A village's change log is made here the way the village's outbox makes it (``pointsmart.sync.outbox``
``append``): records numbered 1, 2, 3 …, each payload in canonical bytes, the digest chained over
``record_bytes``, and the running totals (sum of household balances, number of transfers) carried as of
each record. It is cut into request bodies the way ``pointsmart.sync.batches.build`` cuts them: the
canonical envelope with the records spliced in, ``BATCH_SIZE`` records a batch.

What a log holds: categories and households first (and goods bought into stock, with a shop), then
the year 2026 in time order, in one of two shapes (:class:`Mix`):

- a stream of single transfers — awards from the issuance account with their category, redemptions
  household → shop, deductions household → deductions with their category — where a redemption or
  deduction the household cannot pay for becomes an award (``sync_ingest``);
- what a village does month by month: a round finalised on the 3rd (its record, awards by category,
  the deductions the balances cover, a result per household), then the month's redemptions at the
  shop (the transfer, the redemption record, a stock move per line; 1 in 100 cancelled by a reversal,
  the record again and the goods back in) and two donations (``county_dashboard``).

No household ever goes below zero. Everything comes from a ``random.Random`` seeded by the village's
code, uuids included, so a village always gets the same log: a build that stopped half-way picks up
where the county's acknowledged sequence left off.
"""

import os
import random
import uuid as uuid_mod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa

from ._common import GROUPS

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
#: the first township's division code; township n is this + n × 1000 (the village codes below it)
TOWNSHIP_BASE = 620123100000
YEAR_START = datetime(2026, 1, 1)
YEAR_END = datetime(2026, 12, 31, 12)

#: category → the criteria whose names go into award and deduction reasons
CATEGORIES = {
    "环境卫生": ("门前三包", "庭院整洁"),
    "家庭美德": ("孝老爱亲", "邻里和睦"),
    "遵纪守法": ("无违法记录", "文明出行"),
    "移风易俗": ("红事简办", "白事简办"),
    "志愿服务": ("参加志愿活动", "义务劳动"),
}
#: name, spec, points
GOODS = (("洗衣粉", "500g", 10), ("毛巾", "条", 6), ("肥皂", "块", 3), ("牙膏", "支", 5),
         ("食用油", "5L", 40), ("大米", "10kg", 35), ("酱油", "瓶", 8), ("卫生纸", "提", 12),
         ("洗洁精", "瓶", 7), ("垃圾袋", "卷", 2))  # fmt: skip


# --- PostgreSQL -------------------------------------------------------------------------------


def pg_url() -> str:
    """The server: ``POINTSMART_BENCH_PG_URL``, else a PostgreSQL ``DATABASE_URL``, else the local one."""
    from pointsmart.config import normalise_db_url

    url = os.environ.get("POINTSMART_BENCH_PG_URL") or ""
    if not url and os.environ.get("DATABASE_URL", "").startswith("postgres"):
        url = os.environ["DATABASE_URL"]
    return normalise_db_url(url or DEFAULT_PG_URL)


def schema_url(schema: str, *options: str) -> str:
    """The server's URL with ``search_path`` set to ``schema`` (and other ``-c`` options) on connecting."""
    settings = " ".join((f"-csearch_path={schema}", *options))
    url = sa.engine.make_url(pg_url()).update_query_dict({"options": settings})
    return url.render_as_string(hide_password=False)


def schema_exists(schema: str) -> bool:
    engine = sa.create_engine(pg_url())
    try:
        with engine.connect() as conn:
            query = sa.text("SELECT 1 FROM pg_namespace WHERE nspname = :name")
            return conn.execute(query, {"name": schema}).first() is not None
    finally:
        engine.dispose()


def create_schema(schema: str) -> None:
    engine = sa.create_engine(pg_url())
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    finally:
        engine.dispose()


def drop_schema(schema: str) -> None:
    engine = sa.create_engine(pg_url())
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    finally:
        engine.dispose()


@contextmanager
def temporary_schema(schema: str) -> Iterator[str]:
    """A fresh schema for the run, dropped after; yields its URL."""
    drop_schema(schema)
    create_schema(schema)
    try:
        yield schema_url(schema)
    finally:
        drop_schema(schema)


def county_app(url: str):
    """A county instance (``POINTSMART_MODE=county``) on ``url``."""
    from pointsmart import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True, "WTF_CSRF_ENABLED": False,
                       "POINTSMART_MODE": "county",
                       "POINTSMART_BASE_URL": "http://county.bench"})  # fmt: skip


# --- the org tree -----------------------------------------------------------------------------


@dataclass
class Place:
    number: int
    code: str
    township_code: str
    #: filled in when registered
    village_id: int = 0
    key: str = ""


def places(villages: int, per_township: int) -> list[Place]:
    """Village codes: township t (1, 2 …) is ``TOWNSHIP_BASE + t × 1000``, its villages 001, 002 …"""
    found = []
    for n in range(villages):
        township = str(TOWNSHIP_BASE + (n // per_township + 1) * 1000)
        found.append(Place(n, f"{township[:9]}{n % per_township + 1:03d}", township))
    return found


def register(app, villages: list[Place]) -> None:
    """Register every village (and its township) with ``county.add_village``, in one commit."""
    from pointsmart.county import services as county
    from pointsmart.extensions import db

    with app.app_context():
        for place in villages:
            township_no = (int(place.township_code) - TOWNSHIP_BASE) // 1000
            village, key = county.add_village(
                db.session,
                place.code,
                f"基准{place.number + 1}村",
                place.township_code,
                township_name=f"基准{township_no}镇",
            )
            place.village_id, place.key = village.id, key
        db.session.commit()


# --- change logs ------------------------------------------------------------------------------


@dataclass
class Mix:
    """What one village's log holds."""

    households: int
    transfers: int
    #: shares of the transfers that are redemptions and deductions (the rest are awards)
    redemptions: float = 0.30
    deductions: float = 0.08
    #: the shape of the year: a stream of single transfers (False), or what a village really does —
    #: a finalised monthly round (awards, deductions, round results) on the 3rd of each month, then
    #: the month's redemptions at the shop (a redemption record and a stock move per line beside each
    #: transfer, 1 in 100 cancelled), and two donations into stock
    shop_and_rounds: bool = False


@dataclass
class Batch:
    from_seq: int
    to_seq: int
    body: bytes
    #: how many of its records are transfers
    transfers: int = 0


@dataclass
class Log:
    """What :func:`village_log` made: the request bodies, and what the county must end up with."""

    batches: list[Batch] = field(default_factory=list)
    records: int = 0
    transfers: int = 0
    balance_sum: int = 0
    #: the synced_transfer rows the ingest writes (``county.projection._TRANSFER_COLUMNS``), when asked for
    rows: list[tuple] | None = None


class _Writer:
    """Numbers, chains and batches records as the village's outbox and ``batches.build`` do."""

    def __init__(self, code: str, batch_size: int, skip_to: int):
        from pointsmart.sync import wire

        self.wire = wire
        self.code, self.batch_size, self.skip_to = code, batch_size, skip_to
        self.seq, self.digest, self.balance_sum, self.transfers = 0, "", 0, 0
        self.pending: list[bytes] = []
        self.pending_transfers = 0
        self.batches: list[Batch] = []

    def add(self, kind: str, uuid: str, payload: dict, delta: int = 0) -> None:
        wire = self.wire
        self.seq += 1
        record = wire.record_bytes(self.seq, kind, uuid, wire.canonical(payload))
        self.digest = wire.chain(self.digest, record)
        if kind == "transfer":
            self.transfers += 1
            self.pending_transfers += 1
            self.balance_sum += delta
        self.pending.append(record)
        if len(self.pending) == self.batch_size:
            self.cut()

    def cut(self) -> None:
        if not self.pending:
            return
        from_seq = self.seq - len(self.pending) + 1
        if self.seq > self.skip_to:  # batches the county has already acknowledged are not kept
            head = {"village_code": self.code, "from_seq": from_seq, "to_seq": self.seq,
                    "totals": {"balance_sum": self.balance_sum, "transfer_count": self.transfers,
                               "digest": self.digest}}  # fmt: skip
            envelope = self.wire.canonical(head)
            body = envelope[:-1] + b',"records":[' + b",".join(self.pending) + b"]}"
            self.batches.append(Batch(from_seq, self.seq, body, self.pending_transfers))
        self.pending, self.pending_transfers = [], 0


@dataclass
class _Redemption:
    uuid: str
    transfer_uuid: str
    household: int
    points: int
    #: ((goods uuid, name, price), qty) per line
    lines: list
    stamp: str


class _Village:
    """One village's records, written in the order the village's own commits would write them."""

    def __init__(self, place: Place, *, rows: bool, skip_to: int, batch_size: int | None):
        from pointsmart.periods import MonthOf
        from pointsmart.sync import batches
        from pointsmart.sync.wire import when

        self.place, self.when = place, when
        self.rng = random.Random(f"pointsmart-bench-village-{place.code}")
        self.out = _Writer(place.code, batch_size or batches.BATCH_SIZE, skip_to)
        self.rows: list[tuple] | None = [] if rows else None
        self.month_of = MonthOf()
        self.households: list[str] = []
        self.accounts: list[str] = []
        self.balances: list[int] = []
        self.goods: list[tuple[str, str, int]] = []
        self.categories = list(CATEGORIES)

    def uuid(self) -> str:
        return str(uuid_mod.UUID(int=self.rng.getrandbits(128), version=4))

    def setup(self, households: int, shop: bool) -> None:
        """Categories, goods bought into stock when there is a shop, households."""
        out, before = self.out, YEAR_START - timedelta(days=30)
        for position, name in enumerate(self.categories):
            out.add("category", self.uuid(), {"name": name, "position": position, "active": True})
        if shop:
            for name, spec, price in GOODS:
                goods_uuid = self.uuid()
                self.goods.append((goods_uuid, name, price))
                out.add("goods", goods_uuid, {"name": name, "spec": spec, "price": price, "active": True})
                self.stock_move(before, goods_uuid, "purchase", 1_000_000)
        for n in range(1, households + 1):
            household_uuid = self.uuid()
            self.households.append(household_uuid)
            self.accounts.append("household:" + household_uuid)
            self.balances.append(0)
            group = (n - 1) % len(GROUPS)
            out.add("household", household_uuid,
                    {"household_no": f"{group + 1:02d}-{n:04d}", "head_name": f"户主{n}",
                     "group": GROUPS[group], "members": 1 + n % 6, "active": True,
                     "created_at": self.when(before)})  # fmt: skip

    def transfer(self, at: datetime, kind: str, h: int, amount: int, into_household: bool, system: str,
                 reason: str, category: str | None = None, reverses: str | None = None) -> str:  # fmt: skip
        """A transfer between household ``h`` and a system account; moves the household's balance."""
        transfer_uuid = self.uuid()
        account = self.accounts[h]
        source, target = (system, account) if into_household else (account, system)
        delta = amount if into_household else -amount
        self.balances[h] += delta
        if self.balances[h] < 0:
            raise RuntimeError(f"{self.place.code}: household {h} would go below zero")
        self.out.add("transfer", transfer_uuid,
                     {"from": source, "to": target, "amount": amount, "kind": kind, "reason": reason,
                      "reverses": reverses, "category": category, "created_at": self.when(at)},
                     delta)  # fmt: skip
        if self.rows is not None:
            from_kind, to_kind = (system, "household") if into_household else ("household", system)
            self.rows.append((self.place.village_id, transfer_uuid, kind, amount, from_kind, to_kind,
                              self.households[h], category, reason, reverses, at,
                              self.month_of(at)))  # fmt: skip
        return transfer_uuid

    def stock_move(self, at: datetime, goods_uuid: str, kind: str, qty: int, donor: str = "",
                   redemption: str | None = None) -> None:  # fmt: skip
        moved_on = self.when(at.date()) if kind in ("purchase", "donation") else None
        self.out.add("stock_move", self.uuid(),
                     {"goods": goods_uuid, "kind": kind, "qty": qty, "donor": donor, "moved_on": moved_on,
                      "redemption": redemption, "created_at": self.when(at)})  # fmt: skip

    def redeem(self, at: datetime, h: int) -> _Redemption | None:
        """A basket of one or two goods for household ``h``, or None when it cannot pay."""
        rng = self.rng
        picked = sorted(rng.sample(range(len(self.goods)), 1 if rng.random() < 0.7 else 2))
        lines = [(self.goods[g], 1 if rng.random() < 0.8 else 2) for g in picked]
        points = sum(price * qty for (_u, _n, price), qty in lines)
        if self.balances[h] < points:
            return None
        summary = "、".join(f"{name}×{qty}" for (_u, name, _p), qty in lines)
        transfer_uuid = self.transfer(at, "redemption", h, points, False, "shop", f"兑换：{summary}")
        found = _Redemption(self.uuid(), transfer_uuid, h, points, lines, self.when(at))
        self._redemption_record(found, "done", None)
        for (goods_uuid, _name, _price), qty in lines:
            self.stock_move(at, goods_uuid, "redemption", -qty, redemption=found.uuid)
        return found

    def cancel(self, at: datetime, found: _Redemption) -> None:
        """Undo a redemption: the points back by a reversal, the record again, the goods back in."""
        self.transfer(at, "reversal", found.household, found.points, True, "shop", "拿错了",
                      reverses=found.transfer_uuid)  # fmt: skip
        self._redemption_record(found, "cancelled", self.when(at))
        for (goods_uuid, _name, _price), qty in found.lines:
            self.stock_move(at, goods_uuid, "cancellation", qty, redemption=found.uuid)

    def _redemption_record(self, found: _Redemption, status: str, cancelled_at: str | None) -> None:
        self.out.add("redemption", found.uuid,
                     {"household": self.households[found.household], "points": found.points, "status": status,
                      "created_at": found.stamp, "cancelled_at": cancelled_at,
                      "lines": [{"goods": u, "goods_name": name, "qty": qty, "unit_price": price}
                                for (u, name, price), qty in found.lines]})  # fmt: skip

    def scoring_round(self, month: int, at: datetime, awards: int, deductions: int) -> None:
        """A monthly round finalised at ``at``: awards, then deductions the balances can cover, results."""
        from pointsmart.sync.kinds import derived_uuid

        rng, when = self.rng, self.when
        round_uuid = self.uuid()
        key = f"{at.year}-{month:02d}"
        state = {"period_type": "monthly", "period_key": key, "scope": "", "status": "published",
                 "created_at": when(at - timedelta(days=8)), "notice_ends_at": when(at - timedelta(hours=1)),
                 "finalised_at": None}  # fmt: skip
        self.out.add("round", round_uuid, state)
        results: dict[int, list[int]] = {}  # household → awarded, deducted, shortfall
        last = len(self.households) - 1
        for _i in range(awards):
            h = rng.randint(0, last)
            category = self.categories[rng.randint(0, len(self.categories) - 1)]
            points = 5 + 5 * rng.randint(0, 3)
            self.transfer(at, "award", h, points, True, "issuance",
                          f"{key}月评·{category}·{CATEGORIES[category][0]}", category)  # fmt: skip
            results.setdefault(h, [0, 0, 0])[0] += points
        for _i in range(deductions):
            h = rng.randint(0, last)
            category = self.categories[rng.randint(0, len(self.categories) - 1)]
            points = rng.randint(2, 5)
            posted = min(points, self.balances[h])
            if posted:
                self.transfer(at, "deduction", h, posted, False, "deductions",
                              f"{key}月评·{category}·{CATEGORIES[category][1]}", category)  # fmt: skip
            result = results.setdefault(h, [0, 0, 0])
            result[1] += points
            result[2] += points - posted
        for h in sorted(results):
            awarded, deducted, shortfall = results[h]
            household = self.households[h]
            self.out.add("round_result", derived_uuid(round_uuid, household),
                         {"round": round_uuid, "household": household, "awarded": awarded,
                          "deducted": deducted, "shortfall": shortfall})  # fmt: skip
        self.out.add("round", round_uuid, {**state, "status": "finalised", "finalised_at": when(at)})

    def finish(self) -> Log:
        self.out.cut()
        if sum(self.balances) != self.out.balance_sum or min(self.balances, default=0) < 0:
            raise RuntimeError(f"{self.place.code}: generated balances do not add up")
        return Log(self.out.batches, self.out.seq, self.out.transfers, self.out.balance_sum, self.rows)


def village_log(place: Place, mix: Mix, *, rows: bool = False, skip_to: int = 0,
                batch_size: int | None = None) -> Log:  # fmt: skip
    """The village's whole change log as request bodies (those after ``skip_to`` only).

    With ``rows``, also the synced_transfer rows the county's ingest will write for its transfers, as
    the tuples a raw ``COPY`` takes (``place.village_id`` must be known).
    """
    village = _Village(place, rows=rows, skip_to=skip_to, batch_size=batch_size)
    village.setup(mix.households, mix.shop_and_rounds)
    if mix.shop_and_rounds:
        _year_of_rounds(village, mix)
    else:
        _stream(village, mix)
    return village.finish()


def _stream(village: _Village, mix: Mix) -> None:
    """``mix.transfers`` single transfers evenly over the year; what cannot be paid becomes an award."""
    rng = village.rng
    rand, randint = rng.random, rng.randint
    categories, balances, last = village.categories, village.balances, len(village.households) - 1
    step = (YEAR_END - YEAR_START) / mix.transfers
    share_redeem, share_deduct = mix.redemptions, mix.redemptions + mix.deductions
    for i in range(mix.transfers):
        at = YEAR_START + step * i + step * rand()
        h = randint(0, last)
        roll = rand()
        category = categories[randint(0, len(categories) - 1)]
        if roll < share_redeem and balances[h] >= (amount := randint(2, 14)):
            village.transfer(at, "redemption", h, amount, False, "shop", "兑换")
        elif share_redeem <= roll < share_deduct and balances[h] >= (amount := randint(1, 5)):
            village.transfer(at, "deduction", h, amount, False, "deductions",
                             f"{at.month}月评·{category}·{CATEGORIES[category][1]}", category)  # fmt: skip
        else:
            village.transfer(at, "award", h, randint(2, 12), True, "issuance",
                             f"{at.month}月评·{category}·{CATEGORIES[category][0]}", category)  # fmt: skip


def _year_of_rounds(village: _Village, mix: Mix) -> None:
    """Twelve months of a round on the 3rd, then redemptions until the 28th, and two donations."""
    rng = village.rng
    per_month = mix.transfers / 12
    awards = round(per_month * (1 - mix.redemptions - mix.deductions))
    deductions = round(per_month * mix.deductions)
    redemptions = round(per_month * mix.redemptions)
    last = len(village.households) - 1
    for month in range(1, 13):
        # the round at 10:00 village time on the 3rd; the shop open from then until the 28th
        opens = datetime(YEAR_START.year, month, 3, 2)
        village.scoring_round(month, opens, awards, deductions)
        step = timedelta(days=25) / redemptions
        for i in range(redemptions):
            at = opens + timedelta(minutes=5) + step * i
            for _try in range(3):  # someone who can pay comes to the counter
                found = village.redeem(at, rng.randint(0, last))
                if found is not None:
                    if rng.random() < 0.01:
                        village.cancel(at + timedelta(minutes=3), found)
                    break
        for donor in ("爱心企业", "乡贤"):
            goods_uuid = village.goods[rng.randint(0, len(village.goods) - 1)][0]
            village.stock_move(opens + timedelta(days=rng.randint(1, 20)), goods_uuid, "donation",
                               rng.randint(10, 50), donor=donor)  # fmt: skip
