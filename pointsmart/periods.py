"""The one calendar: the villages' time zone, today, and months, quarters, half-years and years.

Times are stored as naive UTC (:func:`pointsmart.clock.utcnow`). Everything a person sees — a day, a
month, a period of scoring or of the county's dashboard — is the villages' own calendar, in the one
zone the app is configured with (``BABEL_DEFAULT_TIMEZONE``, China Standard Time by default). Every
domain asks this module; none computes "today" or a month boundary of its own.

A period is written the way the villages write it, in either form:

=========  ==============  ===========================
kind       key             also read as
=========  ==============  ===========================
month      ``2026-11``     ``2026年11月``, ``2026/11``, ``2026.11``, ``2026-1``, ``2026年11月份``
quarter    ``2026-Q4``     ``2026年第4季度``, ``2026年4季度``
half       ``2026-H2``     ``2026年下半年`` (``上半年`` = H1)
year       ``2026``        ``2026年``
=========  ==============  ===========================

Full-width digits and signs (``２０２６年１１月``, typed with a Chinese input method) read as their
plain forms.
"""

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from .clock import utcnow
from .errors import Invalid, NotFound
from .text import SPACES

DEFAULT_ZONE = "Asia/Shanghai"
#: the years any date or period may lie in: earlier or later is a typo, not a plan
MIN_YEAR, MAX_YEAR = 2000, 2099

KINDS = {"month": _l("月"), "quarter": _l("季度"), "half": _l("半年"), "year": _l("年")}
#: months in one period of each kind
#: ISO weekday → its name (1 周一 … 7 周日), as the shop's opening days and the county's check name them
WEEKDAYS = {
    1: _l("周一"),
    2: _l("周二"),
    3: _l("周三"),
    4: _l("周四"),
    5: _l("周五"),
    6: _l("周六"),
    7: _l("周日"),
}
SPAN = {"month": 1, "quarter": 3, "half": 6, "year": 12}


class BadPeriod(Invalid):
    code = "bad_period"


# --- the zone and today -----------------------------------------------------------------------------


@lru_cache(maxsize=8)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def zone() -> ZoneInfo:
    """The villages' time zone: the app's ``BABEL_DEFAULT_TIMEZONE`` (China Standard Time without an app)."""
    if not has_app_context():
        return _zone(DEFAULT_ZONE)
    return _zone(current_app.config.get("BABEL_DEFAULT_TIMEZONE", DEFAULT_ZONE))


def local(value: datetime) -> datetime:
    """A stored (naive UTC) time in the villages' zone (aware)."""
    return value.replace(tzinfo=UTC).astimezone(zone())


#: how a stored time is shown to the minute, on pages, in workbooks and in the command line
MINUTE = "%Y-%m-%d %H:%M"


def local_text(value: datetime | None, fmt: str = MINUTE) -> str:
    """A stored time as the villages read it (``2026-11-30 18:05``); an empty string for no time."""
    return "" if value is None else local(value).strftime(fmt)


def local_naive(value: datetime | None) -> datetime | None:
    """A stored time in the villages' zone, naive again (a spreadsheet cell holds no zone)."""
    return None if value is None else local(value).replace(tzinfo=None)


def local_day(value: datetime) -> date:
    """The villages' calendar day of a stored time."""
    return local(value).date()


def today() -> date:
    """The villages' date now, by the app's one clock (tests move it with ``clock.advance``)."""
    return local_day(utcnow())


#: the earliest day a record may carry (a stock move, a meeting, a notice photo's posting). A slip of the
#: year, or 0001-01-01 / 9999-12-31 typed or sent, would misplace the record in every monthly ledger.
EARLIEST_DAY = date(2000, 1, 1)
#: how far ahead a day planned for may lie (when a notice comes down); a day something happened on is
#: at the latest today
DAYS_AHEAD = 366


