"""The chair's settings page: county address and sync key kept in the database (the server's
configuration still wins, the key is shown only by its last 4 characters), backups downloaded, taken
now, and taken daily by the server — once a day however many processes ask — and pruned after N days.
Every change is audited."""

import gzip
import json
import re
import sqlite3
import threading
import time
from datetime import timedelta
from io import BytesIO

import pytest
import sqlalchemy as sa

from pointsmart import clock
from pointsmart.audit.models import AuditEntry
from pointsmart.county.bundles import import_bundle
from pointsmart.extensions import db
from pointsmart.settings import backups, services
from pointsmart.settings.models import BackupKind, BackupRun

from .conftest import committing
from .sync_support import CountyServer, county_totals, register, village_totals, workload

KEY = "pmk_Zs8Tq0uVw3xYAbCdEfGh-9a7Q"


def settings_form(**fields) -> dict:
    return {"county_url": "", "sync_key": "", "backup_daily": "y", "backup_keep_days": "14"} | fields


def audit(app, action: str) -> list[dict]:
    with app.app_context():
        rows = db.session.scalars(
            sa.select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        )
        return [row.data for row in rows]


def runs(app) -> list[tuple[str, bool | None]]:
    with app.app_context():
        return [(r.kind, r.ok) for r in db.session.scalars(sa.select(BackupRun).order_by(BackupRun.id))]


@pytest.mark.parametrize("role", ["panel", "shopkeeper"])
def test_only_the_chair_opens_the_settings(login_as, role):
    client = login_as(role)
    assert client.get("/settings/").status_code == 403
    assert client.post("/settings/", data=settings_form(county_url="http://x.test")).status_code == 403
    assert client.post("/settings/backup").status_code == 403
    assert client.get("/settings/backup/download").status_code == 403


def test_anonymous_visitors_are_sent_to_log_in(client):
    assert "/login" in client.get("/settings/").headers["Location"]


def test_the_chair_pastes_the_county_address_and_key_and_sees_only_its_last_4(app, login_as):
    chair = login_as("chair")
    response = chair.post(
        "/settings/", data=settings_form(county_url=" https://county.example.cn/ ", sync_key=f"  {KEY} ")
    )
    assert response.status_code == 302
    page = chair.get("/settings/").get_data(as_text=True)
    assert "已保存同步密钥（末4位 9a7Q）" in page and KEY not in page and KEY[:-4] not in page
    assert 'value="https://county.example.cn"' in page
    with app.app_context():
        link = services.county_link(db.session, app.config)
    assert (link.url, link.key, link.configured) == ("https://county.example.cn", KEY, True)
    (entry,) = audit(app, "settings.changed")
    assert sorted(entry["fields"]) == ["county_url", "sync_key"]
    assert entry["new"]["sync_key"] == "9a7Q" and KEY not in json.dumps(entry)

    # a blank key keeps the stored one; the same values again change nothing and audit nothing
    chair.post("/settings/", data=settings_form(county_url="https://county.example.cn"))
    assert len(audit(app, "settings.changed")) == 1
    with app.app_context():
        assert services.current(db.session).sync_key == KEY
    # a new key ending in the same 4 characters is still a change
    chair.post(
        "/settings/", data=settings_form(county_url="https://county.example.cn", sync_key="pmk_other9a7Q")
    )
    assert audit(app, "settings.changed")[-1]["fields"] == ["sync_key"]
    # and the key can be removed
    chair.post("/settings/", data=settings_form(county_url="https://county.example.cn", clear_key="y"))
    with app.app_context():
        assert services.current(db.session).sync_key == ""
    assert audit(app, "settings.changed")[-1]["new"]["sync_key"] == ""


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"county_url": "county.example.cn"}, "县里的地址"),
        ({"county_url": "ftp://county.example.cn"}, "县里的地址"),
        ({"county_url": "https://county\x00.cn"}, "县里的地址"),
        ({"sync_key": "pmk key with spaces"}, "同步密钥"),
        ({"sync_key": "short"}, "同步密钥"),
        ({"backup_keep_days": "0"}, "备份保留天数"),
        ({"backup_keep_days": "366"}, "备份保留天数"),
        ({"backup_keep_days": "两周"}, "备份保留天数"),
        ({"backup_keep_days": ""}, "备份保留天数"),
    ],
)
def test_bad_settings_are_refused_naming_the_field(app, login_as, fields, named):
    chair = login_as("chair")
    response = chair.post("/settings/", data=settings_form(**fields))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert named in page
    assert fields.get("sync_key", "\x01") not in page  # a pasted key is never shown back
    assert audit(app, "settings.changed") == []


