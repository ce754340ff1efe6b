"""Demo-like data written straight into a database at an earlier revision, with SQL only.

Today's models describe today's tables; a database made at revision 0001 has other ones. So the
migration tests fill old databases the way the app of that day left them — households with opening
points, a reversal, a finalised round with awards and a deduction the balance could not cover, goods,
donated stock, a redemption and a cancelled one, a stocktake — through table definitions of that
revision, never through ``pointsmart``. Balances are kept equal to the sum of the transfers, as
``ledger verify`` demands.

:func:`fill_village` fills a village database at a revision (everything up to it); :func:`fill_county`
fills a county database at 0004 or later with a village that synced before the upgrade.
"""

import hashlib
import uuid
from datetime import date, datetime, timedelta

import sqlalchemy as sa

VILLAGE_CODE = "620123105288"
VILLAGE_NAME = "旧村"
TOWNSHIP_CODE = VILLAGE_CODE[:9] + "000"
#: a village registered at the county before the upgrade, and the sync key it was given then
SYNCED_VILLAGE_CODE = "620123105277"
SYNCED_VILLAGE_KEY = "pmk_frozen-data-key-of-a-village-synced-before-the-upgrade"
START = datetime(2026, 9, 1, 8, 0, 0)
OPENING = [30, 0, 12, 5, 20, 8]  # opening points of the six households


def _type(value):
    """The column type a value is stored as (the driver's own conversion for the rest)."""
    for python_type, column_type in (
        (bool, sa.Boolean),
        (datetime, sa.DateTime),
        (date, sa.Date),
        (dict, sa.JSON),
    ):
        if isinstance(value, python_type):
            return column_type()
    return None


def _insert(conn, table, **values) -> int | None:
    """Insert one row; return its id (None for tables keyed otherwise)."""
    columns = [sa.column(name, _type(value)) for name, value in values.items()]
    statement = sa.insert(sa.table(table, *columns)).values(**values)
    if "id" not in values and table not in ("village_link", "village_month"):
        statement = statement.returning(sa.column("id"))
        return conn.execute(statement).scalar_one()
    conn.execute(statement)
    return values.get("id")


def _at(state, minutes: int = 0) -> datetime:
    """The village's clock: each event a little after the one before."""
    state["clock"] += timedelta(minutes=7 + minutes)
    return state["clock"]


def _account(conn, code: str) -> int:
    return conn.execute(sa.text("SELECT id FROM account WHERE code = :c"), {"c": code}).scalar_one()


def _post(conn, state, source: str, target: str, amount: int, kind: str, reason: str, **extra) -> int:
    """A transfer and the two cached balances it moves, as the ledger of that day wrote them."""
    ids = _account(conn, source), _account(conn, target)
    transfer_id = _insert(
        conn,
        "transfer",
        uuid=str(uuid.uuid4()),
        from_account_id=ids[0],
        to_account_id=ids[1],
        amount=amount,
        kind=kind,
        reason=reason,
        created_at=_at(state),
        **extra,
    )
    for account_id, sign in zip(ids, (-1, 1), strict=True):
        conn.execute(
            sa.text("UPDATE account SET balance = balance + :d WHERE id = :i"),
            {"d": sign * amount, "i": account_id},
        )
    return transfer_id


def _balance(conn, code: str) -> int:
    return conn.execute(sa.text("SELECT balance FROM account WHERE code = :c"), {"c": code}).scalar_one()


# --- 0001: village, users, households, the ledger, the audit log -----------------------------------


