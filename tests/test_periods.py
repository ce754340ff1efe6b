"""The one calendar (pointsmart/periods.py): periods in both written forms, days, zones, windows."""

from datetime import date, datetime

import pytest

from pointsmart import clock, periods
from pointsmart.errors import DomainError
from pointsmart.periods import Period, parse_day, parse_month, parse_period


def test_a_period_is_read_in_either_form(app):
    with app.test_request_context():
        for text, key in [
            ("2026-11", "2026-11"),
            ("2026-1", "2026-01"),
            ("2026年11月", "2026-11"),
            (" 2026 年 3 月 ", "2026-03"),
            ("2026-Q4", "2026-Q4"),
            ("2026-q2", "2026-Q2"),
            ("2026年第4季度", "2026-Q4"),
            ("2026年2季度", "2026-Q2"),
            ("2026-H2", "2026-H2"),
            ("2026年上半年", "2026-H1"),
            ("2026年下半年", "2026-H2"),
            ("2026", "2026"),
            ("2026年", "2026"),
        ]:
            assert parse_period(text).key == key, text


def test_a_bad_period_says_what_is_wrong_and_quotes_little(app):
    with app.test_request_context():
        for bad in ("2026-13", "2026年13月", "1999-01", "2100-01", "2026-Q5", "2026-H3", "nov", "x" * 500):
            with pytest.raises(DomainError) as info:
                parse_period(bad)
            assert info.value.code == "bad_period" and len(info.value.message) < 120, bad
        with pytest.raises(DomainError) as info:
            parse_period("2026-11", kind="week")
        assert info.value.code == "bad_period"


def test_a_key_of_another_kind_gives_the_period_that_holds_its_first_month(app):
    with app.test_request_context():
        assert parse_period("2026-11", kind="quarter").key == "2026-Q4"
        assert parse_period("2026-Q3", kind="half").key == "2026-H2"
        assert parse_period("2026-H2", kind="month").key == "2026-07"
        assert parse_period("", kind="quarter", on=date(2026, 5, 2)).key == "2026-Q2"


def test_periods_know_their_days_neighbours_and_months():
    q4 = Period("quarter", 2026, 4)
    assert (q4.start, q4.end, q4.months) == (
        date(2026, 10, 1),
        date(2027, 1, 1),
        ["2026-10", "2026-11", "2026-12"],
    )
    assert (q4.previous.key, q4.next.key) == ("2026-Q3", "2027-Q1")
    assert Period("month", 2026, 1).previous.key == "2025-12"
    assert Period("half", 2026, 2).next.key == "2027-H1"
    assert Period("year", 2026).months[-1] == "2026-12"
    assert q4.contains(date(2026, 12, 31)) and not q4.contains(date(2027, 1, 1))
    assert [m.key for m in periods.month_window(q4, 4)] == ["2026-09", "2026-10", "2026-11", "2026-12"]
    assert periods.rollup_keys("2026-11") == ("2026-11", "2026-Q4", "2026-H2", "2026")
    assert periods.rollup_keys("2026-06") == ("2026-06", "2026-Q2", "2026-H1", "2026")


def test_months_and_days_parse_or_say_what_is_wrong(app):
    today = date(2026, 11, 28)
    with app.test_request_context():
        assert parse_month("", today).key == "2026-11"
        assert parse_month("2026年1月", today).key == "2026-01"
        assert parse_day(None, today) == today
        assert parse_day("2026-02-28", today) == date(2026, 2, 28)
        for bad in ("2026-13", "11-2026", "2026/13", "nov", "1999-01", "2026-Q4"):
            with pytest.raises(DomainError) as info:
                parse_month(bad, today)
            assert info.value.code == "bad_month" and bad in info.value.message
        for bad in ("2026-02-30", "2026-2-3", "28.11.2026", "x" * 500, "0001-01-01", "9999-12-31"):
            with pytest.raises(DomainError) as info:
                parse_day(bad, today)
            assert info.value.code == "bad_date" and len(info.value.message) < 100


def test_a_village_day_runs_from_midnight_in_its_zone(app, make_app):
    assert periods.utc_window(date(2026, 11, 3), date(2026, 11, 4)) == (
        datetime(2026, 11, 2, 16, 0),
        datetime(2026, 11, 3, 16, 0),
    )
    month_of = periods.MonthOf()
    assert month_of(datetime(2026, 10, 31, 15, 59, 59)) == "2026-10"  # 23:59:59 in the village
    assert month_of(datetime(2026, 10, 31, 16, 0, 0)) == "2026-11"  # midnight in the village
    assert month_of(datetime(2026, 12, 31, 16, 0, 1)) == "2027-01"
    # the zone is the app's setting, read by every domain
    elsewhere = make_app(BABEL_DEFAULT_TIMEZONE="Asia/Urumqi")
    with elsewhere.app_context():
        assert periods.utc_window(date(2026, 11, 3), date(2026, 11, 4))[0] == datetime(2026, 11, 2, 18, 0)
        assert periods.local_day(datetime(2026, 11, 2, 17, 0)) == date(2026, 11, 2)
    with app.app_context():
        assert periods.local_day(datetime(2026, 11, 2, 17, 0)) == date(2026, 11, 3)


def test_today_follows_the_one_clock(app):
    with app.app_context():
        before = periods.today()
        clock.advance(periods.timedelta(days=3))
        try:
            assert (periods.today() - before).days == 3
        finally:
            clock.reset()
