"""The org units. A village instance holds one :class:`Village`; a county instance holds them all."""

import re

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db

#: 统计用区划代码: 12 digits
DIVISION_CODE = re.compile(r"^\d{12}$")


class Village(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    #: the 12-digit statistical division code (区划代码)
    code: Mapped[str] = mapped_column(sa.String(12), unique=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    township_code: Mapped[str | None] = mapped_column(sa.String(12))
    township_name: Mapped[str | None] = mapped_column(sa.String(100))
    county_name: Mapped[str | None] = mapped_column(sa.String(100))
    #: panel approvals a scoring round needs before its public notice (村级设置)
    approvals_required: Mapped[int] = mapped_column(default=2, server_default="2")
    #: days a round stays on public notice (公示) before it can be finalised
    notice_days: Mapped[int] = mapped_column(default=5, server_default="5")

    @property
    def label(self) -> str:
        """The village as a county names it, on every printed page: 县 镇 村."""
        return "".join(part for part in (self.county_name, self.township_name, self.name) if part)
