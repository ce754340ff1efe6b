"""Load the demo village from the data files in ``seed/demo``. Loading twice adds nothing twice.

A newcomer sees every part of the product at once, so the first load writes last month's history, by
the same services the pages call, with the app's one clock set back to when each step happened
(:func:`pointsmart.clock.set_to`); every date is relative to today:

- day 1: the village starts with the app — users, households, the rulebook, cards, and the balances
  carried over from the paper point cards;
- days 2–12: goods received (donated lots with their donors, bought lots with their funding);
- day 20: the month's round scored (``scores.csv``), approved and put on public notice, with the
  panel's meeting minutes and a photo of the posted notice; finalised when the notice ends, so its
  points are posted;
- day 26: an exchange day at the counter (``sales.csv``); day 28: a stocktake of every shelf.

Then, today, this month's round is opened for scoring. Last month is left open with nothing blocking
its close, so the chair presses 月结 herself and sees 三务公开 fill in.
"""

import csv
import io
import json
from contextlib import nullcontext
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import sqlalchemy as sa
from PIL import Image, ImageDraw
from sqlalchemy.orm import Session

from . import clock
from .auth.services import create_user, find_user
from .cards import services as cards
from .households import roster
from .households.services import adjust_points, household_by_no
from .ledger.models import Transfer
from .org.models import Village
from .org.services import ensure_village
from .periods import Period, today, zone
from .scoring import criteria as scoring_criteria
from .scoring import finalisation as scoring_finalisation
from .scoring import meeting_minutes, notice_photos, score_entry
from .scoring import panels as scoring_panels
from .scoring import workflow as scoring_workflow
from .shop import redemptions
from .shop import services as shop
from .shop.models import MoveKind

OPENING_REF = "demo:opening"
#: last month's scores (户号, 条目, 次数) and exchange day (户号, 商品, 数量, 时刻)
SCORES, SALES = "scores.csv", "sales.csv"
#: the days of last month the history happens on
ROUND_DAY, EXCHANGE_DAY, STOCKTAKE_DAY = 20, 26, 28


def _moment(day: date, at: time) -> datetime:
    """A local day and time of the village as the clock stores it (naive UTC)."""
    return datetime.combine(day, at, tzinfo=zone()).astimezone(UTC).replace(tzinfo=None)


def _on(month: Period | None, day: int, at: time = time(9)):
    """Set the clock to a day of last month for the block (nothing when there is no history to write)."""
    if month is None:
        return nullcontext()
    return clock.set_to(_moment(month.start.replace(day=day), at))


def _village_info(seed_dir: Path) -> dict:
    return json.loads((seed_dir / "village.json").read_text(encoding="utf-8"))


def other_village_exists(session: Session, seed_dir: Path) -> bool:
    """True when this database serves a real village (one that is not the demo's)."""
    return (
        session.scalar(sa.select(Village.id).where(Village.code != _village_info(seed_dir)["code"]).limit(1))
        is not None
    )


def load_demo(session: Session, seed_dir: Path) -> dict:
    """Create the demo village, its users and households, and their opening balances, and write last
    month's history and open this month's round (once)."""
    first_load = session.scalar(sa.select(Transfer.id).where(Transfer.ref == OPENING_REF).limit(1)) is None
    history = first_load and (seed_dir / SCORES).exists()
    # the month before today: the demo's history (None: only the village, at today's time)
    last_month = Period.of(today()).previous if history else None
    with _on(last_month, 1):
        summary = _set_up(session, seed_dir, last_month)
    if history:
        _history(session, summary["village_row"], seed_dir, summary["users"], last_month)
        chair = _chair(session, summary["users"])
        this_month = Period.of(today()).key
        scoring_workflow.create_round(session, summary["village_row"], "monthly", this_month, "", chair.id)
    session.flush()
    del summary["village_row"]
    return summary


def _chair(session: Session, users: list[dict]):
    return find_user(session, next(u["username"] for u in users if u["role"] == "chair"))


