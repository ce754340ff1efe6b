"""The change log and the county's ingest, in one process: every kind of record arrives, exactly once."""

import json

import sqlalchemy as sa

from pointsmart.county.models import (
    SyncedGoods,
    SyncedHousehold,
    SyncedRedemption,
    SyncedRound,
    SyncedRoundResult,
    SyncedStockMove,
    SyncedTransfer,
    VillageLink,
)
from pointsmart.extensions import db
from pointsmart.sync import wire
from pointsmart.sync.models import ChangeRecord

from .sync_support import (
    batch_bodies,
    county_totals,
    post,
    push_all,
    register,
    village_totals,
    workload,
)


def test_change_log_chains_and_numbers_every_change_without_gaps(app, make_user, make_household):
    workload(app, make_user, make_household)
    with app.app_context():
        rows = db.session.scalars(sa.select(ChangeRecord).order_by(ChangeRecord.seq)).all()
        assert [r.seq for r in rows] == list(range(1, len(rows) + 1))
        kinds = {r.kind for r in rows}
        assert kinds == {
            "household", "category", "criterion", "round", "round_result", "transfer", "goods", "stock_move",
            "redemption", "card",
        }  # fmt: skip
        digest = ""
        for r in rows:
            digest = wire.chain(digest, wire.record_bytes(r.seq, r.kind, r.uuid, r.payload.encode()))
            assert r.digest == digest
            # the spliced bytes are exactly the canonical encoding of the record
            record = {"seq": r.seq, "kind": r.kind, "uuid": r.uuid, "payload": json.loads(r.payload)}
            assert wire.canonical(record) == wire.record_bytes(r.seq, r.kind, r.uuid, r.payload.encode())
        last = rows[-1]
    totals = village_totals(app)
    assert (last.balance_sum, last.transfer_count) == (totals["balance_sum"], totals["transfers"])


def test_a_rolled_back_change_leaves_no_record(app, make_household):
    from pointsmart.households.models import Household

    hid = make_household()
    with app.app_context():
        before = db.session.scalar(sa.select(sa.func.count()).select_from(ChangeRecord))
        household = db.session.get(Household, hid)
        household.head_name = "不会保存"
        db.session.flush()
        db.session.rollback()
        nested = db.session.get(Household, hid)
        with db.session.begin_nested() as savepoint:
            nested.head_name = "也不会保存"
            db.session.flush()
            savepoint.rollback()
        db.session.commit()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ChangeRecord)) == before


def test_county_projection_equals_the_village_after_a_push(app, county_app, make_user, make_household):
    made = workload(app, make_user, make_household)
    key = register(county_app)
    county = county_app.test_client()
    acked = push_all(app, county, key, size=7)
    village = village_totals(app)
    assert acked == village["seq"]
    assert county_totals(county_app) == village
    with county_app.app_context():
        s = db.session
        assert s.scalar(sa.select(sa.func.count()).select_from(SyncedHousehold)) == 4
        renamed = s.scalar(
            sa.select(SyncedHousehold.head_name).where(SyncedHousehold.uuid == made["households"][3])
        )
        assert renamed == "改名户"
        assert s.scalar(sa.select(SyncedRound.status).where(SyncedRound.uuid == made["round"])) == "finalised"
        assert s.scalar(sa.select(sa.func.count()).select_from(SyncedRoundResult)) == 4
        assert s.scalar(sa.select(SyncedGoods.price).where(SyncedGoods.name == "洗衣粉")) == 12
        statuses = sorted(s.scalars(sa.select(SyncedRedemption.status)))
        assert statuses == ["cancelled", "done"]
        # donation, purchase, two lines out, one line out and back in
        assert s.scalar(sa.select(sa.func.count()).select_from(SyncedStockMove)) == 6
        assert s.scalar(sa.select(sa.func.count()).select_from(SyncedTransfer)) == village["transfers"]


def test_a_repeat_changes_nothing_and_a_gap_names_where_to_resume(app, county_app, make_user, make_household):
    workload(app, make_user, make_household)
    key = register(county_app)
    county = county_app.test_client()
    first, second, *_rest = batch_bodies(app, 1, size=5)
    assert post(county, key, first).get_json()["acked_seq"] == 5
    assert post(county, key, first).get_json()["acked_seq"] == 5
    skipped = batch_bodies(app, 11, size=5)[0]
    gap = post(county, key, skipped)
    assert gap.status_code == 409
    body = gap.get_json()
    assert body["error"]["code"] == "sequence_gap" and body["expected_from_seq"] == 6
    assert post(county, key, second).get_json()["acked_seq"] == 10
    with county_app.app_context():
        assert db.session.scalar(sa.select(VillageLink.acked_seq)) == 10


def test_a_key_writes_only_its_own_village(app, county_app, make_user, make_household):
    workload(app, make_user, make_household)
    register(county_app)
    other_key = register(county_app, code="620123105201", name="邻村")
    county = county_app.test_client()
    refused = post(county, other_key, batch_bodies(app, 1, size=5)[0])
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "wrong_village"
    assert post(county, "pmk_not-a-key", batch_bodies(app, 1, size=5)[0]).status_code == 401
    with county_app.app_context():
        assert db.session.scalar(sa.select(sa.func.max(VillageLink.acked_seq))) == 0


def test_altered_records_are_refused_whole(app, county_app, make_user, make_household):
    workload(app, make_user, make_household)
    key = register(county_app)
    county = county_app.test_client()
    body = json.loads(batch_bodies(app, 1, size=50)[0])
    transfer = next(r for r in body["records"] if r["kind"] == "transfer")
    transfer["payload"]["amount"] += 100
    refused = post(county, key, json.dumps(body).encode())
    assert refused.status_code == 422 and refused.get_json()["error"]["code"] == "digest_mismatch"
    with county_app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(SyncedHousehold)) == 0


