"""shop_api: redemptions through the JSON API, served by the production server, on a big village.

The village is the one of ``village_lookup`` (1,000 households, 1,000,000 transfers, built by its
``build``). Then, through the services: a card for every household (``issue_all``), five goods with
stock for every basket, a shopkeeper with an API token, and a top-up for any household that could not
pay for its two baskets. The app is then served the way ``pointsmart serve`` serves it (waitress, its
default threads), started in a subprocess on 127.0.0.1 and a free port, with ``POINTSMART_INSTANCE``
and ``DATABASE_URL`` pointing at the bench database.

Four client threads, each with its own ``httpx.Client`` (keep-alive), send in the same run:

1. ``GET /static/css/app.css`` 2,000 times: the baseline (the server, the network stack, the client);
2. ``GET /api/v1/cards/<token>`` 2,000 times: the counter's card lookup, a read;
3. ``POST /api/v1/redemptions`` 2,000 times, each with its own ``Idempotency-Key``: two baskets per
   household, each of one or two goods.

4. ``POST /api/v1/redemptions`` 2,000 times again (two more baskets per household), while a fifth
   client, logged in as the chair, reads report pages in a loop (:data:`REPORT_PAGES`, as
   ``tests/test_stall.py`` does) until the four are done: the redemptions' p95 beside a reader, as a
   ratio to phase 3's (aim: at most 1.5×).

Each phase prints p50 / p95 latency (per request, as the client sees it) and throughput (requests
over the phase's wall time). Every redemption must answer 201; any other answer is counted and shown.
After the server stops, ``ledger.verify`` must agree, and the redemptions, points and stock moves
must add up. Aim: redemption p95 under 50 ms. The client threads share one Python process (and
its GIL) with each other, on the same machine as the server, so their own overhead is in every number,
baseline included.

Then the floor (``bench/_redeem_floor.py``): phase 3's baskets written by a raw ``sqlite3`` script on
another copy of the same database, the same rows of each redemption in one ``BEGIN IMMEDIATE``
transaction with ``synchronous=FULL``, one connection; the app's redemptions/s as a ratio to it (aim:
within 3×).

Then, in-process (no HTTP): the CPU time of one redemption through Flask's test client, 300 of them
(``bench/_redeem_cpu.py``, in a subprocess). Aim: at most 4 ms.

With ``POINTSMART_BENCH_BASE`` set to a checkout of an earlier commit (``git worktree add /tmp/base
<commit>``), the same phases run in the same run against a server started from that checkout, on
another copy of the same database, and its figures are printed beside this commit's with the ratio.
"""

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from ._common import (
    CHAIR_PASSWORD,
    Latency,
    Stopwatch,
    close_app,
    copy_db,
    fs_note,
    load_note,
    make_app,
    migrate,
    ms,
    percentile,
    rate,
    say,
    scratch,
    title,
)
from .village_lookup import HOUSEHOLDS, TRANSFERS
from .village_lookup import build as build_village_with_transfers

NAME = "shop_api"
CLIENTS = 4
REQUESTS = 2_000
WARMUP = 20  # requests per client before each phase, not measured
#: name, points; every basket is one or two of these, one of each
GOODS = (("肥皂", 1), ("牙膏", 2), ("毛巾", 3), ("洗衣粉", 4), ("食用油", 5))
#: a household below this after the build gets topped up to it: four baskets (two in phase 3, two
#: beside the reader) cost at most 4 × (5 + 4)
FLOOR = 40
#: of each goods, on the shelf before the run: enough for both redemption phases
STOCK = 2 * REQUESTS
#: what the fifth client reads in a loop beside the redemptions (the heaviest report pages)
REPORT_PAGES = ("/ledgers/register", "/shop/reports/monthly", "/households/export.xlsx")
AIM_READER_P95_RATIO = 1.5
AIM_FLOOR_RATIO = 3
AIM_P95_MS = 50
AIM_CPU_MS = 4
#: the shopkeeper whose API token the clients send
OPERATOR = "bench-shopkeeper"
CPU_REDEMPTIONS = 300
CPU_WARMUP = 20
#: a checkout of the commit to compare with (``git worktree add /tmp/base <commit>``); empty: none
BASE = os.environ.get("POINTSMART_BENCH_BASE", "")
START_TIMEOUT = 30  # seconds for the server to answer /healthz
REQUEST_TIMEOUT = 30  # seconds for any one request