def day_problem(day: date | None, *, ahead: bool = False) -> str | None:
    """Why a day a record carries is refused, or None when it is fine (or not given).

    A day something happened on (a receipt, a count, a meeting, a claim) is today at the latest: a
    receipt dated next year would change today's stock but sit in a month to come. ``ahead``: a day
    planned for, up to :data:`DAYS_AHEAD` after today."""
    if day is None:
        return None
    now = today()
    latest = now + timedelta(days=DAYS_AHEAD) if ahead else now
    if EARLIEST_DAY <= day <= latest:
        return None
    if day > now and not ahead:
        return _("日期不能晚于今天（%(today)s）。", today=now.isoformat())
    return _("日期应在 %(start)s 到 %(end)s 之间。", start=EARLIEST_DAY.isoformat(), end=latest.isoformat())


def check_day(day: date | None, field: str, label, *, ahead: bool = False) -> None:
    """Refuse a day a service was given, naming the field (see :func:`day_problem`).

    :raises Invalid: ``date_in_future`` for a day after today (unless ``ahead``), ``invalid_date`` for
        a day outside the window records keep.
    """
    if problem := day_problem(day, ahead=ahead):
        code = "date_in_future" if not ahead and day > today() else "invalid_date"
        raise Invalid(_("%(field)s：%(problems)s", field=label, problems=problem), code=code, field=field)


def utc_window(start: date, end: date) -> tuple[datetime, datetime]:
    """The stored (naive UTC) times of the villages' days ``start <= day < end``."""
    tz = zone()

    def edge(day: date) -> datetime:
        return datetime.combine(day, time(), tz).astimezone(UTC).replace(tzinfo=None)

    return edge(start), edge(end)


def day_window(day: date) -> tuple[datetime, datetime]:
    """The stored times of one of the villages' days."""
    return utc_window(day, day + timedelta(days=1))


