"""管理办法 (the chair's versioned text and its wall poster) and photo evidence on scores (taken on the
phone, private to the village's chair and panel, public only when the chair says so, counted against
the village's storage limit).
"""

import io
from pathlib import Path
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from PIL import Image

from pointsmart.audit.models import AuditEntry
from pointsmart.audit.sentences import Names, sentence
from pointsmart.auth.models import User
from pointsmart.errors import DomainError
from pointsmart.extensions import db
from pointsmart.org.services import home_village
from pointsmart.scoring import bylaws, criteria, panels, photo_storage, score_photos, workflow
from pointsmart.scoring.models import BylawsVersion, ScorePhoto

from . import hostile_files
from .conftest import committing
from .test_uploads import assert_no_exif, phone_photo

# --- 管理办法 ----------------------------------------------------------------------------------------


def _versions(app) -> list[tuple[int, str]]:
    with app.app_context():
        rows = db.session.scalars(sa.select(BylawsVersion).order_by(BylawsVersion.version))
        return [(v.version, v.text) for v in rows]


def _audit(app, action) -> list[AuditEntry]:
    with app.app_context():
        entries = db.session.scalars(
            sa.select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        ).all()
        return [
            SimpleNamespace(actor_id=e.actor_id, data=e.data, said=sentence(e, Names(db.session)))
            for e in entries
        ]


def test_with_no_bylaws_the_chair_is_offered_a_chinese_draft_and_the_wall_says_none(app, login_as):
    chair = login_as("chair")
    page = chair.get("/ledgers/bylaws").get_data(as_text=True)
    assert "还没有管理办法" in page and "从草稿开始写" in page
    form = chair.get("/ledgers/bylaws/edit").get_data(as_text=True)
    assert "测试村巾帼家美积分超市管理办法" in form
    for part in ("一、目的", "积分评定", "积分兑换", "积分有效期", "监督"):
        assert part in form
    wall = chair.get("/ledgers/wall/bylaws").get_data(as_text=True)
    assert "还没有管理办法" in wall
    assert _versions(app) == []  # offered, not saved


def test_each_save_appends_a_version_the_latest_is_in_force_and_the_history_stays(app, login_as):
    chair = login_as("chair")
    first = chair.post("/ledgers/bylaws/edit", data={"text": "一、目的\n第一版的内容。"})
    assert first.status_code == 302
    assert "已保存管理办法第 1 版" in chair.get("/ledgers/bylaws").get_data(as_text=True)
    same = chair.post(
        "/ledgers/bylaws/edit", data={"text": "一、目的\r\n第一版的内容。  "}, follow_redirects=True
    )
    assert "没有改动" in same.get_data(as_text=True)
    chair.post("/ledgers/bylaws/edit", data={"text": "一、目的\n第二版的内容。"})
    assert _versions(app) == [(1, "一、目的\n第一版的内容。"), (2, "一、目的\n第二版的内容。")]

    page = chair.get("/ledgers/bylaws").get_data(as_text=True)
    assert "第二版的内容" in page and "第一版的内容" not in page and "现在施行的是第 2 版" in page
    old = chair.get("/ledgers/bylaws?v=1").get_data(as_text=True)
    assert "第一版的内容" in old and "已不施行" in old
    assert chair.get("/ledgers/bylaws?v=9").status_code == 404
    assert chair.get("/ledgers/bylaws?v=x").status_code == 404
    wall = chair.get("/ledgers/wall/bylaws").get_data(as_text=True)
    assert "第二版的内容" in wall and "<h2>一、目的</h2>" in wall and "第 2 版" in wall

    saved = _audit(app, "scoring.bylaws.saved")
    assert [e.data["version"] for e in saved] == [1, 2] and saved[0].actor_id == chair.user_id
    assert "保存了管理办法第 2 版" in saved[1].said


def test_the_poster_prints_the_texts_own_title_once(app, login_as):
    chair = login_as("chair")
    chair.post("/ledgers/bylaws/edit", data={"text": bylaws.starter_text("测试村")})
    wall = chair.get("/ledgers/wall/bylaws").get_data(as_text=True)
    assert "<h1>测试村巾帼家美积分超市管理办法</h1>" in wall
    assert wall.count("测试村巾帼家美积分超市管理办法") == 1
    assert "<h2>九、附则</h2>" in wall