def _banners(page: str) -> list[str]:
    return re.findall(r'<div class="flash flash-error"[^>]*>(.*?)</div>', page, re.S)


def _marked(page: str, name: str) -> list[str]:
    """The error lines inside the field (its <label>) holding the input called ``name``."""
    for label in re.findall(r'<label class="field has-error">(.*?)</label>', page, re.S):
        if f'name="{name}"' in label:
            return re.findall(r'<small class="error">(.*?)</small>', label, re.S)
    return []


@pytest.mark.parametrize(
    ("url", "form", "name", "label", "problem"),
    [
        pytest.param(  # PostgreSQL's page has no backup settings (it says to use pg_dump)
            "/settings/",
            settings_form(backup_keep_days="两周"),
            "backup_keep_days",
            "备份保留天数",
            "请填写一个整数",
            marks=pytest.mark.sqlite_only,
        ),
        pytest.param(
            "/settings/",
            settings_form(backup_keep_days="1.5"),
            "backup_keep_days",
            "备份保留天数",
            "请填写一个整数",
            marks=pytest.mark.sqlite_only,
        ),
        pytest.param(
            "/settings/",
            settings_form(backup_keep_days="0"),
            "backup_keep_days",
            "备份保留天数",
            "请填 1 到 365 之间的天数。",
            marks=pytest.mark.sqlite_only,
        ),
        ("/settings/", settings_form(county_url="county.example.cn"), "county_url", "县里的地址", None),
        (
            "/settings/points-rule",
            {"rule": "months", "months": "一年"},
            "months",
            "有效月数",
            "请填写一个整数",
        ),
    ],
)
def test_a_bad_field_is_marked_where_it_stands_under_one_banner(
    app, login_as, url, form, name, label, problem
):
    """Each refused field shows its one message under itself; the banner says only to fix what is marked
    (before: the banner said "备份保留天数：不是有效的整数。；请填 1 到 365 之间的天数", and the field
    both again)."""
    page = login_as("chair").post(url, data=form).get_data(as_text=True)
    assert _banners(page) == [f"请修改标出的项目：{label}。"]
    marked = _marked(page, name)
    assert len(marked) == 1, marked
    assert problem is None or marked[0].endswith("：" + problem), marked
    assert page.count('class="field has-error"') == 1


def test_a_bad_address_keeps_the_key_just_pasted_and_names_the_field_once(app, login_as):
    chair = login_as("chair")
    response = chair.post("/settings/", data=settings_form(county_url="county.example.cn", sync_key=KEY))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert f'value="{KEY}"' in page  # not to be pasted again
    assert "县里的地址：县里的地址" not in page and "县里的地址：" in page
    assert audit(app, "settings.changed") == []


def test_the_servers_configuration_wins_over_the_page(make_app, login_as):
    app = make_app(POINTSMART_COUNTY_URL="http://configured.test", POINTSMART_SYNC_KEY="pmk_fromconfigXYZW")
    with committing(app) as session:
        services.save_settings(
            session,
            None,
            county_url="http://pasted.test",
            sync_key=KEY,
            backup_daily=True,
            backup_keep_days=14,
        )
    with app.app_context():
        link = services.county_link(db.session, app.config)
    assert (link.url, link.key) == ("http://configured.test", "pmk_fromconfigXYZW")
    assert link.url_from_config and link.key_from_config


