"""marshmallow schemas of the API's requests and answers."""

from datetime import UTC

from marshmallow import INCLUDE, fields, validate

from ..households import services as households
from ..ids import Id
from ..shop import redemptions
from .base import Schema

#: a reason of spaces only is no reason: the services strip it and refuse what is left (as a JSON
#: Schema ``pattern`` this is searched anywhere, which means the same: "has a character not a space")
NOT_BLANK = validate.Regexp(r"[\s\S]*\S")

#: the kinds of change record a village sends (``county.wire_types.PAYLOADS``)
SYNC_KINDS = (
    "household",
    "card",
    "category",
    "criterion",
    "goods",
    "round",
    "round_result",
    "transfer",
    "stock_move",
    "redemption",
    "points_rule",
    "opening_days",
    "month_close",
    "score_photo",
)


class Time(fields.DateTime):
    """A moment as RFC 3339 with its offset, in UTC (``2026-12-01T11:02:18Z``).

    The database holds naive UTC datetimes (:func:`pointsmart.clock.utcnow`); an answer without an
    offset would be read as local time by every client, eight hours off in China.
    """

    def __init__(self, **kwargs):
        kwargs.setdefault("metadata", {}).setdefault("description", "RFC 3339, UTC")
        super().__init__(**kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        moment = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return moment.isoformat().replace("+00:00", "Z")


class ErrorDetailSchema(Schema):
    code = fields.String(required=True, metadata={"description": "for programs: what went wrong"})
    message = fields.String(required=True, metadata={"description": "for people, in their language"})
    field_errors = fields.Dict(
        keys=fields.String(),
        data_key="fields",
        metadata={"description": "validation_error: each field that was refused, with why"},
    )
    field = fields.String(metadata={"description": "invalid_text and other one-field refusals: the field"})
    balance = fields.Integer(metadata={"description": "insufficient_points: the balance there was"})
    needed = fields.Integer(metadata={"description": "insufficient_points: the points it needed"})
    expected_from_seq = fields.Integer(metadata={"description": "sequence_gap: resend from here"})
    goods_id = fields.Integer(metadata={"description": "insufficient_stock: the goods short of stock"})
    stock = fields.Integer(metadata={"description": "insufficient_stock: its stock there was"})
    month = fields.String(metadata={"description": "month_closed: the closed month it would change"})


class ErrorSchema(Schema):
    """Every error answer: ``{"error": {"code", "message", …}}``; what else it carries is listed."""

    error = fields.Nested(ErrorDetailSchema, required=True)
    expected_from_seq = fields.Integer(
        metadata={"description": "sequence_gap: also here, where the push client reads it"}
    )


class CardSchema(Schema):
    number = fields.String()
    token = fields.String()
    status = fields.String()


class HouseholdSchema(Schema):
    uuid = fields.String()
    household_no = fields.String()
    head_name = fields.String()
    group = fields.String()
    members = fields.Integer(allow_none=True)
    active = fields.Boolean()
    balance = fields.Integer()
    #: the active card; only in answers to chair and shopkeeper tokens
    card = fields.Nested(CardSchema, allow_none=True)


class TransferSchema(Schema):
    uuid = fields.String()
    kind = fields.String()
    #: signed from the household's point of view: positive when points came in
    points = fields.Integer()
    reason = fields.String()
    created_at = Time()
    reverses = fields.String(allow_none=True)


def page_schema(name: str, item: type[Schema]) -> type[Schema]:
    return Schema.from_dict(
        {
            "items": fields.List(fields.Nested(item)),
            "page": fields.Integer(),
            "per_page": fields.Integer(),
            "total": fields.Integer(),
        },
        name=name,
    )


HouseholdPageSchema = page_schema("HouseholdPage", HouseholdSchema)
TransferPageSchema = page_schema("TransferPage", TransferSchema)


class AdjustmentSchema(Schema):
    points = fields.Integer(
        required=True,
        strict=True,
        validate=[
            validate.Range(min=-households.MAX_ADJUSTMENT, max=households.MAX_ADJUSTMENT),
            validate.NoneOf([0]),
        ],
        metadata={"description": "positive awards, negative deducts; 0 is refused", "not": {"enum": [0]}},
    )
    reason = fields.String(
        required=True,
        validate=[validate.Length(min=1, max=households.MAX_REASON), NOT_BLANK],
        metadata={"x-multiline": True},
    )


class AdjustmentResultSchema(Schema):
    transfer = fields.String()
    points = fields.Integer()
    balance = fields.Integer()


class RoundSchema(Schema):
    id = fields.Integer()
    uuid = fields.String()
    period_type = fields.String()
    period_key = fields.String()
    #: a 村民小组 name, or "" for the whole village
    scope = fields.String()
    status = fields.String()
    approvals = fields.Integer()
    approvals_required = fields.Integer()
    published_at = Time(allow_none=True)
    notice_ends_at = Time(allow_none=True)
    finalised_at = Time(allow_none=True)


class RoundHouseholdSchema(Schema):
    household = fields.String(metadata={"description": "household uuid"})
    household_no = fields.String()
    head_name = fields.String()
    group = fields.String()
    awarded = fields.Integer()
    deducted = fields.Integer()
    #: deductions the balance could not cover (finalised rounds only)
    shortfall = fields.Integer()
    net = fields.Integer()
    by_category = fields.Dict(keys=fields.String(), values=fields.Integer())


class RoundDetailSchema(RoundSchema):
    results = fields.List(fields.Nested(RoundHouseholdSchema))


RoundPageSchema = page_schema("RoundPage", RoundSchema)


class CardLookupSchema(Schema):
    household = fields.String(metadata={"description": "household uuid"})
    household_no = fields.String()
    #: the head's name masked (王*兰), as on the family page
    head_name = fields.String()
    balance = fields.Integer()
    status = fields.String()


class GoodsSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    spec = fields.String()
    price = fields.Integer()
    stock = fields.Integer()
    active = fields.Boolean()


class RedemptionLineSchema(Schema):
    goods_id = Id(required=True)
    qty = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=redemptions.MAX_QTY))