def test_the_text_is_shown_escaped_never_as_html(app, login_as):
    chair = login_as("chair")
    chair.post("/ledgers/bylaws/edit", data={"text": "<script>alert(1)</script>\n<b>粗体</b>"})
    for url in ("/ledgers/bylaws", "/ledgers/wall/bylaws"):
        page = chair.get(url).get_data(as_text=True)
        assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
        assert "<b>粗体" not in page


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("长" * (bylaws.MAX_LENGTH + 1), "最多 20000 个字"),
        ("第一行\x00第二行", "控制字符"),
        ("   ", "管理办法"),
    ],
    ids=["too-long", "nul", "blank"],
)
def test_a_bad_text_is_refused_naming_the_field_and_nothing_is_saved(app, login_as, text, said):
    response = login_as("chair").post("/ledgers/bylaws/edit", data={"text": text})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert said in page and "管理办法" in page
    assert _versions(app) == []


def test_the_panel_reads_the_bylaws_and_the_poster_but_only_the_chair_writes(app, login_as):
    login_as("chair").post("/ledgers/bylaws/edit", data={"text": "评分领导小组看得到的内容"})
    panel = login_as("panel")
    assert "评分领导小组看得到的内容" in panel.get("/ledgers/bylaws").get_data(as_text=True)
    assert panel.get("/ledgers/wall/bylaws").status_code == 200
    assert panel.get("/ledgers/bylaws/edit").status_code == 403
    assert panel.post("/ledgers/bylaws/edit", data={"text": "改掉"}).status_code == 403
    shop = login_as("shopkeeper")
    for url in ("/ledgers/bylaws", "/ledgers/wall/bylaws", "/ledgers/bylaws/edit"):
        assert shop.get(url).status_code == 403
    assert _versions(app) == [(1, "评分领导小组看得到的内容")]


def test_the_ledgers_index_links_the_bylaws_poster_with_the_other_posters(login_as):
    page = login_as("panel").get("/ledgers/").get_data(as_text=True)
    assert (
        page.index("/ledgers/wall/bylaws")
        < page.index("/ledgers/wall/rules")
        < page.index("/ledgers/wall/panel")
    )


def test_a_version_saved_at_the_same_time_elsewhere_is_never_overwritten(app, village_id, make_user):
    chair_id, _name = make_user("chair")
    with committing(app) as session:
        bylaws.save(session, village_id, "第一版", chair_id)
    with committing(app) as session:
        saved = bylaws.save(session, village_id, "第二版", chair_id)
        assert saved.version == 2
        session.add(BylawsVersion(village_id=village_id, version=2, text="同时保存的另一版", saved_by=None))
        with pytest.raises(sa.exc.IntegrityError):
            session.flush()
        session.rollback()
    assert [v for v, _t in _versions(app)] == [1]


# --- photo evidence -----------------------------------------------------------------------------


@pytest.fixture
def scored(app, village_id, make_user, make_household, login_as):
    """A draft round with a 美丽庭院 criterion and a 志愿服务 one; a panel member scoring 一社 (logged in),
    one scoring 二社, the chair (on the panel too), and a household in each group."""
    chair = login_as("chair")
    panel = login_as("panel")
    other = login_as("panel")
    in_one, in_two = make_household(group="一社"), make_household(group="二社")
    with committing(app) as session:
        yard = criteria.save_category(session, village_id, {"name": "美丽庭院", "position": 1}, None)
        helping = criteria.save_category(session, village_id, {"name": "志愿服务", "position": 2}, None)
        criteria.save_criterion(session, yard, {"name": "庭院整洁", "points": 5, "cadence": "monthly"}, None)
        criteria.save_criterion(
            session, helping, {"name": "参加志愿服务", "points": 3, "cadence": "monthly"}, None
        )
        panels.set_panel_member(session, session.get(User, panel.user_id), "执委", ["一社"], chair.user_id)
        panels.set_panel_member(session, session.get(User, other.user_id), "执委", ["二社"], chair.user_id)
        panels.set_panel_member(session, session.get(User, chair.user_id), "主席", [], chair.user_id)
        found = workflow.create_round(session, home_village(session), "monthly", "2026-11", "", chair.user_id)
        ids = {c.name: c.id for c in found.criteria}
        round_id, round_uuid = found.id, found.uuid
    return SimpleNamespace(
        chair=chair,
        panel=panel,
        other=other,
        round=round_id,
        uuid=round_uuid,
        household=in_one,
        elsewhere=in_two,
        yard=ids["庭院整洁"],
        helping=ids["参加志愿服务"],
    )


