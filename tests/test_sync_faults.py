"""Sync under faults (issue 5, "Proof"): whatever goes wrong on the way, the county ends equal to the village.

Every test ends with :func:`_sync_checks.assert_in_step`: ``ledger verify`` clean at the village; at
the county the running totals equal a recount of the synced transfers with no mismatch; county totals
and acknowledged sequence equal the village's totals and log head; the county's receipts tile
1..head (each record applied exactly once); the synced transfers, every household's balance and the
monthly rollups are the village's.

In one process (both databases): the county app sits behind an httpx transport that can lose
answers, refuse connections or "kill" the pushing process at a chosen request; batches are posted by
hand twice, concurrently and out of order; bundles are exported, altered and imported through the
CLI. In real processes (PostgreSQL pass): ``pointsmart serve`` as the county and ``pointsmart sync
push`` as the village, SIGKILLed mid-push — the push, then the county server.

Two tests came from bugs found while writing these, since fixed: a non-JSON 200 answer (a Wi-Fi log-in
page) must be a push failure the chair can read, and a village restored from a backup must not be
taken for in step with the county (the county answers with its digest; the village compares).
"""

import gzip
import random
import re
import shutil
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from flask_migrate import upgrade

from pointsmart import clock, create_app
from pointsmart.extensions import db
from pointsmart.households.models import Household
from pointsmart.households.services import adjust_points
from pointsmart.ledger import services as ledger
from pointsmart.ledger.models import AccountKind
from pointsmart.sync import batches
from pointsmart.sync.bundle import export_bundle
from pointsmart.sync.client import PushError, PushReport
from pointsmart.sync.client import push as client_push

from . import _sync_process as proc
from ._sync_checks import assert_in_step, county_acked, receipts, snapshot
from .conftest import VILLAGE_CODE
from .sync_support import batch_bodies, post, register, workload

COUNTY_URL = "http://county.test"
NEIGHBOUR = "620123105201"


# --- in-process tools ---------------------------------------------------------------------------


class Killed(BaseException):  # noqa: N818 (not an error the client may handle: the process is gone)
    """The pushing process dies here (kill -9, power cut): nothing after this line of the client runs."""


class FaultyCounty(httpx.BaseTransport):
    """The county app behind a transport that fails on chosen requests (numbered from 1).

    - ``unreachable``: the request never reaches the county (connection refused);
    - ``lose``: the county handles the request and commits, then the answer is lost (read timeout);
    - ``die_after``: the county handles that request, then the client process dies (:class:`Killed`).
    """

    def __init__(self, app, *, unreachable=(), lose=(), die_after: int | None = None):
        self.inner = httpx.WSGITransport(app=app)
        self.unreachable, self.lose, self.die_after = set(unreachable), set(lose), die_after
        self.calls = self.delivered = self.lost = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        if self.calls in self.unreachable:
            raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
        response = self.inner.handle_request(request)
        response.read()
        self.delivered += 1
        if self.calls in self.lose:
            self.lost += 1
            raise httpx.ReadTimeout("timed out waiting for the county's answer", request=request)
        if self.calls == self.die_after:
            raise Killed
        return response


def push(village_app, transport: httpx.BaseTransport, key: str, batch_size=5, attempts=6) -> PushReport:
    """The village's push client, in the village's app context, over ``transport``, without pauses."""
    with village_app.app_context(), httpx.Client(transport=transport) as client:
        return client_push(
            db.session, COUNTY_URL, key, client=client, batch_size=batch_size, attempts=attempts,
            backoff=0.0, sleep=lambda _seconds: None,
        )  # fmt: skip


def head(village_app) -> int:
    with village_app.app_context():
        return batches.head_seq(db.session)


def village_state(village_app) -> tuple[int, str]:
    with village_app.app_context():
        state = batches.state(db.session)
        found = (state.acked_seq, state.last_error)
        db.session.rollback()
        return found


def export(village_app, key: str, path: Path, from_seq: int | None = None, code: str = VILLAGE_CODE):
    with village_app.app_context(), path.open("wb") as out:
        report = export_bundle(db.session, code, key, out, from_seq=from_seq)
        db.session.rollback()
        return report


