"""The ledgers (台账), the public notice and the honour roll: the numbers on the pages and in the
workbooks, the photo checks, and who may see what.

Data is set up in its own committed unit of work (``committing``) before a test reads it, so no
session holds SQLite's write lock while a request runs.
"""

import io
import os
import re
from datetime import date, timedelta
from pathlib import Path
from types import SimpleNamespace

import openpyxl
import pytest
import sqlalchemy as sa
from PIL import Image

from pointsmart import clock, images, periods
from pointsmart.audit.models import AuditEntry
from pointsmart.auth.models import User
from pointsmart.errors import DomainError
from pointsmart.extensions import db
from pointsmart.households.models import Household
from pointsmart.households.services import adjust_points, reverse_transfer
from pointsmart.ledger.models import Transfer
from pointsmart.org.services import home_village
from pointsmart.scoring import (
    criteria,
    finalisation,
    meeting_minutes,
    notice_photos,
    panels,
    points_register,
    reports,
    score_entry,
    score_sheets,
    workflow,
)
from pointsmart.scoring.models import MeetingMinutes, NoticePhoto

from .conftest import committing

# --- set-up -------------------------------------------------------------------------------------


@pytest.fixture
def scene(app, village_id, make_user):
    """A rulebook of two categories (美丽庭院, 志愿服务) and a panel: two members and the chair (ids)."""
    panel = [make_user("panel")[0], make_user("panel")[0], make_user("chair")[0]]
    with committing(app) as session:
        yard = criteria.save_category(session, village_id, {"name": "美丽庭院", "position": 1}, None)
        helping = criteria.save_category(session, village_id, {"name": "志愿服务", "position": 2}, None)
        for category, data in [
            (yard, {"name": "庭院整洁", "points": 5, "cadence": "monthly"}),
            (yard, {"name": "乱堆乱放", "points": -5, "cadence": "monthly"}),
            (helping, {"name": "参加志愿服务", "points": 3, "cadence": "monthly", "max_per_period": 4}),
            (yard, {"name": "绿化", "points": 15, "cadence": "quarterly"}),
        ]:
            criteria.save_criterion(session, category, data, None)
        for user_id in panel:
            panels.set_panel_member(session, session.get(User, user_id), "执委", [], panel[2])
        return SimpleNamespace(panel=panel, chair=panel[2], yard=yard.id, helping=helping.id)


def _round(session, scene, period, scores, *, stop="finalised", period_type="monthly", scorer=0):
    """Create a round, enter ``{(household_id, criterion name): times}``, and take it to ``stop``
    (draft, submitted, notice or finalised). Returns the round."""
    panel = [session.get(User, i) for i in scene.panel]
    found = workflow.create_round(session, home_village(session), period_type, period, "", scene.chair)
    ids = {c.name: c.id for c in found.criteria}
    for (household_id, name), times in scores.items():
        score_entry.set_score(session, found, household_id, ids[name], times, panel[scorer])
    if stop != "draft":
        workflow.submit_round(session, found, panel[2])  # the chair hands in; two others approve
    if stop in ("notice", "finalised"):
        workflow.approve_round(session, found, panel[0])
        workflow.approve_round(session, found, panel[1])
        workflow.publish_round(session, found, scene.chair)
    if stop == "finalised":
        clock.advance(timedelta(days=found.notice_days, minutes=1))
        assert finalisation.finalise_round(session, found, scene.chair)
    session.flush()
    return found


def _make_round(app, scene, period, scores, **options) -> SimpleNamespace:
    with committing(app) as session:
        found = _round(session, scene, period, scores, **options)
        return SimpleNamespace(id=found.id, uuid=found.uuid, ref=found.ref)


def _table(data: bytes, sheet: int = 0) -> tuple[str, list[dict]]:
    """A workbook sheet as (title line, rows keyed by the header on row 2)."""
    book = openpyxl.load_workbook(io.BytesIO(data))
    rows = list(book.worksheets[sheet].iter_rows(values_only=True))
    header = rows[1]
    return rows[0][0], [dict(zip(header, row, strict=False)) for row in rows[2:]]


