"""marshmallow schemas of the API's requests and answers."""

from marshmallow import fields, validate

from .base import Schema


class ErrorDetailSchema(Schema):
    code = fields.String(required=True)
    message = fields.String(required=True)


class ErrorSchema(Schema):
    error = fields.Nested(ErrorDetailSchema, required=True)


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
    created_at = fields.DateTime()
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
    points = fields.Integer(required=True, strict=True, validate=validate.Range(min=-100_000, max=100_000))
    reason = fields.String(
        required=True, validate=validate.Length(min=1, max=500), metadata={"x-multiline": True}
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
    published_at = fields.DateTime(allow_none=True)
    notice_ends_at = fields.DateTime(allow_none=True)
    finalised_at = fields.DateTime(allow_none=True)


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
    goods_id = fields.Integer(required=True, strict=True)
    qty = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=1000))


class RedemptionRequestSchema(Schema):
    card = fields.String(
        required=True,
        validate=validate.Length(min=1, max=300),
        metadata={"description": "card token, card URL or card number"},
    )
    lines = fields.List(
        fields.Nested(RedemptionLineSchema), required=True, validate=validate.Length(min=1, max=50)
    )


class RedemptionResultSchema(Schema):
    id = fields.Integer()
    uuid = fields.String()
    points = fields.Integer()
    balance_after = fields.Integer()


class CancelRequestSchema(Schema):
    reason = fields.String(
        required=True, validate=validate.Length(min=1, max=200), metadata={"x-multiline": True}
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


class SyncTotalsSchema(Schema):
    balance_sum = fields.Integer(
        required=True, metadata={"description": "sum of household balances at to_seq"}
    )
    transfer_count = fields.Integer(required=True)
    digest = fields.String(required=True, metadata={"description": "the digest chain at to_seq (sha256 hex)"})


class SyncRecordSchema(Schema):
    seq = fields.Integer(required=True)
    kind = fields.String(
        required=True,
        metadata={
            "description": "household, category, criterion, goods, "
            "round, round_result, transfer, stock_move, redemption"
        },
    )
    uuid = fields.String(required=True)
    payload = fields.Dict(required=True)


class SyncBatchSchema(Schema):
    """Documents the body of ``POST /sync/batches``; the county checks it with msgspec (fast)."""

    village_code = fields.String(required=True)
    from_seq = fields.Integer(required=True)
    to_seq = fields.Integer(required=True)
    records = fields.List(fields.Nested(SyncRecordSchema), required=True)
    totals = fields.Nested(SyncTotalsSchema, required=True)


class SyncAckSchema(Schema):
    acked_seq = fields.Integer(metadata={"description": "the county has every record up to this one"})
    digest = fields.String(metadata={"description": "digest chain at acked_seq (the village checks it)"})


class CountyVillageSchema(Schema):
    code = fields.String()
    name = fields.String()
    township_code = fields.String()
    township = fields.String()
    last_sync_at = fields.DateTime(allow_none=True, metadata={"description": "UTC"})
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
