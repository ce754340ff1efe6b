"""The OpenAPI 3 documents of ``/api/v1``, built from the marshmallow schemas: one per tier.

A village serves the village document (households, rounds, cards, goods, redemptions, its ledger);
a county serves the county document (sync batches, the villages' totals). Each lists only what that
tier answers, with every status it can answer, and every limit it enforces — Schemathesis checks
both against the running app in ``tests/test_api_fuzz.py``.
"""

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import fields

from .. import text
from ..ids import MAX_ID
from ..paging import MAX_PAGE
from .schemas import (
    AdjustmentResultSchema,
    AdjustmentSchema,
    CancelRequestSchema,
    CancelResultSchema,
    CardLookupSchema,
    CountyVillageListSchema,
    ErrorSchema,
    GoodsSchema,
    HouseholdPageSchema,
    HouseholdSchema,
    LedgerSummarySchema,
    RedemptionRequestSchema,
    RedemptionResultSchema,
    RoundDetailSchema,
    RoundPageSchema,
    SyncAckSchema,
    SyncBatchSchema,
    TransferPageSchema,
)

#: the most rows one page of the API holds (``api.views._paging`` enforces it)
MAX_PER_PAGE = 500
#: an Idempotency-Key: 1 to 100 characters, not only spaces
IDEMPOTENCY_KEY = {"type": "string", "minLength": 1, "maxLength": 100, "pattern": "\\S"}
ROUND_STATUSES = ["draft", "submitted", "approved", "notice", "finalised"]
FLAG = {"type": "string", "enum": ["0", "1"]}


#: schemas the API reads (request bodies): their strings meet the text rule (:mod:`pointsmart.text`)
REQUESTS = (AdjustmentSchema, RedemptionRequestSchema, CancelRequestSchema, SyncBatchSchema)
#: a search or filter text in a query: one line, as long as the query guard allows
QUERY_TEXT = {"type": "string", "maxLength": text.MAX_QUERY_VALUE, "pattern": text.SINGLE_LINE_PATTERN}


def text_rule(self, field, **kwargs) -> dict:
    """An apispec attribute function: a request's string field documents the text rule it is held
    to — which characters (single- or multi-line) and, where the field names none, the default length."""
    if not isinstance(field, fields.String) or not isinstance(field.parent, REQUESTS):
        return {}
    multiline = bool(field.metadata.get("x-multiline"))
    pattern = {"pattern": text.MULTI_LINE_PATTERN if multiline else text.SINGLE_LINE_PATTERN}
    ret = kwargs.get("ret", {})
    rule = {"allOf": [pattern]} if "pattern" in ret else pattern  # a field's own pattern stays beside it
    if "maxLength" not in ret:
        rule["maxLength"] = text.DEFAULT_MAX_LENGTH
    return rule


def _error(description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": "Error"}}}


def _ok(schema: str, description: str = "OK") -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _id_param(name: str) -> dict:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
        "description": "an id outside 1..2^31-1 names nothing: 404",
    }


UUID_PARAM = {
    "name": "household_uuid",
    "in": "path",
    "required": True,
    "schema": {"type": "string"},
    "description": "an unknown uuid is 404",
}
PAGING = [
    {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}},
    {
        "name": "per_page",
        "in": "query",
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE},
        "description": "20 unless given",
    },
]
AUTH_ERRORS = {"401": _error("unauthorized: no valid token"), "403": _error("forbidden: this role may not")}
INVALID = {"422": _error("a parameter or the body is refused: the code and `fields` say which")}
NOT_FOUND = {"404": _error("not_found")}


VILLAGE_SCHEMAS = (
    ("Error", ErrorSchema),
    ("Household", HouseholdSchema),
    ("HouseholdPage", HouseholdPageSchema),
    ("TransferPage", TransferPageSchema),
    ("Adjustment", AdjustmentSchema),
    ("AdjustmentResult", AdjustmentResultSchema),
    ("RoundPage", RoundPageSchema),
    ("RoundDetail", RoundDetailSchema),
    ("CardLookup", CardLookupSchema),
    ("Goods", GoodsSchema),
    ("RedemptionRequest", RedemptionRequestSchema),
    ("RedemptionResult", RedemptionResultSchema),
    ("CancelRequest", CancelRequestSchema),
    ("CancelResult", CancelResultSchema),
    ("LedgerSummary", LedgerSummarySchema),
)
COUNTY_SCHEMAS = (
    ("Error", ErrorSchema),
    ("SyncBatch", SyncBatchSchema),
    ("SyncAck", SyncAckSchema),
    ("CountyVillageList", CountyVillageListSchema),
)