def _core(conn, state) -> None:
    village = _insert(
        conn,
        "village",
        code=VILLAGE_CODE,
        name=VILLAGE_NAME,
        township_code=TOWNSHIP_CODE,
        township_name="旧镇",
        county_name="旧县",
    )
    state["village"] = village
    state["users"] = {
        name: _insert(
            conn,
            "user",
            username=name,
            display_name=name,
            password_hash="$argon2id$not-a-real-hash",
            role=role,
            active=True,
            village_id=village,
            created_at=_at(state),
        )
        for name, role in (
            ("chair", "chair"),
            ("shop", "shopkeeper"),
            ("panel1", "panel"),
            ("panel2", "panel"),
        )
    }
    chair = state["users"]["chair"]
    state["households"] = []
    for n, points in enumerate(OPENING, start=1):
        household_uuid = str(uuid.uuid4())
        code = f"household:{household_uuid}"
        account = _insert(conn, "account", code=code, kind="household", balance=0)
        household = _insert(
            conn,
            "household",
            uuid=household_uuid,
            village_id=village,
            household_no=f"01-{n:03d}",
            head_name=f"旧户{n}",
            group_name="一社" if n <= 3 else "二社",
            phone="",
            members=n + 1,
            address=f"旧村{n}号",
            tags="",
            active=n != 6,
            account_id=account,
            created_at=_at(state),
            updated_at=state["clock"],
        )
        state["households"].append((household, code))
        if points:
            _post(conn, state, "issuance", code, points, "adjustment", "开户积分", actor_id=chair)
        _insert(
            conn,
            "audit_log",
            at=state["clock"],
            actor_id=chair,
            action="household.created",
            target_type="household",
            target_id=str(household),
            data={"household_no": f"01-{n:03d}"},
        )
    code = state["households"][2][1]
    award = _post(conn, state, "issuance", code, 8, "adjustment", "志愿服务", actor_id=chair)
    _post(conn, state, code, "issuance", 8, "reversal", "重复录入", reverses_id=award, actor_id=chair)
    _post(conn, state, state["households"][4][1], "deductions", 3, "adjustment", "乱堆乱放", actor_id=chair)
    _insert(
        conn,
        "login_session",
        token_hash=hashlib.sha256(b"session").hexdigest(),
        user_id=chair,
        created_at=state["clock"],
    )
    _insert(
        conn,
        "api_token",
        user_id=chair,
        token_hash=hashlib.sha256(b"token").hexdigest(),
        prefix="pm_old",
        created_at=state["clock"],
    )


# --- 0002: the rulebook, a finalised round with awards and a short deduction, the ledgers -------------


def _scoring(conn, state) -> None:
    village, users = state["village"], state["users"]
    tidy = _insert(conn, "category", village_id=village, name="环境卫生", position=0, active=True)
    virtue = _insert(conn, "category", village_id=village, name="家庭美德", position=1, active=True)
    criteria = [
        _insert(
            conn,
            "criterion",
            category_id=category,
            name=name,
            description="",
            points=points,
            cadence="monthly",
            max_per_period=1,
            active=True,
            position=position,
            updated_at=_at(state),
        )
        for position, (category, name, points) in enumerate(
            [(tidy, "门前三包", 3), (tidy, "乱堆乱放", -5), (virtue, "孝老爱亲", 4)]
        )
    ]
    for user in ("panel1", "panel2"):
        _insert(conn, "panel_member", user_id=users[user], label="执委", groups="")
    created = _at(state)
    finalised = created + timedelta(days=8)
    round_id = _insert(
        conn,
        "scoring_round",
        uuid=str(uuid.uuid4()),
        village_id=village,
        period_type="monthly",
        period_key="2026-09",
        scope="",
        status="finalised",
        approvals_required=2,
        notice_days=5,
        created_by=users["chair"],
        created_at=created,
        submitted_by=users["panel1"],
        submitted_at=created + timedelta(days=1),
        published_by=users["chair"],
        published_at=created + timedelta(days=2),
        notice_ends_at=created + timedelta(days=7),
        finalised_by=users["chair"],
        finalised_at=finalised,
    )
    _insert(
        conn,
        "scoring_round",
        uuid=str(uuid.uuid4()),
        village_id=village,
        period_type="monthly",
        period_key="2026-10",
        scope="",
        status="draft",
        approvals_required=2,
        notice_days=5,
        created_by=users["chair"],
        created_at=finalised,
    )
    items = [
        _insert(
            conn,
            "round_criterion",
            round_id=round_id,
            criterion_id=criterion,
            category_name=category,
            name=name,
            points=points,
            max_per_period=1,
            position=position,
        )
        for position, (criterion, category, name, points) in enumerate(
            zip(
                criteria,
                ["环境卫生", "环境卫生", "家庭美德"],
                ["门前三包", "乱堆乱放", "孝老爱亲"],
                [3, -5, 4],
                strict=True,
            )
        )
    ]
    for user in ("panel1", "panel2"):
        _insert(
            conn, "round_approval", round_id=round_id, user_id=users[user], at=created + timedelta(days=1)
        )
    # every household keeps its doorstep (3); the first is filial (4); the second piles rubbish (−5)
    for index, (household, code) in enumerate(state["households"][:5]):
        cells = (
            [(items[0], 1)]
            + ([(items[2], 1)] if index == 0 else [])
            + ([(items[1], 1)] if index == 1 else [])
        )
        for item, times in cells:
            _insert(
                conn,
                "score",
                round_id=round_id,
                household_id=household,
                round_criterion_id=item,
                times=times,
                entered_by=users["panel1"],
                updated_at=created,
            )
        awarded = 3 + (4 if index == 0 else 0)
        wanted = 5 if index == 1 else 0
        _post(conn, state, "issuance", code, awarded, "award", "2026年9月评定", ref=f"round:{round_id}")
        deducted = min(wanted, _balance(conn, code))
        if deducted:
            _post(
                conn,
                state,
                code,
                "deductions",
                deducted,
                "deduction",
                "2026年9月评定",
                ref=f"round:{round_id}",
            )
        _insert(
            conn,
            "round_result",
            round_id=round_id,
            household_id=household,
            awarded=awarded,
            deducted=deducted,
            shortfall=wanted - deducted,
        )
    _insert(
        conn,
        "meeting_minutes",
        round_id=round_id,
        held_on=date(2026, 9, 28),
        place="村委会",
        panel_present="执委",
        others_present="",
        decisions="通过",
        notes="",
        updated_by=users["chair"],
        updated_at=created,
    )
    _insert(
        conn,
        "objection",
        round_id=round_id,
        household_id=state["households"][1][0],
        objector="旧户2",
        content="门前已清理",
        status="resolved",
        recorded_by=users["chair"],
        recorded_at=created,
        resolution="维持",
        resolved_by=users["chair"],
        resolved_at=created + timedelta(days=3),
    )
    _insert(
        conn,
        "notice_photo",
        round_id=round_id,
        stored_name=f"{uuid.uuid4().hex}.jpg",
        original_name="公示.jpg",
        content_type="image/jpeg",
        width=800,
        height=600,
        size=12345,
        posted_from=date(2026, 9, 29),
        posted_until=date(2026, 10, 5),
        uploaded_by=users["chair"],
        uploaded_at=created,
    )


