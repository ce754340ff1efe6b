"""Load the demo village from the data files in ``seed/demo``. Loading twice adds nothing twice."""

import csv
import json
from datetime import date
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from .auth.services import create_user, find_user
from .cards import services as cards
from .households import roster
from .households.services import adjust_points, household_by_no
from .ledger.models import Transfer
from .org.models import Village
from .org.services import ensure_village
from .scoring import criteria as scoring_criteria
from .scoring import panels as scoring_panels
from .scoring import score_entry
from .scoring import workflow as scoring_workflow
from .scoring.models import ScoringRound
from .shop import services as shop
from .shop.models import MoveKind

OPENING_REF = "demo:opening"


def _village_info(seed_dir: Path) -> dict:
    return json.loads((seed_dir / "village.json").read_text(encoding="utf-8"))


def other_village_exists(session: Session, seed_dir: Path) -> bool:
    """True when this database serves a real village (one that is not the demo's)."""
    return (
        session.scalar(sa.select(Village.id).where(Village.code != _village_info(seed_dir)["code"]).limit(1))
        is not None
    )


def load_demo(session: Session, seed_dir: Path) -> dict:
    """Create the demo village, its users and households, and their opening balances (once)."""
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
    chair = find_user(session, next(u["username"] for u in users if u["role"] == "chair"))
    for user in users:
        if user.get("panel_label"):
            member = find_user(session, user["username"])
            if scoring_panels.membership(session, member.id) is None:
                scoring_panels.set_panel_member(
                    session, member, user["panel_label"], user.get("panel_groups", []), actor_id=chair.id
                )
    if not shop.list_goods(session, village.id):
        for position, item in enumerate(json.loads((seed_dir / "goods.json").read_text(encoding="utf-8"))):
            goods = shop.save_goods(session, village.id, item | {"position": position}, actor_id=None)
            for move in item["in"]:
                shop.receive_stock(
                    session,
                    goods,
                    MoveKind(move["kind"]),
                    move["qty"],
                    None,
                    donor=move.get("donor", ""),
                    funding_source=move.get("funding_source", ""),
                    cost_fen=move.get("cost_fen"),
                    moved_on=date.fromisoformat(move["moved_on"]),
                )
    issued = cards.issue_all(session, village.id, actor_id=None)
    _demo_round(session, village, seed_dir, users)
    session.flush()
    total = len(plan.added) + len(plan.changed) + plan.unchanged
    return {
        "village": f"{village.code} {village.name}",
        "households": total,
        "added": len(plan.added),
        "cards": len(issued),
        "users": users,
    }


def _demo_round(session: Session, village, seed_dir: Path, users: list[dict]) -> None:
    """October's monthly round, scored by the panel, approved and on public notice (once)."""

    scores = seed_dir / "round-2026-10.csv"
    exists = session.scalar(sa.select(ScoringRound.id).where(ScoringRound.village_id == village.id).limit(1))
    if exists is not None or not scores.exists():
        return
    panel = [find_user(session, u["username"]) for u in users if u["role"] == "panel"]
    chair = find_user(session, next(u["username"] for u in users if u["role"] == "chair"))
    scoring_round = scoring_workflow.create_round(session, village, "monthly", "2026-10", "", chair.id)
    criteria = {c.name: c.id for c in scoring_round.criteria}
    with scores.open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            household = household_by_no(session, village.id, row["户号"])
            scorer = (
                panel[1]
                if household.group not in scoring_panels.membership(session, panel[0].id).group_list
                else panel[0]
            )
            score_entry.set_score(
                session, scoring_round, household.id, criteria[row["条目"]], int(row["次数"]), scorer
            )
    # handed in by the chair, approved by two others
    scoring_workflow.submit_round(session, scoring_round, chair)
    for member in panel:
        scoring_workflow.approve_round(session, scoring_round, member)
    scoring_workflow.publish_round(session, scoring_round, chair.id)
