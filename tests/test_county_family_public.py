"""What a family reaches at the county once its card opens there: the notice under way (whose scores
stay in the village until the round is finalised), its village's public accounts (三务公开) as the
county rebuilds them beside the village's hash, the claims at the village's LAN address, and who
closed the month. Runs on the suite's database (SQLite or PostgreSQL) for village and county."""

import io
import json
import re
from datetime import timedelta

import httpx
import pytest
import sqlalchemy as sa

from pointsmart import clock
from pointsmart.auth.models import User
from pointsmart.cards import services as cards
from pointsmart.cards.services import mask_name
from pointsmart.county.bundles import import_bundle
from pointsmart.county.closes import CountyMonth
from pointsmart.county.models import SyncedMonthClose, VillageLink
from pointsmart.extensions import db
from pointsmart.households.models import Household
from pointsmart.months.guard import close_of
from pointsmart.org.services import home_village
from pointsmart.sync.bundle import export_bundle
from pointsmart.sync.client import push, village_address

from .conftest import VILLAGE_CODE
from .sync_support import push_all, register
from .test_month_close import MONTH, close, worked  # noqa: F401  (the month's work, as a fixture)

LAN = "http://192.168.1.20:8000"


def _push(app, county_app, key: str, village_url: str | None = None) -> None:
    transport = httpx.WSGITransport(app=county_app)
    with httpx.Client(transport=transport, base_url="http://county") as client, app.app_context():
        push(db.session, "http://county", key, client=client, village_url=village_url)


def _section(text: str, start: str, end: str) -> str:
    return text.split(start, 1)[1].split(end, 1)[0]


def _round_on_notice(app, make_user, household_id: int) -> str:
    """A December round, scored (+3 for the household), approved and published: on notice."""
    from pointsmart.scoring import criteria, panels, score_entry, workflow

    panel = [make_user("panel")[0], make_user("panel")[0]]
    chair = make_user("chair")[0]
    with app.app_context():
        session = db.session
        members = [session.get(User, i) for i in panel]
        for member in members:
            panels.set_panel_member(session, member, "执委", [], None)
        village = home_village(session)
        tidy = criteria.save_category(session, village.id, {"name": "环境卫生"}, None)
        criteria.save_criterion(session, tidy, {"name": "门前三包", "points": 3, "cadence": "monthly"}, None)
        found = workflow.create_round(session, village, "monthly", "2026-12", "", None)
        score_entry.set_score(session, found, household_id, found.criteria[0].id, 1, members[0])
        workflow.submit_round(session, found, session.get(User, chair))
        for member in members:
            workflow.approve_round(session, found, member)
        workflow.publish_round(session, found, None)
        session.commit()
        return found.uuid


def test_a_round_on_notice_sends_the_family_to_the_villages_notice_never_says_it_scored_nothing(
    app, county_app, make_user, make_household
):
    household_id = make_household(points=5)
    with app.app_context():
        card = cards.issue_card(db.session, db.session.get(Household, household_id), None)
        db.session.commit()
        token, household_no = card.token, db.session.get(Household, household_id).household_no
    round_uuid = _round_on_notice(app, make_user, household_id)
    # the village's notice shows the household's +3 while the round is on notice
    village_notice = app.test_client().get(f"/notice/{round_uuid}?q={household_no}").get_data(as_text=True)
    assert household_no in village_notice and "+3" in village_notice
    key = register(county_app)
    _push(app, county_app, key)  # a push that does not know the village's address

    county = county_app.test_client()
    notice = _section(county.get(f"/c/{token}").get_data(as_text=True), "积分公示</h2>", "光荣榜")
    assert "2026年12月 月评定" in notice and "公示中" in notice
    assert "本期我家没有得分" not in notice  # the county has no scores under notice: it must not claim none
    assert "公示中的得分请看村里的公示栏" in notice and 'id="notice-at-village"' not in notice
    listed = county.get("/notice").get_data(as_text=True)
    assert "目前没有正在公示的评定" not in listed
    assert "测试村" in listed and "2026年12月 月评定" in listed and "得分请看村里的公示栏" in listed

    # once a push has told the county the village's LAN address, both pages link to its notice
    app.config["POINTSMART_BASE_URL"] = LAN
    make_household()  # something new to send
    _push(app, county_app, key, village_address(app.config))
    page = county.get(f"/c/{token}")
    notice = _section(page.get_data(as_text=True), "积分公示</h2>", "光荣榜")
    assert f'href="{LAN}/notice/{round_uuid}?q={household_no}"' in notice
    assert "看村里的公示（需连上村里的 Wi‑Fi）" in notice
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert f'href="{LAN}/notice/{round_uuid}"' in county.get("/notice").get_data(as_text=True)

    # finalised, the results reach the county with the round: the household's line is shown there
    with app.app_context():
        from pointsmart.scoring import finalisation
        from pointsmart.scoring.models import ScoringRound

        clock.advance(timedelta(days=8))
        found = db.session.scalar(sa.select(ScoringRound).where(ScoringRound.uuid == round_uuid))
        assert finalisation.finalise_round(db.session, found, None)
        db.session.commit()
    _push(app, county_app, key, village_address(app.config))
    notice = _section(county.get(f"/c/{token}").get_data(as_text=True), "积分公示</h2>", "光荣榜")
    assert "本期我家得分：+3" in notice and "公示中的得分" not in notice


