"""Families' own claims (申领积分, issue 13): a family claims a criterion the chair marked claimable from
its card page; the panel accepts it into the round's grid through the score service, or declines it with
a reason the family reads. Hostile input, permissions, and privacy between families."""

import functools
import io
import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from PIL import Image

from pointsmart import images
from pointsmart.audit.models import AuditEntry
from pointsmart.auth.models import User
from pointsmart.cards import services as cards
from pointsmart.claims import services as claims
from pointsmart.claims.models import Claim, ClaimPhoto, ClaimStatus
from pointsmart.errors import DomainError
from pointsmart.extensions import db
from pointsmart.households.models import Household
from pointsmart.org.services import home_village
from pointsmart.periods import Period, today
from pointsmart.scoring import criteria, panels, score_entry, workflow
from pointsmart.scoring.models import Criterion, Score, ScoringRound
from pointsmart.sync.kinds import Lookups
from pointsmart.sync.kinds import criterion as criterion_payload

from .conftest import committing
from .hostile_files import html_named_jpeg, oversized_jpeg, pixel_bomb_png, svg_with_script, truncated_jpeg
from .test_uploads import assert_no_exif, phone_photo


@pytest.fixture
def village(app, village_id, make_household):
    """Two households with cards (A in 一社, B in 二社), a claimable criterion and one that is not, and
    this month's round open for scoring."""
    a = make_household(head_name="王秀兰", group="一社")
    b = make_household(head_name="李春梅", group="二社")
    with committing(app) as session:
        category = criteria.save_category(session, village_id, {"name": "乡村振兴巾帼行动"}, None)
        training = criteria.save_criterion(
            session,
            category,
            {
                "name": "参加技能培训",
                "points": 5,
                "cadence": "monthly",
                "max_per_period": 2,
                "claimable": True,
            },
            None,
        )
        tidy = criteria.save_criterion(
            session, category, {"name": "庭院整洁", "points": 5, "cadence": "monthly"}, None
        )
        scoring_round = workflow.create_round(
            session, home_village(session), "monthly", Period.of(today()).key, "", None
        )
        card_a = cards.issue_card(session, session.get(Household, a), None)
        card_b = cards.issue_card(session, session.get(Household, b), None)
        ids = {
            "a": a,
            "b": b,
            "training": training.id,
            "tidy": tidy.id,
            "round": scoring_round.id,
            "token_a": card_a.token,
            "token_b": card_b.token,
        }
    return ids


def panel_client(app, login_as, groups=()):
    """A logged-in panel member of the given groups (all if none)."""
    client = login_as("panel")
    with committing(app) as session:
        user = session.get(User, client.user_id)
        panels.set_panel_member(session, user, "执委", list(groups), actor_id=user.id)
    return client


def claim(client, token, criterion_id, *, day=None, note="参加了电商培训", photos=(), **extra):
    data = {
        "criterion_id": str(criterion_id),
        "happened_on": (day or today()).isoformat(),
        "note": note,
        "photos": [(io.BytesIO(data), name) for data, name in photos],
        **extra,
    }
    return client.post(f"/c/{token}/claims/new", data=data, content_type="multipart/form-data")


def only_claim(app) -> Claim:
    with app.app_context():
        found = db.session.scalars(sa.select(Claim)).all()
        assert len(found) == 1
        db.session.expunge_all()
        return found[0]


def text(response) -> str:
    return response.get_data(as_text=True)


# --- the happy path ------------------------------------------------------------------------------------


def test_a_family_claims_with_a_photo_and_the_panel_accepts_it_into_the_grid(app, client, village, login_as):
    form = client.get(f"/c/{village['token_a']}/claims/new")
    assert form.status_code == 200 and "参加技能培训" in text(form) and "庭院整洁" not in text(form)
    sent = claim(client, village["token_a"], village["training"], photos=[(phone_photo("JPEG", 6), "a.jpg")])
    assert sent.status_code == 302, text(sent)
    page = text(client.get(f"/c/{village['token_a']}"))
    assert "参加了电商培训" in page and "待审" in page

    found = only_claim(app)
    with app.app_context():
        photo = db.session.scalars(sa.select(ClaimPhoto)).one()
        stored = (Path(app.instance_path) / "uploads" / "claims" / photo.stored_name).read_bytes()
        assert claims.claim_photo_bytes(db.session, found.village_id) == photo.size == len(stored)
    assert_no_exif(stored)
    # the 64×32 photo marked orientation 6 was turned upright: its row records the stored size
    assert Image.open(io.BytesIO(stored)).size == (photo.width, photo.height) == (32, 64)

    panel = panel_client(app, login_as)
    grid = text(panel.get(f"/scoring/rounds/{village['round']}/grid"))
    assert "家庭申领" in grid and "参加了电商培训" in grid and f"/scoring/claims/photos/{photo.id}" in grid
    served = panel.get(f"/scoring/claims/photos/{photo.id}")
    assert served.status_code == 200 and served.data == stored
    accepted = panel.post(
        f"/scoring/claims/{found.id}/accept", data={"times": "1", "seen": "0", "back": "grid"}
    )
    assert accepted.status_code == 302 and accepted.headers["Location"].endswith(
        f"/scoring/rounds/{village['round']}/grid#claims"
    )
    with app.app_context():
        score = db.session.scalars(sa.select(Score)).one()
        assert (score.household_id, score.times, score.entered_by) == (village["a"], 1, panel.user_id)
        actions = db.session.scalars(sa.select(AuditEntry.action).order_by(AuditEntry.id)).all()
        wanted = ["claims.claim.submitted", "scoring.score.set", "claims.claim.accepted"]
        assert [a for a in actions if a in wanted] == wanted
        done = db.session.get(Claim, found.id)
        assert (done.status, done.times, done.decided_by) == (ClaimStatus.ACCEPTED, 1, panel.user_id)
    page = text(client.get(f"/c/{village['token_a']}"))
    assert "已采纳" in page and "待审" not in page
    # the evidence stays, and the family still sees its own photo
    assert client.get(f"/c/{village['token_a']}/claims/photos/{photo.id}").status_code == 200


