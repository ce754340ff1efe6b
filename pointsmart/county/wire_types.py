"""The typed shape of a sync batch and of each kind's payload, checked with msgspec.

msgspec validates a batch of thousands of records in one call from C, which the county's ingest
needs (a marshmallow schema per record would cost more than the database work). Lengths match the
county's columns, so a record that fits here fits the table.
"""

from datetime import date, datetime
from typing import Annotated

import msgspec
import msgspec.inspect
from msgspec import Meta

#: Every pattern is anchored with ``\A…\Z``: msgspec matches with ``re.search``, where ``$`` also matches
#: before a final newline ("months\n" would pass ``^(…)$`` and be stored with its newline).
#:
#: an identifier the village generated: no control character, no surrogate (text is stored as sent;
#: an identifier that breaks the text rule is no village's and is refused)
Uuid = Annotated[str, Meta(min_length=1, max_length=36, pattern="\\A[^\x00-\x1f\x7f-\x9f\ud800-\udfff]+\\Z")]
#: the village server's times are UTC without an offset; one with an offset would land in the wrong month
Time = Annotated[datetime, Meta(tz=False)]
Points = Annotated[int, Meta(ge=-(2**53), le=2**53)]
Positive = Annotated[int, Meta(gt=0, le=2**53)]
#: a count or a position the village keeps in a 32-bit column (so the county's columns hold it too)
Small = Annotated[int, Meta(ge=-(2**31), le=2**31 - 1)]
#: a total the county keeps in a 64-bit column: a larger one would fail the write, not the check
Total = Annotated[int, Meta(ge=-(2**63), le=2**63 - 1)]


def text(n: int):
    return Annotated[str, Meta(max_length=n)]


#: a village's own address: http(s), a host (name, IPv4 or [IPv6]) and port, perhaps a path; no query
VILLAGE_URL = r"\Ahttps?://[A-Za-z0-9.\-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~\-/]*)?\Z|\Ahttps?://\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?/?\Z"


class Totals(msgspec.Struct):
    #: sum of household balances and number of transfers at ``to_seq``, and the digest chain there
    balance_sum: Total
    transfer_count: Annotated[int, Meta(ge=0, le=2**63 - 1)]
    digest: Annotated[str, Meta(pattern=r"\A[0-9a-f]{64}\Z")]


class Batch(msgspec.Struct):
    village_code: Annotated[str, Meta(pattern=r"\A[0-9]{12}\Z")]
    from_seq: Annotated[int, Meta(ge=1)]
    to_seq: Annotated[int, Meta(ge=1)]
    records: list[dict]
    totals: Totals
    #: the village server's LAN address (families' claims live there); absent: the county keeps the last
    village_url: Annotated[str, Meta(max_length=200, pattern=VILLAGE_URL)] | None = None


class Envelope(msgspec.Struct):
    seq: Annotated[int, Meta(ge=1)]
    #: bounded: an unknown kind is named in the refusal
    kind: Annotated[str, Meta(max_length=32)]
    uuid: Uuid
    payload: dict


class Household(msgspec.Struct):
    household_no: text(20)
    head_name: text(40)
    group: text(40)
    members: Small | None
    active: bool
    created_at: Time | None


class Card(msgspec.Struct):
    """A household's card (since 0013): what recognises its token, never the token itself."""

    household: Uuid
    #: HMAC-SHA256 of the token, in hex (:func:`pointsmart.cards.services.token_digest`)
    token_digest: Annotated[str, Meta(pattern=r"\A[0-9a-f]{64}\Z")]
    #: bounded before it is matched: a refusal never echoes what was sent
    status: Annotated[str, Meta(max_length=10, pattern=r"\A(active|revoked)\Z")]
    issued_at: Time
    #: the status decides; the time is shown, never checked (a row an older version revoked may lack it)
    revoked_at: Time | None


class Category(msgspec.Struct):
    name: text(60)
    position: Small
    active: bool


class Criterion(msgspec.Struct):
    category: Uuid | None
    name: text(100)
    points: Points
    cadence: text(16)
    max_per_period: Small
    active: bool


class Round(msgspec.Struct):
    period_type: text(16)
    period_key: text(10)
    scope: text(40)
    status: text(16)
    created_at: Time | None
    notice_ends_at: Time | None
    finalised_at: Time | None
    # Since 0011. A village that has not upgraded sends none of them: each is then None, "not known"
    # (the notice check falls back on what it can bound without them), never "none".
    published_at: Time | None = None
    #: the village's notice days, as the round took them from its settings (the village allows 1–30)
    notice_days: Annotated[int, Meta(ge=1, le=365)] | None = None
    #: photos of the posted notice the round has (the village allows 20)
    notice_photos: Annotated[int, Meta(ge=0, le=1000)] | None = None

    def __post_init__(self):
        # A village publishes a round, and only then does its notice run and can it be finalised (a
        # re-published round has both times set again): a publishing time after either is no village's.
        # msgspec turns this into a ValidationError, so the refusal names the record like any other.
        if self.published_at is not None:
            if self.notice_ends_at is not None and self.published_at > self.notice_ends_at:
                raise ValueError("published_at is after notice_ends_at")
            if self.finalised_at is not None and self.published_at > self.finalised_at:
                raise ValueError("published_at is after finalised_at")


