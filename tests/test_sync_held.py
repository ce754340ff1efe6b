"""What a batch may not do to what the county holds of a village, even with the village's key and a right
digest chain (a hostile or broken village): change a month close it holds (409 month_close_changed) or
close a month again (409 month_closed_twice; unique at the county since 0021); close a month before it
ended, or a malformed one (422 invalid_record); carry a closer's or a criterion's name that breaks the
text rule (422 invalid_record); send a score photo of a round, a household or a criterion the county
never received from the village (422 unknown_reference). Each refusal names the record and stores
nothing of the batch; an identical re-send stays a no-op. On SQLite and PostgreSQL, as the suite's
database is."""

import json
import uuid as uuid_mod

import pytest
import sqlalchemy as sa

from pointsmart.county.models import SyncedHousehold, SyncedMonthClose, SyncedScorePhoto, VillageLink
from pointsmart.extensions import db
from pointsmart.months.guard import close_of
from pointsmart.org.models import Village
from pointsmart.org.services import home_village

from . import frozen_data
from .conftest import VILLAGE_CODE
from .sync_support import batch_bodies, post, push_all, register
from .test_bylaws_photos import scored as scored  # a draft round of 2026-11 with a 美丽庭院 criterion
from .test_migrations import fill, migrate
from .test_migrations import fresh_app as fresh_app  # an app on an empty database of its own
from .test_month_close import MONTH, close
from .test_month_close import worked as worked  # November's work, a fixture
from .test_score_photo_sync import _photographed
from .test_sync import _resign

#: characters the text rule refuses in a one-line name: a direction override, ESC, BEL, DEL, NEL (C1)
HOSTILE = ("\u202e", "\x1b", "\x07", "\x7f", "\x85")


@pytest.fixture
def closed(app, county_app, worked, login_as):
    """November closed by the chair and the whole change log in one body, not yet pushed."""
    assert close(login_as("chair")).status_code == 302
    (body,) = batch_bodies(app, 1, size=10_000)
    with app.app_context():
        sha = close_of(db.session, home_village(db.session).id, MONTH).sha256
    return body, sha, register(county_app)


def _close_record(body: dict) -> dict:
    return next(r for r in body["records"] if r["kind"] == "month_close")


def _appended(body: dict, record: dict) -> dict:
    """``body`` with ``record`` sent again after its last record (a new sequence number)."""
    record = json.loads(json.dumps(record))
    record["seq"] = body["to_seq"] + 1
    body["records"].append(record)
    body["to_seq"] += 1
    return record


def _next_batch(body: dict, record: dict) -> tuple[dict, dict]:
    """A batch of ``record`` alone, sent after everything in ``body`` (which the county has)."""
    later = json.loads(json.dumps(body)) | {"from_seq": body["to_seq"] + 1, "records": []}
    return later, _appended(later, record)


def _held(county_app) -> list[tuple]:
    with county_app.app_context():
        acked = db.session.scalar(sa.select(VillageLink.acked_seq))
        rows = db.session.execute(
            sa.select(SyncedMonthClose.uuid, SyncedMonthClose.month, SyncedMonthClose.sha256,
                      SyncedMonthClose.closed_by_name).order_by(SyncedMonthClose.id)
        ).all()  # fmt: skip
        return [acked, *map(tuple, rows)]


def _refused(response, status: int, code: str, seq: int) -> str:
    assert response.status_code == status, response.get_data(as_text=True)[:400]
    error = response.get_json()["error"]
    assert error["code"] == code, error
    assert f"第 {seq} 条记录（" in error["message"], error["message"]
    assert len(error["message"]) < 300, error["message"]
    return error["message"]


def test_a_month_close_the_county_holds_cannot_be_changed_and_an_identical_resend_changes_nothing(
    county_app, closed
):
    good, sha, key = closed
    client = county_app.test_client()
    assert post(client, key, good).status_code == 200
    body = json.loads(good)
    original = _close_record(body)
    held = _held(county_app)
    assert held[1:] == [(original["uuid"], MONTH, sha, original["payload"]["closed_by_name"])]
    assert original["payload"]["closed_by_name"]  # the chair's name, as the village shows it

    for change in ({"sha256": "0" * 64, "closed_by_name": "县长"}, {"sha256": "0" * 64},
                   {"closed_by_name": "别人"}, {"closed_by_name": None}, {"closed_at": "2026-12-05T01:00:00"},
                   {"closed_by": str(uuid_mod.uuid4())}, {"month": "2026-10"}):  # fmt: skip
        later, record = _next_batch(body, original)
        record["payload"].update(change)
        message = _refused(post(client, key, _resign(later, held_digest(county_app))), 409,
                           "month_close_changed", record["seq"])  # fmt: skip
        assert "月结一经发出就不能更改" in message and "2026-11" in message
        assert _held(county_app) == held, change  # the first close stands, nothing of the batch is kept

    later, record = _next_batch(body, original)  # the same close again: a no-op, and acknowledged
    response = post(client, key, _resign(later, held_digest(county_app)))
    assert response.status_code == 200 and response.get_json()["acked_seq"] == record["seq"]
    assert _held(county_app) == [record["seq"], *held[1:]]