def test_declining_needs_a_reason_and_the_family_reads_it(app, client, village, login_as):
    assert claim(client, village["token_a"], village["training"]).status_code == 302
    found = only_claim(app)
    panel = panel_client(app, login_as)
    refused = panel.post(f"/scoring/claims/{found.id}/decline", data={"reason": "  "}, follow_redirects=True)
    assert "不采纳的原因" in text(refused)
    assert only_claim(app).status == ClaimStatus.PENDING
    panel.post(f"/scoring/claims/{found.id}/decline", data={"reason": "那天没有培训", "back": "claims"})
    page = text(client.get(f"/c/{village['token_a']}"))
    assert "未采纳" in page and "那天没有培训" in page
    # answered once: a second answer is refused, the cell untouched
    again = panel.post(
        f"/scoring/claims/{found.id}/accept", data={"times": "1", "seen": "0"}, follow_redirects=True
    )
    assert "已经处理过" in text(again)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Score.id))) == 0


def test_the_rulebook_editor_marks_a_criterion_claimable(app, village, login_as):
    chair = login_as("chair")
    with app.app_context():
        tidy = db.session.get(Criterion, village["tidy"])
        before = criterion_payload(tidy, Lookups(db.session))
    form = {"name": "庭院整洁", "points": "5", "cadence": "monthly", "max_per_period": "1", "active": "y"}
    saved = chair.post(f"/scoring/rulebook/criteria/{village['tidy']}", data=form | {"claimable": "y"})
    assert saved.status_code == 302
    assert "可申领" in text(chair.get("/scoring/rulebook"))
    with app.app_context():
        tidy = db.session.get(Criterion, village["tidy"])
        assert tidy.claimable
        # the flag is the village's own intake setting: the county's copy of the criterion is unchanged
        assert criterion_payload(tidy, Lookups(db.session)) == before and "claimable" not in before
    chair.post(f"/scoring/rulebook/criteria/{village['tidy']}", data=form)
    with app.app_context():
        assert not db.session.get(Criterion, village["tidy"]).claimable


# --- refusals ------------------------------------------------------------------------------------------


def test_a_criterion_not_marked_claimable_or_unknown_is_refused(app, client, village):
    for wrong in (village["tidy"], 999_999, "x", "-1", ""):
        response = claim(client, village["token_a"], wrong)
        assert response.status_code == 422, (wrong, response.status_code)
        assert "申领的积分条目" in text(response)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Claim.id))) == 0


@pytest.mark.parametrize("wrong", ["0x1", "1e3", "-1", "0", "１x", "99999999999999999999"])
def test_a_criterion_id_that_is_no_id_is_called_not_valid_never_missing(app, client, village, wrong):
    response = claim(client, village["token_a"], wrong)
    assert response.status_code == 422
    assert "没有这个积分条目，请从列表里选择" in text(response) and "必填" not in text(response)


@pytest.mark.parametrize("day", ["2026-02-30", "20261201", "2026-W48-6", "2026/12/01", "yesterday"])
def test_a_day_that_is_no_day_is_called_not_valid_never_missing(app, client, village, day):
    response = claim(client, village["token_a"], village["training"], happened_on=day)
    assert response.status_code == 422
    assert "不是有效的日期" in text(response) and "必填" not in text(response)


def test_a_missing_choice_or_day_is_still_called_missing(app, client, village):
    for response in (
        claim(client, village["token_a"], ""),
        claim(client, village["token_a"], village["training"], happened_on=""),
    ):
        assert response.status_code == 422 and "必填" in text(response)


def test_a_criterion_id_in_full_width_digits_is_read(app, client, village):
    wide = str(village["training"]).translate({ord(d): 0xFF10 + int(d) for d in "0123456789"})
    assert claim(client, village["token_a"], wide).status_code == 302
    assert only_claim(app).criterion_id == village["training"]


def test_a_claim_is_refused_when_no_round_is_open_for_its_period(app, client, village, login_as):
    last_year = today().replace(year=today().year - 1)
    response = claim(client, village["token_a"], village["training"], day=last_year)
    assert response.status_code == 409 and "还没有开始打分" in text(response)
    assert Period.of(last_year).label() in text(response)
    panel = panel_client(app, login_as)
    with app.app_context():
        scoring_round = db.session.get(ScoringRound, village["round"])
        workflow.submit_round(db.session, scoring_round, db.session.get(User, panel.user_id))
        db.session.commit()
    closed = claim(client, village["token_a"], village["training"])
    assert closed.status_code == 409 and "已经结束打分" in text(closed)


def test_a_day_to_come_or_out_of_range_is_refused_naming_the_field(app, client, village):
    from datetime import timedelta

    for day, words in (
        (today() + timedelta(days=1), "不能晚于今天"),
        ("1899-01-01", "日期应在"),
        ("2026-13-40", "日期"),
    ):
        data = {"happened_on": day if isinstance(day, str) else day.isoformat()}
        response = claim(client, village["token_a"], village["training"], **data)
        assert response.status_code == 422 and words in text(response), day


@pytest.mark.parametrize(
    "note, words",
    [("长" * 201, "说明"), ("培训\x00", "说明"), ("培\u202e训", "说明"), ("a\x1b[31m", "说明")],
    ids=["201-chars", "nul", "bidi", "escape"],
)
def test_a_long_or_odd_note_is_refused_naming_the_field(app, client, village, note, words):
    response = claim(client, village["token_a"], village["training"], note=note)
    assert response.status_code == 422 and words in text(response)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Claim.id))) == 0


