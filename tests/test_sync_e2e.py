"""End to end: a village on SQLite and a county on PostgreSQL, two `pointsmart serve` processes on loopback.

Everything goes through the commands an installer would type and the HTTP a dashboard would call:
``db upgrade`` on both sides, ``demo`` at the village, ``county add-village`` at the county (its last
line is the village's sync key), a ``county_reviewer`` with an API token, the chair's API token; the
village keeps working through its API while it pushes with ``sync push``. The village's
``GET /api/v1/ledger/summary`` must then equal the county's ``GET /api/v1/county/villages``, twice (after
the first push and after an incremental one), and ``ledger verify`` / ``county villages`` agree.
"""

import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from pointsmart import create_app
from pointsmart.extensions import db

from . import _sync_process as proc
from ._sync_checks import assert_in_step

DEMO_CODE, DEMO_NAME, DEMO_TOWNSHIP, DEMO_TOWNSHIP_NAME = "620123105203", "金家湾村", "620123105000", "和平镇"
REVIEWER_PASSWORD = "county-review-2026"

#: the village's summary field → the county's field for the same figure
SAME = {
    "household_balance_sum": "household_balance_sum",
    "transfers": "transfers",
    "points_issued": "points_issued",
    "points_redeemed": "points_redeemed",
    "points_deducted": "points_deducted",
}


def _log_head(village_db: Path) -> int:
    connection = sqlite3.connect(village_db, timeout=15)
    try:
        return connection.execute("SELECT seq FROM outbox_head WHERE id = 1").fetchone()[0]
    finally:
        connection.close()


def _set_up_village(env: dict) -> str:
    """Migrate, load the demo, make the chair's API token; return the token."""
    proc.run(env, "db", "upgrade")
    loaded = proc.run(env, "demo").stdout
    assert f"demo village {DEMO_CODE} {DEMO_NAME}: 120 households" in loaded, loaded
    return proc.last_line(proc.run(env, "users", "token", "chair").stdout)


def _set_up_county(env: dict) -> tuple[str, str]:
    """Migrate, register the village, make a county reviewer; return the sync key and the reviewer's token."""
    proc.run(env, "db", "upgrade")
    added = proc.run(env, "county", "add-village", DEMO_CODE, DEMO_NAME, "--township", DEMO_TOWNSHIP,
                     "--township-name", DEMO_TOWNSHIP_NAME).stdout  # fmt: skip
    key = proc.last_line(added)
    assert key.startswith("pmk_"), added
    proc.run(env, "users", "create", "reviewer", "--role", "county_reviewer", "--password", REVIEWER_PASSWORD)
    return key, proc.last_line(proc.run(env, "users", "token", "reviewer").stdout)


def _compare(village: proc.Server, chair: str, county: proc.Server, reviewer: str, village_db: Path) -> dict:
    """The village's own summary equals what the county shows for it; return the summary."""
    summary = village.get("/api/v1/ledger/summary", chair)
    listed = county.get("/api/v1/county/villages", reviewer)["villages"]
    assert [row["code"] for row in listed] == [summary["village_code"]] == [DEMO_CODE]
    row = listed[0]
    assert {ours: summary[ours] for ours in SAME} == {ours: row[theirs] for ours, theirs in SAME.items()}
    assert row["mismatch"] == []
    assert (row["reported_balance_sum"], row["reported_transfer_count"]) == (
        summary["household_balance_sum"],
        summary["transfers"],
    )
    assert row["acked_seq"] == _log_head(village_db)
    assert row["last_sync_at"] is not None
    assert summary["household_balance_sum"] > 0 and summary["transfers"] > 0
    return summary


def _award(village: proc.Server, chair: str, household: dict, points: int) -> None:
    answer = village.post(
        f"/api/v1/households/{household['uuid']}/adjustments",
        chair,
        {"points": points, "reason": "端到端测试"},
    )
    assert answer["balance"] == household["balance"] + points
    household["balance"] = answer["balance"]


