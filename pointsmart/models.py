"""Import every domain's tables, so that Alembic and the app see the whole schema."""

from .audit.models import AuditEntry
from .auth.models import ApiToken, LoginSession, User
from .cards.models import Card
from .claims.models import Claim, ClaimPhoto
from .county.models import (
    HouseholdPeriod,
    SyncBatch,
    SyncedCategory,
    SyncedCriterion,
    SyncedGoods,
    SyncedHousehold,
    SyncedRedemption,
    SyncedRound,
    SyncedRoundResult,
    SyncedStockMove,
    SyncedTransfer,
    Township,
    VillageLink,
    VillageMonth,
    VillageMonthCategory,
    VillageMonthGoods,
)
from .households.models import Household
from .idempotency import IdempotencyRecord
from .ledger.models import Account, Transfer
from .org.models import Village
from .scoring.models import (
    Category,
    Criterion,
    MeetingMinutes,
    NoticePhoto,
    Objection,
    PanelMember,
    RoundApproval,
    RoundCriterion,
    RoundResult,
    Score,
    ScoringRound,
)
from .settings.models import BackupRun, OpeningDays, PointsRule, VillageSettings
from .shop.models import (
    Goods,
    PriceChange,
    Redemption,
    RedemptionLine,
    StockMove,
    Stocktake,
    StocktakeLine,
)
from .sync.models import ChangeRecord, OutboxHead, SyncState

__all__ = [
    "BackupRun",
    "OpeningDays",
    "PointsRule",
    "VillageSettings",
    "ChangeRecord",
    "HouseholdPeriod",
    "OutboxHead",
    "SyncBatch",
    "SyncState",
    "SyncedCategory",
    "SyncedCriterion",
    "SyncedGoods",
    "SyncedHousehold",
    "SyncedRedemption",
    "SyncedRound",
    "SyncedRoundResult",
    "SyncedStockMove",
    "SyncedTransfer",
    "Township",
    "VillageLink",
    "VillageMonth",
    "VillageMonthCategory",
    "VillageMonthGoods",
    "Card",
    "Claim",
    "ClaimPhoto",
    "Goods",
    "IdempotencyRecord",
    "PriceChange",
    "Redemption",
    "RedemptionLine",
    "StockMove",
    "Stocktake",
    "StocktakeLine",
    "Account",
    "ApiToken",
    "AuditEntry",
    "Category",
    "Criterion",
    "Household",
    "LoginSession",
    "MeetingMinutes",
    "NoticePhoto",
    "Objection",
    "PanelMember",
    "RoundApproval",
    "RoundCriterion",
    "RoundResult",
    "Score",
    "ScoringRound",
    "Transfer",
    "User",
    "Village",
]