def build_spec(base_url: str, tier: str = "village") -> dict:
    """The document of one tier (``village`` or ``county``): only the endpoints that tier answers."""
    county = tier == "county"
    plugin = MarshmallowPlugin()
    spec = APISpec(
        title="PointsMart county API" if county else "PointsMart village API",
        version="1",
        openapi_version="3.0.3",
        plugins=[plugin],
        servers=[{"url": base_url.rstrip("/") + "/api/v1"}],
        info={
            "description": (
                "巾帼家美积分超市 county API: villages push their change log here (Bearer = the village's "
                "sync key), reviewers read the villages' totals (Bearer = an API token). "
                if county
                else "巾帼家美积分超市 village API. Authenticate with `Authorization: Bearer <token>` "
                "(`pointsmart users token NAME`, or the 令牌 page). "
            )
            + 'Times are RFC 3339 in UTC. Errors answer `{"error": {"code", "message"}}` (schema Error).'
        },
        security=[{"bearer": []}],
    )
    plugin.converter.add_attribute_function(text_rule)
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    for name, schema in COUNTY_SCHEMAS if county else VILLAGE_SCHEMAS:
        spec.components.schema(name, schema=schema)
    (_county_paths if county else _village_paths)(spec)
    return spec.to_dict()


def _village_paths(spec: APISpec) -> None:
    spec.path(
        "/households",
        operations={
            "get": {
                "summary": "List households (search by name or 户号, filter by group)",
                "parameters": [
                    {"name": "q", "in": "query", "schema": QUERY_TEXT},
                    {"name": "group", "in": "query", "schema": QUERY_TEXT},
                    {"name": "inactive", "in": "query", "schema": FLAG, "description": "1: include inactive"},
                    *PAGING,
                ],
                "responses": {"200": _ok("HouseholdPage"), **AUTH_ERRORS, **INVALID},
            }
        },
    )
    spec.path(
        "/households/{household_uuid}",
        operations={
            "get": {
                "summary": "One household with its balance",
                "parameters": [UUID_PARAM],
                "responses": {"200": _ok("Household"), "404": _error("unknown household"), **AUTH_ERRORS},
            }
        },
    )
    spec.path(
        "/households/{household_uuid}/transfers",
        operations={
            "get": {
                "summary": "A household's transfers, newest first",
                "parameters": [UUID_PARAM, *PAGING],
                "responses": {
                    "200": _ok("TransferPage"),
                    "404": _error("unknown household"),
                    **AUTH_ERRORS,
                    **INVALID,
                },
            }
        },
    )
    spec.path(
        "/households/{household_uuid}/adjustments",
        operations={
            "post": {
                "summary": "Award (points > 0) or deduct (points < 0) points by hand; chair only. With an "
                "Idempotency-Key header a retry answers the same and adjusts nothing more.",
                "parameters": [
                    UUID_PARAM,
                    {"name": "Idempotency-Key", "in": "header", "required": False, "schema": IDEMPOTENCY_KEY},
                ],
                "requestBody": {"required": True, "content": {"application/json": {"schema": "Adjustment"}}},
                "responses": {
                    "201": _ok("AdjustmentResult", "posted"),
                    "404": _error("unknown household"),
                    "409": _error(
                        "insufficient_points (with balance and needed): the deduction is larger than the "
                        "balance; household_inactive"
                    ),
                    "422": _error(
                        "validation_error (with fields), invalid_json, idempotency_key_reused, invalid_amount"
                    ),
                    **AUTH_ERRORS,
                },
            }
        },
    )
    spec.path(
        "/rounds",
        operations={
            "get": {
                "summary": "Scoring rounds, newest period first",
                "parameters": [
                    {"name": "status", "in": "query", "schema": {"type": "string", "enum": ROUND_STATUSES}},
                    *PAGING,
                ],
                "responses": {"200": _ok("RoundPage"), **AUTH_ERRORS, **INVALID},
            }
        },
    )
    spec.path(
        "/rounds/{round_id}",
        operations={
            "get": {
                "summary": "One round: status, period and per-household results",
                "parameters": [_id_param("round_id")],
                "responses": {"200": _ok("RoundDetail"), "404": _error("unknown round"), **AUTH_ERRORS},
            }
        },
    )
    spec.path(
        "/cards/{token}",
        operations={
            "get": {
                "summary": "Look a card up by token, card URL or card number",
                "parameters": [
                    {"name": "token", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "responses": {
                    "200": _ok("CardLookup"),
                    "404": _error("unknown_card"),
                    "409": _error("card_revoked"),
                    **AUTH_ERRORS,
                },
            }
        },
    )
    spec.path(
        "/goods",
        operations={
            "get": {
                "summary": "Goods on the shelf with price and stock (all=1 includes inactive goods)",
                "parameters": [{"name": "all", "in": "query", "schema": FLAG}],
                "responses": {
                    "200": {
                        "description": "OK",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "items": {
                                            "type": "array",
                                            "items": {"$ref": "#/components/schemas/Goods"},
                                        }
                                    },
                                }
                            }
                        },
                    },
                    **AUTH_ERRORS,
                    **INVALID,
                },
            }
        },
    )
    spec.path(
        "/redemptions",
        operations={
            "post": {
                "summary": "Exchange points for goods, once per Idempotency-Key (chair and shopkeeper)",
                "parameters": [
                    {"name": "Idempotency-Key", "in": "header", "required": True, "schema": IDEMPOTENCY_KEY}
                ],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": "RedemptionRequest"}},
                },
                "responses": {
                    "201": _ok("RedemptionResult", "redeemed (a retry with the same key answers the same)"),
                    "404": _error("unknown_card or unknown_goods"),
                    "409": _error("insufficient_points, insufficient_stock or card_revoked"),
                    "422": _error(
                        "validation_error (with fields), invalid_json, idempotency_key_required or "
                        "idempotency_key_reused"
                    ),
                    **AUTH_ERRORS,
                },
            }
        },
    )
    spec.path(
        "/redemptions/{redemption_id}/cancel",
        operations={
            "post": {
                "summary": "Cancel a redemption: points and goods go back (shopkeeper same day, chair any)",
                "parameters": [_id_param("redemption_id")],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": "CancelRequest"}},
                },
                "responses": {
                    "200": _ok("CancelResult"),
                    "404": _error("unknown_redemption"),
                    "409": _error("already_cancelled"),
                    "422": _error("validation_error (with fields) or invalid_json"),
                    **AUTH_ERRORS,
                },
            }
        },
    )
    spec.path(
        "/ledger/summary",
        operations={
            "get": {
                "summary": "The village's ledger totals (chair only): what it reports to the county",
                "responses": {"200": _ok("LedgerSummary"), **AUTH_ERRORS},
            }
        },
    )


