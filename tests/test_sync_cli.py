"""Sync as the chair and the county admin use it: the CLI, the chair's sync page, the demo county,
and a village upgraded with data starting its change log with everything it holds."""

import gzip
import json
import time

import httpx
import pytest
import sqlalchemy as sa

from pointsmart import ROOT
from pointsmart.county.models import SyncBatch, VillageLink
from pointsmart.extensions import db
from pointsmart.sync import wire
from pointsmart.sync.client import network_problem
from pointsmart.sync.models import ChangeRecord

from .conftest import VILLAGE_CODE
from .sync_support import CountyServer, batch_bodies, county_totals, post, village_totals, workload

TOWNSHIP = VILLAGE_CODE[:9] + "000"


def _add_village(county_app, code=VILLAGE_CODE, name="测试村") -> str:
    result = county_app.test_cli_runner().invoke(
        args=["county", "add-village", code, name, "--township", TOWNSHIP, "--township-name", "测试镇"]
    )
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()[-1]


def test_add_village_prints_a_key_that_works_until_rotated(app, county_app, make_user, make_household):
    workload(app, make_user, make_household)
    key = _add_village(county_app)
    assert key.startswith("pmk_") and len(key) > 40
    with county_app.app_context():
        stored = db.session.scalar(sa.select(VillageLink.key_hash))
        assert key not in stored  # only a hash is kept
    client = county_app.test_client()
    first = batch_bodies(app, 1, size=5)[0]
    assert post(client, key, first).status_code == 200
    again = county_app.test_cli_runner().invoke(
        args=["county", "add-village", VILLAGE_CODE, "测试村", "--township", TOWNSHIP]
    )
    assert again.exit_code != 0 and "已经登记过了" in again.output
    rotated = county_app.test_cli_runner().invoke(args=["county", "rotate-key", VILLAGE_CODE])
    assert rotated.exit_code == 0, rotated.output
    new_key = rotated.output.strip().splitlines()[-1]
    assert new_key != key
    assert post(client, key, first).status_code == 401
    assert post(client, new_key, first).get_json()["acked_seq"] == 5


def test_a_village_outside_its_township_is_refused(county_app):
    result = county_app.test_cli_runner().invoke(
        args=[
            "county",
            "add-village",
            "620123106201",
            "金崖村",
            "--township",
            TOWNSHIP,
            "--township-name",
            "测试镇",
        ]
    )
    assert result.exit_code != 0 and "不在乡镇" in result.output


def test_township_reviewer_from_the_cli(county_app):
    runner = county_app.test_cli_runner()
    args = ["users", "create", "hp", "--role", "county_reviewer", "--password", "review-pass-1", "--township"]
    assert runner.invoke(args=[*args, TOWNSHIP]).exit_code == 0
    admin = ["users", "create", "xy", "--role", "county_admin", "--password", "pass-word-1", "--township"]
    refused = runner.invoke(args=[*admin, TOWNSHIP])
    assert refused.exit_code != 0 and "只有县级审核员" in refused.output