def _png(width=40, height=30, color=(200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, "PNG")
    return out.getvalue()


def _noise_png(side: int) -> bytes:
    """A PNG of random pixels, which does not compress: about side² × 3 bytes."""
    out = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(out, "PNG", compress_level=1)
    return out.getvalue()


def _audit(session, action) -> list[AuditEntry]:
    return session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
    ).all()


def _round_points_in_ledger(session, household_id) -> int:
    """The household's points from rounds, straight from the transfers (refs ``round:…``)."""
    account = session.get(Household, household_id).account_id
    signed = sa.case((Transfer.to_account_id == account, Transfer.amount), else_=-Transfer.amount)
    return int(
        session.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(signed), 0)).where(
                Transfer.ref.startswith("round:"),
                sa.or_(Transfer.to_account_id == account, Transfer.from_account_id == account),
            )
        )
    )


# --- a round's results ----------------------------------------------------------------------------


def test_round_results_are_by_rulebook_category_and_the_workbook_has_the_same_numbers(
    app, scene, make_household, ctx
):
    a, b = make_household(), make_household(points=2)
    found = _round(ctx, scene, "2026-11", {(a, "庭院整洁"): 1, (a, "参加志愿服务"): 2, (b, "乱堆乱放"): 1})
    ctx.commit()
    results = reports.round_results(ctx, found)
    assert [c.name for c in results.categories] == ["美丽庭院", "志愿服务"]
    rows = {r.household.id: r for r in results.rows}
    assert rows[a].by_category == {scene.yard: 5, scene.helping: 6}
    assert (rows[a].scored, rows[a].posted) == (11, 11)
    assert (rows[b].by_category, rows[b].shortfall, rows[b].posted) == ({scene.yard: -5}, 3, -2)

    title, table = _table(reports.round_results_xlsx(results, home_village(ctx)))
    assert "2026年11月 月评定" in title and "测试村" in title
    by_no = {row["户号"]: row for row in table}
    no_a, no_b = ctx.get(Household, a).household_no, ctx.get(Household, b).household_no
    assert (by_no[no_a]["美丽庭院"], by_no[no_a]["志愿服务"], by_no[no_a]["合计"]) == (5, 6, 11)
    assert (by_no[no_b]["扣分"], by_no[no_b]["余额不足未扣"], by_no[no_b]["实记积分"]) == (5, 3, -2)
    assert (by_no["合计"]["美丽庭院"], by_no["合计"]["实记积分"]) == (0, 9)
    # what the workbook says was posted is what the ledger holds
    assert _round_points_in_ledger(ctx, a) == 11 and ctx.get(Household, b).balance == 0


# --- 打分表 -----------------------------------------------------------------------------------------


