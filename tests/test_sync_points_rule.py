"""What issue 14 asks the county to see through the sync: the village's year-end rule (with its
history), a round's notice (published, notice days, photos) and a redemption's counter and card —
and a village that has not upgraded still syncs, and a bad record of the new kind is refused in words.
"""

import io
import json
from datetime import timedelta

import sqlalchemy as sa
from openpyxl import load_workbook

from pointsmart import clock
from pointsmart.county.models import SyncedPointsRule, SyncedRedemption, SyncedRound
from pointsmart.extensions import db
from pointsmart.sync.models import ChangeRecord

from .conftest import VILLAGE_CODE
from .sync_support import batch_bodies, post, push_all, register, workload
from .test_county_dashboard import county_user, login
from .test_sync import _resign


def choose_rules(app, make_user) -> int:
    """The chair clears points at year end, and a month later makes them last 6 months."""
    from pointsmart.settings.expiry import set_rule

    chair = make_user("chair")[0]
    with app.app_context():
        set_rule(db.session, chair, "year_end", None)
        db.session.commit()
        clock.advance(timedelta(days=30))
        set_rule(db.session, chair, "months", 6)
        db.session.commit()
    return chair


def test_the_year_end_rule_reaches_the_county_with_its_history_and_is_shown(
    app, county_app, make_user, make_household
):
    workload(app, make_user, make_household)
    choose_rules(app, make_user)
    key = register(county_app)
    push_all(app, county_app.test_client(), key, size=7)
    with county_app.app_context():
        rows = db.session.execute(
            sa.select(SyncedPointsRule.rule, SyncedPointsRule.months).order_by(SyncedPointsRule.since)
        ).all()
        assert [tuple(r) for r in rows] == [("year_end", None), ("months", 6)]
    client = login(county_app, county_user(county_app))
    page = client.get(f"/county/villages/{VILLAGE_CODE}").get_data(as_text=True)
    section = page[page.index('id="points-rule"') : page.index('id="rounds"')]
    assert "积分到期规则：获得满 6 个月后过期" in section
    assert "历次设定" in section and "每年年底清零" in section
    dashboard = client.get("/county/").get_data(as_text=True)
    assert "获得满 6 个月后过期" in dashboard[dashboard.index('id="village-table"') :]
    sheet = load_workbook(io.BytesIO(client.get("/county/export/villages.xlsx").data)).active
    cells = [c for row in sheet.iter_rows(values_only=True) for c in row if c is not None]
    assert "积分到期规则" in cells and "获得满 6 个月后过期" in cells


def test_a_village_without_a_rule_is_said_to_keep_its_points_by_default(
    app, county_app, make_user, make_household
):
    workload(app, make_user, make_household)
    key = register(county_app)
    push_all(app, county_app.test_client(), key)
    page = login(county_app, county_user(county_app)).get(f"/county/villages/{VILLAGE_CODE}")
    text = page.get_data(as_text=True)
    assert "积分到期规则：没有收到（默认一直有效）" in text and "历次设定" not in text


def test_round_and_redemption_carry_notice_and_counter_fields_but_no_card_secret(
    app, make_user, make_household
):
    from pointsmart.cards.models import Card

    made = workload(app, make_user, make_household)
    with app.app_context():
        rows = db.session.scalars(sa.select(ChangeRecord).order_by(ChangeRecord.seq)).all()
        card = db.session.scalars(sa.select(Card)).one()
        rounds = [json.loads(r.payload) for r in rows if r.kind == "round" and r.uuid == made["round"]]
        last = rounds[-1]
        assert last["published_at"] and last["notice_days"] == 5 and last["notice_photos"] == 0
        redemptions = [r.payload for r in rows if r.kind == "redemption"]
        assert redemptions and all(card.token not in p and card.number not in p for p in redemptions)
        payloads = [json.loads(p) for p in redemptions]
        assert {p["card"] for p in payloads} and None not in {p["card"] for p in payloads}
        assert None not in {p["operator"] for p in payloads}


def _strip_new_fields(body: dict) -> dict:
    """The batch as a village before 0011 sends it: no rule records, no notice or counter fields."""
    records = [r for r in body["records"] if r["kind"] != "points_rule"]
    for record in records:
        for name in ("published_at", "notice_days", "notice_photos", "operator", "card"):
            record["payload"].pop(name, None)
    for seq, record in enumerate(records, start=body["from_seq"]):
        record["seq"] = seq
    body["records"], body["to_seq"] = records, body["from_seq"] + len(records) - 1
    return body


def test_a_village_that_has_not_upgraded_still_syncs(app, county_app, make_user, make_household):
    workload(app, make_user, make_household)
    key = register(county_app)
    (body,) = batch_bodies(app, 1, size=10_000)
    old = _strip_new_fields(json.loads(body))
    answer = post(county_app.test_client(), key, _resign(old))
    assert answer.status_code == 200, answer.get_json()
    with county_app.app_context():
        synced = db.session.scalars(sa.select(SyncedRound)).one()
        assert synced.status == "finalised"
        assert (synced.published_at, synced.notice_days, synced.notice_photos) == (None, None, None)
        assert {r.operator_uuid for r in db.session.scalars(sa.select(SyncedRedemption))} == {None}