def _set_up(session: Session, seed_dir: Path, last_month: Period | None) -> dict:
    """The village, its users, households, opening balances, rulebook, panel, goods and cards."""
    info = _village_info(seed_dir)
    village = ensure_village(
        session,
        info["code"],
        info["name"],
        township_code=info.get("township_code"),
        township_name=info.get("township_name"),
        county_name=info.get("county_name"),
    )
    users = json.loads((seed_dir / "users.json").read_text(encoding="utf-8"))
    for user in users:
        if find_user(session, user["username"]) is None:
            create_user(
                session,
                user["username"],
                user["role"],
                user["password"],
                user["display_name"],
                village_id=village.id,
            )

    roster_file = seed_dir / "households.csv"
    plan = roster.plan_import(session, village.id, roster_file.name, roster_file.read_bytes())
    roster.apply_import(session, village.id, plan, actor_id=None)

    if session.scalar(sa.select(Transfer.id).where(Transfer.ref == OPENING_REF).limit(1)) is None:
        with (seed_dir / "opening_balances.csv").open(encoding="utf-8") as f:
            for row in csv.DictReader(f):
                household = household_by_no(session, village.id, row["户号"])
                adjust_points(
                    session, household, int(row["积分"]), row["原因"], actor_id=None, ref=OPENING_REF
                )
    rulebook = json.loads((seed_dir / "rulebook.json").read_text(encoding="utf-8"))
    if not scoring_criteria.categories(session, village.id):
        for position, entry in enumerate(rulebook):
            category = scoring_criteria.save_category(
                session, village.id, {"name": entry["category"], "position": position}, actor_id=None
            )
            for n, criterion in enumerate(entry["criteria"]):
                scoring_criteria.save_criterion(session, category, criterion | {"position": n}, actor_id=None)
    chair = _chair(session, users)
    for user in users:
        if user.get("panel_label"):
            member = find_user(session, user["username"])
            if scoring_panels.membership(session, member.id) is None:
                scoring_panels.set_panel_member(
                    session, member, user["panel_label"], user.get("panel_groups", []), actor_id=chair.id
                )
    issued = cards.issue_all(session, village.id, actor_id=None)
    # then the shop's goods, each lot received on its day (in the file's order, which is the days')
    if not shop.list_goods(session, village.id):
        for position, item in enumerate(json.loads((seed_dir / "goods.json").read_text(encoding="utf-8"))):
            goods = shop.save_goods(session, village.id, item | {"position": position}, actor_id=None)
            for move in item["in"]:
                # received on its day of last month (without a history: today)
                with _on(last_month, move["day"], time(15)):
                    shop.receive_stock(
                        session,
                        goods,
                        MoveKind(move["kind"]),
                        move["qty"],
                        None,
                        donor=move.get("donor", ""),
                        funding_source=move.get("funding_source", ""),
                        cost_fen=move.get("cost_fen"),
                        moved_on=today(),
                    )
    session.flush()
    total = len(plan.added) + len(plan.changed) + plan.unchanged
    return {
        "village": f"{village.code} {village.name}",
        "households": total,
        "added": len(plan.added),
        "cards": len(issued),
        "users": users,
        "village_row": village,
    }


def _notice_board() -> bytes:
    """A picture standing in for the photo of the notice posted on the village board."""
    board = Image.new("RGB", (640, 480), (196, 60, 48))
    draw = ImageDraw.Draw(board)
    draw.rectangle((60, 40, 580, 440), fill=(250, 246, 236))
    for y in range(90, 420, 28):  # the notice's lines of names and points
        draw.line((90, y, 550 - (y % 3) * 40, y), fill=(90, 90, 90), width=3)
    out = io.BytesIO()
    board.save(out, "PNG")
    return out.getvalue()


def _history(session: Session, village, seed_dir: Path, users: list[dict], month: Period) -> None:
    """Last month: its round scored, approved, on notice and finalised; an exchange day; a stocktake."""
    panel = [find_user(session, u["username"]) for u in users if u["role"] == "panel"]
    chair = _chair(session, users)
    with _on(month, ROUND_DAY):
        scoring_round = scoring_workflow.create_round(session, village, "monthly", month.key, "", chair.id)
        criteria = {c.name: c.id for c in scoring_round.criteria}
        first_groups = scoring_panels.membership(session, panel[0].id).group_list
        with (seed_dir / SCORES).open(encoding="utf-8") as f:
            for row in csv.DictReader(f):
                household = household_by_no(session, village.id, row["户号"])
                scorer = panel[0] if household.group in first_groups else panel[1]
                score_entry.set_score(
                    session, scoring_round, household.id, criteria[row["条目"]], int(row["次数"]), scorer
                )
        # handed in by the chair, approved by two others, posted for the village to see
        scoring_workflow.submit_round(session, scoring_round, chair)
        for member in panel:
            scoring_workflow.approve_round(session, scoring_round, member)
        scoring_workflow.publish_round(session, scoring_round, chair.id)
    # the panel's meeting minutes and a photo of the notice on the village board: the book's ledgers
    with _on(month, ROUND_DAY, time(15)):
        minutes = meeting_minutes.minutes_defaults(session, scoring_round, today())
        minutes |= {"place": "村委会会议室", "others_present": "各村民小组组长"}
        meeting_minutes.save_minutes(session, scoring_round, minutes, chair.id)
        posted_until = (scoring_round.notice_ends_at + timedelta(hours=8)).date()
        notice_photos.add_photo(
            session, scoring_round, _notice_board(), "公示栏.png", today(), posted_until,
            notice_photos.folder(), chair.id,
        )  # fmt: skip
    # no objection came: the chair finalises it an hour after the notice ends, and the points are posted
    with clock.set_to(scoring_round.notice_ends_at + timedelta(hours=1)):
        scoring_finalisation.finalise_round(session, scoring_round, chair.id)

    shopkeeper = find_user(session, next(u["username"] for u in users if u["role"] == "shopkeeper"))
    goods = {g.name: g for g in shop.list_goods(session, village.id)}
    baskets: dict[tuple[str, str], list[tuple[int, int]]] = {}
    with (seed_dir / SALES).open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            baskets.setdefault((row["时刻"], row["户号"]), []).append(
                (goods[row["商品"]].id, int(row["数量"]))
            )
    for (at, household_no), lines in sorted(baskets.items()):
        household = household_by_no(session, village.id, household_no)
        with _on(month, EXCHANGE_DAY, time.fromisoformat(at)):
            card = cards.active_card(session, household.id)
            redemptions.redeem(session, village.id, card, lines, shopkeeper)

    with _on(month, STOCKTAKE_DAY, time(16)):
        counts = {g.id: g.stock for g in shop.list_goods(session, village.id)}
        shop.record_stocktake(
            session,
            village.id,
            today(),
            shopkeeper.display_name,
            counts,
            actor_id=shopkeeper.id,
            note="月底盘点",
        )