def test_score_sheet_shows_each_cell_who_scored_it_and_who_approved(app, scene, make_household, ctx):
    a, b, idle = make_household(), make_household(), make_household()
    scoring_round = _round(ctx, scene, "2026-11", {(a, "庭院整洁"): 1, (a, "参加志愿服务"): 2}, stop="draft")
    mess = scoring_round.criteria[1].id
    score_entry.set_score(ctx, scoring_round, b, mess, 1, ctx.get(User, scene.panel[1]))  # the other member
    workflow.submit_round(ctx, scoring_round, ctx.get(User, scene.chair))
    workflow.approve_round(ctx, scoring_round, ctx.get(User, scene.panel[0]))
    workflow.approve_round(ctx, scoring_round, ctx.get(User, scene.panel[1]))
    ctx.commit()
    names = {uid: ctx.get(User, uid).display_name for uid in scene.panel}

    sheet = score_sheets.score_sheet(ctx, scoring_round)
    assert [c.name for c in sheet.criteria] == ["庭院整洁", "乱堆乱放", "参加志愿服务"]
    assert sheet.category_spans == [("美丽庭院", 2), ("志愿服务", 1)]
    rows = {r.household.id: r for r in sheet.rows}
    assert set(rows) == {a, b, idle}  # every household of the round, scored or not
    assert (rows[a].total, rows[a].scorers) == (11, [names[scene.panel[0]]])
    assert (rows[b].total, rows[b].scorers) == (-5, [names[scene.panel[1]]])
    assert (rows[idle].total, rows[idle].scorers) == (0, [])
    assert [p.name for p in sheet.approvals] == [names[scene.panel[0]], names[scene.panel[1]]]
    assert {p.name: p.count for p in sheet.scorers} == {names[scene.panel[0]]: 2, names[scene.panel[1]]: 1}

    data = score_sheets.score_sheet_xlsx(sheet, home_village(ctx))
    _title, table = _table(data)
    row_a = next(r for r in table if r["户主"] == rows[a].household.head_name)
    assert row_a["美丽庭院·庭院整洁（+5）"] == 5
    assert row_a["志愿服务·参加志愿服务（+3）"] == 6
    assert (row_a["合计"], row_a["评分人"]) == (11, names[scene.panel[0]])
    _title, people = _table(data, sheet=1)
    assert [(p["环节"], p["姓名"]) for p in people if p["环节"] == "审核"] == [
        ("审核", names[scene.panel[0]]),
        ("审核", names[scene.panel[1]]),
    ]


# --- 积分登记台账 -------------------------------------------------------------------------------------


def test_register_running_total_equals_the_households_ledger_balance_from_rounds(
    app, scene, village_id, make_household, ctx
):
    a = make_household(points=10)  # opening points: not from a round, not in the register
    b = make_household()
    _round(ctx, scene, "2025-12", {(a, "庭院整洁"): 1, (b, "参加志愿服务"): 1})
    _round(ctx, scene, "2026-01", {(a, "参加志愿服务"): 3, (a, "乱堆乱放"): 1, (b, "乱堆乱放"): 1})
    q1 = _round(ctx, scene, "2026-Q1", {(a, "绿化"): 1}, period_type="quarterly")
    ctx.commit()
    # the 绿化 award is reversed afterwards: the register follows the ledger, not the old result
    award = ctx.scalar(sa.select(Transfer.id).where(Transfer.ref == q1.ref))
    reverse_transfer(ctx, ctx.get(Household, a), award, "评错了", scene.chair)
    ctx.commit()

    ledger = points_register.register(ctx, village_id, 2026)
    assert [c.name for c in ledger.categories] == ["美丽庭院", "志愿服务"]
    entries = {e.household.id: e for e in ledger.entries}
    entry_a, entry_b = entries[a], entries[b]
    assert entry_a.brought_forward == 5
    assert [(line.round.period_key, line.net, line.running) for line in entry_a.lines] == [
        ("2026-01", 4, 9),
        ("2026-Q1", 0, 9),
    ]
    assert entry_a.lines[0].by_category == {scene.yard: -5, scene.helping: 9}
    assert (entry_a.lines[1].by_category, entry_a.lines[1].corrected) == ({scene.yard: 15}, -15)
    assert (entry_b.brought_forward, entry_b.lines[0].shortfall, entry_b.total) == (3, 2, 0)
    for household_id, entry in entries.items():
        assert entry.total == _round_points_in_ledger(ctx, household_id)
    assert ctx.get(Household, a).balance == 10 + entry_a.total

    title, table = _table(points_register.register_xlsx(ledger, home_village(ctx)))
    assert "2026" in title
    lines_a = [row for row in table if row["户号"] == entry_a.household.household_no]
    assert [row["期别"] for row in lines_a] == ["上年结转", "2026年1月 月评定", "2026年第1季度 季评定"]
    assert [row["累计"] for row in lines_a] == [5, 9, 9]
    assert lines_a[2]["撤销更正"] == -15
    assert points_register.register(ctx, village_id, 2025).entries[0].lines[0].running == 5