def test_a_note_of_two_hundred_characters_with_line_breaks_and_emoji_is_kept(app, client, village):
    note = "第一行\r\n👨‍👩‍👧" + "好" * 190
    assert claim(client, village["token_a"], village["training"], note=note).status_code == 302
    assert only_claim(app).note == note.replace("\r\n", "\n") or only_claim(app).note == note


@pytest.mark.parametrize(
    "make, code_words",
    [
        (lambda: pixel_bomb_png(), "不是 JPG"),
        (lambda: pixel_bomb_png(7000), "像素太大"),
        (truncated_jpeg, "不是 JPG"),
        (html_named_jpeg, "不是 JPG"),
        (svg_with_script, "不是 JPG"),
    ],
    ids=["2.5-gigapixels", "7000px", "truncated", "html", "svg"],
)
def test_hostile_photos_are_refused_with_a_clear_message_and_nothing_kept(
    app, client, village, make, code_words
):
    response = claim(client, village["token_a"], village["training"], photos=[(make(), "photo.jpg")])
    assert response.status_code == 422 and code_words in text(response) and "照片" in text(response)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Claim.id))) == 0
    folder = Path(app.instance_path) / "uploads" / "claims"
    assert not folder.exists() or not any(folder.iterdir())


def test_a_photo_over_five_megabytes_is_refused(app, client, village):
    response = claim(client, village["token_a"], village["training"], photos=[(oversized_jpeg(), "big.jpg")])
    assert response.status_code == 422 and "5 MB" in text(response)


def test_more_than_three_photos_are_refused(app, client, village):
    photo = phone_photo("PNG")
    response = claim(
        client, village["token_a"], village["training"], photos=[(photo, f"{n}.png") for n in range(4)]
    )
    assert response.status_code == 422 and "最多上传 3 张照片" in text(response)


def test_a_large_photo_is_stored_resized(app, client, village):
    out = io.BytesIO()
    Image.effect_noise((3000, 2000), 40).convert("RGB").save(out, "JPEG", quality=80)
    assert (
        claim(
            client, village["token_a"], village["training"], photos=[(out.getvalue(), "big.jpg")]
        ).status_code
        == 302
    )
    with app.app_context():
        photo = db.session.scalars(sa.select(ClaimPhoto)).one()
        assert photo.width == claims.STORED_SIDE and abs(photo.height - claims.STORED_SIDE * 2 / 3) < 1
        stored = Path(app.instance_path) / "uploads" / "claims" / photo.stored_name
        assert Image.open(stored).size == (photo.width, photo.height) and stored.stat().st_size == photo.size


def test_claims_are_rate_limited_per_card_with_a_clear_message(app, client, village, login_as):
    """Only claims actually filed count against the card's limit: a family refused a few times (a
    criterion not claimable, a day with no round open) is not locked out by its refusals."""
    app.config["POINTSMART_CLAIM_LIMIT"] = "2 per day"
    last_year = today().replace(year=today().year - 1)
    for _n in range(3):
        assert claim(client, village["token_a"], village["tidy"]).status_code == 422  # refused: not counted
        assert claim(client, village["token_a"], village["training"], day=last_year).status_code == 409
    panel = panel_client(app, login_as)
    assert claim(client, village["token_a"], village["training"]).status_code == 302
    panel.post(f"/scoring/claims/{only_claim(app).id}/decline", data={"reason": "请补一张照片"})
    assert claim(client, village["token_a"], village["training"]).status_code == 302  # the second filed
    limited = claim(client, village["token_a"], village["training"])
    assert limited.status_code == 429 and "太频繁" in text(limited)
    assert claim(client, village["token_b"], village["training"]).status_code == 302  # another card is free


def test_a_household_has_at_most_five_claims_waiting_and_one_per_criterion(app, client, village, village_id):
    with committing(app) as session:
        category = criteria.save_category(session, village_id, {"name": "志愿服务"}, None)
        extra = [
            criteria.save_criterion(
                session,
                category,
                {"name": f"志愿服务{n}", "points": 2, "cadence": "monthly", "claimable": True},
                None,
            ).id
            for n in range(5)
        ]
        # made after this month's round was opened: the round does not hold them
    assert claim(client, village["token_a"], village["training"]).status_code == 302
    again = claim(client, village["token_a"], village["training"])
    assert again.status_code == 409 and "已经申领过" in text(again)
    not_in_round = claim(client, village["token_a"], extra[0])
    assert not_in_round.status_code == 409 and "不在" in text(not_in_round)


def test_the_open_claims_cap(app, village):
    with app.app_context():
        card = cards.card_by_token(db.session, village["token_a"])
        household = db.session.get(Household, village["a"])
        scoring_round = db.session.get(ScoringRound, village["round"])
        training = scoring_round.criteria[0]
        for _n in range(claims.MAX_OPEN_CLAIMS):  # five waiting (written directly: one per criterion)
            db.session.add(
                Claim(
                    village_id=household.village_id,
                    household_id=household.id,
                    card_id=card.id,
                    criterion_id=training.criterion_id,
                    round_id=scoring_round.id,
                    round_criterion_id=scoring_round.criteria[1].id,
                    happened_on=today(),
                    note="",
                    reason="",
                )
            )
        db.session.flush()
        with pytest.raises(DomainError) as refused:
            claims.submit_claim(
                db.session,
                card,
                claims.ClaimInput(training.criterion_id, today(), ""),
                [],
                Path("/nonexistent"),
                [],
            )
        assert refused.value.code == "too_many_open"
        db.session.rollback()


@functools.cache
def _six_thousand_square_png() -> bytes:
    """The tester's photo: 6000×6000 pixels (the most one photo may have) in about 35 KB."""
    out = io.BytesIO()
    Image.new("L", (images.MAX_PHOTO_SIDE, images.MAX_PHOTO_SIDE), 200).save(out, "PNG")
    return out.getvalue()