def _upload(client, s, data: bytes, name="IMG_0001.jpg", household=None, criterion="", stage=""):
    return client.post(
        f"/scoring/rounds/{s.round}/households/{household or s.household}/photos",
        data={"photo": (io.BytesIO(data), name), "criterion": str(criterion), "stage": stage},
        content_type="multipart/form-data",
    )


def _page(client, s, household=None) -> str:
    return client.get(f"/scoring/rounds/{s.round}/households/{household or s.household}").get_data(
        as_text=True
    )


def _photos(app) -> list[ScorePhoto]:
    with app.app_context():
        rows = db.session.scalars(sa.select(ScorePhoto).order_by(ScorePhoto.id)).all()
        db.session.expunge_all()
        return rows


def _folder(app) -> Path:
    return score_photos.folder_of(app.instance_path)


def _stored_files(app) -> list[str]:
    return sorted(p.name for p in _folder(app).iterdir()) if _folder(app).exists() else []


def _big_phone_photo() -> bytes:
    """A 3000×2000 phone photo with GPS in its EXIF, taken sideways (orientation 6)."""
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    exif[0x0112] = 6
    exif.get_ifd(0x8825)[1] = "N"
    out = io.BytesIO()
    Image.new("RGB", (3000, 2000), (120, 160, 90)).save(out, "JPEG", exif=exif, quality=70)
    return out.getvalue()


def test_the_one_household_page_opens_the_camera_and_lists_the_photos(scored):
    page = _page(scored.panel, scored)
    assert 'type="file"' in page and 'accept="image/*"' in page and 'capture="environment"' in page
    assert "整改前" in page and "整改后" in page and "庭院整洁" in page
    assert "还没有佐证照片" in page


def test_a_phone_photo_is_stored_upright_without_exif_scaled_down_and_audited(app, scored):
    response = _upload(scored.panel, scored, _big_phone_photo(), criterion=scored.yard, stage="before")
    assert response.status_code == 303 and response.headers["Location"].endswith("#photos")
    [photo] = _photos(app)
    on_disk = (_folder(app) / photo.stored_name).read_bytes()
    assert_no_exif(on_disk)
    assert Image.open(io.BytesIO(on_disk)).size == (1067, 1600)  # turned upright, then to 1600 a side
    assert (photo.width, photo.height, photo.size) == (1067, 1600, len(on_disk))
    assert photo.stage == "before" and photo.round_criterion_id == scored.yard and not photo.public
    assert photo.stored_name.endswith(".jpg") and "IMG" not in photo.stored_name
    [entry] = _audit(app, "scoring.score_photo.uploaded")
    assert entry.actor_id == scored.panel.user_id and entry.data["stored_name"] == photo.stored_name
    assert "上传了佐证照片（庭院整洁）" in entry.said
    page = _page(scored.panel, scored)
    assert "已上传佐证照片" in page and f"/ledgers/score-photos/{photo.id}" in page


@pytest.mark.parametrize("kind", ["JPEG", "PNG", "WEBP"])
def test_no_stored_photo_keeps_its_exif(app, scored, kind):
    assert _upload(scored.panel, scored, phone_photo(kind, orientation=6), name="p.jpg").status_code == 303
    [photo] = _photos(app)
    assert_no_exif((_folder(app) / photo.stored_name).read_bytes())


@pytest.mark.parametrize(
    ("data", "name", "said"),
    [
        (hostile_files.pixel_bomb_png(8000), "wide.png", "照片像素太大（8000×8000）"),
        # so many pixels Pillow will not open it: refused as no photo at all
        (hostile_files.pixel_bomb_png(40_000), "bomb.png", "不是 JPG、PNG 或 WebP"),
        (hostile_files.html_named_jpeg(), "photo.jpg", "不是 JPG、PNG 或 WebP"),
        (hostile_files.svg_photo(), "photo.svg", "不是 JPG、PNG 或 WebP"),
        (b"", "empty.jpg", "不是 JPG、PNG 或 WebP"),
        (b"GIF89a" + b"\0" * 64, "anim.gif", "不是 JPG、PNG 或 WebP"),
    ],
    ids=["8000px", "pixel-bomb", "html", "svg", "empty", "gif"],
)
def test_a_hostile_file_is_refused_with_a_clear_message_and_nothing_is_kept(app, scored, data, name, said):
    response = _upload(scored.panel, scored, data, name=name)
    assert response.status_code == 303
    assert said in _page(scored.panel, scored)
    assert _photos(app) == [] and _stored_files(app) == []