def test_a_paper_cards_carried_over_balance_is_brought_forward_so_the_total_is_the_balance(
    app, scene, village_id, make_household, ctx
):
    a = make_household()
    household = ctx.get(Household, a)
    adjust_points(ctx, household, 245, "原积分卡余额", scene.chair, ref="import:opening")
    adjust_points(ctx, household, 7, "临时奖励", scene.chair)  # not a carry-over: not in the register
    year = ctx.scalar(sa.select(Transfer.created_at).where(Transfer.ref == "import:opening")).year
    _round(ctx, scene, f"{year}-01", {(a, "乱堆乱放"): 1})
    ctx.commit()

    ledger = points_register.register(ctx, village_id, year)
    entry = {e.household.id: e for e in ledger.entries}[a]
    assert (entry.brought_forward, entry.lines[0].net, entry.total) == (245, -5, 240)
    assert ctx.get(Household, a).balance == entry.total + 7
    earlier = points_register.register(ctx, village_id, year - 1).entries
    assert {e.household.id: e.brought_forward for e in earlier}[a] == 0  # carried over later
    _title, table = _table(points_register.register_xlsx(ledger, home_village(ctx)))
    assert [row["累计"] for row in table if row["户号"] == household.household_no] == [245, 240]


def test_the_register_page_uses_the_full_width_of_the_screen(app):
    css = (Path(app.static_folder) / "css" / "households.css").read_text(encoding="utf-8")
    assert ".page:has(table.register) { max-width: none; }" in css


# --- 光荣榜 -------------------------------------------------------------------------------------------


def test_honour_roll_ranks_by_points_ties_share_a_rank_and_filters(
    app, scene, village_id, make_household, ctx
):
    a, b = make_household(group="一社"), make_household(group="一社")
    c, d = make_household(group="二社"), make_household(group="二社")
    e = make_household(group="二社", points=10)
    tidy, volunteer, mess = "庭院整洁", "参加志愿服务", "乱堆乱放"
    _round(ctx, scene, "2026-01", {(a, tidy): 1, (a, volunteer): 4, (b, tidy): 1, (c, tidy): 1})
    _round(ctx, scene, "2026-02", {(b, volunteer): 4, (d, tidy): 1, (e, mess): 1})
    _round(ctx, scene, "2026-03", {(e, volunteer): 4}, stop="notice")  # not final: does not count
    ctx.commit()

    def ranking(**filters):
        roll = reports.honour_roll(ctx, village_id, **filters)
        return [(x.rank, x.household.id, x.points) for x in roll.entries]

    assert ranking(period="2026-01") == [(1, a, 17), (2, b, 5), (2, c, 5)]
    assert ranking(year=2026) == [(1, a, 17), (1, b, 17), (3, c, 5), (3, d, 5)]
    assert ranking() == ranking(year=2026)  # the latest year by default
    assert ranking(year=2026, group="一社") == [(1, a, 17), (1, b, 17)]
    assert ranking(year=2026, size=2) == [(1, a, 17), (1, b, 17)]
    assert ranking(year=2026, size=3) == ranking(year=2026)  # all tied with the last place shown
    assert ranking(year=2025) == []
    roll = reports.honour_roll(ctx, village_id)
    assert (roll.periods, roll.years) == (["2026-02", "2026-01"], [2026])


# --- 会议记录 -----------------------------------------------------------------------------------------


def test_minutes_are_written_corrected_and_audited(app, scene, make_user, ctx):
    outsider = make_user("panel")[0]  # a panel-role account that is not on the panel
    found = _round(ctx, scene, "2026-11", {}, stop="draft")
    data = {
        "held_on": date(2026, 12, 1),
        "place": "村委会会议室",
        "panel_present": [str(scene.panel[0]), str(scene.panel[1])],
        "others_present": "驻村干部李明",
        "decisions": "同意本月评定结果",
        "notes": "",
    }
    minutes = meeting_minutes.save_minutes(ctx, found, data, scene.chair)
    assert meeting_minutes.present_ids(minutes) == scene.panel[:2]
    meeting_minutes.save_minutes(ctx, found, data, scene.chair)  # nothing changed: nothing audited
    meeting_minutes.save_minutes(ctx, found, data | {"place": "村文化广场"}, scene.chair)
    ctx.commit()
    assert len(_audit(ctx, "scoring.minutes.created")) == 1
    [updated] = _audit(ctx, "scoring.minutes.updated")
    assert updated.data == {
        "round": "2026-11",
        "old": {"place": "村委会会议室"},
        "new": {"place": "村文化广场"},
    }
    with pytest.raises(DomainError) as info:
        meeting_minutes.save_minutes(ctx, found, data | {"panel_present": [str(outsider)]}, scene.chair)
    assert info.value.code == "unknown_member"
    with pytest.raises(DomainError) as info:
        meeting_minutes.save_minutes(ctx, found, data | {"held_on": None}, scene.chair)
    assert info.value.code == "date_required"


