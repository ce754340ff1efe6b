"""Shared steps of the sync tests: register a village at a county, push its change log, compare totals."""

import threading

import sqlalchemy as sa
from waitress import create_server

from pointsmart.county import services as county
from pointsmart.county.models import VillageLink
from pointsmart.extensions import db
from pointsmart.ledger import services as ledger
from pointsmart.org.models import Village
from pointsmart.org.services import home_village
from pointsmart.sync import batches

from .conftest import VILLAGE_CODE
from .live import stop

TOWNSHIP_CODE = VILLAGE_CODE[:9] + "000"


class CountyServer:
    """A county app served by waitress on a free port in a thread, like a county server."""

    def __init__(self, app):
        self.server = create_server(app, host="127.0.0.1", port=0, threads=2)
        self.url = f"http://127.0.0.1:{self.server.effective_port}"
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()

    def stop(self):
        stop(self.server, self.thread)


def register(county_app, code: str = VILLAGE_CODE, name: str = "测试村", township: str | None = None) -> str:
    """Register a village at the county; return its sync key."""
    with county_app.app_context():
        _village, key = county.add_village(
            db.session, code, name, township or code[:9] + "000", township_name="测试镇"
        )
        db.session.commit()
        return key


def batch_bodies(village_app, from_seq: int = 1, size: int = batches.BATCH_SIZE) -> list[bytes]:
    """Every batch of the village's change log from ``from_seq``, as request bodies."""
    bodies = []
    with village_app.app_context():
        code = home_village(db.session).code
        while (batch := batches.build(db.session, code, from_seq, size)) is not None:
            bodies.append(batch.body)
            from_seq = batch.to_seq + 1
        db.session.rollback()
    return bodies


def post(county_client, key: str, body: bytes):
    return county_client.post(
        "/api/v1/sync/batches",
        data=body,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )


def push_all(village_app, county_client, key: str, size: int = batches.BATCH_SIZE) -> int:
    """Send every batch in order; return the last acknowledged sequence."""
    acked = 0
    for body in batch_bodies(village_app, 1, size):
        response = post(county_client, key, body)
        assert response.status_code == 200, response.get_json()
        acked = response.get_json()["acked_seq"]
    return acked


def village_totals(village_app) -> dict:
    with village_app.app_context():
        summary = ledger.summary(db.session)
        report = ledger.verify(db.session)
        assert report.ok, report
        return {
            "balance_sum": summary.household_balance_sum,
            "transfers": summary.transfers,
            "issued": summary.points_issued,
            "redeemed": summary.points_redeemed,
            "deducted": summary.points_deducted,
            "seq": batches.head_seq(db.session),
        }


def county_totals(county_app, code: str = VILLAGE_CODE) -> dict:
    """The county's running totals for a village, checked against a recount of its synced transfers."""
    from pointsmart.county.verify import recount

    with county_app.app_context():
        village = db.session.scalar(sa.select(Village).where(Village.code == code))
        link = db.session.get(VillageLink, village.id)
        assert recount(db.session, village.id) == {
            "balance_sum": link.balance_sum,
            "transfers": link.transfer_count,
            "issued": link.points_issued,
            "redeemed": link.points_redeemed,
            "deducted": link.points_deducted,
        }
        assert link.mismatch == "", link.mismatch
        return {
            "balance_sum": link.balance_sum,
            "transfers": link.transfer_count,
            "issued": link.points_issued,
            "redeemed": link.points_redeemed,
            "deducted": link.points_deducted,
            "seq": link.acked_seq,
        }


def workload(app, make_user, make_household, month: str = "2026-11") -> dict:
    """A village's month of everything the change log carries, through the services.

    Households with opening points, a rulebook, a monthly round run to the end (awards, a deduction
    bigger than a balance), goods with donated stock, redemptions, one cancelled, a reversal, edits.
    """
    from datetime import timedelta

    from pointsmart import clock
    from pointsmart.auth.models import User
    from pointsmart.cards import services as cards
    from pointsmart.households import services as households
    from pointsmart.households.models import Household
    from pointsmart.scoring import criteria as scoring_criteria
    from pointsmart.scoring import finalisation as scoring_finalisation
    from pointsmart.scoring import panels as scoring_panels
    from pointsmart.scoring import score_entry
    from pointsmart.scoring import workflow as scoring_workflow
    from pointsmart.shop import redemptions
    from pointsmart.shop import services as shop
    from pointsmart.shop.models import MoveKind

    ids = [make_household(points=p) for p in (30, 0, 12, 5)]
    panel = [make_user("panel")[0], make_user("panel")[0]]
    chair = make_user("chair")[0]
    with app.app_context():
        session = db.session
        members = [session.get(User, i) for i in panel]
        for member in members:
            scoring_panels.set_panel_member(session, member, "执委", [], None)
        village = home_village(session)
        tidy_category = scoring_criteria.save_category(session, village.id, {"name": "环境卫生"}, None)
        virtue = scoring_criteria.save_category(session, village.id, {"name": "家庭美德"}, None)
        scoring_criteria.save_criterion(
            session, tidy_category, {"name": "门前三包", "points": 3, "cadence": "monthly"}, None
        )
        scoring_criteria.save_criterion(
            session, tidy_category, {"name": "乱堆乱放", "points": -5, "cadence": "monthly"}, None
        )
        scoring_criteria.save_criterion(
            session, virtue, {"name": "孝老爱亲", "points": 4, "cadence": "monthly"}, None
        )
        scoring_criteria.save_category(session, village.id, {"name": "家庭美德（新）"}, None, virtue)
        found = scoring_workflow.create_round(session, village, "monthly", month, "", None)
        tidy, mess, filial = found.criteria
        homes = [session.get(Household, i) for i in ids]
        for home in homes:
            score_entry.set_score(session, found, home.id, tidy.id, 1, members[0])
        score_entry.set_score(session, found, homes[0].id, filial.id, 1, members[0])
        # 3 points, 5 deducted: short
        score_entry.set_score(session, found, homes[1].id, mess.id, 1, members[0])
        # the submitter may not approve
        scoring_workflow.submit_round(session, found, session.get(User, chair))
        for member in members:
            scoring_workflow.approve_round(session, found, member)
        scoring_workflow.publish_round(session, found, None)
        clock.advance(timedelta(days=6))
        assert scoring_finalisation.finalise_round(session, found, None)
        session.commit()

        operator = session.get(User, chair)
        soap = shop.save_goods(session, village.id, {"name": "洗衣粉", "price": 10}, None)
        towel = shop.save_goods(session, village.id, {"name": "毛巾", "price": 6}, None)
        shop.receive_stock(session, soap, MoveKind.DONATION, 20, None, donor="爱心企业")
        shop.receive_stock(session, towel, MoveKind.PURCHASE, 10, None)
        session.commit()
        card = cards.issue_card(session, homes[0], None)
        kept = redemptions.redeem(session, village.id, card, [(soap.id, 1), (towel.id, 2)], operator)
        session.commit()
        undone = redemptions.redeem(session, village.id, card, [(towel.id, 1)], operator)
        session.commit()
        redemptions.cancel_redemption(session, undone, "拿错了", operator)
        session.commit()
        award = households.adjust_points(session, homes[2], 8, "志愿服务", actor_id=chair)
        session.commit()
        households.reverse_transfer(session, homes[2], award.id, "重复录入", chair)
        households.update_household(session, homes[3], {"head_name": "改名户"}, chair)
        shop.save_goods(session, village.id, {"name": "洗衣粉", "price": 12}, None, soap)
        session.commit()
        return {"households": [h.uuid for h in homes], "round": found.uuid, "redemption": kept.uuid}