class RoundResult(msgspec.Struct):
    round: Uuid
    household: Uuid
    awarded: Points
    deducted: Points
    shortfall: Points


AccountCode = Annotated[str, Meta(pattern=r"\A(household:[0-9a-f-]{36}|issuance|shop|deductions|expiry)\Z")]


class Transfer(msgspec.Struct):
    to: AccountCode
    amount: Positive
    kind: text(16)
    reason: text(500)
    reverses: Uuid | None
    category: text(60) | None
    created_at: Time
    # ``from`` is a Python keyword
    from_: AccountCode = msgspec.field(name="from")


class Goods(msgspec.Struct):
    name: text(60)
    spec: text(40)
    price: Points
    active: bool


class StockMove(msgspec.Struct):
    goods: Uuid
    kind: text(16)
    qty: Points
    donor: text(60)
    moved_on: date | None
    redemption: Uuid | None
    created_at: Time


class Line(msgspec.Struct):
    goods: Uuid
    goods_name: text(60)
    qty: Points
    unit_price: Points


class Redemption(msgspec.Struct):
    household: Uuid
    points: Points
    status: text(10)
    created_at: Time
    cancelled_at: Time | None
    lines: list[Line]
    # Since 0011 (None from a village that has not upgraded): ids the village derives from its operator's
    # and its card's rows — never a name, a card number or the card's token
    operator: Uuid | None = None
    card: Uuid | None = None


#: the points' life in months under the ``months`` rule (the village allows 1–120)
RuleMonths = Annotated[int, Meta(ge=1, le=120)]


class PointsRule(msgspec.Struct):
    """One choice of the village's year-end rule for points (积分到期规则)."""

    #: bounded before it is matched: a refusal never echoes what was sent
    rule: Annotated[str, Meta(max_length=10, pattern=r"\A(keep|year_end|months)\Z")]
    months: RuleMonths | None
    since: Time
    created_at: Time

    def __post_init__(self):
        # msgspec turns this into a ValidationError, so the refusal names the record like any other
        if (self.rule == "months") != (self.months is not None):
            raise ValueError("months is given with the rule 'months', and only with it")


#: an ISO weekday (1 周一 … 7 周日)
Weekday = Annotated[int, Meta(ge=1, le=7)]


class OpeningDays(msgspec.Struct):
    """One choice of the village shop's opening days (营业日); none is "not set" (since 0012)."""

    days: Annotated[list[Weekday], Meta(max_length=7)]
    created_at: Time

    def __post_init__(self):
        # msgspec turns this into a ValidationError, so the refusal names the record like any other
        if len(set(self.days)) != len(self.days):
            raise ValueError("each weekday is given at most once")


class MonthClose(msgspec.Struct):
    """A month the village closed (月结, since 0014): the sha256 of its figures, when, and who."""

    month: Annotated[str, Meta(pattern=r"\A20[0-9]{2}-(0[1-9]|1[0-2])\Z")]
    sha256: Annotated[str, Meta(pattern=r"\A[0-9a-f]{64}\Z")]
    closed_at: Time
    closed_by: Uuid | None
    #: the closer's name as the village shows it (since 0019; an older village sends none)
    closed_by_name: text(40) | None = None


class ScorePhoto(msgspec.Struct):
    """A score photo's metadata (打分佐证照片, since 0018): never the image nor its file's name."""

    round: Uuid
    household: Uuid
    #: the rulebook criterion it is evidence for, and its name as the round kept it; None: the whole score
    criterion: Uuid | None
    criterion_name: text(100) | None
    #: bounded before it is matched: a refusal never echoes what was sent
    stage: Annotated[str, Meta(max_length=8, pattern=r"\A(|before|after)\Z")]
    taken_at: Time
    public: bool
    #: of the stored file; None: its file was missing when the village's 0018 ran
    sha256: Annotated[str, Meta(pattern=r"\A[0-9a-f]{64}\Z")] | None
    #: bytes of the stored file (the village keeps photos of a few hundred KB; 2**31 is no photo's)
    size: Annotated[int, Meta(gt=0, le=2**31 - 1)]
    deleted: bool


PAYLOADS = {
    "household": Household,
    "card": Card,
    "category": Category,
    "criterion": Criterion,
    "goods": Goods,
    "round": Round,
    "round_result": RoundResult,
    "transfer": Transfer,
    "stock_move": StockMove,
    "redemption": Redemption,
    "points_rule": PointsRule,
    "opening_days": OpeningDays,
    "month_close": MonthClose,
    "score_photo": ScorePhoto,
}


def _dated(cls) -> tuple[str, ...]:
    """The fields of a payload that hold a time or a day (also when optional)."""
    kinds = (msgspec.inspect.DateTimeType, msgspec.inspect.DateType)
    return tuple(
        f.name
        for f in msgspec.inspect.type_info(cls).fields
        if isinstance(f.type, kinds) or any(isinstance(t, kinds) for t in getattr(f.type, "types", ()))
    )


#: each kind's times and days: msgspec cannot bound them, so :mod:`.batch_checks` checks their years
DATED = {kind: _dated(cls) for kind, cls in PAYLOADS.items()}