# --- 公示照片 -----------------------------------------------------------------------------------------


def _jpeg(width=64, height=48) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (10, 120, 10)).save(out, "JPEG")
    return out.getvalue()


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "not_an_image"),
        ("公示照片".encode() * 10, "not_an_image"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 200, "not_an_image"),  # a PNG signature and nothing else
        (_jpeg()[:200], "not_an_image"),  # a JPEG cut short
        (b"GIF89a" + _png()[6:], "not_an_image"),
        (b"\xff" * (images.MAX_PHOTO_BYTES + 1), "photo_too_large"),
        (_png(images.MAX_PHOTO_SIDE + 1, 8), "photo_too_many_pixels"),
    ],
    ids=["empty", "text", "png-signature-only", "truncated-jpeg", "gif", "over-5mb", "over-6000px"],
)
def test_only_real_jpeg_png_or_webp_photos_of_sensible_size_pass(data, code):
    with pytest.raises(DomainError) as info:
        images.check_image(data)
    assert info.value.code == code


def test_real_photos_pass_with_their_true_type():
    gif = io.BytesIO()
    Image.new("RGB", (4, 4)).save(gif, "GIF")
    webp = io.BytesIO()
    Image.new("RGB", (30, 20)).save(webp, "WEBP")
    assert images.check_image(_jpeg()) == images.PhotoInfo("image/jpeg", "jpg", 64, 48)
    assert images.check_image(_png(6000, 4)).extension == "png"
    assert images.check_image(webp.getvalue()) == images.PhotoInfo("image/webp", "webp", 30, 20)
    with pytest.raises(DomainError):
        images.check_image(gif.getvalue())


def test_a_stored_notice_photo_has_no_gps_position(scene, ctx, tmp_path):
    from .test_uploads import assert_no_exif, phone_photo

    published = _round(ctx, scene, "2026-11", {}, stop="notice")
    photo = notice_photos.add_photo(
        ctx, published, phone_photo(), "公示.jpg", None, None, tmp_path, scene.chair
    )
    ctx.commit()
    assert_no_exif(notice_photos.photo_path(tmp_path, photo.stored_name).read_bytes())


