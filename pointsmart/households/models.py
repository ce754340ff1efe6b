"""The household table."""

import uuid as uuid_mod
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..clock import utcnow
from ..extensions import db
from ..ledger.models import Account


class Household(db.Model):
    __table_args__ = (sa.UniqueConstraint("village_id", "household_no", name="uq_household_village_no"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: global identity, used by sync and the API
    uuid: Mapped[str] = mapped_column(sa.String(36), unique=True, default=lambda: str(uuid_mod.uuid4()))
    village_id: Mapped[int] = mapped_column(sa.ForeignKey("village.id"), index=True)
    #: 户号, unique within the village, e.g. ``03-017``
    household_no: Mapped[str] = mapped_column(sa.String(20))
    #: 户主姓名
    head_name: Mapped[str] = mapped_column(sa.String(40), index=True)
    #: 村民小组 / 网格
    group: Mapped[str] = mapped_column("group_name", sa.String(40), default="", index=True)
    phone: Mapped[str] = mapped_column(sa.String(20), default="")
    #: 家庭人口
    members: Mapped[int | None]
    address: Mapped[str] = mapped_column(sa.String(200), default="")
    #: free labels separated by commas, e.g. ``脱贫户,最美家庭``
    tags: Mapped[str] = mapped_column(sa.String(200), default="")
    active: Mapped[bool] = mapped_column(default=True)
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("account.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    account = relationship(Account, lazy="joined")

    @property
    def balance(self) -> int:
        return self.account.balance

    #: fields a person edits, in form and spreadsheet order
    EDITABLE = ("household_no", "head_name", "group", "phone", "members", "address", "tags")

    def snapshot(self) -> dict:
        return {name: getattr(self, name) for name in self.EDITABLE}