@dataclass
class Phase:
    label: str
    latency: Latency
    seconds: float
    statuses: dict[int, int]
    #: (status, body) of answers that were not the expected status, the first few
    odd: list[tuple[int, str]] = field(default_factory=list)

    @property
    def throughput(self) -> float:
        return len(self.latency.samples) / self.seconds

    def text(self) -> str:
        samples = self.latency.samples
        return (
            f"p50 {ms(self.latency.median)}, p95 {ms(self.latency.p95)}, {rate(self.throughput)} req/s "
            f"(p99 {ms(percentile(samples, 99))}, max {ms(max(samples))})"
        )


# --- set-up -----------------------------------------------------------------------------------


@dataclass
class Shop:
    token: str
    #: one card URL per household, as its QR code holds it
    cards: list[str]
    #: goods id → points
    goods: dict[int, int]
    topped_up: int


def _baskets(goods: dict[int, int], count: int = REQUESTS) -> list[list[tuple[int, int]]]:
    """``count`` baskets: the i-th goes to household i mod HOUSEHOLDS, one or two goods, one of each."""
    ids = sorted(goods)
    baskets = []
    for i in range(count):
        first = ids[i % len(ids)]
        basket = [(first, 1)]
        if i % 3:
            basket.append((ids[(i + 2) % len(ids)], 1))
        baskets.append(sorted(basket))
    return baskets


def _stock_shop(db_path: Path) -> Shop:
    """Cards, goods, a shopkeeper and its API token, top-ups: through the services, one commit."""
    from pointsmart.auth.services import create_api_token, create_user
    from pointsmart.cards import services as cards
    from pointsmart.extensions import db
    from pointsmart.households.models import Household
    from pointsmart.households.services import adjust_points
    from pointsmart.org.services import home_village
    from pointsmart.shop import services as shop
    from pointsmart.shop.models import MoveKind

    app = make_app(db_path)
    try:
        with app.app_context():
            session = db.session
            village = home_village(session)
            issued = cards.issue_all(session, village.id, None)
            urls = [cards.card_url("http://pointsmart.bench", card) for card in issued]
            goods = {}
            for position, (name, price) in enumerate(GOODS):
                item = shop.save_goods(
                    session, village.id, {"name": name, "price": price, "position": position}, None
                )
                shop.receive_stock(session, item, MoveKind.PURCHASE, STOCK, None, funding_source="妇联经费")
                goods[item.id] = price
            user = create_user(
                session, OPERATOR, "shopkeeper", CHAIR_PASSWORD, "基准管理员", village_id=village.id
            )
            token = create_api_token(session, user)
            topped_up = 0
            for household in session.scalars(sa.select(Household).order_by(Household.id)):
                if household.balance < FLOOR:
                    adjust_points(session, household, FLOOR - household.balance, "基准补足", actor_id=None)
                    topped_up += 1
            session.commit()
            return Shop(token, urls, goods, topped_up)
    finally:
        close_app(app)


# --- the server -------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _code_env(root: str) -> dict:
    """The environment of a subprocess that imports ``pointsmart`` from ``root`` (empty: this checkout)."""
    env = dict(os.environ)
    if root:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, (root, env.get("PYTHONPATH"))))
    return env