# --- 0003: goods, stock, a card, a redemption and a cancelled one, a stocktake ------------------------


def _shop(conn, state) -> None:
    village, users = state["village"], state["users"]
    shop, chair = users["shop"], users["chair"]
    goods = {}
    for position, (name, price, qty, kind) in enumerate(
        [("洗衣粉", 10, 20, "donation"), ("毛巾", 6, 10, "purchase")]
    ):
        goods[name] = _insert(
            conn,
            "goods",
            uuid=str(uuid.uuid4()),
            village_id=village,
            name=name,
            spec="",
            price=price,
            stock=qty,
            low_stock=2,
            photo="",
            active=True,
            position=position,
        )
        _insert(
            conn, "price_change", goods_id=goods[name], price=price, changed_at=_at(state), changed_by=chair
        )
        _insert(
            conn,
            "stock_move",
            uuid=str(uuid.uuid4()),
            goods_id=goods[name],
            kind=kind,
            qty=qty,
            donor="爱心企业" if kind == "donation" else "",
            moved_on=date(2026, 9, 2),
            funding_source="" if kind == "donation" else "妇联经费",
            cost_fen=None if kind == "donation" else 4500,
            note="",
            actor_id=chair,
            created_at=state["clock"],
        )
    household, code = state["households"][0]
    card = _insert(
        conn,
        "card",
        household_id=household,
        token="t" * 43,
        number="100000018",
        status="active",
        issued_by=chair,
        issued_at=_at(state),
        revoke_reason="",
    )

    def redeem(lines):
        points = sum(goods_price * qty for _name, goods_price, qty in lines)
        transfer = _post(conn, state, code, "shop", points, "redemption", "兑换", actor_id=shop)
        redemption = _insert(
            conn,
            "redemption",
            uuid=str(uuid.uuid4()),
            village_id=village,
            household_id=household,
            card_id=card,
            points=points,
            balance_after=_balance(conn, code),
            status="done",
            transfer_id=transfer,
            operator_id=shop,
            created_at=state["clock"],
            cancel_reason="",
        )
        for name, goods_price, qty in lines:
            _insert(
                conn,
                "redemption_line",
                redemption_id=redemption,
                goods_id=goods[name],
                qty=qty,
                unit_price=goods_price,
                goods_name=name,
            )
            _move(conn, state, goods[name], "redemption", -qty, redemption_id=redemption, actor_id=shop)
        return redemption, transfer, points

    redeem([("洗衣粉", 10, 1), ("毛巾", 6, 2)])
    cancelled, transfer, points = redeem([("毛巾", 6, 1)])
    _post(conn, state, "shop", code, points, "reversal", "拿错了", reverses_id=transfer, actor_id=chair)
    conn.execute(
        sa.text(
            "UPDATE redemption SET status = 'cancelled', cancelled_by = :u, cancelled_at = :t, "
            "cancel_reason = '拿错了' WHERE id = :i"
        ),
        {"u": chair, "t": state["clock"], "i": cancelled},
    )
    _move(conn, state, goods["毛巾"], "cancellation", 1, redemption_id=cancelled, actor_id=chair)
    stocktake = _insert(
        conn,
        "stocktake",
        village_id=village,
        counted_on=date(2026, 9, 30),
        counted_by="王秀兰",
        note="",
        actor_id=chair,
        created_at=_at(state),
    )
    _insert(conn, "stocktake_line", stocktake_id=stocktake, goods_id=goods["洗衣粉"], recorded=19, counted=18)
    _move(conn, state, goods["洗衣粉"], "stocktake", -1, stocktake_id=stocktake, actor_id=chair)
    _insert(
        conn,
        "idempotency_record",
        scope="redemption",
        key="retry-1",
        request_hash="0" * 64,
        status=201,
        response={"ok": True},
        created_at=state["clock"],
    )


