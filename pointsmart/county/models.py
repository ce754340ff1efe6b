"""County tables: townships, each village's sync link, the projections of synced records, the rollups.

The county keeps what villages send as projections keyed by (village, uuid): a village's key can
only ever write rows of its own village. Transfers and stock moves are append-only and also feed
monthly rollups maintained in the same transaction as the batch, so the dashboard never scans the
transfers (the sync tests recompute them from the synced transfers and compare).
"""

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..text import from_stored, to_stored


class StoredText(sa.types.TypeDecorator):
    """A village's text as the county stores it (:func:`pointsmart.text.to_stored`): PostgreSQL cannot
    hold NUL, which a village's older records may carry. Written and read back through SQLAlchemy
    transparently; :func:`pointsmart.county.projection.copy_rows` applies the same form to ``COPY``."""

    impl = sa.String
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return to_stored(value) if isinstance(value, str) else value

    def process_result_value(self, value, dialect):
        return from_stored(value) if isinstance(value, str) else value


class Township(db.Model):
    """乡镇, by its 12-digit division code; villages point at it by ``Village.township_code``."""

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(12), unique=True)
    name: Mapped[str] = mapped_column(sa.String(100))


class VillageLink(db.Model):
    """What the county knows of one village's sync: its key, how far it has come, its totals."""

    __tablename__ = "village_link"

    village_id: Mapped[int] = mapped_column(sa.ForeignKey("village.id"), primary_key=True)
    #: sha256 of the village's sync key (a 256-bit random secret, so a fast hash is enough)
    key_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    key_set_at: Mapped[datetime]
    #: the last sequence number applied, and the digest chain as of it
    acked_seq: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    digest: Mapped[str] = mapped_column(sa.String(64), default="")
    last_sync_at: Mapped[datetime | None]
    #: the county's own projection of the village's ledger, moved by every transfer applied
    balance_sum: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    transfer_count: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    points_issued: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    points_redeemed: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    points_deducted: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    #: what the village reported with its last batch
    reported_balance_sum: Mapped[int | None] = mapped_column(sa.BigInteger)
    reported_transfer_count: Mapped[int | None] = mapped_column(sa.BigInteger)
    #: why the county's projection and the village's report disagree, or empty when they agree
    mismatch: Mapped[str] = mapped_column(sa.String(300), default="")
    #: the village server's own LAN address (``http://192.168.1.20:8000``), as its last push said, or
    #: empty: the county's family page links there for claims, which live only at the village
    village_url: Mapped[str] = mapped_column(sa.String(200), default="", server_default="")


class SyncBatch(db.Model):
    """One applied batch or bundle: the county's receipt of what came in, from where, when."""

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(sa.ForeignKey("village.id"), index=True)
    from_seq: Mapped[int] = mapped_column(sa.BigInteger)
    to_seq: Mapped[int] = mapped_column(sa.BigInteger)
    records: Mapped[int]
    #: ``http`` or ``bundle``
    via: Mapped[str] = mapped_column(sa.String(10))
    received_at: Mapped[datetime]


def _synced(*extra):
    return (sa.UniqueConstraint("village_id", "uuid"), *extra)


class SyncedHousehold(db.Model):
    __table_args__ = _synced()
    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(sa.ForeignKey("village.id"))
    uuid: Mapped[str] = mapped_column(sa.String(36))
    household_no: Mapped[str] = mapped_column(StoredText(20))
    head_name: Mapped[str] = mapped_column(StoredText(40))
    group: Mapped[str] = mapped_column("group_name", StoredText(40), default="")
    members: Mapped[int | None]
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime | None]


class SyncedCard(db.Model):
    """A village's card as the county knows it (since 0013): a hash of its token, never the token.

    The county's family page finds a card by the hash of the token it is shown
    (:func:`pointsmart.cards.services.token_digest`) among the active ones; a revocation synced
    sets ``status`` to ``revoked`` and the page stops answering for it.
    """

    __tablename__ = "synced_card"
    __table_args__ = _synced(sa.Index("ix_synced_card_token_digest", "token_digest"))
    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(sa.ForeignKey("village.id"))
    #: derived by the village from its card row (``sync.kinds.card_uuid``), as redemptions name it
    uuid: Mapped[str] = mapped_column(sa.String(36))
    household_uuid: Mapped[str] = mapped_column(sa.String(36))
    #: HMAC-SHA256 of the card's token, in hex
    token_digest: Mapped[str] = mapped_column(sa.String(64))
    #: ``active`` or ``revoked``
    status: Mapped[str] = mapped_column(sa.String(10))
    issued_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class SyncedCategory(db.Model):
    __table_args__ = _synced()
    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(sa.ForeignKey("village.id"))
    uuid: Mapped[str] = mapped_column(sa.String(36))
    name: Mapped[str] = mapped_column(StoredText(60))
    position: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)