def import_cli(county_app, path: Path):
    """``pointsmart sync import FILE`` at the county."""
    return county_app.test_cli_runner().invoke(args=["sync", "import", str(path)])


def more_work(village_app, points: int = 7) -> None:
    """The village keeps working after a sync: an award to its first household."""
    with village_app.app_context():
        household = db.session.scalars(sa.select(Household).order_by(Household.id)).first()
        adjust_points(db.session, household, points, "同步之后的奖励", actor_id=None)
        db.session.commit()


def set_village_acked(village_app, acked: int) -> None:
    with village_app.app_context():
        batches.state_for_update(db.session).acked_seq = acked
        db.session.commit()


# --- 1. a push killed mid-batch resumes -------------------------------------------------------


def test_a_push_killed_mid_batch_resumes_and_the_repeat_adds_nothing(
    app, county_app, make_user, make_household
):
    workload(app, make_user, make_household)
    key = register(county_app)
    total = head(app)
    with pytest.raises(Killed):  # the county took batch 3 (11–15); the village died before hearing so
        push(app, FaultyCounty(county_app, die_after=3), key, batch_size=5)
    assert county_acked(county_app, VILLAGE_CODE) == 15
    assert village_state(app) == (10, "")
    # resumed with another batch size: its first batch (11–17) straddles what the county has
    report = push(app, FaultyCounty(county_app), key, batch_size=7)
    assert (report.acked_seq, report.head_seq, report.retries, report.rewinds) == (total, total, 0, 0)
    assert_in_step(app, county_app, VILLAGE_CODE)
    rows = receipts(county_app, VILLAGE_CODE)
    assert [r[:2] for r in rows[:4]] == [(1, 5), (6, 10), (11, 15), (16, 17)]
    assert {r[3] for r in rows} == {"http"}


# --- 2. the same batch twice ------------------------------------------------------------------


def test_the_same_batch_sent_twice_is_applied_once(app, county_app, make_user, make_household):
    workload(app, make_user, make_household)
    key = register(county_app)
    total = head(app)
    county = county_app.test_client()
    bodies = batch_bodies(app, 1, size=5)
    for body in bodies:
        first, second = post(county, key, body), post(county, key, body)
        assert first.status_code == second.status_code == 200
        assert first.get_json() == second.get_json()
    settled = snapshot(county_app)
    # everything once more, and batches of other sizes that straddle nothing new: all repeats
    for body in bodies + batch_bodies(app, 1, size=7) + batch_bodies(app, 3, size=11):
        answer = post(county, key, body)
        assert (answer.status_code, answer.get_json()["acked_seq"]) == (200, total)
    assert snapshot(county_app) == settled  # not a row, not a timestamp changed
    assert len(receipts(county_app, VILLAGE_CODE)) == len(bodies)
    assert_in_step(app, county_app, VILLAGE_CODE, village_knows=False)