def add_months(day: date, months: int) -> date:
    """The same day ``months`` months later (the month's last day when it is shorter: 01-31 → 02-28)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    last = (date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)).day
    return date(year, month, min(day.day, last))


class MonthOf:
    """The villages' month (``2026-11``) of many stored times, fast: the zone's offset is looked up
    once per UTC day, and only a day whose offset changes within it is converted time by time (China
    has not moved its clocks since 1991)."""

    def __init__(self):
        self._tz = zone()
        self._offsets: dict[date, timedelta | None] = {}

    def _offset(self, day: date) -> timedelta | None:
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        first = start.astimezone(self._tz).utcoffset()
        last = (start + timedelta(hours=23, minutes=59)).astimezone(self._tz).utcoffset()
        return first if first == last else None

    def __call__(self, at: datetime) -> str:
        day = at.date()
        offset = self._offsets.get(day, False)
        if offset is False:
            offset = self._offsets[day] = self._offset(day)
        there = at + offset if offset is not None else at.replace(tzinfo=UTC).astimezone(self._tz)
        return f"{there.year:04d}-{there.month:02d}"


# --- periods ----------------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Period:
    """A month, quarter, half-year or year of the villages' calendar."""

    kind: str
    year: int
    #: the month (1–12), quarter (1–4) or half (1–2); 1 for a year
    number: int = 1

    @classmethod
    def containing(cls, kind: str, year: int, month: int) -> "Period":
        return cls(kind, year, (month - 1) // SPAN[kind] + 1)

    @classmethod
    def of(cls, day: date, kind: str = "month") -> "Period":
        """The period of ``kind`` that holds ``day``."""
        return cls.containing(kind, day.year, day.month)

    @property
    def key(self) -> str:
        return {
            "month": f"{self.year:04d}-{self.number:02d}",
            "quarter": f"{self.year:04d}-Q{self.number}",
            "half": f"{self.year:04d}-H{self.number}",
            "year": f"{self.year:04d}",
        }[self.kind]

    @property
    def month_numbers(self) -> range:
        first = (self.number - 1) * SPAN[self.kind] + 1
        return range(first, first + SPAN[self.kind])

    @property
    def months(self) -> list[str]:
        """The keys of its months, ``["2026-10", "2026-11", "2026-12"]`` for ``2026-Q4``."""
        return [f"{self.year:04d}-{m:02d}" for m in self.month_numbers]

    @property
    def first_month(self) -> str:
        return self.months[0]

    @property
    def last_month(self) -> str:
        return self.months[-1]

    @property
    def start(self) -> date:
        return date(self.year, self.month_numbers[0], 1)

    @property
    def end(self) -> date:
        """The first day after it (the period is ``start <= day < end``)."""
        return self.next.start

    @property
    def previous(self) -> "Period":
        return Period.of(self.start - timedelta(days=1), self.kind)

    @property
    def next(self) -> "Period":
        last = self.month_numbers[-1]
        year, month = (self.year, last + 1) if last < 12 else (self.year + 1, 1)
        return Period.containing(self.kind, year, month)

    def contains(self, day: date) -> bool:
        return self.start <= day < self.end

    def utc_window(self) -> tuple[datetime, datetime]:
        """The period as stored (naive UTC) times ``[start, end)``."""
        return utc_window(self.start, self.end)

    def label(self) -> str:
        if self.kind == "month":
            return _("%(year)s年%(month)s月", year=self.year, month=self.number)
        if self.kind == "quarter":
            return _("%(year)s年第%(n)s季度", year=self.year, n=self.number)
        if self.kind == "half":
            if self.number == 1:
                return _("%(year)s年上半年", year=self.year)
            return _("%(year)s年下半年", year=self.year)
        return _("%(year)s年", year=self.year)

    def __str__(self) -> str:
        return self.key


_FORMS = (
    ("month", re.compile(r"(\d{4})\s*(?:-|/|\.|年)\s*(\d{1,2})\s*(?:月份?)?")),
    ("quarter", re.compile(r"(\d{4})\s*(?:-\s*Q|年\s*第?)\s*([1-4])\s*(?:季度?)?", re.IGNORECASE)),
    ("half", re.compile(r"(\d{4})\s*-\s*H([12])", re.IGNORECASE)),
    ("half", re.compile(r"(\d{4})\s*年\s*([上下])\s*半年")),
    ("year", re.compile(r"(\d{4})\s*年?")),
)


def shown(text: str) -> str:
    """A typed text as an error message quotes it: at most 20 characters."""
    return text if len(text) <= 20 else text[:20] + "…"


def read_period(text: str) -> Period | None:
    """A period key in either form (see the module's table), or None if it is none of them."""
    # NFKC: full-width digits, dashes and slashes from a Chinese input method become plain ones
    text = unicodedata.normalize("NFKC", text or "").strip()
    for kind, pattern in _FORMS:
        found = pattern.fullmatch(text)
        if not found:
            continue
        year, number = int(found[1]), found[2] if found.lastindex and found.lastindex >= 2 else "1"
        number = {"上": 1, "下": 2}.get(number) or int(number)
        if not MIN_YEAR <= year <= MAX_YEAR or (kind == "month" and not 1 <= number <= 12):
            return None
        return Period(kind, year, number)
    return None


def parse_period(text: str | None, kind: str | None = None, on: date | None = None) -> Period:
    """The period a person asked for, of ``kind`` if given (month / quarter / half / year).

    Empty: the period of that kind (a month by default) that holds ``on`` (today). A key of another
    kind is read as the period of ``kind`` that holds its first month: "quarter" with ``2026-11``
    gives ``2026-Q4``.

    :raises BadPeriod: an unknown kind, or a key of none of the forms.
    """
    if kind and kind not in KINDS:
        raise BadPeriod(_("期间类型只能是月、季度、半年或年。"))
    text = (text or "").strip()
    if not text:
        return Period.of(on or today(), kind or "month")
    given = read_period(text)
    if given is None:
        raise BadPeriod(
            _(
                "看不懂期间“%(key)s”：月份写成 2026-11 或 2026年11月，"
                "季度 2026-Q4，半年 2026-H2，年份 2026。",
                key=shown(text),
            )
        )
    if kind and kind != given.kind:
        return Period.containing(kind, given.year, given.month_numbers[0])
    return given


def parse_month(text: str | None, on: date | None = None) -> Period:
    """A month (``2026-11`` or ``2026年11月``); empty → the month of ``on`` (today).

    :raises BadPeriod: not a year and month (code ``bad_month``).
    """
    text = (text or "").strip()
    if not text:
        return Period.of(on or today())
    found = read_period(text)
    if found is None or found.kind != "month":
        raise BadPeriod(
            _("月份“%(text)s”不对，应写成 2026-11 或 2026年11月。", text=shown(text)), code="bad_month"
        )
    return found


#: full-width digits and dash (typed with a Chinese input method) read as ASCII, as every number field
#: reads them (:data:`pointsmart.forms.FULL_WIDTH_NUMBER`)
_WIDE_DAY = str.maketrans({**{chr(0xFF10 + i): str(i) for i in range(10)}, "\uff0d": "-"})
_DAY = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")


def read_day(text: str | None) -> date | None:
    """The one reading of a day a person typed, everywhere: ``YYYY-MM-DD`` only (``2026-11-28``), its
    digits ASCII or full-width (``２０２６-１１-２８``), spaces around it ignored; None when blank. Never
    ``date.fromisoformat``, which also takes ``20261128`` and ``2026-W48-6``.

    :raises ValueError: anything else, or a day that does not exist (the years a record may carry are
        :func:`day_problem`'s to say, naming the window)."""
    text = (text or "").strip(SPACES).translate(_WIDE_DAY)
    if not text:
        return None
    found = _DAY.fullmatch(text)
    if not found:
        raise ValueError(text)
    return date(int(found[1]), int(found[2]), int(found[3]))  # ValueError for 2026-02-30


def parse_day(text: str | None, on: date | None = None) -> date:
    """A day (``2026-11-28``, read by :func:`read_day`); empty → ``on`` (today).

    :raises BadPeriod: not a date, or not within the years the app accepts (code ``bad_date``).
    """
    try:
        day = read_day(text)
        if day is not None and not MIN_YEAR <= day.year <= MAX_YEAR:
            raise ValueError(text)
    except ValueError:
        raise BadPeriod(
            _("日期“%(text)s”不对，应写成 2026-11-28 这样的“年-月-日”。", text=shown(text.strip())),
            code="bad_date",
        ) from None
    return on or today() if day is None else day


def refuse_month_to_come(month: "Period | str") -> None:
    """A month's pages (its book, its public accounts) exist from the month itself on: the month in
    progress opens (its records so far), a month after it is no page at all.

    :raises NotFound: ``month_to_come``, a month after the current one (404 saying so)."""
    asked = month if isinstance(month, Period) else read_period(month)
    now = Period.of(today())
    if asked is not None and asked.key > now.key:
        raise NotFound(
            _(
                "%(month)s这个月还没到，还没有它的台账和账目（现在是%(now)s）。",
                month=asked.label(),
                now=now.label(),
            ),
            code="month_to_come",
        )


def last_complete_month() -> Period:
    """The month before this one: the latest whole month, which month-by-month pages open on (on the
    1st, this month has no figures yet; on any day it is still incomplete)."""
    return Period.of(today()).previous


def month_window(last: Period, count: int) -> list[Period]:
    """``count`` months ending with the month ``last`` ends in, oldest first."""
    month = Period.containing("month", last.year, last.month_numbers[-1])
    months = [month]
    for _i in range(count - 1):
        month = month.previous
        months.append(month)
    return months[::-1]


def rollup_keys(month: str) -> tuple[str, str, str, str]:
    """``2026-11`` → the keys of that month, its quarter, its half-year and its year."""
    year, number = month[:4], int(month[5:])
    return month, f"{year}-Q{(number - 1) // 3 + 1}", f"{year}-H{1 if number <= 6 else 2}", year


def days(start: date, end: date) -> Iterator[date]:
    """The days ``start <= day < end``."""
    day = start
    while day < end:
        yield day
        day += timedelta(days=1)