class SyncedCriterion(db.Model):
    __table_args__ = _synced()
    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(sa.ForeignKey("village.id"))
    uuid: Mapped[str] = mapped_column(sa.String(36))
    category_uuid: Mapped[str | None] = mapped_column(sa.String(36))
    name: Mapped[str] = mapped_column(StoredText(100))
    points: Mapped[int]
    cadence: Mapped[str] = mapped_column(StoredText(16))
    max_per_period: Mapped[int] = mapped_column(default=1)
    active: Mapped[bool] = mapped_column(default=True)


class SyncedRound(db.Model):
    __table_args__ = _synced()
    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(sa.ForeignKey("village.id"))
    uuid: Mapped[str] = mapped_column(sa.String(36))
    period_type: Mapped[str] = mapped_column(StoredText(16))
    period_key: Mapped[str] = mapped_column(StoredText(10))
    scope: Mapped[str] = mapped_column(StoredText(40), default="")
    status: Mapped[str] = mapped_column(StoredText(16))
    created_at: Mapped[datetime | None]
    notice_ends_at: Mapped[datetime | None]
    finalised_at: Mapped[datetime | None]
    #: sent since 0011; None from a village that has not upgraded ("not known", not "none")
    published_at: Mapped[datetime | None]
    #: the village's notice days as the round took them from its settings
    notice_days: Mapped[int | None]
    #: how many photos of the posted notice the round has
    notice_photos: Mapped[int | None]


class SyncedRoundResult(db.Model):
    __table_args__ = _synced(sa.Index("ix_synced_round_result_round", "village_id", "round_uuid"))
    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(sa.ForeignKey("village.id"))
    uuid: Mapped[str] = mapped_column(sa.String(36))
    round_uuid: Mapped[str] = mapped_column(sa.String(36))
    household_uuid: Mapped[str] = mapped_column(sa.String(36))
    awarded: Mapped[int]
    deducted: Mapped[int]
    shortfall: Mapped[int]


class SyncedTransfer(db.Model):
    """A village's transfer; ``household_uuid`` is the household side (none for system-to-system)."""

    __table_args__ = _synced(
        sa.Index("ix_synced_transfer_household", "village_id", "household_uuid"),
        # a month's transfers, as the county's rebuild of the month's figures reads them (0017)
        sa.Index("ix_synced_transfer_created", "village_id", "created_at"),
    )
    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)
    village_id: Mapped[int] = mapped_column(sa.ForeignKey("village.id"))
    uuid: Mapped[str] = mapped_column(sa.String(36))
    kind: Mapped[str] = mapped_column(StoredText(16))
    amount: Mapped[int] = mapped_column(sa.BigInteger)
    #: the account kinds at each end: household / issuance / shop / deductions / expiry
    from_kind: Mapped[str] = mapped_column(sa.String(16))
    to_kind: Mapped[str] = mapped_column(sa.String(16))
    household_uuid: Mapped[str | None] = mapped_column(sa.String(36))
    category: Mapped[str | None] = mapped_column(StoredText(60))
    reason: Mapped[str] = mapped_column(StoredText(500), default="")
    reverses_uuid: Mapped[str | None] = mapped_column(sa.String(36))
    created_at: Mapped[datetime]
    #: the village-local month, ``2026-11``
    month: Mapped[str] = mapped_column(sa.String(7))


class SyncedGoods(db.Model):
    __table_args__ = _synced()
    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(sa.ForeignKey("village.id"))
    uuid: Mapped[str] = mapped_column(sa.String(36))
    name: Mapped[str] = mapped_column(StoredText(60))
    spec: Mapped[str] = mapped_column(StoredText(40), default="")
    price: Mapped[int]
    active: Mapped[bool] = mapped_column(default=True)