def _county_paths(spec: APISpec) -> None:
    spec.path(
        "/sync/batches",
        operations={
            "post": {
                "summary": "Apply a village's batch of change records, authenticated by the village's sync "
                "key (Bearer). Idempotent by (village, sequence).",
                "requestBody": {"required": True, "content": {"application/json": {"schema": "SyncBatch"}}},
                "responses": {
                    "200": _ok("SyncAck", "applied, or a repeat of what was applied"),
                    "401": _error("no valid sync key"),
                    "403": _error("wrong_village: the key belongs to another village"),
                    "409": _error(
                        "sequence_gap: resend from expected_from_seq (also at the top level); diverged; "
                        "month_close_changed or month_closed_twice: a month close the county holds sent "
                        "changed, or a month closed again"
                    ),
                    "413": _error("too_large: the body is over the limit"),
                    "422": _error(
                        "invalid_batch, invalid_record or digest_mismatch: malformed, or records that do not "
                        "match the digest; unknown_reference: a record names a round, household or "
                        "criterion the county never received from the village; duplicate_record; "
                        "record_not_stored"
                    ),
                },
            }
        },
    )
    spec.path(
        "/county/villages",
        operations={
            "get": {
                "summary": "The villages this reviewer may see, with sync state and the totals the county "
                "computes",
                "responses": {"200": _ok("CountyVillageList"), **AUTH_ERRORS},
            }
        },
    )