def test_the_server_configuration_notice_never_names_variables(app, login_as):
    app.config.update(POINTSMART_SYNC_KEY="pmk_fromconfigXYZW")
    page = login_as("chair").get("/settings/").get_data(as_text=True)
    assert "服务器已经设定了同步密钥（末4位 XYZW）" in page
    assert "POINTSMART" not in page and "pmk_fromconfig" not in page


# --- the sync page --------------------------------------------------------------------------------


def test_the_sync_page_without_a_key_says_what_to_do_in_chinese(login_as):
    page = login_as("chair").get("/sync/").get_data(as_text=True)
    assert "POINTSMART" not in page
    assert "还没有填写县里的地址和同步密钥" in page and 'href="/settings/"' in page
    assert "/sync/bundle" not in page and 'id="sync-push"' not in page


def test_a_key_from_the_settings_page_brings_the_usb_export_the_county_imports(
    app, county_app, make_user, make_household, login_as
):
    workload(app, make_user, make_household)
    key = register(county_app)
    chair = login_as("chair")
    chair.post("/settings/", data=settings_form(sync_key=key))
    page = chair.get("/sync/").get_data(as_text=True)
    assert 'href="/sync/bundle"' in page and "POINTSMART" not in page
    assert 'id="sync-push"' not in page  # no address yet: no push, but the USB export is there
    response = chair.get("/sync/bundle")
    assert response.status_code == 200 and response.mimetype == "application/gzip"
    with county_app.app_context():
        report = import_bundle(db.session, BytesIO(response.data))
        db.session.commit()
    assert report.applied == village_totals(app)["seq"]


def test_the_usb_export_is_there_when_only_the_configuration_has_a_key(app, login_as):
    app.config["POINTSMART_SYNC_KEY"] = KEY
    page = login_as("chair").get("/sync/").get_data(as_text=True)
    assert 'href="/sync/bundle"' in page
    gzip.decompress(login_as("chair").get("/sync/bundle").data)  # a whole bundle file


def test_a_push_uses_the_address_and_key_from_the_settings_page(
    app, county_app, make_user, make_household, login_as
):
    workload(app, make_user, make_household)
    key = register(county_app)
    county = CountyServer(county_app)
    try:
        chair = login_as("chair")
        chair.post("/settings/", data=settings_form(county_url=county.url, sync_key=key))
        assert 'id="sync-push"' in chair.get("/sync/").get_data(as_text=True)
        assert chair.post("/sync/push").status_code == 302
        deadline = time.monotonic() + 30
        while (progress := chair.get("/sync/progress").get_json())["running"]:
            assert time.monotonic() < deadline, progress
            time.sleep(0.05)
    finally:
        county.stop()
    assert progress["ok"] is True, progress
    assert county_totals(county_app) == village_totals(app)


# --- backups --------------------------------------------------------------------------------------


@pytest.mark.sqlite_only
def test_the_chair_downloads_a_consistent_backup(app, login_as, make_household):
    for n in range(3):
        make_household(points=10 + n)
    chair = login_as("chair")
    response = chair.get("/settings/backup/download")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment; filename=pointsmart-620123105299-")
    copy = app.instance_path + "/downloaded.sqlite3"
    with open(copy, "wb") as f:
        f.write(response.data)
    conn = sqlite3.connect(copy)
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert conn.execute("SELECT count(*) FROM household").fetchone() == (3,)
    conn.close()
    assert runs(app) == [(BackupKind.DOWNLOAD, True)]
    (entry,) = audit(app, "settings.backup.download")
    assert entry["size"] == len(response.data)
    assert not list(backups.folder(app).glob("*.sqlite3"))  # the temporary copy is gone
    assert "上次备份：" in chair.get("/").get_data(as_text=True)


