"""Score photos reach the county as metadata (kind ``score_photo``, migration 0018): never the image, the
sha256 and byte size of the stored file instead; a hostile payload refuses the batch (422 naming the
record, never a 500); the county's month book lists the same photos ledger lines as the village's, a
photo the village deleted left out. On SQLite and PostgreSQL, as the suite's database is."""

import hashlib
import io
import json

import sqlalchemy as sa
from PIL import Image

from pointsmart.book import month_rounds
from pointsmart.county.models import SyncedScorePhoto
from pointsmart.county.month_book import county_book
from pointsmart.extensions import db
from pointsmart.org.models import Village
from pointsmart.org.services import home_village
from pointsmart.periods import read_period
from pointsmart.scoring import score_photos
from pointsmart.scoring.models import ScorePhoto
from pointsmart.sync import kinds

from .conftest import VILLAGE_CODE, committing
from .sync_support import batch_bodies, post, push_all, register
from .test_bylaws_photos import _folder, _upload
from .test_bylaws_photos import scored as scored  # a draft round of 2026-11 with a 美丽庭院 criterion
from .test_county_dashboard import county_user, login
from .test_migrations import fresh_app as fresh_app  # an app on an empty database of its own
from .test_sync import _resign


def _png(colour, size=(40, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "PNG")
    return out.getvalue()


def _photographed(app, s) -> list[ScorePhoto]:
    """Three photos of the household (before and after on the yard, one of the whole score), one made
    public and a fourth deleted."""
    for colour, criterion, stage in (((200, 30, 30), s.yard, "before"), ((30, 200, 30), s.yard, "after"),
                                     ((30, 30, 200), "", ""), ((90, 90, 90), "", "")):  # fmt: skip
        assert _upload(s.panel, s, _png(colour), criterion=criterion, stage=stage).status_code == 303
    with committing(app) as session:
        photos = session.scalars(sa.select(ScorePhoto).order_by(ScorePhoto.id)).all()
        score_photos.set_public(session, photos[1], True, None)
        score_photos.delete_photo(session, photos[3], None)
    with app.app_context():
        return db.session.scalars(sa.select(ScorePhoto).order_by(ScorePhoto.id)).all()


def test_score_photos_reach_the_county_as_metadata_and_its_book_lists_the_villages_lines(
    app, county_app, scored
):
    photos = _photographed(app, scored)
    folder = _folder(app)
    for photo in photos:  # the sha256 and size of the stored file, as written
        data = (folder / photo.stored_name).read_bytes()
        assert photo.sha256 == hashlib.sha256(data).hexdigest() and photo.size == len(data)
    (body,) = batch_bodies(app, 1, size=10_000)
    records = [r for r in json.loads(body)["records"] if r["kind"] == "score_photo"]
    assert {r["uuid"] for r in records} == {score_photos.score_photo_uuid(p.id) for p in photos} | {
        score_photos.score_photo_uuid(photos[-1].id + 1)
    }
    deleted = records[-1]
    assert deleted["payload"]["deleted"] is True and deleted["payload"]["sha256"]
    assert (
        records[0]["payload"]["stage"] == "before" and records[0]["payload"]["criterion_name"] == "庭院整洁"
    )
    for photo in photos:
        assert photo.stored_name.encode() not in body  # nor the file's name, nor its bytes
    push_all(app, county_app.test_client(), register(county_app))

    with county_app.app_context():
        synced = db.session.scalars(sa.select(SyncedScorePhoto).order_by(SyncedScorePhoto.id)).all()
        assert len(synced) == 4 and sum(p.deleted for p in synced) == 1
    village_lines, county_lines = _both_books(app, county_app, "2026-11")
    assert len(village_lines) == 3
    assert county_lines == village_lines
    assert [line.stage for line in village_lines].count("整改前") == 1
    assert [line.public for line in village_lines].count(True) == 1
    assert all(line.round == "2026年11月 月评定" for line in village_lines)

    reviewer = login(county_app, county_user(county_app))
    page = reviewer.get(f"/county/villages/{VILLAGE_CODE}/book/2026-11").get_data(as_text=True)
    ledger = page[page.index('id="book-photos"') :]
    assert "积分公示影视资料台账" in ledger and "庭院整洁" in ledger and "整改后" in ledger
    for line in village_lines:
        assert line.sha256 in ledger
    assert deleted["payload"]["sha256"] not in {line.sha256 for line in village_lines}
    assert deleted["payload"]["sha256"] not in ledger  # the deleted photo is left out


def _both_books(app, county_app, month: str) -> tuple[list, list]:
    """The photos ledger lines of ``month``: the village's and the county's."""
    with app.app_context():
        village = home_village(db.session)
        rounds = month_rounds(db.session, village.id, read_period(month))
        lines = score_photos.ledger_lines(db.session, rounds)
    with county_app.app_context():
        county_village = db.session.scalar(sa.select(Village).where(Village.code == VILLAGE_CODE))
        return lines, county_book(db.session, county_village.id, month).photos


def test_a_round_carried_on_takes_its_photos_to_the_next_months_book_at_the_village_and_the_county(
    app, county_app, scored
):
    """A round a close carried out of November is in December's book, its photos with it; the county
    sees the carry in November's close (the round not finalised by then) and lists them alike."""
    from pointsmart.closing.services import carry_round, close_month

    _photographed(app, scored)
    key = register(county_app)
    push_all(app, county_app.test_client(), key)
    november, county_november = _both_books(app, county_app, "2026-11")
    assert len(november) == 3 and county_november == november
    with committing(app) as session:
        village = home_village(session)
        carry_round(session, village.id, scored.round, "2026-11", scored.chair.user_id)
        close_month(session, village, "2026-11", scored.chair.user_id)
    push_all(app, county_app.test_client(), key)
    assert _both_books(app, county_app, "2026-11") == ([], [])
    december, county_december = _both_books(app, county_app, "2026-12")
    assert december == november and county_december == december


def test_a_hostile_score_photo_payload_refuses_the_batch_with_a_clear_message(app, county_app, scored):
    _photographed(app, scored)
    key = register(county_app)
    client = county_app.test_client()
    (good,) = batch_bodies(app, 1, size=10_000)
    cases = [
        {"stage": "during"},
        {"stage": "before\n"},
        {"stage": "x" * 100_000},
        {"sha256": "A" * 64},
        {"sha256": "0" * 63},
        {"size": 0},
        {"size": 10**12},
        {"size": "12"},
        {"public": "yes"},
        {"deleted": None},
        {"taken_at": "9999-12-31T00:00:00"},
        {"taken_at": "2026-11-01T00:00:00+08:00"},
        {"round": None},
        {"household": "\x00"},
        {"criterion_name": "名" * 101},
        {"criterion": ["x"]},
    ]
    for change in cases:
        body = json.loads(good)
        record = next(r for r in body["records"] if r["kind"] == "score_photo")
        record["payload"].update(change)
        refused = post(client, key, _resign(body))
        assert refused.status_code == 422, (change, refused.status_code)
        error = refused.get_json()["error"]
        assert error["code"] == "invalid_record", error
        assert f"第 {record['seq']} 条记录（score_photo）" in error["message"], error["message"][:400]
        assert len(error["message"]) < 300, error["message"][:400]
    body = json.loads(good)
    del next(r for r in body["records"] if r["kind"] == "score_photo")["payload"]["sha256"]
    refused = post(client, key, _resign(body))
    assert refused.status_code == 422 and "sha256" in refused.get_json()["error"]["message"]
    with county_app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(SyncedScorePhoto)) == 0
    assert post(client, key, good).status_code == 200
    with county_app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(SyncedScorePhoto)) == 4