def test_a_claim_refused_anyway_answers_its_refusal_before_any_photo_is_read(app, client, village):
    """The cheap checks (already waiting, no open round, too many photos) come before the photos are
    decoded: photos that decoding would refuse — a pixel bomb, a broken file — never get that far."""
    bad = [(pixel_bomb_png(), "a.png"), (truncated_jpeg(), "b.jpg"), (_six_thousand_square_png(), "c.png")]
    assert claim(client, village["token_a"], village["training"]).status_code == 302
    again = claim(client, village["token_a"], village["training"], photos=bad)
    assert again.status_code == 409 and "已经申领过" in text(again) and "不是 JPG" not in text(again)
    last_year = today().replace(year=today().year - 1)
    closed = claim(client, village["token_b"], village["training"], day=last_year, photos=bad)
    assert closed.status_code == 409 and "还没有开始打分" in text(closed) and "合计" not in text(closed)
    four = claim(client, village["token_b"], village["training"], photos=[*bad, bad[0]])
    assert four.status_code == 422 and "最多上传 3 张照片" in text(four) and "不是 JPG" not in text(four)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Claim.id))) == 1


def test_one_claims_photos_are_bounded_in_pixels_together(app, client, village):
    """Three 6000×6000 PNGs (each within the per-photo limits) are 108 megapixels together: refused
    from their headers, naming the photos field, nothing decoded or kept. Three 12-megapixel phone photos
    fit, and one photo of the most pixels a photo may have."""
    big = _six_thousand_square_png()
    assert max(3 * 4000 * 3000, images.MAX_PHOTO_SIDE**2) <= images.MAX_TOTAL_PIXELS
    photos = [(big, f"{n}.png") for n in range(3)]
    three = claim(client, village["token_a"], village["training"], photos=photos)
    body = text(three)
    assert three.status_code == 422 and "合计 10800 万像素" in body and "最多 5000 万像素" in body
    assert 'id="photos"' in body or 'name="photos"' in body
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Claim.id))) == 0
    folder = Path(app.instance_path) / "uploads" / "claims"
    assert not folder.exists() or not any(folder.iterdir())
    assert images.pixels_of(big) == images.MAX_PHOTO_SIDE**2
    # what check_image refuses from the header alone it refuses in its own words
    assert images.pixels_of(pixel_bomb_png()) == images.pixels_of(b"not a photo") == 0


# --- who may see and answer --------------------------------------------------------------------------


def test_one_family_never_sees_anothers_claim_or_photo(app, client, village):
    claim(
        client,
        village["token_a"],
        village["training"],
        note="王家的说明",
        photos=[(phone_photo("PNG"), "a.png")],
    )
    with app.app_context():
        photo_id = db.session.scalar(sa.select(ClaimPhoto.id))
    assert client.get(f"/c/{village['token_a']}/claims/photos/{photo_id}").status_code == 200
    page_b = text(client.get(f"/c/{village['token_b']}"))
    assert "王家的说明" not in page_b and f"photos/{photo_id}" not in page_b and "待审" not in page_b
    assert client.get(f"/c/{village['token_b']}/claims/photos/{photo_id}").status_code == 404
    assert client.get(f"/c/not-a-token/claims/photos/{photo_id}").status_code == 404
    assert client.get(f"/c/{village['token_b']}/claims/new").status_code == 200
    staff_url = f"/scoring/claims/photos/{photo_id}"
    anonymous = app.test_client().get(staff_url)
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]


def test_a_revoked_card_can_no_longer_claim_or_see_its_photos(app, client, village):
    claim(client, village["token_a"], village["training"], photos=[(phone_photo("PNG"), "a.png")])
    with app.app_context():
        photo_id = db.session.scalar(sa.select(ClaimPhoto.id))
        card = cards.card_by_token(db.session, village["token_a"])
        cards.revoke_card(db.session, card, "丢失", None)
        db.session.commit()
    assert client.get(f"/c/{village['token_a']}/claims/new").status_code == 404
    assert client.get(f"/c/{village['token_a']}/claims/photos/{photo_id}").status_code == 404


def test_only_the_panel_member_of_the_households_group_accepts(app, client, village, login_as):
    claim(client, village["token_b"], village["training"])  # household B is in 二社
    found = only_claim(app)
    other_group = panel_client(app, login_as, groups=["一社"])
    refused = other_group.post(
        f"/scoring/claims/{found.id}/accept", data={"times": "1", "seen": "0"}, follow_redirects=True
    )
    assert "不在您负责的小组" in text(refused)
    chair_off_panel = login_as("chair")
    chair_off_panel.post(f"/scoring/claims/{found.id}/accept", data={"times": "1", "seen": "0"})
    shopkeeper = login_as("shopkeeper")
    answer = {"times": "1", "seen": "0"}
    assert shopkeeper.post(f"/scoring/claims/{found.id}/accept", data=answer).status_code == 403
    assert shopkeeper.get(f"/scoring/rounds/{village['round']}/claims").status_code == 403
    assert only_claim(app).status == ClaimStatus.PENDING
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Score.id))) == 0
    # the claims page shows it to the chair, without the buttons she may not use
    page = text(chair_off_panel.get(f"/scoring/rounds/{village['round']}/claims"))
    assert "参加了电商培训" in page and "采纳" in page and f"/scoring/claims/{found.id}/accept" not in page