def _move(conn, state, goods_id: int, kind: str, qty: int, **extra) -> None:
    _insert(
        conn,
        "stock_move",
        uuid=str(uuid.uuid4()),
        goods_id=goods_id,
        kind=kind,
        qty=qty,
        donor="",
        moved_on=None,
        funding_source="",
        cost_fen=None,
        note="",
        created_at=_at(state),
        **extra,
    )
    conn.execute(sa.text("UPDATE goods SET stock = stock + :q WHERE id = :i"), {"q": qty, "i": goods_id})


STEPS = [("0001", _core), ("0002", _scoring), ("0003", _shop)]


def fill_village(conn, revision: str) -> None:
    """Fill a village database that stands at ``revision`` with what that day's app would have written."""
    state = {"clock": START}
    for since, step in STEPS:
        if since <= revision:
            step(conn, state)


# --- 0004: the county side — a village that synced before the upgrade --------------------------------


def fill_county(conn) -> None:
    """Fill a county database at 0004 or later: a township, a village that pushed three transfers."""
    _insert(conn, "township", code=TOWNSHIP_CODE, name="旧镇")
    village = _insert(
        conn,
        "village",
        code=SYNCED_VILLAGE_CODE,
        name="早村",
        township_code=TOWNSHIP_CODE,
        township_name="旧镇",
        county_name="旧县",
    )
    _insert(
        conn,
        "user",
        username="reviewer",
        display_name="审核员",
        password_hash="$argon2id$not-a-real-hash",
        role="county_reviewer",
        active=True,
        village_id=None,
        created_at=START,
        township_code=TOWNSHIP_CODE,
    )
    points = [15, 9, 4]
    for n, amount in enumerate(points, start=1):
        household_uuid = str(uuid.uuid4())
        _insert(
            conn,
            "synced_household",
            village_id=village,
            uuid=household_uuid,
            household_no=f"02-{n:03d}",
            head_name=f"早户{n}",
            group_name="一社",
            members=3,
            active=True,
            created_at=START,
        )
        _insert(
            conn,
            "synced_transfer",
            village_id=village,
            uuid=str(uuid.uuid4()),
            kind="adjustment",
            amount=amount,
            from_kind="issuance",
            to_kind="household",
            household_uuid=household_uuid,
            category=None,
            reason="开户积分",
            reverses_uuid=None,
            created_at=START,
            month="2026-09",
        )
    total = sum(points)
    _insert(
        conn,
        "village_month",
        village_id=village,
        month="2026-09",
        issued=total,
        redeemed=0,
        deducted=0,
        expired=0,
        transfers=len(points),
    )
    _insert(
        conn,
        "village_link",
        village_id=village,
        key_hash=hashlib.sha256(SYNCED_VILLAGE_KEY.encode()).hexdigest(),
        key_set_at=START,
        acked_seq=6,
        digest="0" * 64,
        last_sync_at=START,
        balance_sum=total,
        transfer_count=len(points),
        points_issued=total,
        points_redeemed=0,
        points_deducted=0,
        reported_balance_sum=total,
        reported_transfer_count=len(points),
        mismatch="",
    )