def test_photo_is_kept_under_a_random_name_only_once_the_round_is_public(
    app, scene, make_household, ctx, tmp_path
):
    draft = _round(ctx, scene, "2026-10", {}, stop="draft")
    folder = tmp_path / "notices"
    with pytest.raises(DomainError) as info:
        notice_photos.add_photo(ctx, draft, _png(), "a.png", None, None, folder, scene.chair)
    assert info.value.code == "not_published"
    published = _round(ctx, scene, "2026-11", {}, stop="notice")
    with pytest.raises(DomainError) as info:
        notice_photos.add_photo(
            ctx, published, _png(), "a.png", date(2026, 12, 1), date(2026, 11, 25), folder, None
        )
    assert info.value.code == "bad_dates"
    for posted in ((date(1, 1, 1), None), (None, date(9999, 12, 31))):  # dates no notice was posted on
        with pytest.raises(DomainError) as info:
            notice_photos.add_photo(ctx, published, _png(), "a.png", *posted, folder, None)
        assert info.value.code in ("invalid_date", "date_in_future")
    photo = notice_photos.add_photo(
        ctx,
        published,
        _jpeg(),
        "../../公示.php.jpg",
        *notice_photos.notice_days(published),  # the notice's first and last day
        folder,
        scene.chair,
    )
    ctx.commit()
    assert re.fullmatch(r"[0-9a-f]{32}\.jpg", photo.stored_name)
    assert Image.open(folder / photo.stored_name).size == (64, 48)  # the picture, re-saved without EXIF
    assert photo.original_name == "公示.php.jpg" and photo.content_type == "image/jpeg"
    assert [p.name for p in folder.iterdir()] == [photo.stored_name]
    [uploaded] = _audit(ctx, "scoring.notice_photo.uploaded")
    assert uploaded.data["stored_name"] == photo.stored_name and uploaded.actor_id == scene.chair

    stored = notice_photos.delete_photo(ctx, photo, scene.chair)
    ctx.commit()
    notice_photos.discard_photo_file(folder, stored)
    assert not list(folder.iterdir()) and ctx.scalar(sa.select(sa.func.count(NoticePhoto.id))) == 0
    assert _audit(ctx, "scoring.notice_photo.deleted")[0].data["original_name"] == "公示.php.jpg"


# --- through the pages: the public notice ----------------------------------------------------------


def test_public_notice_shows_a_published_round_to_anyone_and_404s_a_draft(app, scene, make_household, client):
    a = make_household(head_name="马春梅", phone="13912345678", address="金家湾村一社24号")
    make_household(head_name="魏建军")  # scores nothing
    published = _make_round(
        app, scene, "2026-11", {(a, "庭院整洁"): 1, (a, "参加志愿服务"): 2}, stop="notice"
    )
    draft = _make_round(app, scene, "2026-12", {(a, "庭院整洁"): 1}, stop="draft")
    in_review = _make_round(app, scene, "2027-01", {(a, "庭院整洁"): 1}, stop="submitted")

    response = client.get(f"/notice/{published.uuid}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    for text in (
        "测试村",
        "积分公示",
        "2026-11",
        "马春梅",
        "美丽庭院",
        "志愿服务",
        "+11",
        "公示时间",
        "如有异议",
    ):
        assert text in page, text
    assert "13912345678" not in page and "金家湾村一社24号" not in page
    assert "魏建军" not in page and "其余 1 户本期未得分" in page
    assert client.get(f"/notice/{draft.uuid}").status_code == 404
    assert client.get(f"/notice/{in_review.uuid}").status_code == 404
    assert client.get("/notice/not-a-round").status_code == 404

    listing = client.get("/notice").get_data(as_text=True)
    assert f"/notice/{published.uuid}" in listing
    assert draft.uuid not in listing and in_review.uuid not in listing


def test_finalised_rounds_leave_the_notice_list_after_a_while_but_keep_their_page(
    app, scene, make_household, client
):
    a = make_household()
    done = _make_round(app, scene, "2026-11", {(a, "庭院整洁"): 1})
    page = client.get(f"/notice/{done.uuid}").get_data(as_text=True)
    assert "积分已于" in page  # finalised: no more objections, points are on the cards
    assert done.uuid in client.get("/notice").get_data(as_text=True)
    clock.advance(timedelta(days=reports.RECENT_DAYS + 1))
    assert done.uuid not in client.get("/notice").get_data(as_text=True)
    assert client.get(f"/notice/{done.uuid}").status_code == 200


def test_honour_page_lists_households_in_rank_order(app, scene, make_household, client):
    low, high = (
        make_household(head_name="刘金花", group="一社"),
        make_household(head_name="金兴旺", group="二社"),
    )
    _make_round(app, scene, "2026-05", {(low, "庭院整洁"): 1, (high, "参加志愿服务"): 4})
    page = client.get("/honour?year=2026").get_data(as_text=True)
    assert "2026 年光荣榜" in page
    assert page.index("金兴旺") < page.index("刘金花")
    assert "12 分" in page and "第 2 名" in page
    by_group = client.get("/honour?year=2026&group=一社").get_data(as_text=True)
    assert "刘金花" in by_group and "金兴旺" not in by_group
    by_period = client.get("/honour?period=2026-05").get_data(as_text=True)
    assert "2026-05 光荣榜" in by_period and "金兴旺" in by_period