def test_a_close_changed_within_one_batch_refuses_the_whole_batch(county_app, closed):
    good, _sha, key = closed
    client = county_app.test_client()
    body = json.loads(good)
    record = _appended(body, _close_record(body))
    record["payload"]["sha256"] = "0" * 64
    message = _refused(post(client, key, _resign(body)), 409, "month_close_changed", record["seq"])
    assert "本批中前面的第" in message
    assert _held(county_app) == [0]
    body = json.loads(good)
    _appended(body, _close_record(body))  # the same record twice in a batch is one close
    assert post(client, key, _resign(body)).status_code == 200
    assert len(_held(county_app)) == 2


def test_a_second_close_of_a_month_is_refused_in_a_later_batch_and_in_the_same_one(county_app, closed):
    good, sha, key = closed
    client = county_app.test_client()
    body = json.loads(good)
    second = json.loads(json.dumps(_close_record(body)))
    second["uuid"] = str(uuid_mod.uuid4())
    same = _appended(body, second)
    message = _refused(post(client, key, _resign(body)), 409, "month_closed_twice", same["seq"])
    assert "一个月只能月结一次" in message and "本批第" in message
    assert _held(county_app) == [0]

    assert post(client, key, good).status_code == 200
    held = _held(county_app)
    body = json.loads(good)
    later, record = _next_batch(body, second)
    record["payload"]["sha256"] = "0" * 64
    message = _refused(post(client, key, _resign(later, held_digest(county_app))), 409,
                       "month_closed_twice", record["seq"])  # fmt: skip
    assert _close_record(body)["uuid"] in message and "县里已有" in message
    assert _held(county_app) == held and held[1][2] == sha


def test_the_county_database_holds_one_close_per_village_and_month(county_app, closed):
    good, _sha, key = closed
    assert post(county_app.test_client(), key, good).status_code == 200
    with county_app.app_context():
        row = db.session.execute(sa.select(SyncedMonthClose.__table__)).mappings().one()
        twin = {k: v for k, v in row.items() if k != "id"} | {"uuid": str(uuid_mod.uuid4())}
        with pytest.raises(sa.exc.IntegrityError):
            db.session.execute(sa.insert(SyncedMonthClose.__table__), twin)
        db.session.rollback()


@pytest.mark.parametrize(
    "change",
    [
        {"month": "2099-12", "closed_at": "2026-12-02T03:00:00"},
        {"month": "2026-12", "closed_at": "2026-12-31T15:59:59"},  # 23:59:59 on the 31st in the villages
        {"closed_at": "2026-11-30T15:59:59"},  # November, closed a second before it ended
        {"closed_at": "2026-11-20T08:00:00"},
        {"month": "2026-13"},
        {"month": "2026-1"},
        {"month": "2026-11\n"},
        {"month": "11/2026"},
        {"month": "２０２６-１１"},
        {"month": 202611},
        {"month": None},
        {"month": "1999-12"},
    ],
)
def test_a_close_of_a_month_not_over_or_malformed_is_refused(county_app, closed, change):
    good, _sha, key = closed
    body = json.loads(good)
    record = _close_record(body)
    record["payload"].update(change)
    message = _refused(
        post(county_app.test_client(), key, _resign(body)), 422, "invalid_record", record["seq"]
    )
    assert "month_close" in message
    assert _held(county_app) == [0]


def test_a_close_made_as_the_month_ended_in_the_villages_zone_is_taken(county_app, closed):
    good, _sha, key = closed
    body = json.loads(good)
    record = _close_record(body)
    record["payload"]["closed_at"] = "2026-11-30T16:00:00"  # 00:00 on 1 December in the villages' zone
    assert post(county_app.test_client(), key, _resign(body)).status_code == 200
    assert len(_held(county_app)) == 2


@pytest.mark.parametrize("char", HOSTILE)
def test_a_closers_name_that_breaks_the_text_rule_is_refused(county_app, closed, char):
    good, _sha, key = closed
    body = json.loads(good)
    record = _close_record(body)
    record["payload"]["closed_by_name"] = f"张{char}三"
    message = _refused(
        post(county_app.test_client(), key, _resign(body)), 422, "invalid_record", record["seq"]
    )
    assert "closed_by_name" in message and f"U+{ord(char):04X}" in message
    assert _held(county_app) == [0]


def held_digest(county_app) -> str:
    with county_app.app_context():
        return db.session.scalar(sa.select(VillageLink.digest))


# score photos


def _photo_count(county_app) -> int:
    with county_app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(SyncedScorePhoto))