def test_accepting_more_times_than_the_criterion_allows_or_after_the_round_is_submitted_is_refused(
    app, client, village, login_as
):
    claim(client, village["token_a"], village["training"])
    found = only_claim(app)
    panel = panel_client(app, login_as)
    too_many = panel.post(
        f"/scoring/claims/{found.id}/accept", data={"times": "3", "seen": "0"}, follow_redirects=True
    )
    assert "每期最多计 2 次" in text(too_many)
    with app.app_context():
        scoring_round = db.session.get(ScoringRound, village["round"])
        workflow.submit_round(db.session, scoring_round, db.session.get(User, panel.user_id))
        db.session.commit()
    late = panel.post(
        f"/scoring/claims/{found.id}/accept", data={"times": "1", "seen": "0"}, follow_redirects=True
    )
    assert "不能进行这个操作" in text(late) and only_claim(app).status == ClaimStatus.PENDING
    # declining still answers the family
    panel.post(f"/scoring/claims/{found.id}/decline", data={"reason": "本期已提交审核"})
    assert only_claim(app).status == ClaimStatus.DECLINED


def test_accepting_a_claim_never_lowers_the_cell(app, client, village, login_as):
    """The cell holds 2 (typed into the grid) of a criterion allowing 2, the claim was filed before: the
    panel accepts with 1: refused in words naming the cell's count, the cell still 2 and the claim still
    waiting; accepting with 2 would add nothing, so it is refused too, and the panel declines."""
    panel = panel_client(app, login_as)
    grid = f"/scoring/rounds/{village['round']}/grid"
    assert claim(client, village["token_a"], village["training"]).status_code == 302
    with app.app_context():
        scoring_round = db.session.get(ScoringRound, village["round"])
        held = scoring_round.criteria[0]
        assert held.criterion_id == village["training"]
        score_entry.set_score(
            db.session, scoring_round, village["a"], held.id, 2, db.session.get(User, panel.user_id)
        )
        db.session.commit()
    found = only_claim(app)
    lower = panel.post(
        f"/scoring/claims/{found.id}/accept", data={"times": "1", "seen": "2"}, follow_redirects=True
    )
    assert "已经计了 2 次，采纳不能把它改少" in text(lower)
    with app.app_context():
        assert db.session.scalars(sa.select(Score.times)).one() == 2
    assert only_claim(app).status == ClaimStatus.PENDING
    assert "待审" in text(client.get(f"/c/{village['token_a']}"))
    # at its maximum already, accepting would add nothing: refused, and the panel declines with a reason
    full = panel.post(
        f"/scoring/claims/{found.id}/accept", data={"times": "2", "seen": "2"}, follow_redirects=True
    )
    assert "本期已经满 2 次" in text(full) and "不采纳" in text(full)
    assert only_claim(app).status == ClaimStatus.PENDING
    panel.post(f"/scoring/claims/{found.id}/decline", data={"reason": "本期已满 2 次"})
    assert only_claim(app).status == ClaimStatus.DECLINED
    assert panel.get(grid).status_code == 200


def test_claims_of_the_village_only(app, client, village, login_as):
    """A claim id or photo id of nothing here is 404 to the staff, never someone else's."""
    panel = panel_client(app, login_as)
    assert panel.post("/scoring/claims/999999/accept", data={"times": "1", "seen": "0"}).status_code == 404
    assert panel.get("/scoring/claims/photos/999999").status_code == 404
    assert panel.get("/scoring/rounds/999999/claims").status_code == 404


# --- CSRF on the public family page -------------------------------------------------------------------


def _token(page: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)


def test_the_family_form_is_csrf_protected_and_works_over_https(make_app, app, village):
    secure = make_app(WTF_CSRF_ENABLED=True, POINTSMART_BASE_URL="https://pointsmart.test")
    browser = secure.test_client()
    url = f"https://pointsmart.test/c/{village['token_a']}/claims/new"
    form = browser.get(url)
    # a same-origin referrer: Flask-WTF checks it on HTTPS, and the token in it goes nowhere else
    assert form.headers["Referrer-Policy"] == "same-origin" and form.headers["Cache-Control"] == "no-store"
    data = {"criterion_id": str(village["training"]), "happened_on": today().isoformat(), "note": "培训"}
    assert browser.post(url, data=data, headers={"Referer": url}).status_code == 400  # no token
    data["csrf_token"] = _token(text(form))
    assert browser.post(url, data=data).status_code == 400  # HTTPS without a referrer
    sent = browser.post(url, data=data, headers={"Referer": url})
    assert sent.status_code == 302, text(sent)
    assert only_claim(app).note == "培训"


def test_a_claim_and_its_photos_stay_in_the_village(app, client, village):
    """Nothing a family sends goes into the change log the county reads."""
    from pointsmart.sync.models import ChangeRecord

    with app.app_context():
        before = db.session.scalar(sa.select(sa.func.count()).select_from(ChangeRecord))
    sent = claim(client, village["token_a"], village["training"], photos=[(phone_photo("PNG"), "a.png")])
    assert sent.status_code == 302
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ChangeRecord)) == before


def test_the_round_page_links_to_its_claims_with_the_number_waiting(app, client, village, login_as):
    panel = panel_client(app, login_as)
    assert "家庭申领" in text(panel.get(f"/scoring/rounds/{village['round']}"))
    claim(client, village["token_a"], village["training"])
    page = text(panel.get(f"/scoring/rounds/{village['round']}"))
    assert "家庭申领（1 条待审）" in page and f"/scoring/rounds/{village['round']}/claims" in page


def test_a_note_with_markup_is_shown_as_text_to_the_panel(app, client, village, login_as):
    assert (
        claim(client, village["token_a"], village["training"], note="<script>alert(1)</script>").status_code
        == 302
    )
    grid = text(panel_client(app, login_as).get(f"/scoring/rounds/{village['round']}/grid"))
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in grid and "<script>alert(1)" not in grid