# --- through the pages: photos -------------------------------------------------------------------


def _uploads(app) -> Path:
    return Path(app.instance_path) / "uploads" / "notices"


def _photo_count(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count(NoticePhoto.id)))


def test_upload_refuses_a_non_image_and_an_oversized_photo_with_a_clear_message(app, scene, login_as):
    published = _make_round(app, scene, "2026-11", {}, stop="notice")
    chair = login_as("chair")
    url = f"/ledgers/rounds/{published.id}/photos"

    def upload(data: bytes, name: str) -> str:
        response = chair.post(
            url,
            data={"photo": (io.BytesIO(data), name), "posted_from": periods.today().isoformat()},
            content_type="multipart/form-data",
        )
        assert response.status_code == 422  # refused, said under the photo field
        return response.get_data(as_text=True)

    assert "不是 JPG、PNG 或 WebP 格式的照片" in upload(b"<?php echo 'hi'; ?>", "notice.jpg")
    big = _noise_png(1400)
    assert len(big) > images.MAX_PHOTO_BYTES
    page = upload(big, "notice.png")
    assert "照片超过 5 MB" in page
    assert "只支持 JPG、PNG、WebP 照片" in upload(_png(), "notice.txt")
    assert _photo_count(app) == 0
    assert not _uploads(app).exists() or not list(_uploads(app).iterdir())


def test_photo_is_served_to_village_staff_only_with_its_checked_type(app, scene, login_as):
    published = _make_round(app, scene, "2026-11", {}, stop="notice")
    chair = login_as("chair")
    response = chair.post(
        f"/ledgers/rounds/{published.id}/photos",
        data={
            "photo": (io.BytesIO(_png()), "公示栏.png"),
            "posted_from": periods.today().isoformat(),  # published today: the notice's first day
            "posted_until": (periods.today() + timedelta(days=3)).isoformat(),
        },
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert "已上传公示照片" in response.get_data(as_text=True)
    with app.app_context():
        photo = db.session.scalar(sa.select(NoticePhoto))
        photo_id, stored_name = photo.id, photo.stored_name
    assert stored_name.endswith(".png") and "公示栏" not in stored_name
    assert (_uploads(app) / stored_name).read_bytes() == _png()

    for client in (chair, login_as("panel")):
        served = client.get(f"/ledgers/photos/{photo_id}")
        assert served.status_code == 200 and served.data == _png()
        assert served.headers["Content-Type"] == "image/png"
        assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert login_as("shopkeeper").get(f"/ledgers/photos/{photo_id}").status_code == 403
    anonymous = app.test_client().get(f"/ledgers/photos/{photo_id}")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]

    assert chair.post(f"/ledgers/photos/{photo_id}/delete").status_code == 302
    assert _photo_count(app) == 0 and not (_uploads(app) / stored_name).exists()
    with app.app_context():
        assert _audit(db.session, "scoring.notice_photo.deleted")[0].actor_id == chair.user_id


# --- through the pages: minutes and workbooks ---------------------------------------------------


def test_chair_writes_the_minutes_from_a_prefilled_draft(app, scene, make_household, login_as):
    a = make_household()
    found = _make_round(app, scene, "2026-11", {(a, "庭院整洁"): 1}, stop="notice")
    chair = login_as("chair")
    draft = chair.get(f"/ledgers/rounds/{found.id}/minutes/edit").get_data(as_text=True)
    assert "共评定 1 户，加分合计 5 分" in draft
    response = chair.post(
        f"/ledgers/rounds/{found.id}/minutes/edit",
        data={
            "held_on": "2026-12-01",
            "place": "村委会会议室",
            "panel_present": [str(scene.panel[0]), str(scene.panel[1])],
            "others_present": "驻村干部李明",
            "decisions": "同意公示",
        },
    )
    assert response.status_code == 302
    page = chair.get(response.headers["Location"]).get_data(as_text=True)
    assert "村委会会议室" in page and "驻村干部李明" in page and "2026-12-01" in page
    with app.app_context():
        minutes = db.session.scalar(sa.select(MeetingMinutes))
        assert minutes.updated_by == chair.user_id
    _title, table = _table(chair.get(f"/ledgers/rounds/{found.id}/minutes.xlsx").data)
    assert {row["项目"]: row["内容"] for row in table}["地点"] == "村委会会议室"