def test_county_villages_api_shows_a_township_reviewer_only_their_township(
    app, county_app, make_user, make_household
):
    from pointsmart.auth.services import create_api_token, create_user

    workload(app, make_user, make_household)
    key = register(county_app)  # 测试镇 620123105000
    register(county_app, code="620123106201", name="金崖村", township="620123106000")
    push_all(app, county_app.test_client(), key, size=50)
    with county_app.app_context():
        tokens = {}
        for name, role, township in (
            ("all", "county_reviewer", None),
            ("here", "county_reviewer", "620123105000"),
            ("there", "county_reviewer", "620123106000"),
            ("admin", "county_admin", None),
        ):
            user = create_user(db.session, name, role, "review-pass-1", township_code=township)
            tokens[name] = create_api_token(db.session, user)
        db.session.commit()
    county = county_app.test_client()

    def codes(token):
        response = county.get("/api/v1/county/villages", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200, response.get_json()
        return {v["code"]: v for v in response.get_json()["villages"]}

    assert set(codes(tokens["all"])) == set(codes(tokens["admin"])) == {"620123105299", "620123106201"}
    mine = codes(tokens["here"])
    assert set(mine) == {"620123105299"}
    assert set(codes(tokens["there"])) == {"620123106201"}
    village = village_totals(app)
    shown = mine["620123105299"]
    fields = ("household_balance_sum", "transfers", "points_issued", "points_redeemed")
    county_side = [shown[k] for k in fields]
    assert county_side == [village[k] for k in ("balance_sum", "transfers", "issued", "redeemed")]
    assert shown["acked_seq"] == village["seq"] and shown["mismatch"] == [] and shown["last_sync_at"]
    assert county.get("/api/v1/county/villages").status_code == 401


def test_a_change_committed_without_a_flush_is_recorded(app, make_household):
    from pointsmart.households.models import Household
    from pointsmart.households.services import set_household_active

    hid = make_household()
    with app.app_context():
        before = db.session.scalar(sa.select(sa.func.max(ChangeRecord.seq)))
        household = db.session.get(Household, hid)
        household.head_name = "改了名"
        db.session.commit()  # nothing flushed before the commit's own flush
        set_household_active(db.session, db.session.get(Household, hid), False, None)
        db.session.commit()
        rows = db.session.scalars(sa.select(ChangeRecord).where(ChangeRecord.seq > before)).all()
        payloads = [json.loads(r.payload) for r in rows if r.kind == "household"]
        assert payloads[0]["head_name"] == "改了名" and payloads[-1]["active"] is False


def _resign(body: dict, start_digest: str = "") -> bytes:
    """Recompute a batch's digest chain after editing its records (what a buggy village might send)."""
    digest = start_digest
    for record in body["records"]:
        digest = wire.chain(digest, wire.canonical(record))
    body["totals"]["digest"] = digest
    return json.dumps(body).encode()


def test_a_transfer_sent_twice_under_new_numbers_is_refused_not_a_500(
    app, county_app, make_user, make_household
):
    workload(app, make_user, make_household)
    key = register(county_app)
    county = county_app.test_client()
    body = json.loads(batch_bodies(app, 1, size=100)[0])
    records = body["records"]
    first = next(i for i, r in enumerate(records) if r["kind"] == "transfer")
    records[first + 1] = dict(records[first], seq=records[first + 1]["seq"])  # the same transfer again
    refused = post(county, key, _resign(body))
    assert refused.status_code == 422 and refused.get_json()["error"]["code"] == "duplicate_record"

    good = batch_bodies(app, 1, size=20)[0]
    assert post(county, key, good).status_code == 200
    later = json.loads(batch_bodies(app, 21, size=5)[0])
    with county_app.app_context():
        digest = db.session.scalar(sa.select(VillageLink.digest))
    old = next(r for r in json.loads(good)["records"] if r["kind"] == "transfer")
    later["records"][0] = dict(old, seq=later["records"][0]["seq"])  # an already synced transfer, renumbered
    refused = post(county, key, _resign(later, digest))
    assert refused.status_code == 422 and refused.get_json()["error"]["code"] == "duplicate_record"
    with county_app.app_context():
        assert db.session.scalar(sa.select(VillageLink.acked_seq)) == 20


def test_a_time_with_an_offset_is_refused(app, county_app, make_user, make_household):
    workload(app, make_user, make_household)
    key = register(county_app)
    body = json.loads(batch_bodies(app, 1, size=100)[0])
    transfer = next(r for r in body["records"] if r["kind"] == "transfer")
    transfer["payload"]["created_at"] = "2026-01-31T23:30:00+08:00"
    refused = post(county_app.test_client(), key, _resign(body))
    assert refused.status_code == 422 and refused.get_json()["error"]["code"] == "invalid_record"


def test_the_push_refuses_a_gap_answer_that_would_skip_records(app, make_user, make_household):
    import httpx

    from pointsmart.sync.client import PushError, push

    workload(app, make_user, make_household)

    def county(request):
        return httpx.Response(
            409, json={"error": {"code": "sequence_gap", "message": "…"}, "expected_from_seq": 99}
        )

    with app.app_context():
        try:
            push(
                db.session,
                "http://county",
                "pmk_x",
                client=httpx.Client(transport=httpx.MockTransport(county)),
            )
        except PushError as err:
            assert err.code == "bad_answer"
        else:
            raise AssertionError("a gap answer pointing forwards was followed")
        assert db.session.scalar(sa.select(sa.func.max(ChangeRecord.seq))) > 0
        from pointsmart.sync import batches

        assert batches.state(db.session).acked_seq == 0