class RedemptionRequestSchema(Schema):
    card = fields.String(
        required=True,
        validate=validate.Length(min=1, max=300),
        metadata={"description": "card token, card URL or card number"},
    )
    lines = fields.List(
        fields.Nested(RedemptionLineSchema),
        required=True,
        validate=validate.Length(min=1, max=redemptions.MAX_LINES),
    )


class RedemptionResultSchema(Schema):
    id = fields.Integer()
    uuid = fields.String()
    points = fields.Integer()
    balance_after = fields.Integer()


class CancelRequestSchema(Schema):
    reason = fields.String(
        required=True,
        validate=[validate.Length(min=1, max=redemptions.MAX_REASON), NOT_BLANK],
        metadata={"x-multiline": True},
    )


class CancelResultSchema(Schema):
    id = fields.Integer()
    status = fields.String()
    balance_after = fields.Integer()


class LedgerSummarySchema(Schema):
    village_code = fields.String()
    households = fields.Integer()
    household_balance_sum = fields.Integer()
    transfers = fields.Integer()
    points_issued = fields.Integer()
    points_redeemed = fields.Integer()
    points_deducted = fields.Integer()


class WireSchema(Schema):
    """The sync wire's documenting schemas: the county ignores keys it does not know (a newer
    village may send more), so the document allows them too."""

    class Meta:
        unknown = INCLUDE


class SyncTotalsSchema(WireSchema):
    balance_sum = fields.Integer(
        required=True, metadata={"description": "sum of household balances at to_seq"}
    )
    transfer_count = fields.Integer(required=True, validate=validate.Range(min=0))
    digest = fields.String(
        required=True,
        validate=validate.Regexp("^[0-9a-f]{64}$"),
        metadata={"description": "the digest chain at to_seq (sha256 hex)"},
    )


class SyncRecordSchema(WireSchema):
    seq = fields.Integer(required=True, validate=validate.Range(min=1))
    kind = fields.String(required=True, validate=validate.OneOf(SYNC_KINDS))
    uuid = fields.String(required=True, validate=validate.Length(min=1, max=36))
    payload = fields.Dict(
        required=True, metadata={"description": "the kind's fields; nested at most 32 levels deep"}
    )


class SyncBatchSchema(WireSchema):
    """Documents the body of ``POST /sync/batches``; the county checks it with msgspec (fast).

    What no schema can say is checked too: records numbered from_seq..to_seq without a gap, each
    payload the shape of its kind, and the digest chain over the records equal to ``totals.digest``
    (422 invalid_batch, invalid_record or digest_mismatch).
    """

    village_code = fields.String(required=True, validate=validate.Regexp(r"^\d{12}$"))
    from_seq = fields.Integer(required=True, validate=validate.Range(min=1))
    to_seq = fields.Integer(required=True, validate=validate.Range(min=1))
    records = fields.List(fields.Nested(SyncRecordSchema), required=True)
    totals = fields.Nested(SyncTotalsSchema, required=True)
    village_url = fields.String(
        validate=validate.Length(max=200),
        metadata={
            "description": "the village server's LAN address (http://192.168.1.20:8000); the county's family "
            "page links there for claims. Absent: the county keeps the last one."
        },
    )


class SyncAckSchema(Schema):
    acked_seq = fields.Integer(metadata={"description": "the county has every record up to this one"})
    digest = fields.String(metadata={"description": "digest chain at acked_seq (the village checks it)"})


class CountyVillageSchema(Schema):
    code = fields.String()
    name = fields.String()
    township_code = fields.String()
    township = fields.String()
    last_sync_at = Time(allow_none=True)
    acked_seq = fields.Integer()
    household_balance_sum = fields.Integer()
    transfers = fields.Integer()
    points_issued = fields.Integer()
    points_redeemed = fields.Integer()
    points_deducted = fields.Integer()
    reported_balance_sum = fields.Integer(allow_none=True)
    reported_transfer_count = fields.Integer(allow_none=True)
    mismatch = fields.List(fields.String(), metadata={"description": "totals that differ from the village's"})


class CountyVillageListSchema(Schema):
    villages = fields.List(fields.Nested(CountyVillageSchema))
