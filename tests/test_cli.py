"""The `pointsmart` command: users, tokens, roster import/export, ledger verify, backup, demo."""

import io
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import openpyxl
import pytest
import sqlalchemy as sa

from pointsmart import create_app
from pointsmart.extensions import db
from pointsmart.households.models import Household
from pointsmart.ledger.models import Account

from .test_roster import ROWS, xlsx

SEED = Path(__file__).resolve().parents[1] / "seed" / "demo"


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def test_help_lists_every_command():
    script = Path(sys.executable).parent / "pointsmart"  # the installed console script
    out = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60)
    for command in ("db", "demo", "users", "households", "ledger", "backup", "serve", "run", "tls"):
        assert f"  {command}" in out.stdout, out.stdout + out.stderr


def test_run_is_ours_not_flasks_development_server(monkeypatch, capsys, tmp_path):
    import runpy

    monkeypatch.setenv("POINTSMART_INSTANCE", str(tmp_path))
    monkeypatch.setattr(sys, "argv", ["pointsmart", "run", "--help"])
    with pytest.raises(SystemExit) as exit_:  # python -m pointsmart: the same group as the script
        runpy.run_module("pointsmart", run_name="__main__")
    out = capsys.readouterr().out
    assert exit_.value.code == 0
    assert "Migrate, load the demo" in out and "--port" in out
    assert "development server" not in out and "--reload" not in out


def test_users_create_and_token(app, runner):
    result = runner.invoke(
        args=["users", "create", "liu", "--role", "shopkeeper", "--password", "shop-pass-123"]
    )
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["users", "token", "liu"])
    assert result.exit_code == 0
    token = result.output.strip().splitlines()[-1]
    response = app.test_client().get("/api/v1/households", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200


def test_users_create_refuses_a_weak_password(runner):
    result = runner.invoke(args=["users", "create", "liu", "--role", "chair", "--password", "short"])
    assert result.exit_code != 0 and "密码至少需要 8 个字符" in result.output


def test_households_import_and_export(app, runner, tmp_path):
    source = tmp_path / "名册.xlsx"
    source.write_bytes(xlsx(ROWS))
    dry = runner.invoke(args=["households", "import", str(source), "--dry-run"])
    assert "3 to add" in dry.output and "nothing written" in dry.output
    result = runner.invoke(args=["households", "import", str(source)])
    assert result.exit_code == 0 and "imported" in result.output
    again = runner.invoke(args=["households", "import", str(source)])
    assert "0 to add, 0 to change, 3 unchanged" in again.output
    out = tmp_path / "out.xlsx"
    assert runner.invoke(args=["households", "export", str(out)]).exit_code == 0
    sheet = openpyxl.load_workbook(out).active
    assert sheet.max_row == 4 and sheet["B2"].value == "王建国"


def test_households_import_with_bad_rows_fails_and_writes_nothing(app, runner, tmp_path):
    source = tmp_path / "bad.xlsx"
    source.write_bytes(xlsx(ROWS + [["01-001", "重复", "", "", "", "", ""]]))
    result = runner.invoke(args=["households", "import", str(source)])
    assert result.exit_code == 1
    assert "第 5 行：户号 01-001 重复" in result.output
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Household.id))) == 0


def test_ledger_verify_passes_then_fails_on_a_tampered_balance(app, runner, make_household):
    hid = make_household(points=30)
    ok = runner.invoke(args=["ledger", "verify"])
    assert ok.exit_code == 0 and "ledger OK" in ok.output and "sum of all balances: 0" in ok.output
    with app.app_context():
        account_id = db.session.get(Household, hid).account_id
        db.session.execute(sa.update(Account).where(Account.id == account_id).values(balance=31))
        db.session.commit()
    bad = runner.invoke(args=["ledger", "verify"])
    assert bad.exit_code == 1 and "cached 31, transfers say 30" in bad.output