def test_status_export_and_import_through_the_cli(app, county_app, make_user, make_household, tmp_path):
    workload(app, make_user, make_household)
    key = _add_village(county_app)
    app.config["POINTSMART_SYNC_KEY"] = key
    runner = app.test_cli_runner()
    status = runner.invoke(args=["sync", "status"])
    head = village_totals(app)["seq"]
    assert f"village: {VILLAGE_CODE}" in status.output
    assert "acknowledged: 0" in status.output and f"waiting: {head}" in status.output

    bundle = tmp_path / "sync.pmb"
    exported = runner.invoke(args=["sync", "export", str(bundle)])
    assert exported.exit_code == 0, exported.output
    assert f"records 1–{head}" in exported.output

    tampered = tmp_path / "tampered.pmb"
    data = gzip.decompress(bundle.read_bytes()).replace(b'"amount":3', b'"amount":4', 1)
    tampered.write_bytes(gzip.compress(data))
    county_cli = county_app.test_cli_runner()
    refused = county_cli.invoke(args=["sync", "import", str(tampered)])
    assert refused.exit_code != 0 and "签名不符" in refused.output
    truncated = tmp_path / "truncated.pmb"
    truncated.write_bytes(bundle.read_bytes()[: bundle.stat().st_size // 2])
    refused = county_cli.invoke(args=["sync", "import", str(truncated)])
    assert refused.exit_code != 0 and "文件不完整" in refused.output
    with county_app.app_context():
        assert db.session.scalar(sa.select(VillageLink.acked_seq)) == 0

    imported = county_cli.invoke(args=["sync", "import", str(bundle)])
    assert imported.exit_code == 0, imported.output
    assert f"{head} new, county now has up to {head}" in imported.output
    again = county_cli.invoke(args=["sync", "import", str(bundle)])
    assert f"0 new, county now has up to {head}" in again.output
    assert county_totals(county_app) == village_totals(app)


@pytest.fixture
def county_server(county_app):
    server = CountyServer(county_app)
    yield server
    server.stop()


def test_the_chair_pushes_from_the_sync_page_and_sees_progress(
    app, county_app, county_server, make_user, make_household, login_as
):
    workload(app, make_user, make_household)
    key = _add_village(county_app)
    chair = login_as("chair")
    page = chair.get("/sync/").get_data(as_text=True)
    assert "从未同步" in page and "还没有填写县里的地址" in page and "POINTSMART" not in page
    app.config.update(POINTSMART_COUNTY_URL=county_server.url, POINTSMART_SYNC_KEY=key)
    head = village_totals(app)["seq"]
    page = chair.get("/sync/").get_data(as_text=True)
    assert f'<strong id="sync-waiting">{head}</strong>' in page
    assert chair.post("/sync/push").status_code == 302
    deadline = time.monotonic() + 30
    while (progress := chair.get("/sync/progress").get_json())["running"]:
        assert time.monotonic() < deadline, progress
        time.sleep(0.05)
    assert progress["ok"] is True and progress["acked_seq"] == head, progress
    page = chair.get("/sync/").get_data(as_text=True)
    assert '<strong id="sync-waiting">0</strong>' in page and "从未同步" not in page
    assert county_totals(county_app) == village_totals(app)


def test_a_failed_push_is_shown_to_the_chair(app, county_app, make_user, make_household, login_as):
    workload(app, make_user, make_household)
    app.config.update(POINTSMART_COUNTY_URL="http://127.0.0.1:9", POINTSMART_SYNC_KEY="pmk_whatever")
    chair = login_as("chair")
    result = app.test_cli_runner().invoke(args=["sync", "push", "--attempts", "2"])
    assert result.exit_code != 0 and "连不上县里" in result.output
    page = chair.get("/sync/").get_data(as_text=True)
    assert "上次出错" in page and "连不上县里" in page


def test_the_chair_downloads_a_bundle_the_county_imports(
    app, county_app, make_user, make_household, login_as
):
    from io import BytesIO

    from pointsmart.county.bundles import import_bundle

    workload(app, make_user, make_household)
    key = _add_village(county_app)
    app.config["POINTSMART_SYNC_KEY"] = key
    response = login_as("chair").get("/sync/bundle")
    assert response.status_code == 200 and response.mimetype == "application/gzip"
    assert f"sync-{VILLAGE_CODE}-1-" in response.headers["Content-Disposition"]
    with county_app.app_context():
        report = import_bundle(db.session, BytesIO(response.data))
        db.session.commit()
    assert report.applied == village_totals(app)["seq"]
    assert county_totals(county_app) == village_totals(app)


def test_the_demo_county_fills_by_sync(county_app, tmp_path):
    seed = json.loads((ROOT.parent / "seed" / "county" / "county.json").read_text(encoding="utf-8"))
    seed["villages"] = [dict(v, households=6) for v in seed["villages"][:2]] + [
        dict(seed["villages"][3], households=5)
    ]
    seed["months"] = ["2026-09", "2026-10"]
    (tmp_path / "county.json").write_text(json.dumps(seed, ensure_ascii=False), encoding="utf-8")
    result = county_app.test_cli_runner().invoke(args=["demo", "--county-seed", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "demo county: 3 villages" in result.output
    with county_app.app_context():
        links = db.session.scalars(sa.select(VillageLink)).all()
        assert len(links) == 3
        received = dict(
            db.session.execute(
                sa.select(SyncBatch.village_id, sa.func.sum(SyncBatch.records)).group_by(SyncBatch.village_id)
            ).all()
        )
        for link in links:
            assert link.acked_seq > 0 and received[link.village_id] == link.acked_seq
            assert link.mismatch == ""
            assert link.transfer_count > 0
    silent = seed["villages"][2]["code"]
    with county_app.app_context():
        from pointsmart.clock import utcnow
        from pointsmart.org.models import Village

        last = db.session.scalar(
            sa.select(VillageLink.last_sync_at)
            .join(Village, Village.id == VillageLink.village_id)
            .where(Village.code == silent)
        )
        assert (utcnow() - last).days >= 9


@pytest.mark.sqlite_only
def test_an_upgraded_village_starts_its_change_log_with_everything(
    app, county_app, make_user, make_household
):
    from flask_migrate import downgrade, upgrade

    workload(app, make_user, make_household)
    before = village_totals(app)
    with app.app_context():
        downgrade(revision="0003")
        upgrade()
        rows = db.session.scalars(sa.select(ChangeRecord).order_by(ChangeRecord.seq)).all()
        digest = ""
        for row in rows:
            digest = wire.chain(digest, wire.record_bytes(row.seq, row.kind, row.uuid, row.payload.encode()))
            assert row.digest == digest
        kinds = {row.kind for row in rows}
        assert {"household", "category", "criterion", "round", "round_result", "transfer", "goods",
                "stock_move", "redemption"} <= kinds  # fmt: skip
        assert (
            rows[-1].transfer_count == before["transfers"] and rows[-1].balance_sum == before["balance_sum"]
        )
        db.session.remove()
    key = _add_village(county_app)
    client = county_app.test_client()
    for body in batch_bodies(app, 1, size=10):
        assert post(client, key, body).status_code == 200
    after = village_totals(app)
    assert county_totals(county_app) == after


def test_county_verify_recounts_every_village(app, county_app, make_user, make_household):
    from .sync_support import push_all

    workload(app, make_user, make_household)
    key = _add_village(county_app)
    push_all(app, county_app.test_client(), key, size=9)
    result = county_app.test_cli_runner().invoke(args=["county", "verify"])
    assert result.exit_code == 0, result.output
    assert "1 villages checked, 0 with differences" in result.output
    with county_app.app_context():
        link = db.session.scalar(sa.select(VillageLink))
        link.balance_sum += 1  # as if a transfer had been lost on the way
        db.session.commit()
    result = county_app.test_cli_runner().invoke(args=["county", "verify"])
    assert result.exit_code == 1 and "balance_sum: recount" in result.output


def test_a_county_address_that_does_not_resolve_is_said_in_chinese_without_the_systems_english():
    said = network_problem(httpx.ConnectError("[Errno -2] Name or service not known"))
    assert "找不到这个地址" in said and "Errno" not in said and "Name or service" not in said
    assert "没有应答" in network_problem(httpx.ConnectError("[Errno 111] Connection refused"))
    assert "太久没有回答" in network_problem(httpx.ReadTimeout("timed out"))
