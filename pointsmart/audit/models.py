"""The audit log table. The database refuses UPDATE and DELETE on it (triggers in the migrations)."""

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..clock import utcnow
from ..extensions import db


class AuditEntry(db.Model):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"), index=True)
    #: dotted, e.g. ``households.household.updated`` or ``auth.login.refused``
    action: Mapped[str] = mapped_column(sa.String(80), index=True)
    target_type: Mapped[str | None] = mapped_column(sa.String(40))
    target_id: Mapped[str | None] = mapped_column(sa.String(64))
    #: ``{"old": {...}, "new": {...}}`` for an edit, the created values for a creation, a code for a refusal
    data: Mapped[dict] = mapped_column(sa.JSON, default=dict)