def test_demo_loads_once_and_prints_log_ins(app, runner):
    first = runner.invoke(args=["demo"])
    assert first.exit_code == 0, first.output
    assert "120 added now" in first.output and "demo-chair-2026" in first.output
    second = runner.invoke(args=["demo"])
    assert "0 added now" in second.output
    with app.app_context():
        from pointsmart.ledger.services import verify

        counts = db.session.execute(
            sa.select(sa.func.count(Household.id), sa.func.count(sa.distinct(Household.group)))
        ).one()
        report = verify(db.session)
    assert counts == (120, 5)
    # 95 opening balances, last month's awards and its exchange day: posted once, not twice
    assert report.ok and report.transfers == 415


def test_demo_if_empty_leaves_a_real_village_alone(app, runner):
    # the test app already has a (non-demo) village
    result = runner.invoke(args=["demo", "--if-empty"])
    assert "demo not loaded" in result.output
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Household.id))) == 0


@pytest.mark.sqlite_only
def test_backup_while_serving_restores_to_a_verified_copy(app, runner, make_household, tmp_path):
    for n in range(5):
        make_household(points=10 + n)
    stop = threading.Event()

    def keep_writing():  # the shop keeps working during the backup
        from pointsmart.households.services import adjust_points, get_household

        while not stop.is_set():
            with app.app_context():
                adjust_points(db.session, get_household(db.session, 1), 1, "backup 期间", None)
                db.session.commit()

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        target = tmp_path / "backup.sqlite3"
        result = runner.invoke(args=["backup", str(target)])
    finally:
        stop.set()
        writer.join(timeout=30)
    assert result.exit_code == 0, result.output
    assert sqlite3.connect(target).execute("PRAGMA integrity_check").fetchone() == ("ok",)
    restored = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{target}", "TESTING": True})
    verify = restored.test_cli_runner().invoke(args=["ledger", "verify"])
    assert verify.exit_code == 0 and "ledger OK" in verify.output
    with restored.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Household.id))) == 5
        db.engine.dispose()
    assert runner.invoke(args=["backup", str(target)]).exit_code != 0  # never overwrites


def test_backup_refuses_postgresql_with_advice(app, runner, database, tmp_path):
    if database[0] != "postgresql":
        assert runner.invoke(args=["backup", str(tmp_path / "b.sqlite3")]).exit_code == 0
        return
    result = runner.invoke(args=["backup", str(tmp_path / "b.sqlite3")])
    assert result.exit_code != 0 and "pg_dump" in result.output


def test_export_file_is_readable_by_excel_users(app, runner, make_household, tmp_path):
    make_household(head_name="王建国", phone="13912345678")
    out = tmp_path / "x.xlsx"
    runner.invoke(args=["households", "export", str(out)])
    book = openpyxl.load_workbook(io.BytesIO(out.read_bytes()))
    sheet = book.active
    assert sheet.freeze_panes == "A2" and sheet["D2"].value == "13912345678"


def test_the_demo_county_builds_from_its_villages_pushes(county_app):
    """`pointsmart demo` in county mode: each seeded village lives its months (receipts, rounds, sales,
    on the demo's own dates) and pushes; every village arrives, and a second run leaves them alone."""
    from pointsmart.county.models import SyncedTransfer, VillageLink

    runner = county_app.test_cli_runner()
    built = runner.invoke(args=["demo"])
    assert built.exit_code == 0, built.output
    assert "5 villages" in built.output and "demo-county-2026" in built.output
    with county_app.app_context():
        villages = db.session.scalar(sa.select(sa.func.count(VillageLink.village_id)))
        transfers = db.session.scalar(sa.select(sa.func.count(SyncedTransfer.id)))
        pushed = db.session.scalars(sa.select(VillageLink.acked_seq)).all()
    assert villages == 5 and transfers > 1000 and all(seq > 0 for seq in pushed), pushed
    again = runner.invoke(args=["demo", "--if-empty"])
    assert again.exit_code == 0 and "demo county not loaded" in again.output