def test_a_post_without_a_photo_asks_for_one(app, scored):
    response = scored.panel.post(
        f"/scoring/rounds/{scored.round}/households/{scored.household}/photos",
        data={"criterion": "", "stage": ""},
        content_type="multipart/form-data",
    )
    assert response.status_code == 303 and "佐证照片：请选择照片" in _page(scored.panel, scored)
    assert _photos(app) == []


def test_a_photo_over_five_mb_is_refused_unread_past_its_limit(app, scored):
    response = _upload(scored.panel, scored, b"\xff\xd8" + b"\xff" * (5 * 1024 * 1024), name="big.jpg")
    assert response.status_code == 303
    assert "照片超过 5 MB" in _page(scored.panel, scored)
    assert _photos(app) == []


def test_a_jpeg_carrying_a_page_after_its_end_is_stored_as_pixels_only(app, scored):
    assert _upload(scored.panel, scored, hostile_files.jpeg_with_appended_html()).status_code == 303
    [photo] = _photos(app)
    stored = (_folder(app) / photo.stored_name).read_bytes()
    assert b"<script>" not in stored and Image.open(io.BytesIO(stored)).size == (32, 24)
    served = scored.chair.get(f"/ledgers/score-photos/{photo.id}")
    assert served.headers["Content-Type"] == "image/jpeg"
    assert served.headers["X-Content-Type-Options"] == "nosniff"