def test_the_score_photos_attached_before_0018_reach_the_county_as_the_live_change_log_would_send_them(
    fresh_app,
):
    """0018 hashes each stored file and writes a record for each photo after the head, chained as the live
    change log chains them and with the payload the live serializer would write; a missing file leaves
    the sha256 None."""
    from pathlib import Path

    from pointsmart.sync import wire

    from .test_migrations import change_log, migrate, village_at

    village = village_at(fresh_app, "0016")
    folder = Path(village.instance_path) / "uploads" / "scores"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "kept.png").write_bytes(_png((1, 2, 3)))
    with village.app_context(), db.engine.begin() as conn:
        round_id, household_id = conn.execute(
            sa.text("SELECT r.id, h.id FROM scoring_round r, household h ORDER BY r.id, h.id LIMIT 1")
        ).one()
        for name in ("kept.png", "gone.png"):
            conn.execute(
                sa.text(
                    "INSERT INTO score_photo (round_id, household_id, stage, stored_name, content_type,"
                    " width, height, size, public, uploaded_at)"
                    " VALUES (:r, :h, '', :n, 'image/png', 40, 30, 99, :p, '2026-11-03 02:00:00')"
                ),
                {"r": round_id, "h": household_id, "n": name, "p": name == "kept.png"},
            )
        before, _head = change_log(conn)
    migrate(village, "head")
    with village.app_context(), db.engine.connect() as conn:
        after, head = change_log(conn)
    with village.app_context():
        photos = db.session.scalars(sa.select(ScorePhoto).order_by(ScorePhoto.id)).all()
        look = kinds.Lookups(db.session)
        expected = [
            ("score_photo", score_photos.score_photo_uuid(p.id), kinds.score_photo(p, look)) for p in photos
        ]
        hashes = [p.sha256 for p in photos]
        db.session.rollback()
    assert hashes == [hashlib.sha256((folder / "kept.png").read_bytes()).hexdigest(), None]
    assert after[: len(before)] == before
    added = after[len(before) :]
    assert [(row[1], row[2], json.loads(row[3])) for row in added] == expected
    digest = ""
    for seq, kind, uuid, payload, stored, *_totals in after:
        digest = wire.chain(digest, wire.record_bytes(seq, kind, uuid, payload.encode()))
        assert stored == digest
    assert head == (len(after), digest, *before[-1][5:])