@pytest.mark.parametrize("char", HOSTILE)
def test_a_criterion_name_that_breaks_the_text_rule_is_refused(app, county_app, scored, char):
    _photographed(app, scored)
    key = register(county_app)
    body = json.loads(batch_bodies(app, 1, size=10_000)[0])
    record = next(r for r in body["records"] if r["kind"] == "score_photo" and r["payload"]["criterion_name"])
    record["payload"]["criterion_name"] = f"庭院{char}整洁"
    message = _refused(
        post(county_app.test_client(), key, _resign(body)), 422, "invalid_record", record["seq"]
    )
    assert "score_photo" in message and "criterion_name" in message and f"U+{ord(char):04X}" in message
    assert _photo_count(county_app) == 0


def test_a_score_photo_of_a_round_household_or_criterion_the_county_never_received_is_refused(
    app, county_app, scored
):
    _photographed(app, scored)
    key = register(county_app)
    client = county_app.test_client()
    (good,) = batch_bodies(app, 1, size=10_000)
    # a household another village synced: known to the county, not this village's
    register(county_app, code=VILLAGE_CODE[:9] + "201")
    with county_app.app_context():
        village_id = db.session.scalar(sa.select(Village.id).where(Village.code == VILLAGE_CODE[:9] + "201"))
        elsewhere = str(uuid_mod.uuid4())
        db.session.add(
            SyncedHousehold(village_id=village_id, uuid=elsewhere, household_no="9", head_name="外村")
        )
        db.session.commit()
    for field, value in (("round", str(uuid_mod.uuid4())), ("household", str(uuid_mod.uuid4())),
                         ("household", elsewhere), ("criterion", str(uuid_mod.uuid4()))):  # fmt: skip
        body = json.loads(good)
        record = next(r for r in body["records"] if r["kind"] == "score_photo" and r["payload"]["criterion"])
        record["payload"][field] = value
        message = _refused(post(client, key, _resign(body)), 422, "unknown_reference", record["seq"])
        assert f"score_photo）的 {field}（{value}）" in message
        assert _photo_count(county_app) == 0
    # rounds and households received in earlier batches are known: the photos come in later ones
    push_all(app, client, key, size=3)
    assert _photo_count(county_app) == 4


def test_a_criterion_is_taken_by_its_name_while_the_county_has_no_rulebook_of_the_village(
    app, county_app, scored
):
    _photographed(app, scored)
    key = register(county_app)
    body = json.loads(batch_bodies(app, 1, size=10_000)[0])
    records = [r for r in body["records"] if r["kind"] != "criterion"]  # a village's rulebook not sent
    for seq, record in enumerate(records, start=1):
        record["seq"] = seq
    body["records"], body["to_seq"] = records, len(records)
    photo = next(r for r in records if r["kind"] == "score_photo" and r["payload"]["criterion"])
    photo["payload"]["criterion"] = unknown = str(uuid_mod.uuid4())
    response = post(county_app.test_client(), key, _resign(body))
    assert response.status_code == 200, response.get_json()
    with county_app.app_context():
        stored = db.session.scalar(sa.select(SyncedScorePhoto).where(SyncedScorePhoto.uuid == photo["uuid"]))
        assert (stored.criterion_uuid, stored.criterion_name) == (unknown, "庭院整洁")


# migration 0021


def test_0021_stops_naming_the_months_a_county_holds_two_closes_of_and_then_holds_one(
    fresh_app, capsys, caplog
):
    county = fresh_app("county", POINTSMART_MODE="county")
    migrate(county, "0004")
    fill(county, frozen_data.fill_county)
    migrate(county, "0020")
    insert = sa.text(
        "INSERT INTO synced_month_close (village_id, uuid, month, sha256, closed_at, closed_by_uuid,"
        " closed_by_name) VALUES (:v, :u, '2026-10', :s, '2026-11-02 01:00:00', NULL, '')"
    )
    with county.app_context(), db.engine.begin() as conn:
        village_id = conn.execute(sa.text("SELECT id FROM village")).scalar_one()
        for n in "01":
            conn.execute(insert, {"v": village_id, "u": f"close-{n}", "s": n * 64})
    with pytest.raises(SystemExit):  # flask-migrate logs the migration's error and exits
        migrate(county, "0021")
    said = capsys.readouterr().err + caplog.text
    assert "0021: synced_month_close holds more than one close of the same village and month" in said
    assert f"(village_id {village_id} month 2026-10: 2 rows)" in said
    with county.app_context(), db.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM synced_month_close WHERE uuid = 'close-1'"))
    migrate(county, "0021")
    with county.app_context(), db.engine.begin() as conn:
        names = {c["name"] for c in sa.inspect(conn).get_unique_constraints("synced_month_close")}
        assert "uq_synced_month_close_village_id_month" in names
    with county.app_context(), db.engine.connect() as conn, pytest.raises(sa.exc.IntegrityError):
        conn.execute(insert, {"v": village_id, "u": "close-2", "s": "2" * 64})