def test_two_panel_members_accepting_one_claim_at_once_count_it_once(app, client, village, login_as):
    import threading

    from pointsmart.unit import write

    claim(client, village["token_a"], village["training"])
    found = only_claim(app)
    members = [panel_client(app, login_as).user_id for _n in range(2)]
    barrier, outcomes = threading.Barrier(2), []

    def accept(user_id):
        with app.app_context():
            barrier.wait(timeout=30)
            try:
                with write():  # loaded under the write lock: on SQLite a read outside one would take it
                    user = db.session.get(User, user_id)
                    pending = claims.get_claim(db.session, found.village_id, found.id)
                    claims.accept_claim(db.session, pending, 1, user, 0)
                outcomes.append("accepted")
            except DomainError as err:
                outcomes.append(err.code)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=accept, args=(m,)) for m in members]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["accepted", "already_decided"]
    with app.app_context():
        assert db.session.scalar(sa.select(Score.times)) == 1
        accepted = sa.select(sa.func.count(AuditEntry.id)).where(AuditEntry.action == "claims.claim.accepted")
        assert db.session.scalar(accepted) == 1


def test_with_no_round_open_the_card_and_the_form_say_so_up_front(app, client, village):
    with committing(app) as session:
        session.get(ScoringRound, village["round"]).status = "submitted"  # scoring ended: none open now
    card_page = text(client.get(f"/c/{village['token_a']}"))
    assert "/claims/new" not in card_page and 'id="no-open-round"' in card_page
    assert "现在没有正在打分的评定" in card_page
    form_page = client.get(f"/c/{village['token_a']}/claims/new")
    assert form_page.status_code == 200
    page = text(form_page)
    assert "现在没有正在打分的评定" in page and "提交申领" not in page and 'type="file"' not in page


def test_a_refused_claim_says_why_once(app, client, village):
    last_year = today().replace(year=today().year - 1)
    response = claim(client, village["token_a"], village["training"], day=last_year)
    assert response.status_code == 409
    assert text(response).count("还没有开始打分") == 1
    assert "请修改标出的项目" in text(response)


def test_a_claim_over_the_request_limit_gets_the_form_again_saying_the_limit(app, client, village):
    """Over MAX_CONTENT_LENGTH (8 MB) the body is never read; the family gets its claim form back, the
    photos field marked with the limit and what to do, not the generic 413 page."""
    limit = app.config["MAX_CONTENT_LENGTH"]
    big = [(b"\\xff" * (limit // 2 + 1), "a.jpg"), (b"\\xff" * (limit // 2 + 1), "b.jpg")]
    response = claim(client, village["token_a"], village["training"], photos=big)
    body = text(response)
    assert response.status_code == 413
    assert f"合起来超过了 {limit // 1024 // 1024} MB" in body and "少选几张照片" in body
    assert 'claim-form"' in body and "参加技能培训" in body
    photos_field = re.search(r'<label class="field has-error">(?:(?!</label>).)*</label>', body, re.S).group(
        0
    )
    assert 'name="photos"' in photos_field and 'aria-invalid="true"' in photos_field
    assert f"合起来超过了 {limit // 1024 // 1024} MB" in photos_field
    assert response.headers["Cache-Control"] == "no-store"
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Claim.id))) == 0
    # elsewhere the generic page; an unknown card's answers as an unknown card
    unknown = client.post("/c/" + "x" * 43 + "/claims/new", data={"photos": big[0][0] * 2})
    assert unknown.status_code == 404 and "这张积分卡无效" in text(unknown)


# --- what the user walk found (accepted photos as evidence, to-do lines, the accept form, closed months) ---


def _accept_a_claim_with_a_photo(app, client, village, login_as, *, answer="accept"):
    """A claims "参加技能培训" with a photo; the panel accepts (or declines) it. The panel and the photo."""
    sent = claim(client, village["token_a"], village["training"], photos=[(phone_photo("JPEG", 6), "a.jpg")])
    assert sent.status_code == 302, text(sent)
    found = only_claim(app)
    panel = panel_client(app, login_as)
    if answer == "accept":
        done = panel.post(f"/scoring/claims/{found.id}/accept", data={"times": "1", "seen": "0"})
    else:
        done = panel.post(f"/scoring/claims/{found.id}/decline", data={"reason": "那天没有培训"})
    assert done.status_code == 302
    with app.app_context():
        photo = db.session.scalars(sa.select(ClaimPhoto)).one()
        return panel, photo.id, photo.size, found.village_id


@pytest.mark.parametrize("answer", ["accept", "decline"])
def test_an_accepted_claims_photo_is_evidence_of_the_score_a_declined_ones_is_not(
    app, client, village, login_as, answer
):
    """Accepted: the claim's photo shows on the score sheet's 打分佐证照片 and on the household's 佐证照片
    (the phone's one-household page), served to the panel. Its storage counts once (the claim photo's
    row; no score photo row copies it), and nothing goes to the change log. Declined: shown nowhere."""
    from pointsmart.scoring.models import ScorePhoto
    from pointsmart.scoring.photo_storage import storage
    from pointsmart.sync.models import ChangeRecord

    panel, photo_id, size, village_id = _accept_a_claim_with_a_photo(
        app, client, village, login_as, answer=answer
    )
    address = f"/scoring/claims/photos/{photo_id}"
    sheet = text(panel.get(f"/ledgers/rounds/{village['round']}/scores"))
    entry = text(panel.get(f"/scoring/rounds/{village['round']}/households/{village['a']}"))
    if answer == "accept":
        assert (
            address in sheet and "家庭申领照片（已采纳）" in sheet and "这次评定还没有佐证照片" not in sheet
        )
        assert address in entry and "另有家庭申领照片 1 张" in entry and "还没有佐证照片" not in entry
        assert panel.get(address).status_code == 200
        assert address in text(panel.get(f"/ledgers/rounds/{village['round']}/photos"))  # the photos ledger
    else:
        assert address not in sheet and "这次评定还没有佐证照片" in sheet
        assert address not in entry and "还没有佐证照片" in entry
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(ScorePhoto.id))) == 0
        assert storage(db.session, village_id, 10**9).used == size
        payloads = db.session.scalars(sa.select(ChangeRecord.payload)).all()
        assert not [p for p in payloads if "claim" in str(p)]