class SyncedStockMove(db.Model):
    # the anomaly check's stock received: donations, purchases, stocktakes are few among the moves
    __table_args__ = _synced(sa.Index("ix_synced_stock_move_kind", "kind", "village_id", "goods_uuid"))
    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(sa.ForeignKey("village.id"))
    uuid: Mapped[str] = mapped_column(sa.String(36))
    goods_uuid: Mapped[str] = mapped_column(sa.String(36))
    kind: Mapped[str] = mapped_column(StoredText(16))
    qty: Mapped[int]
    donor: Mapped[str] = mapped_column(StoredText(60), default="")
    moved_on: Mapped[date | None]
    redemption_uuid: Mapped[str | None] = mapped_column(sa.String(36))
    created_at: Mapped[datetime]
    month: Mapped[str] = mapped_column(sa.String(7))


class SyncedRedemption(db.Model):
    __table_args__ = _synced(
        sa.Index("ix_synced_redemption_created", "village_id", "created_at"),
        # the anomaly check's redemptions of a period across every village
        sa.Index("ix_synced_redemption_at", "created_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(sa.ForeignKey("village.id"))
    uuid: Mapped[str] = mapped_column(sa.String(36))
    household_uuid: Mapped[str] = mapped_column(sa.String(36))
    points: Mapped[int]
    status: Mapped[str] = mapped_column(StoredText(10))
    created_at: Mapped[datetime]
    cancelled_at: Mapped[datetime | None]
    #: the lines as JSON: ``[{"goods", "goods_name", "qty", "unit_price"}]``
    lines: Mapped[str] = mapped_column(sa.Text, default="[]")
    #: ids the village derives from its operator's and its card's rows (since 0011; else None)
    operator_uuid: Mapped[str | None] = mapped_column(sa.String(36))
    card_uuid: Mapped[str | None] = mapped_column(sa.String(36))


class SyncedPointsRule(db.Model):
    """One choice of a village's year-end rule for points; the latest ``since`` is the rule in force."""

    __tablename__ = "synced_points_rule"
    __table_args__ = _synced()
    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(sa.ForeignKey("village.id"))
    uuid: Mapped[str] = mapped_column(sa.String(36))
    #: ``keep``, ``year_end`` or ``months``
    rule: Mapped[str] = mapped_column(sa.String(10))
    months: Mapped[int | None]
    since: Mapped[datetime]
    created_at: Mapped[datetime]


class SyncedOpeningDays(db.Model):
    """One choice of a village shop's opening days; the latest ``created_at`` before a moment was in force."""

    __tablename__ = "synced_opening_days"
    __table_args__ = _synced()
    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(sa.ForeignKey("village.id"))
    uuid: Mapped[str] = mapped_column(sa.String(36))
    #: the ISO weekdays as bits (bit ``n - 1`` for weekday ``n``); 0: not set, the days are not checked
    days: Mapped[int]
    created_at: Mapped[datetime]


class SyncedMonthClose(db.Model):
    """A month the village closed (月结): the sha256 of its figures as the village computed them. The
    county rebuilds the figures from its synced records and compares (:mod:`pointsmart.closing.figures`)."""

    __tablename__ = "synced_month_close"
    #: a village closes a month once: a second close of it is refused at ingest, and here (since 0021)
    __table_args__ = _synced(sa.UniqueConstraint("village_id", "month"))
    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(sa.ForeignKey("village.id"))
    uuid: Mapped[str] = mapped_column(sa.String(36))
    month: Mapped[str] = mapped_column(sa.String(7))
    sha256: Mapped[str] = mapped_column(sa.String(64))
    closed_at: Mapped[datetime]
    #: an id the village derives from its user's row
    closed_by_uuid: Mapped[str | None] = mapped_column(sa.String(36))
    #: the closer's name as the village shows it ("" from a village older than 0019)
    closed_by_name: Mapped[str] = mapped_column(sa.String(40), default="", server_default="")


class SyncedScorePhoto(db.Model):
    """A village's score photo (打分佐证照片, since 0018): what it shows and of whom, never the image.

    Listed in the county's photos ledger of the round's month (:mod:`.month_book`); a photo the
    village deleted stays here, ``deleted``, and is left out of it.
    """

    __tablename__ = "synced_score_photo"
    __table_args__ = _synced(sa.Index("ix_synced_score_photo_round", "village_id", "round_uuid"))
    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(sa.ForeignKey("village.id"))
    #: derived by the village from its row (``scoring.score_photos.score_photo_uuid``)
    uuid: Mapped[str] = mapped_column(sa.String(36))
    round_uuid: Mapped[str] = mapped_column(sa.String(36))
    household_uuid: Mapped[str] = mapped_column(sa.String(36))
    criterion_uuid: Mapped[str | None] = mapped_column(sa.String(36))
    criterion_name: Mapped[str | None] = mapped_column(StoredText(100))
    #: ``""``, ``before`` or ``after``
    stage: Mapped[str] = mapped_column(sa.String(8))
    taken_at: Mapped[datetime]
    public: Mapped[bool]
    sha256: Mapped[str | None] = mapped_column(sa.String(64))
    size: Mapped[int]
    deleted: Mapped[bool] = mapped_column(default=False)


class VillageMonth(db.Model):
    """Net points per village per month, from the transfers (reversals subtract)."""

    village_id: Mapped[int] = mapped_column(sa.ForeignKey("village.id"), primary_key=True)
    month: Mapped[str] = mapped_column(sa.String(7), primary_key=True)
    issued: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    redeemed: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    deducted: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    expired: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    transfers: Mapped[int] = mapped_column(sa.BigInteger, default=0)


class VillageMonthCategory(db.Model):
    """Points a round posted per rulebook category, per village per month."""

    village_id: Mapped[int] = mapped_column(sa.ForeignKey("village.id"), primary_key=True)
    month: Mapped[str] = mapped_column(sa.String(7), primary_key=True)
    category: Mapped[str] = mapped_column(StoredText(60), primary_key=True)
    awarded: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    deducted: Mapped[int] = mapped_column(sa.BigInteger, default=0)


class VillageMonthGoods(db.Model):
    """Goods redeemed (net of cancellations) per village per month, from the stock moves."""

    village_id: Mapped[int] = mapped_column(sa.ForeignKey("village.id"), primary_key=True)
    month: Mapped[str] = mapped_column(sa.String(7), primary_key=True)
    goods_uuid: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    qty: Mapped[int] = mapped_column(sa.BigInteger, default=0)


class HouseholdPeriod(db.Model):
    """A household that earned points in a period (``2026-11``, ``2026-Q4``, ``2026-H2``, ``2026``)."""

    # period first: the dashboard counts one period's households across every village
    period: Mapped[str] = mapped_column(sa.String(7), primary_key=True)
    village_id: Mapped[int] = mapped_column(sa.ForeignKey("village.id"), primary_key=True)
    household_uuid: Mapped[str] = mapped_column(sa.String(36), primary_key=True)


class AnomalyThreshold(db.Model):
    """The county admin's threshold for one anomaly rule (:mod:`.anomalies`); no row: the default."""

    __tablename__ = "anomaly_threshold"

    rule: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    value: Mapped[int]
    set_by: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    set_at: Mapped[datetime]


class AnomalyCheck(db.Model):
    """A reviewer's mark that a finding was checked, with a note. Kept for good: the finding is then
    shown as checked. Identity of a finding: rule + village + subject (+ the period for the rules that
    judge a period's sums), so the mark survives the findings being computed again and covers the
    finding in every period it shows in (:attr:`.anomalies.Finding.identity`)."""

    __tablename__ = "anomaly_check"
    __table_args__ = (sa.UniqueConstraint("rule", "village_id", "subject", "period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    rule: Mapped[str] = mapped_column(sa.String(40))
    village_id: Mapped[int] = mapped_column(sa.ForeignKey("village.id"))
    #: what in the village the finding is about: a round's or a household's uuid, a goods uuid, a month
    subject: Mapped[str] = mapped_column(sa.String(80))
    #: the period the mark is kept for (``2026-11``, ``2026-Q4`` …) for :data:`.anomalies.PERIOD_BOUND`
    #: rules, "" for the others (a mark made before that, of any rule, holds the period it was made in)
    period: Mapped[str] = mapped_column(sa.String(10))
    note: Mapped[str] = mapped_column(sa.String(500), default="")
    checked_by: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    checked_at: Mapped[datetime]