def test_the_same_batch_sent_twice_at_the_same_moment_is_applied_once(
    app, county_app, make_user, make_household
):
    workload(app, make_user, make_household)
    key = register(county_app)
    senders = 3
    for body in batch_bodies(app, 1, size=10):
        barrier = threading.Barrier(senders)
        answers: list = [None] * senders

        def send(slot, body=body, barrier=barrier, answers=answers):
            client = county_app.test_client()
            barrier.wait(timeout=30)
            response = post(client, key, body)
            answers[slot] = (response.status_code, response.get_json())

        threads = [threading.Thread(target=send, args=(slot,)) for slot in range(senders)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not any(thread.is_alive() for thread in threads), "a sender is stuck: deadlock?"
        assert answers[0][0] == 200 and answers.count(answers[0]) == senders, answers
    assert_in_step(app, county_app, VILLAGE_CODE, village_knows=False)


# --- 3. batches out of order ------------------------------------------------------------------


def test_batches_out_of_order_are_refused_until_their_turn(app, county_app, make_user, make_household):
    workload(app, make_user, make_household)
    key = register(county_app)
    county = county_app.test_client()
    bodies = batch_bodies(app, 1, size=4)
    pending = list(range(len(bodies)))
    random.Random(20261128).shuffle(pending)
    assert pending != sorted(pending)
    gaps = rounds = 0
    while pending:
        rounds += 1
        assert rounds <= len(bodies), "no progress"
        waiting = []
        for index in pending:
            before = county_acked(county_app, VILLAGE_CODE)
            answer = post(county, key, bodies[index])
            if answer.status_code == 409:
                body = answer.get_json()
                assert body["error"]["code"] == "sequence_gap"
                assert body["expected_from_seq"] == body["error"]["expected_from_seq"] == before + 1
                assert county_acked(county_app, VILLAGE_CODE) == before  # nothing applied
                gaps += 1
                waiting.append(index)
            else:
                assert answer.status_code == 200, answer.get_json()
                assert answer.get_json()["acked_seq"] == before + 4 or index == len(bodies) - 1
        pending = waiting
    assert gaps > 0
    assert len(receipts(county_app, VILLAGE_CODE)) == len(bodies)
    assert_in_step(app, county_app, VILLAGE_CODE, village_knows=False)


def test_a_village_that_believes_the_county_has_more_is_rewound(app, county_app, make_user, make_household):
    """The county restored yesterday's backup: it asks for what it lost, and the push resends it."""
    workload(app, make_user, make_household)
    key = register(county_app)
    county = county_app.test_client()
    for body in batch_bodies(app, 1, size=4)[:2]:
        assert post(county, key, body).status_code == 200
    set_village_acked(app, 20)  # the village heard of 1–20; the county now has 1–8
    report = push(app, FaultyCounty(county_app), key, batch_size=6)
    assert report.rewinds == 1 and report.acked_seq == head(app)
    assert [r[:2] for r in receipts(county_app, VILLAGE_CODE)[:3]] == [(1, 4), (5, 8), (9, 14)]
    assert_in_step(app, county_app, VILLAGE_CODE)


# --- 5. the county commits, the answer is lost ------------------------------------------------


def test_a_lost_answer_is_retried_and_the_retry_adds_nothing(app, county_app, make_user, make_household):
    workload(app, make_user, make_household)
    key = register(county_app)
    total = head(app)
    sent_batches = -(-total // 5)
    transport = FaultyCounty(county_app, lose={1, 2, 3, 5, 8, 9}, unreachable={11})
    report = push(app, transport, key, batch_size=5, attempts=6)
    assert transport.lost == 6 and report.retries == 7, report.errors
    assert (report.batches, report.records, report.acked_seq) == (sent_batches, total, total)
    # one receipt per batch: the retries of a batch the county had were repeats and wrote nothing
    assert len(receipts(county_app, VILLAGE_CODE)) == sent_batches
    assert_in_step(app, county_app, VILLAGE_CODE)


def test_every_answer_lost_gives_up_then_the_next_push_only_hears_a_repeat(
    app, county_app, make_user, make_household
):
    workload(app, make_user, make_household)
    key = register(county_app)
    total = head(app)
    transport = FaultyCounty(county_app, lose=range(1, 4))
    with pytest.raises(PushError) as failed:
        push(app, transport, key, batch_size=total, attempts=3)  # one batch: all of it
    assert failed.value.code == "unreachable" and transport.delivered == 3
    assert county_acked(county_app, VILLAGE_CODE) == total  # the county has it all …
    acked, error = village_state(app)
    assert acked == 0 and "试了 3 次仍未成功" in error  # … but the village could not know
    settled = snapshot(county_app)
    transport = FaultyCounty(county_app)
    report = push(app, transport, key, batch_size=total)
    assert transport.calls == 1 and report.acked_seq == total
    assert snapshot(county_app) == settled
    assert_in_step(app, county_app, VILLAGE_CODE)


# --- 6. and 7. bundles -------------------------------------------------------------------------


def test_the_same_bundle_imported_twice_adds_nothing_the_second_time(
    app, county_app, make_user, make_household, tmp_path
):
    workload(app, make_user, make_household)
    key = register(county_app)
    total = head(app)
    app.config["POINTSMART_SYNC_KEY"] = key
    bundle = tmp_path / "sync.pmb"
    exported = app.test_cli_runner().invoke(args=["sync", "export", str(bundle)])
    assert exported.exit_code == 0 and f"records 1–{total} ({total}, 1 batches), signed" in exported.output
    first = import_cli(county_app, bundle)
    assert first.exit_code == 0, first.output
    assert f"{total} new, county now has up to {total}" in first.output
    settled = snapshot(county_app)
    second = import_cli(county_app, bundle)
    assert second.exit_code == 0 and f"0 new, county now has up to {total}" in second.output
    assert snapshot(county_app) == settled
    assert receipts(county_app, VILLAGE_CODE) == [(1, total, total, "bundle")]
    assert_in_step(app, county_app, VILLAGE_CODE, village_knows=False)
    # the village learns of it on its next push: one request, a repeat that changes nothing
    transport = FaultyCounty(county_app)
    assert push(app, transport, key).acked_seq == total and transport.calls == 1
    assert snapshot(county_app) == settled
    assert_in_step(app, county_app, VILLAGE_CODE)


def test_a_bundle_and_a_push_over_overlapping_ranges_apply_each_record_once(
    app, county_app, make_user, make_household, tmp_path
):
    workload(app, make_user, make_household)
    key = register(county_app)
    first_head = head(app)
    with pytest.raises(Killed):  # the push got 1–15 over; the village heard of 1–10
        push(app, FaultyCounty(county_app, die_after=3), key, batch_size=5)
    waiting = export(app, key, tmp_path / "waiting.pmb")  # what the village thinks waits: 11..head
    assert (waiting.from_seq, waiting.to_seq) == (11, first_head)
    imported = import_cli(county_app, tmp_path / "waiting.pmb")
    assert imported.exit_code == 0 and f"{first_head - 15} new" in imported.output, imported.output
    more_work(app)
    everything = export(app, key, tmp_path / "all.pmb", from_seq=1)  # a bundle of it all, made now
    # the push resends 11.. (the county has it: a repeat) and then the new records
    report = push(app, FaultyCounty(county_app), key, batch_size=5)
    assert report.acked_seq == head(app) > first_head
    again = import_cli(county_app, tmp_path / "all.pmb")
    assert again.exit_code == 0 and "0 new" in again.output, again.output
    assert everything.to_seq == head(app)
    rows = receipts(county_app, VILLAGE_CODE)
    assert rows[:4] == [(1, 5, 5, "http"), (6, 10, 5, "http"), (11, 15, 5, "http"),
                        (16, first_head, first_head - 15, "bundle")]  # fmt: skip
    assert {r[3] for r in rows[4:]} == {"http"}
    assert_in_step(app, county_app, VILLAGE_CODE)


def _rewrite(source: Path, target: Path, change) -> None:
    """Decompress a bundle, let ``change`` alter its lines, compress it again (a careful forger)."""
    lines = gzip.decompress(source.read_bytes()).split(b"\n")
    target.write_bytes(gzip.compress(b"\n".join(change(lines)), mtime=0))


def _raise_an_amount(lines: list[bytes]) -> list[bytes]:
    """Add 100 to the first transfer's amount in the first batch: one number, nothing else."""
    altered = list(lines)
    altered[2] = re.sub(rb'"amount":(\d+)', lambda m: b'"amount":%d' % (int(m[1]) + 100), lines[2], count=1)
    assert altered[2] != lines[2]
    return altered


def test_tampered_truncated_and_wrong_village_bundles_are_refused_and_change_nothing(
    app, county_app, make_user, make_household, tmp_path
):
    workload(app, make_user, make_household)
    key = register(county_app)
    neighbour_key = register(county_app, code=NEIGHBOUR, name="邻村")
    good = tmp_path / "good.pmb"
    export(app, key, good, from_seq=1)
    data = good.read_bytes()

    bad = {}
    bad["tampered"] = tmp_path / "tampered.pmb"
    _rewrite(good, bad["tampered"], _raise_an_amount)
    bad["truncated"] = tmp_path / "truncated.pmb"  # the copy to the USB stick stopped halfway
    bad["truncated"].write_bytes(data[: len(data) // 2])
    bad["unsigned"] = tmp_path / "unsigned.pmb"  # complete gzip, but the signature line is missing
    _rewrite(good, bad["unsigned"], lambda lines: [line for line in lines if b'"signature"' not in line])
    bad["unknown_village"] = tmp_path / "unknown.pmb"  # a village this county never registered
    export(app, key, bad["unknown_village"], from_seq=1, code="620123105288")
    bad["neighbours_key"] = tmp_path / "neighbour.pmb"  # our records, signed with the neighbour's key
    export(app, neighbour_key, bad["neighbours_key"], from_seq=1)
    bad["gap"] = tmp_path / "gap.pmb"  # genuine, but starts after what the county has
    export(app, key, bad["gap"], from_seq=10)

    expected = {
        "tampered": ("bundle_tampered", "签名不符"),
        "truncated": ("bundle_truncated", "文件不完整"),
        "unsigned": ("bundle_truncated", "文件不完整"),
        "unknown_village": ("bundle_unknown_village", "村 620123105288 没有在本县登记"),
        "neighbours_key": ("bundle_tampered", "不是用这个村当前的同步密钥导出的"),
        "gap": ("sequence_gap", "请从第 1 条起重发"),
    }
    before = snapshot(county_app)
    for name, path in bad.items():
        code, reason = expected[name]
        result = import_cli(county_app, path)
        assert result.exit_code == 1, (name, result.output)
        assert f"[{code}]" in result.output and reason in result.output, (name, result.output)
        assert snapshot(county_app) == before, f"the {name} bundle changed the county"
    # the genuine file still goes in whole
    imported = import_cli(county_app, good)
    assert imported.exit_code == 0, imported.output
    assert_in_step(app, county_app, VILLAGE_CODE, village_knows=False)


def test_a_bundle_damaged_on_the_stick_is_refused_and_changes_nothing(
    app, county_app, make_user, make_household, tmp_path
):
    """One byte flipped inside the compressed data (a bad USB stick): refused, said so, nothing written."""
    workload(app, make_user, make_household)
    key = register(county_app)
    good = tmp_path / "good.pmb"
    export(app, key, good, from_seq=1)
    data = bytearray(good.read_bytes())
    before = snapshot(county_app)
    for where in (len(data) // 3, len(data) // 2, len(data) - 12):
        damaged = tmp_path / f"damaged-{where}.pmb"
        flipped = bytearray(data)
        flipped[where] ^= 0x5A
        damaged.write_bytes(bytes(flipped))
        result = import_cli(county_app, damaged)
        assert result.exit_code == 1, result.output
        assert re.search(r"\[bundle_(tampered|truncated|invalid|damaged)\]", result.output), result.output
        assert snapshot(county_app) == before


# --- a rotated key ------------------------------------------------------------------------------


def test_after_a_key_rotation_the_old_key_gets_401_and_the_new_one_works(
    app, county_app, make_user, make_household, tmp_path
):
    workload(app, make_user, make_household)
    old_key = register(county_app)
    with pytest.raises(Killed):
        push(app, FaultyCounty(county_app, die_after=2), key=old_key, batch_size=5)
    rotated = county_app.test_cli_runner().invoke(args=["county", "rotate-key", VILLAGE_CODE])
    assert rotated.exit_code == 0, rotated.output
    new_key = proc.last_line(rotated.output)
    assert new_key.startswith("pmk_") and new_key != old_key
    settled = snapshot(county_app)

    refused = post(county_app.test_client(), old_key, batch_bodies(app, 11, size=5)[0])
    assert refused.status_code == 401 and refused.get_json()["error"]["code"] == "bad_sync_key"
    with pytest.raises(PushError) as failed:
        push(app, FaultyCounty(county_app), old_key)
    assert failed.value.code == "refused" and "同步密钥无效或已更换" in failed.value.message
    assert "同步密钥无效或已更换" in village_state(app)[1]
    export(app, old_key, tmp_path / "old.pmb")
    stale = import_cli(county_app, tmp_path / "old.pmb")
    assert stale.exit_code == 1 and "[bundle_tampered]" in stale.output
    assert snapshot(county_app) == settled

    report = push(app, FaultyCounty(county_app), new_key)
    assert report.acked_seq == head(app)
    assert_in_step(app, county_app, VILLAGE_CODE)


# --- what the chair sees after a failure --------------------------------------------------------


def test_the_chair_sees_the_last_failure_until_a_push_succeeds(
    app, county_app, make_user, make_household, login_as
):
    workload(app, make_user, make_household)
    key = register(county_app)
    chair = login_as("chair")
    total = head(app)
    runner = app.test_cli_runner()

    transport = FaultyCounty(county_app, unreachable=range(1, 100))
    with pytest.raises(PushError) as failed:
        push(app, transport, key, attempts=3)
    assert failed.value.code == "unreachable" and transport.calls == 3
    status = runner.invoke(args=["sync", "status"]).output
    assert "acknowledged: 0" in status and f"waiting: {total} (log at {total})" in status
    assert "last sync: never" in status
    assert "last error: 试了 3 次仍未成功，稍后再同步。最后一次：连不上县里" in status, status
    page = chair.get("/sync/").get_data(as_text=True)
    assert "上次出错" in page and "试了 3 次仍未成功" in page and "从未同步" in page
    assert county_acked(county_app, VILLAGE_CODE) == 0

    with pytest.raises(PushError):  # a refusal replaces the reason
        push(app, FaultyCounty(county_app), "pmk_wrong")
    assert "同步密钥无效或已更换" in runner.invoke(args=["sync", "status"]).output

    push(app, FaultyCounty(county_app), key)
    status = runner.invoke(args=["sync", "status"]).output
    assert f"acknowledged: {total}" in status and "waiting: 0" in status and "last error" not in status
    assert "last sync: never" not in status
    page = chair.get("/sync/").get_data(as_text=True)
    assert "上次出错" not in page and "从未同步" not in page
    assert_in_step(app, county_app, VILLAGE_CODE)


def test_a_non_json_200_from_a_captive_portal_is_a_push_failure_the_chair_can_read(
    app, county_app, make_user, make_household
):
    """A village Wi-Fi login page answers every request with ``200 text/html``: that is no answer."""
    workload(app, make_user, make_household)
    key = register(county_app)

    def portal(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, html="<html><body>请先登录 Wi-Fi</body></html>")

    with pytest.raises(PushError):
        push(app, httpx.MockTransport(portal), key)
    acked, error = village_state(app)
    assert acked == 0 and error


# --- a village restored from a backup --------------------------------------------------------------


@pytest.fixture(scope="module")
def sqlite_template(tmp_path_factory) -> Path:
    """A migrated, empty SQLite database (the village side of tests that copy its file around)."""
    folder = tmp_path_factory.mktemp("sqlite-template")
    path = folder / "village.sqlite3"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("POINTSMART_INSTANCE", str(folder / "instance"))
        made = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", "TESTING": True})
        with made.app_context():
            upgrade()
            db.session.remove()
            db.engine.dispose()
    return path


@pytest.fixture
def sqlite_village(sqlite_template, tmp_path, monkeypatch):
    """A village on a SQLite file of its own (whichever database the county is on): three households."""
    from pointsmart.households.services import create_household
    from pointsmart.org.services import ensure_village

    monkeypatch.setenv("POINTSMART_INSTANCE", str(tmp_path / "instance"))
    path = tmp_path / "village.sqlite3"
    proc.copy_sqlite(sqlite_template, path)
    made = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", "TESTING": True})
    with made.app_context():
        village = ensure_village(
            db.session, VILLAGE_CODE, "测试村", township_name="测试镇", county_name="测试县"
        )
        for n in range(3):
            data = {"household_no": f"01-{n + 1:03d}", "head_name": f"备份{n + 1}", "group": "一社"}
            household = create_household(db.session, village.id, data, actor_id=None)
            adjust_points(db.session, household, 10 + n, "开户积分", actor_id=None)
        db.session.commit()
    yield made, path
    with made.app_context():
        db.session.remove()
        db.engine.dispose()


def _award_each(village_app, amounts: list[int]) -> None:
    with village_app.app_context():
        homes = db.session.scalars(sa.select(Household).order_by(Household.id)).all()
        for home, points in zip(homes, amounts, strict=False):
            adjust_points(db.session, home, points, "备份之后", actor_id=None)
        db.session.commit()


def test_a_village_restored_from_a_backup_that_reaches_the_county_sequence_again_is_not_in_step(
    sqlite_village, county_app, tmp_path
):
    village_app, path = sqlite_village
    key = register(county_app)
    push(village_app, FaultyCounty(county_app), key)
    backup = tmp_path / "backup.sqlite3"  # the nightly backup, taken in step with the county
    proc.copy_sqlite(path, backup)
    _award_each(village_app, [5, 5])  # two awards, pushed: the county has them …
    push(village_app, FaultyCounty(county_app), key)
    county_had = county_acked(county_app, VILLAGE_CODE)
    with village_app.app_context():  # … then the disk dies and the backup is restored
        db.engine.dispose()
    for leftover in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        leftover.unlink(missing_ok=True)
    shutil.copy(backup, path)
    _award_each(village_app, [1, 1])  # other work, numbered like what the county already has
    assert head(village_app) == county_had
    settled = snapshot(county_app)
    # the village's records county_had-1..county_had are not the county's: that must not pass for in step
    with pytest.raises(PushError):
        push(village_app, FaultyCounty(county_app), key)
    assert village_state(village_app)[1]  # the chair is told
    assert snapshot(county_app) == settled


# --- real processes: a SQLite village pushing to a county server on PostgreSQL ------------------

SEED = Path(__file__).resolve().parents[1] / "seed" / "demo"
DEMO_CODE, DEMO_TOWNSHIP = "620123105203", "620123105000"
PROCESS_BATCH = "50"


@pytest.fixture(scope="module")
def big_village(sqlite_template, tmp_path_factory) -> Path:
    """A migrated SQLite village: the demo plus fifteen bulk postings (~2,000 change records)."""
    from pointsmart.demo import load_demo

    folder = tmp_path_factory.mktemp("big-village")
    path = folder / "village.sqlite3"
    proc.copy_sqlite(sqlite_template, path)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("POINTSMART_INSTANCE", str(folder / "instance"))
        village = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", "TESTING": True})
        clock.reset()
        with village.app_context():
            session = db.session
            load_demo(session, SEED)
            session.commit()
            issuance = ledger.system_account(session, AccountKind.ISSUANCE).id
            deductions = ledger.system_account(session, AccountKind.DEDUCTIONS).id
            accounts = list(session.scalars(sa.select(Household.account_id).order_by(Household.id)))
            for n in range(15):
                if n % 5 == 4:  # every fifth: one point deducted from everybody (all hold some by then)
                    rows = [{"from_account_id": a, "to_account_id": deductions, "amount": 1,
                             "kind": "deduction", "category": "环境卫生"} for a in accounts]  # fmt: skip
                else:
                    rows = [{"from_account_id": issuance, "to_account_id": a, "amount": 1 + (n + i) % 5,
                             "kind": "award", "category": "家庭美德"}
                            for i, a in enumerate(accounts)]  # fmt: skip
                ledger.post_many(session, rows, ref=f"bulk:{n}")
                session.commit()
            assert batches.head_seq(session) > 1500
            db.session.remove()
            db.engine.dispose()
    return path


@dataclass
class Live:
    """A county server on PostgreSQL, a village on SQLite, their in-process apps for the checks."""

    county: proc.Server
    county_app: object
    village_app: object
    village_env: dict
    village_db: Path
    key: str
    head: int
    logs: Path

    def county_acked(self) -> int:
        return county_acked(self.county_app, DEMO_CODE)

    def village_acked(self) -> int:
        connection = sqlite3.connect(self.village_db, timeout=15)
        try:
            return connection.execute("SELECT acked_seq FROM sync_state WHERE id = 1").fetchone()[0]
        finally:
            connection.close()

    def start_push(self, name: str):
        return proc.start(self.village_env, "sync", "push", "--batch-size", PROCESS_BATCH,
                          log=self.logs / f"{name}.log")  # fmt: skip

    def push_output(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")


@pytest.fixture
def live(big_village, tmp_path, monkeypatch):
    monkeypatch.setenv("POINTSMART_INSTANCE", str(tmp_path / "test-instance"))
    village_db = tmp_path / "village.sqlite3"
    proc.copy_sqlite(big_village, village_db)
    village_url = f"sqlite:///{village_db}"
    apps = []
    with proc.pg_schema("pm_sync_faults") as county_url:
        county_app = create_app(
            {"SQLALCHEMY_DATABASE_URI": county_url, "TESTING": True, "POINTSMART_MODE": "county"}
        )
        apps.append(county_app)
        with county_app.app_context():
            upgrade()
        key = register(county_app, code=DEMO_CODE, name="金家湾村", township=DEMO_TOWNSHIP)
        village_app = create_app({"SQLALCHEMY_DATABASE_URI": village_url, "TESTING": True})
        apps.append(village_app)
        port = proc.free_port()
        county_env = proc.environment(tmp_path / "county-instance", county_url, POINTSMART_MODE="county")
        village_env = proc.environment(
            tmp_path / "village-instance", village_url,
            POINTSMART_COUNTY_URL=f"http://127.0.0.1:{port}", POINTSMART_SYNC_KEY=key,
        )  # fmt: skip
        server = proc.Server(county_env, port, tmp_path / "county.log")
        try:
            with server:
                yield Live(server, county_app, village_app, village_env, village_db, key, head(village_app),
                           tmp_path)  # fmt: skip
        finally:
            for made in apps:
                with made.app_context():
                    db.session.remove()
                    db.engine.dispose()


@pytest.mark.postgresql_only
def test_a_push_process_killed_mid_batch_resumes(live):
    """``sync push`` SIGKILLed twice while the county is part-way, then run again to the end."""
    for attempt, threshold in enumerate((1, live.head // 2)):
        name = f"killed-{attempt}"
        pushing = live.start_push(name)
        try:
            proc.wait_for(lambda t=threshold: live.county_acked() >= t, timeout=30,
                          what=f"the county to acknowledge {threshold}")  # fmt: skip
            assert pushing.poll() is None, live.push_output(name)
        finally:
            proc.kill(pushing)
        county, village = live.county_acked(), live.village_acked()
        assert threshold <= county < live.head, (county, live.head)  # killed part-way
        assert village <= county  # the village never believes the county has more than it has

    done = proc.run(live.village_env, "sync", "push", "--batch-size", PROCESS_BATCH, timeout=60)
    summary = proc.push_summary(done.stdout)
    assert (summary["acked"], summary["waiting"], summary["rewinds"]) == (live.head, 0, 0), done.stdout
    assert_in_step(live.village_app, live.county_app, DEMO_CODE)
    assert proc.run(live.village_env, "ledger", "verify").stdout.strip().endswith("ledger OK")


@pytest.mark.postgresql_only
def test_the_county_server_killed_mid_push_and_restarted(live):
    """The county's server dies (SIGKILL) under a running push; restarted on its port, the push goes on."""
    pushing = live.start_push("through-restart")
    try:
        proc.wait_for(lambda: live.county_acked() >= 1, timeout=30, what="the first batch")
        live.county.kill()
        killed_at = live.county_acked()
        assert killed_at < live.head
        time.sleep(0.5)  # the batch in flight failed, the next try was refused: the push waits to retry
        assert pushing.poll() is None, live.push_output("through-restart")  # still trying, not given up
        live.county.start()
        assert pushing.wait(timeout=45) == 0, live.push_output("through-restart")
    finally:
        proc.kill(pushing)
    summary = proc.push_summary(live.push_output("through-restart"))
    assert summary["acked"] == live.head and summary["waiting"] == 0
    assert summary["retries"] >= 1
    assert_in_step(live.village_app, live.county_app, DEMO_CODE)


@pytest.mark.postgresql_only
def test_two_push_processes_at_once_send_every_batch_twice_and_it_lands_once(live):
    pushes = [live.start_push(f"twin-{n}") for n in range(2)]
    try:
        for n, pushing in enumerate(pushes):
            assert pushing.wait(timeout=60) == 0, live.push_output(f"twin-{n}")
    finally:
        for pushing in pushes:
            proc.kill(pushing)
    assert_in_step(live.village_app, live.county_app, DEMO_CODE)