def test_another_households_entry_page_does_not_show_the_claims_photo(app, client, village, login_as):
    panel, photo_id, _size, _village = _accept_a_claim_with_a_photo(app, client, village, login_as)
    entry = text(panel.get(f"/scoring/rounds/{village['round']}/households/{village['b']}"))
    assert f"/scoring/claims/photos/{photo_id}" not in entry and "家庭申领照片" not in entry


def test_pending_claims_are_on_the_home_to_do_list_of_who_may_answer_them(app, client, village, login_as):
    """The panel member of 一社 reads "1 条家庭申领待审" with a link to the round's claims; the one of 二社
    only a line that asks nothing of her; a chair off the panel likewise; once answered, no line."""
    from .test_home import home, lines

    claim(client, village["token_a"], village["training"])
    first = panel_client(app, login_as, groups=["一社"])
    other = panel_client(app, login_as, groups=["二社"])
    chair = login_as("chair")
    label = Period.of(today()).label()  # 2026年12月, as the round is labelled
    link = f"/scoring/rounds/{village['round']}/claims"
    mine = lines(home(first))["claims"]
    assert len(mine) == 1 and "1 条家庭申领待审" in mine[0] and label in mine[0] and mine[0].endswith(link)
    assert 'class="todo-line todo-claims" data-kind="claims"' in home(first)  # a to-do, not info
    for page in (home(other), home(chair)):
        theirs = lines(page)["claims"]
        assert len(theirs) == 1 and "等评比小组审核" in theirs[0] and "tone-info todo" not in theirs[0]
        assert "todo-claims tone-info" in page
    assert "家庭申领（1 条待审）" in text(first.get(f"/scoring/rounds/{village['round']}"))
    first.post(f"/scoring/claims/{only_claim(app).id}/decline", data={"reason": "重复申领"})
    assert "claims" not in lines(home(first)) and "claims" not in lines(home(chair))


def test_the_accept_form_says_what_the_cell_holds_and_will_hold_and_the_claim_keeps_what_it_added(
    app, client, village, login_as
):
    """The panel entered 2 of a criterion allowing 3; the family claims one more. The form reads "本格现在
    2 次，采纳后 [3] 次"; accepting writes 3, and the claim, the flash and the audit log say +1, 3 in all."""
    from pointsmart.audit.sentences import Names, sentence_for

    with app.app_context():
        db.session.get(Criterion, village["training"]).max_per_period = 3
        db.session.commit()
    with app.app_context():  # the round holds the criterion as it was made: raise its copy too
        scoring_round = db.session.get(ScoringRound, village["round"])
        scoring_round.criteria[0].max_per_period = 3
        db.session.commit()
    panel = panel_client(app, login_as)
    with app.app_context():
        scoring_round = db.session.get(ScoringRound, village["round"])
        held = scoring_round.criteria[0]
        score_entry.set_score(
            db.session, scoring_round, village["a"], held.id, 2, db.session.get(User, panel.user_id)
        )
        db.session.commit()
    claim(client, village["token_a"], village["training"])
    found = only_claim(app)
    page = text(panel.get(f"/scoring/rounds/{village['round']}/claims"))
    form = re.search(rf"<form[^>]*claims/{found.id}/accept.*?</form>", page, re.S).group(0)
    assert "本格现在 2 次，" in form and "采纳后" in form
    assert 'name="times" value="3"' in form and 'name="seen" value="2"' in form
    done = panel.post(
        f"/scoring/claims/{found.id}/accept",
        data={"times": "3", "seen": "2", "back": "claims"},
        follow_redirects=True,
    )
    assert "参加技能培训 加 1 次，本格现在共 3 次" in text(done)
    assert "已计入：加 1 次，本格共 3 次" in text(done)
    accepted = only_claim(app)
    assert (accepted.times, accepted.added) == (3, 1)
    with app.app_context():
        entry = db.session.scalars(
            sa.select(AuditEntry).where(AuditEntry.action == "claims.claim.accepted")
        ).one()
        assert (entry.data["before"], entry.data["added"], entry.data["times"]) == (2, 1, 3)
        assert db.session.scalars(sa.select(Score.times)).one() == 3
        sentence = sentence_for(entry.action)(entry, Names(db.session), "张三")
    assert "张三 采纳了" in sentence and "从 2 次加 1 次，共 3 次" in sentence


def test_accepting_against_a_cell_changed_since_the_form_was_shown_is_refused(app, client, village, login_as):
    """The form showed 0; someone typed 1 into the grid meanwhile: accepting at 1 would add nothing the
    panel meant, so it is refused naming the cell's count now, and the claim still waits."""
    claim(client, village["token_a"], village["training"])
    found = only_claim(app)
    panel = panel_client(app, login_as)
    with app.app_context():
        scoring_round = db.session.get(ScoringRound, village["round"])
        held = scoring_round.criteria[0]
        score_entry.set_score(
            db.session, scoring_round, village["a"], held.id, 1, db.session.get(User, panel.user_id)
        )
        db.session.commit()
    stale = panel.post(
        f"/scoring/claims/{found.id}/accept", data={"times": "1", "seen": "0"}, follow_redirects=True
    )
    assert "刚才已改成 1 次（您看到的是 0 次）" in text(stale)
    assert only_claim(app).status == ClaimStatus.PENDING