def test_a_bad_rule_record_is_refused_in_words_and_nothing_is_written(
    app, county_app, make_user, make_household
):
    make_household(points=5)
    choose_rules(app, make_user)
    key = register(county_app)
    client = county_app.test_client()
    (good,) = batch_bodies(app, 1, size=10_000)
    cases = [
        {"rule": "clear"},
        {"rule": "x" * 100_000},
        {"rule": "months", "months": None},
        {"rule": "keep", "months": 6},
        {"rule": "months", "months": 0},
        {"months": 10**12},
        {"since": "9999-12-31T00:00:00"},
        {"since": "2026-12-01T00:00:00+08:00"},
        {"created_at": None},
    ]
    for change in cases:
        body = json.loads(good)
        rule = next(r for r in body["records"] if r["kind"] == "points_rule")
        rule["payload"].update(change)
        refused = post(client, key, _resign(body))
        assert refused.status_code == 422, (change, refused.get_json())
        error = refused.get_json()["error"]
        assert error["code"] == "invalid_record", error
        assert f"第 {rule['seq']} 条记录（points_rule）" in error["message"], error["message"][:400]
        assert len(error["message"]) < 300, error["message"][:400]
    with county_app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(SyncedPointsRule)) == 0
    assert post(client, key, good).status_code == 200
    with county_app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(SyncedPointsRule)) == 2


def test_a_value_with_a_trailing_newline_is_refused_in_every_checked_field(
    app, county_app, make_user, make_household
):
    """msgspec's patterns match with ``re.search``, where ``$`` also matches before a final "\\n": each
    anchored field refuses the value with its newline (422 naming the record), and nothing is written."""
    workload(app, make_user, make_household)
    choose_rules(app, make_user)
    key = register(county_app)
    client = county_app.test_client()
    (good,) = batch_bodies(app, 1, size=10_000)

    def first(body, kind):
        return next(r for r in body["records"] if r["kind"] == kind)

    def payload(kind, field):
        def change(body):
            record = first(body, kind)
            record["payload"][field] = (record["payload"][field] or "op") + "\n"
            return record

        return change

    def envelope(body):
        record = first(body, "household")
        record["uuid"] = record["uuid"][:-1] + "\n"  # within its 36 characters
        return record

    cases = {
        "rule": payload("points_rule", "rule"),
        "uuid": envelope,
        "operator": payload("redemption", "operator"),
        "card": payload("redemption", "card"),
        "household": payload("round_result", "household"),
        "to": payload("transfer", "to"),
        "from": payload("transfer", "from"),
    }
    for name, change in cases.items():
        body = json.loads(good)
        if name == "rule":
            first(body, "points_rule")["payload"].update(
                rule="months", months=None
            )  # "months\n" is no "months"
        record = change(body)
        refused = post(client, key, _resign(body))
        assert refused.status_code == 422, (name, refused.get_json())
        error = refused.get_json()["error"]
        assert error["code"] == "invalid_record", (name, error)
        named = "uuid" if name == "uuid" else f"第 {record['seq']} 条记录（{record['kind']}）"
        assert named in error["message"], error["message"][:400]
        assert "\n" not in error["message"], (name, error["message"][:400])
    with county_app.app_context():
        for model in (SyncedPointsRule, SyncedRedemption, SyncedRound):
            assert db.session.scalar(sa.select(sa.func.count()).select_from(model)) == 0
    assert post(client, key, good).status_code == 200


def test_a_round_published_after_its_notice_ended_or_it_was_finalised_is_refused(
    app, county_app, make_user, make_household
):
    """Publishing after the notice's end or after finalising is no village's record (the county would
    say "只有 -26687.8 天"), nor a time in the year 2100 in the villages' zone: 422 naming the record."""
    workload(app, make_user, make_household)
    key = register(county_app)
    client = county_app.test_client()
    (good,) = batch_bodies(app, 1, size=10_000)
    record = next(r for r in json.loads(good)["records"] if r["kind"] == "round")
    ends, done = record["payload"]["notice_ends_at"], record["payload"]["finalised_at"]
    assert ends and done and record["payload"]["published_at"] < min(ends, done)
    published = record["payload"]["published_at"]
    last = "2099-12-31T23:59:59"
    cases = [
        {"published_at": done, "notice_ends_at": published},  # after its notice's end
        {"published_at": ends, "finalised_at": published},  # after it was finalised
        {"published_at": last},  # after both
        {"published_at": last, "notice_ends_at": last, "finalised_at": last},  # 2100-01-01 07:59 locally
    ]
    for change in cases:
        body = json.loads(good)
        found = next(r for r in body["records"] if r["kind"] == "round")
        found["payload"].update(change)
        refused = post(client, key, _resign(body))
        assert refused.status_code == 422, (change, refused.get_json())
        error = refused.get_json()["error"]
        assert error["code"] == "invalid_record", error
        assert f"第 {found['seq']} 条记录（round）" in error["message"], error["message"][:400]
    with county_app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(SyncedRound)) == 0
    assert post(client, key, good).status_code == 200