def _start_server(db_path: Path, folder: Path, port: int, root: str = "") -> tuple[subprocess.Popen, Path]:
    """``pointsmart serve`` in a subprocess on the bench database; wait until it answers."""
    import httpx

    env = _code_env(root)
    env.update(
        POINTSMART_INSTANCE=os.environ["POINTSMART_INSTANCE"],
        DATABASE_URL=f"sqlite:///{db_path}",
        POINTSMART_BASE_URL=f"http://127.0.0.1:{port}",
    )
    log = folder / f"server-{port}.log"
    with open(log, "wb") as out:
        server = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from pointsmart.cli import main; main()",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            env=env,
            cwd=root or None,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with {server.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return server, log
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            _stop_server(server)
            raise RuntimeError(f"the server did not answer within {START_TIMEOUT} s:\n{log.read_text()}")
        time.sleep(0.1)


def _stop_server(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(timeout=10)


# --- the clients ------------------------------------------------------------------------------


@dataclass
class Reader:
    """The fifth client: the chair, logged in through the login form, reading REPORT_PAGES in a loop."""

    base_url: str
    username: str
    latency: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)

    def log_in(self):
        import re

        import httpx

        http = httpx.Client(base_url=self.base_url, timeout=REQUEST_TIMEOUT)
        form = http.get("/login")
        found = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form.text)
        data = {"username": self.username, "password": CHAIR_PASSWORD}
        if found:
            data["csrf_token"] = found.group(1)
        response = http.post("/login", data=data)
        if response.status_code != 302:
            http.close()
            raise RuntimeError(f"the reader's log-in answered {response.status_code}")
        return http

    def read_until(self, http, done: threading.Event) -> None:
        clock = time.perf_counter
        while not done.is_set():
            for path in REPORT_PAGES:
                start = clock()
                response = http.get(path)
                _ = response.content
                self.latency.append(clock() - start)
                self.statuses[response.status_code] = self.statuses.get(response.status_code, 0) + 1

    def text(self) -> str:
        pages = len(self.latency)
        if not pages:
            return "no page read"
        statuses = ", ".join(f"{s}×{n:,}" for s, n in sorted(self.statuses.items()))
        return (
            f"{pages:,} report pages read ({', '.join(REPORT_PAGES)} in turn), p50 "
            f"{ms(percentile(self.latency, 50))}, max {ms(max(self.latency))}; statuses {statuses}"
        )


def _run_phase(
    label: str, base_url: str, token: str, requests: list, expect: int, reader: Reader | None = None
) -> Phase:
    """Send ``requests`` (each ``(method, path, json or None, extra headers)``) from CLIENTS threads,
    client ``c`` taking every CLIENTS-th one from ``c``, all released at once after a warm-up; with a
    ``reader``, a fifth thread released with them reads report pages until they are done."""
    import httpx

    barrier = threading.Barrier(CLIENTS + 1 + (reader is not None))
    done = threading.Event()
    samples: list[list[float]] = [[] for _ in range(CLIENTS)]
    statuses: list[list[int]] = [[] for _ in range(CLIENTS)]
    odd: list[tuple[int, str]] = []
    failures: list[str] = []
    warmup = ("GET", "/api/v1/goods", None, {}) if requests[0][0] == "POST" else requests[0]

    def client(c: int) -> None:
        try:
            with httpx.Client(
                base_url=base_url, timeout=REQUEST_TIMEOUT, headers={"Authorization": f"Bearer {token}"}
            ) as http:
                for _ in range(WARMUP):
                    http.request(warmup[0], warmup[1], json=warmup[2], headers=warmup[3]).raise_for_status()
                barrier.wait(timeout=60)
                clock = time.perf_counter
                for method, path, body, headers in requests[c::CLIENTS]:
                    start = clock()
                    response = http.request(method, path, json=body, headers=headers)
                    content = response.content
                    samples[c].append(clock() - start)
                    statuses[c].append(response.status_code)
                    if response.status_code != expect and len(odd) < 10:
                        odd.append((response.status_code, content.decode(errors="replace")[:300]))
        except Exception as error:  # reported below; the barrier must not wait for a dead client
            failures.append(f"client {c}: {error!r}")
            barrier.abort()

    def read() -> None:
        try:
            http = reader.log_in()
            try:
                barrier.wait(timeout=60)
                reader.read_until(http, done)
            finally:
                http.close()
        except Exception as error:  # reported below
            failures.append(f"reader: {error!r}")
            barrier.abort()

    threads = [threading.Thread(target=client, args=(c,), daemon=True) for c in range(CLIENTS)]
    helpers = [threading.Thread(target=read, daemon=True)] if reader is not None else []
    for thread in threads + helpers:
        thread.start()
    with contextlib.suppress(threading.BrokenBarrierError):  # a client failed: reported below
        barrier.wait(timeout=120)
    with Stopwatch() as wall:
        for thread in threads:
            thread.join(timeout=600)
    done.set()
    for thread in helpers:
        thread.join(timeout=REQUEST_TIMEOUT * len(REPORT_PAGES))
    if failures or any(thread.is_alive() for thread in threads + helpers):
        raise RuntimeError(f"{label}: clients failed: {failures or 'still running after 600 s'}")
    counts: dict[int, int] = {}
    for status in (s for per_client in statuses for s in per_client):
        counts[status] = counts.get(status, 0) + 1
    return Phase(label, Latency([s for per_client in samples for s in per_client]), wall.seconds, counts, odd)


