"""The OpenAPI 3 document of ``/api/v1``, built from the marshmallow schemas."""

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

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


def _error(description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": "Error"}}}


def _ok(schema: str, description: str = "OK") -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


UUID_PARAM = {"name": "household_uuid", "in": "path", "required": True, "schema": {"type": "string"}}
PAGING = [
    {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}},
    {"name": "per_page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 500}},
]
AUTH_ERRORS = {"401": _error("no valid token"), "403": _error("this role may not")}


def build_spec(base_url: str) -> dict:
    spec = APISpec(
        title="PointsMart API",
        version="1",
        openapi_version="3.0.3",
        plugins=[MarshmallowPlugin()],
        servers=[{"url": base_url.rstrip("/") + "/api/v1"}],
        info={
            "description": "巾帼家美积分超市 village API. Authenticate with `Authorization: Bearer <token>` "
            "(`pointsmart users token NAME`)."
        },
        security=[{"bearer": []}],
    )
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    for name, schema in (
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
        ("SyncBatch", SyncBatchSchema),
        ("SyncAck", SyncAckSchema),
        ("CountyVillageList", CountyVillageListSchema),
    ):
        spec.components.schema(name, schema=schema)

    spec.path(
        "/households",
        operations={
            "get": {
                "summary": "List households (search by name or 户号, filter by group)",
                "parameters": [
                    {"name": "q", "in": "query", "schema": {"type": "string"}},
                    {"name": "group", "in": "query", "schema": {"type": "string"}},
                    *PAGING,
                ],
                "responses": {"200": _ok("HouseholdPage"), **AUTH_ERRORS},
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
                "responses": {"200": _ok("TransferPage"), "404": _error("unknown household"), **AUTH_ERRORS},
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
                    {
                        "name": "Idempotency-Key",
                        "in": "header",
                        "required": False,
                        "schema": {"type": "string", "maxLength": 100},
                    },
                ],
                "requestBody": {"required": True, "content": {"application/json": {"schema": "Adjustment"}}},
                "responses": {
                    "201": _ok("AdjustmentResult", "posted"),
                    "404": _error("unknown household"),
                    "409": _error("insufficient_points: the deduction is larger than the balance"),
                    "422": _error("validation_error"),
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
                    {
                        "name": "status",
                        "in": "query",
                        "schema": {
                            "type": "string",
                            "enum": ["draft", "submitted", "approved", "notice", "finalised"],
                        },
                    },
                    *PAGING,
                ],
                "responses": {"200": _ok("RoundPage"), **AUTH_ERRORS},
            }
        },
    )
    spec.path(
        "/rounds/{round_id}",
        operations={
            "get": {
                "summary": "One round: status, period and per-household results",
                "parameters": [
                    {"name": "round_id", "in": "path", "required": True, "schema": {"type": "integer"}}
                ],
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
                "parameters": [{"name": "all", "in": "query", "schema": {"type": "string", "enum": ["1"]}}],
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
                    {
                        "name": "Idempotency-Key",
                        "in": "header",
                        "required": True,
                        "schema": {"type": "string", "maxLength": 100},
                    }
                ],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": "RedemptionRequest"}},
                },
                "responses": {
                    "201": _ok("RedemptionResult", "redeemed (a retry with the same key answers the same)"),
                    "404": _error("unknown_card or unknown_goods"),
                    "409": _error("insufficient_points, insufficient_stock or card_revoked"),
                    "422": _error("validation_error, idempotency_key_required or idempotency_key_reused"),
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
                "parameters": [
                    {"name": "redemption_id", "in": "path", "required": True, "schema": {"type": "integer"}}
                ],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": "CancelRequest"}},
                },
                "responses": {
                    "200": _ok("CancelResult"),
                    "404": _error("unknown_redemption"),
                    "409": _error("already_cancelled"),
                    "422": _error("validation_error"),
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
    spec.path(
        "/sync/batches",
        operations={
            "post": {
                "summary": "County only: apply a village's batch of change records, authenticated by the "
                "village's sync key (Bearer). Idempotent by (village, sequence).",
                "requestBody": {"required": True, "content": {"application/json": {"schema": "SyncBatch"}}},
                "responses": {
                    "200": _ok("SyncAck", "applied, or a repeat of what was applied"),
                    "401": _error("no valid sync key"),
                    "403": _error("the key belongs to another village"),
                    "409": _error("sequence_gap: resend from expected_from_seq (also at the top level)"),
                    "422": _error("malformed batch, or records that do not match the digest"),
                },
            }
        },
    )
    spec.path(
        "/county/villages",
        operations={
            "get": {
                "summary": "County only: the villages this reviewer may see, with sync state and the "
                "totals the county computes",
                "responses": {"200": _ok("CountyVillageList"), **AUTH_ERRORS},
            }
        },
    )
    return spec.to_dict()