def _png(colour=(200, 30, 30), size=(40, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "PNG")
    return out.getvalue()


def test_before_and_after_only_on_a_beautiful_yard_criterion(app, scored):
    _upload(scored.panel, scored, _png(), criterion=scored.helping, stage="after")
    assert "只有美丽庭院的条目才分整改前和整改后" in _page(scored.panel, scored)
    _upload(scored.panel, scored, _png(), stage="before")  # the household as a whole: no stage either
    _upload(scored.panel, scored, _png(), criterion=scored.yard, stage="sideways")
    assert "整改前后：不是有效的选择" in _page(scored.panel, scored)
    assert _photos(app) == []
    _upload(scored.panel, scored, _png(), criterion=scored.yard, stage="after")
    _upload(scored.panel, scored, _png(), criterion=scored.helping)
    assert [(p.round_criterion_id, p.stage) for p in _photos(app)] == [
        (scored.yard, "after"),
        (scored.helping, ""),
    ]


def test_only_a_panel_member_scoring_the_household_attaches_a_photo(app, scored, login_as):
    _upload(scored.other, scored, _png())  # 二社's member, a 一社 household
    assert "不在您负责的小组" in _page(scored.other, scored)
    assert [e.data["code"] for e in _audit(app, "scoring.score_photo.refused")] == ["not_panel_member"]
    assert _upload(login_as("shopkeeper"), scored, _png()).status_code == 403
    anonymous = _upload(app.test_client(), scored, _png())
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    assert _photos(app) == []
    assert _upload(scored.other, scored, _png(), household=scored.elsewhere).status_code == 303
    assert _upload(scored.chair, scored, _png()).status_code == 303  # the chair on the panel, all groups
    assert len(_photos(app)) == 2


def test_a_criterion_or_household_not_of_this_round_is_refused(app, scored):
    _upload(scored.panel, scored, _png(), criterion=999_999)
    _upload(scored.panel, scored, _png(), criterion="1 OR 1=1")
    assert _photos(app) == []


def test_no_photo_once_the_round_is_no_longer_open_for_scoring(app, scored):
    with committing(app) as session:
        from pointsmart.scoring.models import ScoringRound

        workflow.submit_round(
            session, session.get(ScoringRound, scored.round), session.get(User, scored.chair.user_id)
        )
    _upload(scored.panel, scored, _png())
    page = _page(scored.panel, scored)
    assert "已经不在打分阶段，不能再上传佐证照片" in page
    assert 'capture="environment"' not in page  # the form is gone too
    assert _photos(app) == [] and _stored_files(app) == []
    [refused] = _audit(app, "scoring.score_photo.refused")  # the refusal is on record
    assert refused.actor_id == scored.panel.user_id and refused.data["code"] == "wrong_status"
    assert "上传佐证照片被拒绝：评定已不在打分阶段" in refused.said


def test_photos_per_household_are_bounded(app, scored, monkeypatch):
    monkeypatch.setattr(score_photos, "MAX_PER_HOUSEHOLD", 2)
    for _n in range(3):
        _upload(scored.panel, scored, _png())
    assert "最多上传 2 张佐证照片" in _page(scored.panel, scored)
    assert len(_photos(app)) == 2


def test_the_village_storage_limit_refuses_the_upload_that_would_pass_it(app, scored):
    first = _big_phone_photo()
    assert _upload(scored.panel, scored, first).status_code == 303
    [photo] = _photos(app)
    app.config["POINTSMART_PHOTO_STORAGE_MB"] = (photo.size + 1000) / 1024 / 1024
    _upload(scored.panel, scored, _big_phone_photo())
    assert "照片存储空间已满" in _page(scored.panel, scored)
    assert len(_photos(app)) == 1 and len(_stored_files(app)) == 1
    [refused] = _audit(app, "scoring.score_photo.refused")
    assert refused.data["code"] == "storage_full" and refused.data["size"] > 0
    assert "本村照片存储空间已满" in refused.said
    limit = photo_storage.limit_bytes(app.config)
    settings = scored.chair.get("/settings/").get_data(as_text=True)
    assert (
        f"共 1 张，已用 {photo_storage.Storage.mb(photo.size)} MB / 上限 {photo_storage.Storage.mb(limit)} MB"
        in settings
    )

    # the notice photos count against the same limit, and are refused by it too
    _publish(app, scored)
    notice = scored.chair.post(
        f"/ledgers/rounds/{scored.round}/photos",
        data={"photo": (io.BytesIO(_big_phone_photo()), "公示栏.jpg")},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert "照片存储空间已满" in notice.get_data(as_text=True)
    app.config["POINTSMART_PHOTO_STORAGE_MB"] = 100
    small = scored.chair.post(
        f"/ledgers/rounds/{scored.round}/photos",
        data={"photo": (io.BytesIO(_png()), "公示栏.png")},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert "已上传公示照片" in small.get_data(as_text=True)
    with app.app_context():
        held = photo_storage.storage(db.session, home_village(db.session).id, 10**9)
    assert held.photos == 2 and held.used == photo.size + len(_png())


def test_the_settings_card_shows_used_and_limit(app, scored):
    app.config["POINTSMART_PHOTO_STORAGE_MB"] = 100
    _upload(scored.panel, scored, _png(size=(400, 300)))
    page = scored.chair.get("/settings/").get_data(as_text=True)
    assert "照片存储" in page and "共 1 张" in page and "上限 100.0 MB" in page


def test_photos_are_served_to_the_villages_chair_and_panel_only(app, scored, login_as, village_id):
    _upload(scored.panel, scored, _png())
    [photo] = _photos(app)
    for client in (scored.chair, scored.panel, scored.other):
        served = client.get(f"/ledgers/score-photos/{photo.id}")
        assert served.status_code == 200 and served.headers["Cache-Control"] == "private, no-store"
    assert login_as("shopkeeper").get(f"/ledgers/score-photos/{photo.id}").status_code == 403
    assert app.test_client().get(f"/ledgers/score-photos/{photo.id}").status_code == 302
    with app.app_context():
        with pytest.raises(DomainError) as info:
            score_photos.get_photo(db.session, village_id + 1, photo.id)  # another village's: not found
        assert info.value.code == "unknown_photo"


def test_photos_show_in_the_score_sheet_and_the_photos_ledger(app, scored):
    _upload(scored.panel, scored, _png(), criterion=scored.yard, stage="before")
    [photo] = _photos(app)
    for url in (f"/ledgers/rounds/{scored.round}/scores", f"/ledgers/rounds/{scored.round}/photos"):
        page = scored.panel.get(url).get_data(as_text=True)
        assert "打分佐证照片" in page and f"/ledgers/score-photos/{photo.id}" in page and "整改前" in page
        assert "在公示上公开" not in page  # the panel sees, the chair decides
        assert "在公示上公开" in scored.chair.get(url).get_data(as_text=True)


def _publish(app, scored):
    from datetime import timedelta

    from pointsmart import clock
    from pointsmart.scoring.models import ScoringRound

    with committing(app) as session:
        found = session.get(ScoringRound, scored.round)
        workflow.submit_round(session, found, session.get(User, scored.chair.user_id))
        workflow.approve_round(session, found, session.get(User, scored.panel.user_id))
        workflow.approve_round(session, found, session.get(User, scored.other.user_id))
        workflow.publish_round(session, found, scored.chair.user_id)
    clock.advance(timedelta(minutes=1))


def test_a_photo_is_on_the_public_notice_only_once_the_chair_marks_it_public(app, scored):
    _upload(scored.panel, scored, _png(), criterion=scored.yard, stage="after")
    _upload(scored.panel, scored, _png((10, 10, 200)))
    kept, private = _photos(app)
    _publish(app, scored)
    public = app.test_client()
    notice = public.get(f"/notice/{scored.uuid}").get_data(as_text=True)
    assert "评分照片" not in notice and "score-photos" not in notice
    assert public.get(f"/notice/{scored.uuid}/photos/{kept.id}").status_code == 404

    assert (
        scored.panel.post(f"/ledgers/score-photos/{kept.id}/public", data={"public": "1"}).status_code == 403
    )
    marked = scored.chair.post(f"/ledgers/score-photos/{kept.id}/public", data={"public": "1"})
    assert marked.status_code == 302 and marked.headers["Location"].endswith(
        f"/rounds/{scored.round}/scores#evidence"
    )
    notice = public.get(f"/notice/{scored.uuid}").get_data(as_text=True)
    assert f"/notice/{scored.uuid}/photos/{kept.id}" in notice and "整改后" in notice
    assert f"photos/{private.id}" not in notice
    served = public.get(f"/notice/{scored.uuid}/photos/{kept.id}")
    assert served.status_code == 200 and served.data == (_folder(app) / kept.stored_name).read_bytes()
    assert public.get(f"/notice/{scored.uuid}/photos/{private.id}").status_code == 404
    assert public.get(f"/ledgers/score-photos/{kept.id}").status_code == 302  # the staff route stays private

    scored.chair.post(f"/ledgers/score-photos/{kept.id}/public", data={"public": "0", "back": "photos"})
    assert public.get(f"/notice/{scored.uuid}/photos/{kept.id}").status_code == 404
    said = [e.said for e in _audit(app, "scoring.score_photo.made_public")]
    said += [e.said for e in _audit(app, "scoring.score_photo.made_private")]
    assert "在公示上公开" in said[0] and "从公示上撤下" in said[1]


def test_a_public_photo_of_a_round_not_yet_on_notice_is_not_shown(app, scored):
    _upload(scored.panel, scored, _png())
    [photo] = _photos(app)
    scored.chair.post(f"/ledgers/score-photos/{photo.id}/public", data={"public": "1"})
    assert app.test_client().get(f"/notice/{scored.uuid}/photos/{photo.id}").status_code == 404


def test_the_chair_deletes_a_photo_its_file_goes_and_the_storage_is_freed(app, scored):
    _upload(scored.panel, scored, _png())
    [photo] = _photos(app)
    assert scored.panel.post(f"/ledgers/score-photos/{photo.id}/delete").status_code == 403
    assert scored.chair.post(f"/ledgers/score-photos/{photo.id}/delete").status_code == 302
    assert _photos(app) == [] and _stored_files(app) == []
    [entry] = _audit(app, "scoring.score_photo.deleted")
    assert "删除了" in entry.said and entry.data["size"] == photo.size


def test_the_photos_workbook_has_a_sheet_of_the_evidence_photos(app, scored):
    import openpyxl

    _upload(scored.panel, scored, _png(), criterion=scored.yard, stage="after")
    page = scored.chair.get(f"/ledgers/rounds/{scored.round}/photos").get_data(as_text=True)
    assert f"/ledgers/rounds/{scored.round}/photos.xlsx" in page  # no notice photo yet, still exported
    book = openpyxl.load_workbook(
        io.BytesIO(scored.chair.get(f"/ledgers/rounds/{scored.round}/photos.xlsx").data)
    )
    sheet = book["打分佐证照片"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[1][:5] == ("序号", "户号", "户主", "条目", "整改前后")
    assert rows[2][1:6] == ("09-001", "测试1", "庭院整洁", "整改后", scored.panel.username)
    assert len(sheet._images) == 1


def test_the_guides_tell_the_chair_and_the_panel_about_bylaws_and_photos(login_as):
    chair = login_as("chair").get("/help/chair").get_data(as_text=True)
    assert "管理办法" in chair and "在公示上公开" in chair and "照片存储" in chair
    panel = login_as("panel").get("/help/panel").get_data(as_text=True)
    assert "佐证照片" in panel and "整改前" in panel