# --- checking the books -----------------------------------------------------------------------


def _verify(db_path: Path, baskets, goods: dict[int, int]) -> str:
    """After the run: the ledger adds up, and the redemptions, points and stock match what was sent."""
    from pointsmart.extensions import db
    from pointsmart.ledger import services as ledger
    from pointsmart.shop.models import Goods, MoveKind, Redemption, StockMove

    app = make_app(db_path)
    try:
        with app.app_context():
            session = db.session
            with Stopwatch() as sw:
                report = ledger.verify(session)
            redemptions, points = session.execute(
                sa.select(sa.func.count(Redemption.id), sa.func.coalesce(sa.func.sum(Redemption.points), 0))
            ).one()
            taken = dict(
                session.execute(
                    sa.select(StockMove.goods_id, -sa.func.sum(StockMove.qty))
                    .where(StockMove.kind == MoveKind.REDEMPTION)
                    .group_by(StockMove.goods_id)
                ).all()
            )
            stock = dict(session.execute(sa.select(Goods.id, Goods.stock)).all())
    finally:
        close_app(app)
    sent_points = sum(goods[g] * qty for basket in baskets for g, qty in basket)
    sent_taken: dict[int, int] = {}
    for basket in baskets:
        for g, qty in basket:
            sent_taken[g] = sent_taken.get(g, 0) + qty
    problems = []
    if not report.ok or report.negative_households:
        problems.append(f"ledger.verify: {report}")
    if (redemptions, int(points)) != (len(baskets), sent_points):
        problems.append(
            f"{redemptions} redemptions for {points} points; sent {len(baskets)} for {sent_points}"
        )
    if {g: int(n) for g, n in taken.items()} != sent_taken:
        problems.append(f"stock taken {taken}, sent {sent_taken}")
    if any(stock[g] != STOCK - sent_taken.get(g, 0) for g in goods):
        problems.append(f"stock left {stock}")
    if problems:
        raise RuntimeError("the books do not add up after the run: " + "; ".join(problems))
    return (
        f"ok: {report.transfers:,} transfers, balance sum {report.balance_sum}, 0 mismatches, "
        f"0 negative households ({sw.seconds:.2f} s); {redemptions:,} redemptions for {points:,} "
        f"points; stock moves match the baskets, no stock below zero"
    )


# --- one server, one code ---------------------------------------------------------------------