def test_the_county_page_links_claims_to_the_village_and_says_so_honestly_without_its_address(
    app, county_app, make_household
):
    household_id = make_household(points=3)
    with app.app_context():
        token = cards.issue_card(db.session, db.session.get(Household, household_id), None).token
        db.session.commit()
    key = register(county_app)
    _push(app, county_app, key)
    claims = _section(
        county_app.test_client().get(f"/c/{token}").get_data(as_text=True), 'id="claims"', "</section>"
    )
    # the card's QR code now opens the county: "scan the card on the village Wi-Fi" would lead back here
    assert "扫卡上的二维码" not in claims and "请带上这张卡到村积分超市" in claims and "<a " not in claims
    app.config["POINTSMART_BASE_URL"] = LAN + "/"
    make_household()
    _push(app, county_app, key, village_address(app.config))
    claims = _section(
        county_app.test_client().get(f"/c/{token}").get_data(as_text=True), 'id="claims"', "</section>"
    )
    assert f'href="{LAN}/c/{token}#claims"' in claims and "需连上村里的 Wi‑Fi" in claims
    assert 'rel="noopener noreferrer"' in claims
    # and the address the link names is the village's own card page, where claims are made
    assert app.test_client().get(f"/c/{token}").status_code == 200


def test_a_bundle_tells_the_county_the_villages_address_as_a_push_does(app, county_app, make_household):
    make_household(points=3)
    key = register(county_app)
    app.config["POINTSMART_BASE_URL"] = LAN
    out = io.BytesIO()
    with app.app_context():
        export_bundle(db.session, VILLAGE_CODE, key, out, village_url=village_address(app.config))
    with county_app.app_context():
        import_bundle(db.session, io.BytesIO(out.getvalue()))
        db.session.commit()
        assert db.session.scalars(sa.select(VillageLink.village_url)).one() == LAN