@pytest.mark.postgresql_only
def test_on_postgresql_the_page_says_to_use_pg_dump(login_as):
    chair = login_as("chair")
    page = chair.get("/settings/").get_data(as_text=True)
    assert "pg_dump" in page and "/settings/backup/download" not in page
    response = chair.get("/settings/backup/download", follow_redirects=True)
    assert "pg_dump" in response.get_data(as_text=True)
    assert chair.post("/settings/backup", follow_redirects=True).status_code == 200


@pytest.mark.sqlite_only
def test_back_up_now_keeps_a_copy_on_the_server_and_audits_it(app, login_as):
    chair = login_as("chair")
    response = chair.post("/settings/backup", follow_redirects=True)
    assert "已备份" in response.get_data(as_text=True)
    (path,) = backups.folder(app).glob("pointsmart-*-manual.sqlite3")
    assert sqlite3.connect(path).execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert runs(app) == [(BackupKind.MANUAL, True)]
    assert audit(app, "settings.backup.manual")[0]["file"] == path.name


@pytest.mark.sqlite_only
def test_the_daily_backup_is_taken_once_a_day_and_old_ones_are_pruned(app, login_as):
    chair = login_as("chair")
    chair.post("/settings/", data=settings_form(backup_keep_days="2"))
    assert audit(app, "settings.changed")[-1]["new"] == {"backup_keep_days": 2}
    first = backups.run_due(app)
    assert first is not None and first.kind == BackupKind.AUTO
    assert backups.run_due(app) is None  # once a day
    names = []
    for _day in range(4):
        clock.advance(timedelta(days=1))
        run = backups.run_due(app)
        assert run is not None
        names.append(run.file_name)
    kept = sorted(p.name for p in backups.folder(app).glob("pointsmart-*.sqlite3"))
    assert kept == sorted(names[-2:])  # kept 2 days: today's and yesterday's (the one before is 48 h old)
    assert len(audit(app, "settings.backup.auto")) == 5
    page = chair.get("/").get_data(as_text=True)
    assert "上次备份：" in page and "（自动）" in page


@pytest.mark.sqlite_only
def test_no_daily_backup_when_the_chair_turned_it_off(app, login_as):
    login_as("chair").post("/settings/", data={"backup_keep_days": "14"})  # the box left unticked
    assert backups.run_due(app) is None
    assert runs(app) == []
    assert "每天自动备份已关闭" in login_as("chair").get("/").get_data(as_text=True)


@pytest.mark.sqlite_only
def test_several_processes_asking_at_once_take_one_daily_backup(app, make_app):
    others = [make_app() for _ in range(4)]  # like server processes: each its own app and engine
    barrier = threading.Barrier(len(others))
    taken, errors = [], []

    def ask(other):
        barrier.wait()
        try:
            taken.append(backups.run_due(other))
        except Exception as exc:  # noqa: BLE001  (the test reports it)
            errors.append(exc)

    threads = [threading.Thread(target=ask, args=(other,)) for other in others]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert len([run for run in taken if run is not None]) == 1
    assert runs(app) == [(BackupKind.AUTO, True)]
    assert len(list(backups.folder(app).glob("pointsmart-*.sqlite3"))) == 1


@pytest.mark.sqlite_only
def test_a_claim_left_by_a_dead_process_stops_blocking(app):
    with committing(app) as session:
        assert backups.claim(session, BackupKind.AUTO, None, only_if_due=True) is not None
    assert backups.run_due(app) is None  # someone is copying
    clock.advance(backups.STALE + timedelta(minutes=1))
    assert backups.run_due(app) is not None


@pytest.mark.sqlite_only
def test_the_scheduler_thread_takes_the_daily_backup(app):
    thread = backups.start_scheduler(app, every_s=3600)
    deadline = time.monotonic() + 30
    while not runs(app):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    thread.stop.set()
    thread.join(timeout=30)
    assert runs(app) == [(BackupKind.AUTO, True)]


@pytest.mark.sqlite_only
def test_the_cli_takes_the_daily_backup_when_due(app):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["backup", "--due"])
    assert first.exit_code == 0 and "backup written" in first.output
    assert "no backup due" in runner.invoke(args=["backup", "--due"]).output