@dataclass
class Measured:
    label: str
    static: Phase
    lookup: Phase
    redeem: Phase
    #: phase 4: the same redemptions with the reader beside them
    beside: Phase
    reader: Reader
    books: str
    #: CPU seconds per in-process redemption (median), and the statuses it got
    cpu: float
    cpu_statuses: dict

    @property
    def reader_ratio(self) -> float:
        """Redemption p95 beside the reader, to redemption p95 without it."""
        return self.beside.latency.p95 / self.redeem.latency.p95

    @property
    def redeem_ratio(self) -> float:
        return self.redeem.latency.median / self.static.latency.median

    @property
    def lookup_ratio(self) -> float:
        return self.lookup.latency.median / self.static.latency.median


def _in_process_cpu(db_path: Path, shop: Shop, bodies: list[dict], root: str) -> tuple[float, dict]:
    """CPU seconds (median) of one redemption through the test client, run from ``root``'s code."""
    import json
    import statistics

    script = Path(__file__).with_name("_redeem_cpu.py")
    done = subprocess.run(
        [sys.executable, str(script), str(db_path), shop.token, str(CPU_WARMUP)],
        input=json.dumps(bodies[: CPU_REDEMPTIONS + CPU_WARMUP]),
        capture_output=True,
        text=True,
        env=_code_env(root),
        cwd=root or None,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"in-process redemptions failed:\n{done.stderr[-2000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return statistics.median(result["cpu"]), result["statuses"]


def _measure(
    label: str, template: Path, folder: Path, shop: Shop, baskets, bodies, root: str, chair: str
) -> Measured:
    """Serve a copy of the template from ``root``'s code (empty: this checkout), run the four phases,
    check the books; then the in-process CPU on another copy. ``bodies`` holds the redemptions of phase
    3 and then those of phase 4, REQUESTS each."""
    db_path = copy_db(template, folder / f"{label}.sqlite3")
    port = _free_port()
    server, log = _start_server(db_path, folder, port, root)
    base_url = f"http://127.0.0.1:{port}"
    say(
        f"  {label}: `pointsmart serve` from {root or 'this checkout'} (waitress, pid {server.pid}), "
        f"port {port}"
    )
    try:
        tokens = [url.rsplit("/", 1)[1] for url in shop.cards]
        static = _run_phase(
            "GET /static/css/app.css (baseline)",
            base_url,
            shop.token,
            [("GET", "/static/css/app.css", None, {})] * REQUESTS,
            200,
        )
        lookup = _run_phase(
            "GET /api/v1/cards/<token>",
            base_url,
            shop.token,
            [("GET", f"/api/v1/cards/{tokens[i % HOUSEHOLDS]}", None, {}) for i in range(REQUESTS)],
            200,
        )
        redeem = _run_phase(
            "POST /api/v1/redemptions",
            base_url,
            shop.token,
            [
                ("POST", "/api/v1/redemptions", body, {"Idempotency-Key": str(uuid.uuid4())})
                for body in bodies[:REQUESTS]
            ],
            201,
        )
        reader = Reader(base_url, chair)
        beside = _run_phase(
            "POST /api/v1/redemptions + reader",
            base_url,
            shop.token,
            [
                ("POST", "/api/v1/redemptions", body, {"Idempotency-Key": str(uuid.uuid4())})
                for body in bodies[REQUESTS:]
            ],
            201,
            reader,
        )
    except Exception:
        _stop_server(server)
        say(f"  server log (last lines):\n{log.read_text(errors='replace')[-2000:]}")
        raise
    _stop_server(server)
    baseline = static.latency.median
    say(
        f"    {CLIENTS} clients × {REQUESTS // CLIENTS} requests each, per phase (after {WARMUP} warm-up "
        "requests per client):"
    )
    for phase in (static, lookup, redeem, beside):
        say(f"      {phase.label:<36} {phase.text()}  (p50 {phase.latency.median / baseline:.1f}× static)")
        say(f"        statuses: {', '.join(f'{s}×{n:,}' for s, n in sorted(phase.statuses.items()))}")
        for status, body in phase.odd:
            say(f"        unexpected {status}: {body}")
    say(f"      the fifth client beside phase 4: {reader.text()}")
    say(f"      redemption p95 beside the reader: {reader_ratio_text(beside, redeem)}")
    if redeem.statuses.get(201, 0) != REQUESTS or beside.statuses.get(201, 0) != REQUESTS:
        say(f"    server log (last lines):\n{log.read_text(errors='replace')[-2000:]}")
    books = _verify(db_path, baskets, shop.goods)
    say(f"    after the run: {books}")
    cpu, statuses = _in_process_cpu(
        copy_db(template, folder / f"{label}-cpu.sqlite3"), shop, bodies[:REQUESTS], root
    )
    say(f"    in-process (test client, no HTTP): CPU per redemption {ms(cpu)} (median of {CPU_REDEMPTIONS}; "
        f"statuses {statuses})")  # fmt: skip
    return Measured(label, static, lookup, redeem, beside, reader, books, cpu, statuses)


def reader_ratio_text(beside: Phase, redeem: Phase) -> str:
    ratio = beside.latency.p95 / redeem.latency.p95
    met = "met" if ratio <= AIM_READER_P95_RATIO else "missed"
    return (
        f"{ms(beside.latency.p95)} vs {ms(redeem.latency.p95)} without it: {ratio:.2f}× "
        f"(aim at most {AIM_READER_P95_RATIO}×: {met})"
    )


def _floor(template: Path, folder: Path, shop: Shop, baskets) -> float:
    """Phase 3's baskets by raw sqlite3 on another copy (``bench/_redeem_floor.py``); redemptions/s."""
    from ._redeem_floor import floor

    tokens = [shop.cards[i % HOUSEHOLDS].rsplit("/", 1)[1] for i in range(REQUESTS)]
    written, seconds = floor(
        copy_db(template, folder / "floor.sqlite3"), tokens, baskets[:REQUESTS], OPERATOR
    )
    return written / seconds


def _side_by_side(now: Measured, base: Measured) -> None:
    def row(name: str, this: float, before: float, unit: str, better_low: bool = True) -> None:
        gain = before / this if better_low else this / before
        say(f"    {name:<38} {this:>10.2f} {unit:<6} {before:>10.2f} {unit:<6} {gain:>5.2f}×")

    say(f"  this commit vs {BASE} (same run, same database copies, {load_note()}):")
    say(f"    {'':<38} {'this commit':>17} {'base':>17}  gain (above 1: this commit is better)")
    row("redemptions/s, 4 clients", now.redeem.throughput, base.redeem.throughput, "/s", better_low=False)
    for name, pick in (("p50", lambda m: m.redeem.latency.median), ("p95", lambda m: m.redeem.latency.p95),
                       ("p99", lambda m: percentile(m.redeem.latency.samples, 99))):  # fmt: skip
        row(f"redemption {name}", pick(now) * 1000, pick(base) * 1000, "ms")
    row("redemption p95 beside a reader", now.beside.latency.p95 * 1000, base.beside.latency.p95 * 1000, "ms")
    row("  its ratio to p95 without", now.reader_ratio, base.reader_ratio, "×")
    row("redemption p50 / static p50", now.redeem_ratio, base.redeem_ratio, "×")
    row("card lookup p50 / static p50", now.lookup_ratio, base.lookup_ratio, "×")
    row("CPU per redemption in-process", now.cpu * 1000, base.cpu * 1000, "ms")


# --- the benchmark ----------------------------------------------------------------------------


def run() -> str:
    title(
        NAME,
        f"{CLIENTS} clients, {REQUESTS:,} API redemptions through waitress; "
        f"{HOUSEHOLDS:,} households, {TRANSFERS:,} transfers",
    )
    with scratch(NAME) as folder:
        say(f"  scratch: {fs_note(folder)}")
        template = folder / "village.sqlite3"
        migrate(template)
        _village, households_s, transfers_s = build_village_with_transfers(template)
        say(
            f"  built: {HOUSEHOLDS:,} households in {households_s:.1f} s, {TRANSFERS:,} transfers in "
            f"{transfers_s:.1f} s (village_lookup.build)"
        )
        with Stopwatch() as setup:
            shop = _stock_shop(template)
        say(
            f"  shop: {len(shop.cards):,} cards issued, {len(shop.goods)} goods with {STOCK:,} each, "
            f"a shopkeeper's API token, {shop.topped_up} households topped up to {FLOOR} points "
            f"({setup.seconds:.1f} s)"
        )
        baskets = _baskets(shop.goods, 2 * REQUESTS)
        bodies = [
            {"card": shop.cards[i % HOUSEHOLDS], "lines": [{"goods_id": g, "qty": q} for g, q in basket]}
            for i, basket in enumerate(baskets)
        ]
        chair = _village.chair_username
        now = _measure("this", template, folder, shop, baskets, bodies, "", chair)
        base = _measure("base", template, folder, shop, baskets, bodies, BASE, chair) if BASE else None
        floor_rate = _floor(template, folder, shop, baskets)
    floor_ratio = floor_rate / now.redeem.throughput
    say(
        f"  floor: phase 3's {REQUESTS:,} baskets by raw sqlite3 (bench/_redeem_floor.py; one "
        f"BEGIN IMMEDIATE transaction each, synchronous=FULL, one connection): {rate(floor_rate)} "
        f"redemptions/s; the app's "
        f"{rate(now.redeem.throughput)}/s is {floor_ratio:.2f}× below it (aim within {AIM_FLOOR_RATIO}×: "
        f"{'met' if floor_ratio <= AIM_FLOOR_RATIO else 'missed'})"
    )
    if base:
        _side_by_side(now, base)
    met = now.redeem.latency.p95 * 1000 < AIM_P95_MS
    say(f"  aim: redemption p95 under {AIM_P95_MS} ms ({'met' if met else 'missed'}); CPU per redemption "
        f"at most {AIM_CPU_MS} ms ({'met' if now.cpu * 1000 <= AIM_CPU_MS else 'missed'})")  # fmt: skip
    line = (
        f"{NAME}: {CLIENTS} clients via waitress; static p50 {ms(now.static.latency.median)}; "
        f"card lookup p50 {ms(now.lookup.latency.median)} ({now.lookup_ratio:.1f}x static); redemption "
        f"{rate(now.redeem.throughput)}/s p50 {ms(now.redeem.latency.median)} "
        f"p95 {ms(now.redeem.latency.p95)} "
        f"p99 {ms(percentile(now.redeem.latency.samples, 99))} ({now.redeem_ratio:.1f}x static); "
        f"CPU {ms(now.cpu)} per redemption in-process; "
        f"{now.redeem.statuses.get(201, 0):,}/{REQUESTS:,} answered 201; ledger ok"
        f"\n  beside a fifth client reading report pages: redemption {rate(now.beside.throughput)}/s "
        f"p95 {ms(now.beside.latency.p95)}, {now.reader_ratio:.2f}x the p95 without it "
        f"({len(now.reader.latency):,} pages read, statuses {now.reader.statuses}); "
        f"{now.beside.statuses.get(201, 0):,}/{REQUESTS:,} answered 201"
        f"\n  floor (raw sqlite3, same rows, BEGIN IMMEDIATE, synchronous=FULL): {rate(floor_rate)} "
        f"redemptions/s; the app {floor_ratio:.2f}x below it"
    )
    if base:
        line += (
            f"\n  base {BASE}: redemption {rate(base.redeem.throughput)}/s "
            f"p50 {ms(base.redeem.latency.median)} "
            f"p95 {ms(base.redeem.latency.p95)} ({base.redeem_ratio:.1f}x static), card lookup "
            f"{base.lookup_ratio:.1f}x static, CPU {ms(base.cpu)}, p95 beside the reader "
            f"{ms(base.beside.latency.p95)} ({base.reader_ratio:.2f}x); this commit "
            f"{now.redeem.throughput / base.redeem.throughput:.2f}x the redemptions/s"
        )
    return line