@pytest.mark.usefixtures("worked")
def test_the_county_publishes_each_villages_closed_months_as_it_rebuilds_them(app, county_app, login_as):
    chair = login_as("chair")
    assert close(chair).status_code == 302
    with app.app_context():
        closed = close_of(db.session, home_village(db.session).id, MONTH)
        village_sha, figures = closed.sha256, json.loads(closed.figures)
        closer = db.session.get(User, closed.closed_by).display_name
        household = db.session.scalars(sa.select(Household).order_by(Household.id)).first()
        token = cards.active_card(db.session, household.id).token
        names = list(db.session.scalars(sa.select(Household.head_name)))
    key = register(county_app)
    push_all(app, county_app.test_client(), key)
    county = county_app.test_client()

    # the family's page links to its village's accounts
    card_page = county.get(f"/c/{token}").get_data(as_text=True)
    assert f'href="/accounts/{VILLAGE_CODE}/"' in card_page
    index = county.get("/accounts/").get_data(as_text=True)
    assert "还没有月结的月份" not in index and f'href="/accounts/{VILLAGE_CODE}/"' in index
    months = county.get(f"/accounts/{VILLAGE_CODE}/").get_data(as_text=True)
    assert f'href="/accounts/{VILLAGE_CODE}/{MONTH}"' in months and "2026年11月" in months
    # an address without the village (as at the village) lists the villages that closed that month
    assert f'href="/accounts/{VILLAGE_CODE}/{MONTH}"' in county.get(f"/accounts/{MONTH}").get_data(
        as_text=True
    )

    page = county.get(f"/accounts/{VILLAGE_CODE}/{MONTH}")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert f'data-hash="village">{village_sha}<' in text and f'data-hash="county">{village_sha}<' in text
    assert "一致：下面的数字就是村里月结时冻结的账目" in text
    assert f'data-figure="issued">{figures["points"]["issued"]}<' in text
    assert f'data-figure="redeemed">{figures["points"]["redeemed"]}<' in text
    assert "洗衣粉" in text  # goods named from the synced goods
    assert f'id="closer">{closer}<' in text
    assert not [n for n in names if n in text]  # no household named
    # a month the village has not closed, a malformed month, an unknown village, the figures file
    assert "还没有月结" in county.get(f"/accounts/{VILLAGE_CODE}/2026-10").get_data(as_text=True)
    assert county.get(f"/accounts/{VILLAGE_CODE}/2026-1").status_code == 404
    assert county.get(f"/accounts/620123999999/{MONTH}").status_code == 404
    assert county.get(f"/accounts/{MONTH}.json").status_code == 404
    # the village's own accounts are unchanged, and have no county addresses
    assert app.test_client().get(f"/accounts/{VILLAGE_CODE}/").status_code == 404
    assert village_sha in app.test_client().get(f"/accounts/{MONTH}").get_data(as_text=True)

    # the county's month book and village page name who closed the month
    with county_app.app_context():
        synced = db.session.scalars(sa.select(SyncedMonthClose)).one()
        assert synced.closed_by_name == closer
        from pointsmart.auth.services import create_user

        create_user(db.session, "county-reader", "county_reviewer", "correct-horse-42")
        db.session.commit()
    reader = county_app.test_client()
    reader.post("/login", data={"username": "county-reader", "password": "correct-horse-42"})
    book = reader.get(f"/county/villages/{VILLAGE_CODE}/book/{MONTH}").get_data(as_text=True)
    assert f'id="closer">{closer}<' in book and "月结人编号" not in book
    village_page = reader.get(f"/county/villages/{VILLAGE_CODE}").get_data(as_text=True)
    assert f'class="closer">{closer}<' in village_page


@pytest.mark.parametrize(
    ("name", "uuid", "shown"),
    [
        ("王芳", "d66777e4-0000", "王芳"),
        ("", "d66777e4-0000", "编号 d66777e4（村里没有同步姓名）"),
        ("", None, ""),
    ],
)
def test_a_close_without_the_closers_name_says_it_shows_an_id(name, uuid, shown, app):
    with app.test_request_context():
        assert CountyMonth(MONTH, "", closed_by=uuid, closed_by_name=name).closer == shown