@pytest.mark.postgresql_only
def test_a_village_on_sqlite_pushes_to_a_county_on_postgresql_over_http(tmp_path, monkeypatch):
    monkeypatch.setenv("POINTSMART_INSTANCE", str(tmp_path / "test-instance"))  # for the apps made here
    village_db = tmp_path / "village.sqlite3"
    with proc.pg_schema("pm_sync_e2e") as county_url:
        county_env = proc.environment(tmp_path / "county-instance", county_url, POINTSMART_MODE="county")
        village_env = proc.environment(tmp_path / "village-instance", f"sqlite:///{village_db}")
        with ThreadPoolExecutor(2) as pool:  # the two sides are set up by different people anyway
            village_setup = pool.submit(_set_up_village, village_env)
            county_setup = pool.submit(_set_up_county, county_env)
            chair = village_setup.result(timeout=120)
            key, reviewer = county_setup.result(timeout=120)

        county_port, village_port = proc.free_port(), proc.free_port()
        village_env |= {
            "POINTSMART_COUNTY_URL": f"http://127.0.0.1:{county_port}",
            "POINTSMART_SYNC_KEY": key,
        }
        county = proc.Server(county_env, county_port, tmp_path / "county.log")
        village = proc.Server(village_env, village_port, tmp_path / "village.log")
        try:
            county.launch()
            village.launch()
            county.wait_ready()
            village.wait_ready()
            [before] = county.get("/api/v1/county/villages", reviewer)["villages"]
            assert (before["acked_seq"], before["transfers"], before["last_sync_at"]) == (0, 0, None)

            # the chair works through the village's API: two awards and a deduction
            households = village.get("/api/v1/households?per_page=50", chair)["items"]
            richest = max(households, key=lambda h: h["balance"])
            assert richest["balance"] >= 3
            for household, points in ((households[0], 5), (households[1], 8), (richest, -3)):
                _award(village, chair, household, points)

            first = proc.run(village_env, "sync", "push", "--batch-size", "100", timeout=60)
            pushed = proc.push_summary(first.stdout)
            head = _log_head(village_db)
            assert (pushed["records"], pushed["acked"], pushed["waiting"]) == (head, head, 0), first.stdout
            assert pushed["batches"] == -(-head // 100)
            summary = _compare(village, chair, county, reviewer, village_db)

            # more work, then an incremental push: only the new records travel
            _award(village, chair, households[2], 4)
            _award(village, chair, richest, -1)
            second = proc.push_summary(proc.run(village_env, "sync", "push", timeout=60).stdout)
            assert (second["records"], second["batches"]) == (2, 1)
            again = _compare(village, chair, county, reviewer, village_db)
            assert again["transfers"] == summary["transfers"] + 2
            assert again["household_balance_sum"] == summary["household_balance_sum"] + 3
        finally:
            county.kill()
            village.kill()

        status = proc.run(village_env, "sync", "status").stdout
        final_head = _log_head(village_db)
        assert f"acknowledged: {final_head}" in status and "waiting: 0" in status, status
        assert "last error" not in status
        verified = proc.run(village_env, "ledger", "verify").stdout
        assert verified.strip().endswith("ledger OK"), verified
        listed = proc.run(county_env, "county", "villages").stdout
        assert f"seq {final_head:>8}" in listed and listed.strip().endswith("ok"), listed

        # and the proof in full, from both databases: recount, receipts, every transfer and balance
        apps = [
            create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{village_db}", "TESTING": True}),
            create_app({"SQLALCHEMY_DATABASE_URI": county_url, "TESTING": True, "POINTSMART_MODE": "county"}),
        ]
        try:
            assert_in_step(*apps, DEMO_CODE)
        finally:
            for app in apps:
                with app.app_context():
                    db.session.remove()
                    db.engine.dispose()
