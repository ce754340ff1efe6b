"""Import every domain's tables, so that Alembic and the app see the whole schema."""

from .audit.models import AuditEntry
from .auth.models import ApiToken, LoginSession, User
from .households.models import Household
from .ledger.models import Account, Transfer
from .org.models import Village

__all__ = ["Account", "ApiToken", "AuditEntry", "Household", "LoginSession", "Transfer", "User", "Village"]