def test_a_claim_dated_in_a_closed_month_says_the_month_is_closed(app, client, village):
    """November is closed (月结) and has no round: its round will never come, so the family is told the
    month is closed and to date the claim in an open month — not to wait for the village to start."""
    from datetime import timedelta

    from pointsmart.months.models import MonthClose

    last_month = today().replace(day=1) - timedelta(days=1)
    with app.app_context():
        village_id = db.session.get(Household, village["a"]).village_id
        db.session.add(
            MonthClose(village_id=village_id, month=Period.of(last_month).key, figures="{}", sha256="0" * 64)
        )
        db.session.commit()
    refused = claim(client, village["token_a"], village["training"], day=last_month)
    page = text(refused)
    label = f"{last_month.year}年{last_month.month}月"
    assert refused.status_code == 409 and f"{label}已经月结" in page and "还没有月结的月份" in page
    assert "请等村里开始评定后再来" not in page
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Claim.id))) == 0


# --- a claim that would add nothing, the stale-number check, closed months, typed dates ----------------


def _set_cell(app, village, panel, times: int) -> None:
    with app.app_context():
        scoring_round = db.session.get(ScoringRound, village["round"])
        held = scoring_round.criteria[0]
        score_entry.set_score(
            db.session, scoring_round, village["a"], held.id, times, db.session.get(User, panel.user_id)
        )
        db.session.commit()


def test_a_claim_of_a_cell_already_at_its_maximum_is_refused_on_the_family_form(
    app, client, village, login_as
):
    """参加技能培训 allows 2 a month and the household holds 2: the claim form says the item is full for
    the period (naming the count), nothing is filed — never "已采纳" for a claim that added nothing."""
    panel = panel_client(app, login_as)
    _set_cell(app, village, panel, 2)
    refused = claim(client, village["token_a"], village["training"])
    assert refused.status_code == 409
    assert "“参加技能培训”这一项本期已经满 2 次" in text(refused)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Claim.id))) == 0
    _set_cell(app, village, panel, 1)  # one below the maximum: the claim is taken
    assert claim(client, village["token_a"], village["training"]).status_code == 302


def test_accepting_at_the_cells_own_count_adds_nothing_and_is_refused(app, client, village, login_as):
    """The cell holds 1 of 2; the panel posts times=1 (seen=1): that adds 0, so it is refused, saying to
    add at least one or decline; the claim still waits and the family still reads 待审."""
    panel = panel_client(app, login_as)
    claim(client, village["token_a"], village["training"])
    _set_cell(app, village, panel, 1)
    found = only_claim(app)
    same = panel.post(
        f"/scoring/claims/{found.id}/accept", data={"times": "1", "seen": "1"}, follow_redirects=True
    )
    assert "采纳至少要加 1 次" in text(same) and "请填 2 次或更多" in text(same)
    assert only_claim(app).status == ClaimStatus.PENDING
    family = text(client.get(f"/c/{village['token_a']}"))
    assert "待审" in family and "已采纳" not in family
    with app.app_context():
        assert db.session.scalars(sa.select(Score.times)).one() == 1
    done = panel.post(f"/scoring/claims/{found.id}/accept", data={"times": "2", "seen": "1"})
    assert done.status_code == 302 and only_claim(app).added == 1


def test_a_full_cells_claim_offers_the_panel_only_a_decline(app, client, village, login_as):
    panel = panel_client(app, login_as)
    claim(client, village["token_a"], village["training"])
    _set_cell(app, village, panel, 2)
    found = only_claim(app)
    page = text(panel.get(f"/scoring/rounds/{village['round']}/claims"))
    assert "本格已经满 2 次" in page and f"/scoring/claims/{found.id}/accept" not in page
    assert f"/scoring/claims/{found.id}/decline" in page
    full = panel.post(
        f"/scoring/claims/{found.id}/accept", data={"times": "2", "seen": "2"}, follow_redirects=True
    )
    assert "本期已经满 2 次" in text(full) and only_claim(app).status == ClaimStatus.PENDING


@pytest.mark.parametrize("missing", ["seen", "times"])
def test_an_accept_without_the_number_it_was_shown_is_refused_naming_the_field(
    app, client, village, login_as, missing
):
    """Leaving ``seen`` out no longer skips the stale-number check: 422, naming 本格现在的次数."""
    claim(client, village["token_a"], village["training"])
    found = only_claim(app)
    panel = panel_client(app, login_as)
    answer = {"times": "1", "seen": "0"}
    del answer[missing]
    refused = panel.post(f"/scoring/claims/{found.id}/accept", data=answer)
    label = {"seen": "本格现在的次数", "times": "采纳后次数"}[missing]
    assert refused.status_code == 422 and f"{label}：" in text(refused)
    assert only_claim(app).status == ClaimStatus.PENDING
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Score.id))) == 0


def test_a_round_carried_past_a_closed_month_takes_no_claim_dated_in_that_month(app, client, village):
    """Last month's round was carried (结转) when the month closed; it is still open for scoring, but a
    claim dated in the closed month is refused naming the month; one dated this month goes to this
    month's round."""
    from datetime import timedelta

    from pointsmart.months.models import MonthClose, RoundCarry

    last_month = today().replace(day=1) - timedelta(days=1)
    key = Period.of(last_month).key
    with committing(app) as session:
        carried = workflow.create_round(session, home_village(session), "monthly", key, "", None)
        session.add(MonthClose(village_id=carried.village_id, month=key, figures="{}", sha256="0" * 64))
        session.add(RoundCarry(round_id=carried.id, month=key))
    refused = claim(client, village["token_a"], village["training"], day=last_month)
    label = f"{last_month.year}年{last_month.month}月"
    assert refused.status_code == 409 and f"{label}已经月结" in text(refused)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Claim.id))) == 0
    assert claim(client, village["token_a"], village["training"]).status_code == 302
    assert only_claim(app).round_id == village["round"]


def test_a_day_typed_in_full_width_digits_is_read_as_every_number_is(app, client, village):
    wide = today().isoformat().translate({ord(d): 0xFF10 + int(d) for d in "0123456789"})
    assert claim(client, village["token_a"], village["training"], happened_on=wide).status_code == 302
    assert only_claim(app).happened_on == today()