def test_every_ledger_downloads_as_a_workbook_with_the_numbers_of_its_page(
    app, scene, make_household, login_as
):
    a = make_household(head_name="马春梅")
    found = _make_round(app, scene, "2026-11", {(a, "庭院整洁"): 1, (a, "参加志愿服务"): 1})
    chair = login_as("chair")
    chair.post(
        f"/ledgers/rounds/{found.id}/photos",
        data={"photo": (io.BytesIO(_jpeg()), "p.jpg")},
        content_type="multipart/form-data",
    )
    xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    downloads = {}
    for name in ("scores", "results", "photos"):
        response = chair.get(f"/ledgers/rounds/{found.id}/{name}.xlsx")
        assert response.status_code == 200 and response.mimetype == xlsx, name
        downloads[name] = response.data
    downloads["register"] = chair.get("/ledgers/register.xlsx?year=2026").data

    assert _table(downloads["scores"])[1][0]["合计"] == 8
    assert _table(downloads["results"])[1][0]["实记积分"] == 8
    assert [row["累计"] for row in _table(downloads["register"])[1]] == [0, 8]
    book = openpyxl.load_workbook(io.BytesIO(downloads["photos"]))
    assert len(book.active._images) == 1  # the photo itself, not only its dates
    page = chair.get("/ledgers/register?year=2026").get_data(as_text=True)
    assert "马春梅" in page and "上年结转" in page and "2026年11月 月评定" in page
    sheet = chair.get(f"/ledgers/rounds/{found.id}/scores").get_data(as_text=True)
    assert "马春梅" in sheet and "评分人签字" in sheet


# --- wall documents -------------------------------------------------------------------------------


def test_the_rules_poster_shows_what_is_in_force_and_leaves_out_what_is_not(app, scene, login_as):
    with committing(app) as session:
        [yard] = [c for c in criteria.categories(session, home_village(session).id) if c.id == scene.yard]
        stopped = next(k for k in yard.criteria if k.name == "乱堆乱放")
        data = {"name": "乱堆乱放", "points": -5, "cadence": "monthly", "active": False}
        criteria.save_criterion(session, yard, data, None, stopped)
        criteria.save_category(
            session, home_village(session).id, {"name": "已停的类别", "position": 9, "active": False}, None
        )
    page = login_as("panel").get("/ledgers/wall/rules")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "积分评定细则" in text and "公示 5 天" in text and "积分到期规则：一直有效" in text
    assert text.index("美丽庭院") < text.index("志愿服务")
    for shown in ("庭院整洁", "参加志愿服务", "+15", "季度"):
        assert shown in text
    assert "乱堆乱放" not in text and "已停的类别" not in text


def test_the_panel_poster_lists_the_active_members_with_their_groups(app, scene, login_as):
    with committing(app) as session:
        member = session.get(User, scene.panel[0])
        panels.set_panel_member(session, member, "群众代表", ["一社", "二社"], scene.chair)
        session.get(User, scene.panel[1]).active = False
        names = {uid: session.get(User, uid).display_name for uid in scene.panel}
    text = login_as("chair").get("/ledgers/wall/panel").get_data(as_text=True)
    assert "评分领导小组" in text and "2 名成员审核通过" in text
    assert names[scene.panel[0]] in text and "群众代表" in text and "一社、二社" in text
    assert names[scene.chair] in text and "全村" in text
    assert names[scene.panel[1]] not in text  # a disabled account is not on the wall
