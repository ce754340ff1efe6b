"""Import every domain's tables, so that Alembic and the app see the whole schema."""

from .audit.models import AuditEntry
from .auth.models import ApiToken, LoginSession, User
from .households.models import Household
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

__all__ = [
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