def test_the_county_serves_http_alone_unless_https_is_asked_for(app, county_app, monkeypatch):
    """`make run` passes HTTPS_PORT empty unless given: the county then serves plain HTTP alone (no
    village CA, no port 8443 taken beside a village), the village HTTPS on 8443."""
    import subprocess
    from pathlib import Path

    from pointsmart.cli import serve

    root = Path(__file__).resolve().parent.parent
    env = {"PATH": "/usr/bin:/bin", "POINTSMART_MODE": "county", "PORT": "8001"}
    dry = subprocess.run(
        ["make", "-s", "-n", "-o", "install", "run"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "PORT=8001 HTTPS_PORT= " in dry
    monkeypatch.setenv("HTTPS_PORT", "")  # as the recipe passes it
    assert serve.https_port_for(county_app, None) == 0
    assert serve.https_port_for(app, None) == 8443
    monkeypatch.setenv("HTTPS_PORT", "9443")
    assert serve.https_port_for(county_app, None) == 9443


def _honour_entries(page: str) -> list[tuple[str, str, str, str]]:
    """(rank, name, 户号, points) of each line of an honour list, in order."""
    found = re.findall(
        r'<span class="rank">([^<]*)</span>\s*<span class="who"><strong class="hh-name">([^<]*)</strong>'
        r'\s*<small class="muted"><span class="hh-no">([^<]*)</span>.*?<span class="points">([^<]*)</span>',
        page,
        re.S,
    )
    return [tuple(x.strip() for x in row) for row in found]


@pytest.mark.usefixtures("worked")
def test_the_countys_honour_roll_shows_each_villages_roll_from_what_it_synced(app, county_app):
    """The county's /honour read its own village tables (empty at a county) and showed nothing: it lists
    the synced village's roll — the same ranks, 户号 and points as the village's own roll, names masked
    as on the county's card page."""
    village_roll = _honour_entries(app.test_client().get("/honour").get_data(as_text=True))
    assert len(village_roll) >= 3
    key = register(county_app)
    _push(app, county_app, key)
    page = county_app.test_client().get("/honour")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "测试村" in text and f'data-village="{VILLAGE_CODE}"' in text
    county_roll = _honour_entries(text)
    assert county_roll == [(rank, mask_name(name), no, points) for rank, name, no, points in village_roll]
    assert all(name not in text for _rank, name, _no, _points in village_roll if len(name) > 1)


def _figure_rows(page: str, table: str) -> list[list[str]]:
    """A figures table's rows, body then footer, each as its cells' text."""
    body = page.split(f'class="ledger wall-table {table}"')[1].split("</table>")[0]
    rows = []
    for row in re.findall(r"<tr>(.*?)</tr>", body.split("</thead>")[1], re.S):
        cells = re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)
        rows.append([re.sub(r"<[^>]+>", "", c).strip() for c in cells])
    return rows


@pytest.mark.usefixtures("worked")
def test_the_village_and_the_county_show_a_synced_closed_month_in_the_same_figures_tables(
    app, county_app, login_as
):
    chair = login_as("chair")
    assert close(chair).status_code == 302
    with app.app_context():
        names = list(db.session.scalars(sa.select(Household.head_name)))
        rounds = len(json.loads(close_of(db.session, home_village(db.session).id, MONTH).figures)["rounds"])
    key = register(county_app)
    push_all(app, county_app.test_client(), key)
    village = app.test_client().get(f"/accounts/{MONTH}").get_data(as_text=True)
    county = county_app.test_client().get(f"/accounts/{VILLAGE_CODE}/{MONTH}").get_data(as_text=True)
    assert 'data-hash="county"' in county and "一致：" in county

    goods = _figure_rows(village, "accounts-goods-table")
    # each goods item with its opening stock, then the totals row (the county has no shelf order: the
    # goods by name there)
    assert sorted(row[0] for row in goods[:-1]) == ["毛巾", "洗衣粉"] and goods[-1][0] == "合计"
    assert all(row[1] != "—" for row in goods)
    rebuilt = _figure_rows(county, "accounts-goods-table")
    assert sorted(rebuilt[:-1]) == sorted(goods[:-1]) and rebuilt[-1] == goods[-1]
    categories = _figure_rows(village, "accounts-categories")
    assert categories[-1][0] == "合计" and _figure_rows(county, "accounts-categories") == categories
    for name in ("issued", "redeemed", "deducted", "expired"):
        shown = re.search(rf'data-figure="{name}">(-?\d+)<', village)[1]
        assert f'data-figure="{name}">{shown}<' in county
    said = re.search(r"本月评定 (\d+) 次，\d+ 户得到评定结果；兑换 \d+ 次，撤销 \d+ 次。", village)
    assert int(said[1]) == rounds and said[0] in county
    assert "不含余额不足未扣的部分" in village and "不含余额不足未扣的部分" in county
    # the donors are traced at the village; the county says where they are
    assert "三、爱心捐赠和去向" in village and 'class="donor-board"' in village
    assert "三、爱心捐赠和去向" not in county and 'class="donor-board"' not in county
    assert "爱心捐赠的去向在村里的爱心榜和村里公开的账目上" in county
    assert not [n for n in names if n in county]  # no household named
