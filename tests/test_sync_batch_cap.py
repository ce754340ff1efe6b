"""The push client caps a batch's bytes (issue 10): a village with big records (long reasons) never
sends a body the county refuses as too large, and a county with a smaller limit than ours (413) gets
the same records again in halves instead of the same body for ever.

The county is the real county app behind httpx's WSGI transport, its request limit
(``MAX_CONTENT_LENGTH``) lowered to :data:`COUNTY_LIMIT`; every body it is sent is recorded.
"""

import httpx
import sqlalchemy as sa

from pointsmart.extensions import db
from pointsmart.households.models import Household
from pointsmart.households.services import adjust_points
from pointsmart.org.services import home_village
from pointsmart.sync import batches
from pointsmart.sync.client import push

from ._sync_checks import assert_in_step
from .conftest import VILLAGE_CODE
from .sync_support import register

COUNTY_URL = "http://county.test"
COUNTY_LIMIT = 16 * 1024
#: a transfer record with a reason this long is about 1.5 KB on the wire
REASON = "志愿服务，" * 90
AWARDS = 60


class RecordingCounty(httpx.BaseTransport):
    """The county app; remembers the size and the answer of every batch it was sent."""

    def __init__(self, app):
        self.inner = httpx.WSGITransport(app=app)
        self.sent: list[tuple[int, int]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        response.read()
        self.sent.append((len(request.content), response.status_code))
        return response


def big_records(app, make_household) -> int:
    """A village whose change log is many long-reasoned awards; its head sequence number."""
    household_id = make_household(points=1)
    with app.app_context():
        household = db.session.get(Household, household_id)
        for n in range(AWARDS):
            adjust_points(db.session, household, 1 + n % 5, f"{n}：{REASON}", actor_id=None)
        db.session.commit()
        return batches.head_seq(db.session)


def small_county(county_app):
    county_app.config["MAX_CONTENT_LENGTH"] = COUNTY_LIMIT
    return RecordingCounty(county_app)


def pushed(app, county: RecordingCounty, key: str, **options):
    with app.app_context(), httpx.Client(transport=county) as client:
        return push(db.session, COUNTY_URL, key, client=client, backoff=0.0, sleep=lambda _s: None, **options)


def test_a_batch_never_exceeds_the_byte_cap_and_every_record_is_sent_once(app, make_household):
    head = big_records(app, make_household)
    cap = 8 * 1024
    with app.app_context():
        code, start, sizes = home_village(db.session).code, 1, []
        while (batch := batches.build(db.session, code, start, max_bytes=cap)) is not None:
            assert batch.from_seq == start and batch.records == batch.to_seq - batch.from_seq + 1
            sizes.append(len(batch.body))
            start = batch.to_seq + 1
        db.session.rollback()
    assert start == head + 1  # every record, in order, none twice
    assert max(sizes) <= cap and len(sizes) > 3, sizes
    # without the cap, all of it is one body bigger than the county takes
    with app.app_context():
        whole = batches.build(db.session, code, 1)
    assert whole.records == head and len(whole.body) > COUNTY_LIMIT


def test_a_village_with_big_records_pushes_under_the_county_limit_without_a_413(
    app, county_app, make_household
):
    head = big_records(app, make_household)
    key, county = register(county_app), small_county(county_app)
    report = pushed(app, county, key, max_bytes=COUNTY_LIMIT // 2)
    assert (report.acked_seq, report.head_seq, report.splits) == (head, head, 0)
    assert all(status == 200 for _size, status in county.sent), county.sent
    assert max(size for size, _status in county.sent) <= COUNTY_LIMIT // 2
    assert_in_step(app, county_app, VILLAGE_CODE)


def test_a_413_splits_the_batch_instead_of_sending_it_again(app, county_app, make_household):
    head = big_records(app, make_household)
    key, county = register(county_app), small_county(county_app)
    report = pushed(app, county, key)  # our cap (4 MB) is above this county's 16 KB
    assert (report.acked_seq, report.head_seq) == (head, head)
    refused = [size for size, status in county.sent if status == 413]
    assert refused and report.splits == len(refused)
    assert len(set(refused)) == len(refused), "a refused body is never sent again"
    assert len(county.sent) < 4 * AWARDS  # no loop: a bounded number of requests
    assert_in_step(app, county_app, VILLAGE_CODE)


def test_one_record_too_big_for_the_county_is_a_push_error_not_a_loop(app, county_app, make_household):
    import pytest

    from pointsmart.sync.client import PushError

    big_records(app, make_household)
    key = register(county_app)
    county_app.config["MAX_CONTENT_LENGTH"] = 1024  # smaller than one record
    county = RecordingCounty(county_app)
    with pytest.raises(PushError) as info:
        pushed(app, county, key)
    assert info.value.code == "refused"
    assert len(county.sent) < 20
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Household)) == 1
