"""One way to cut a query into pages: pages, the API and the services all use :func:`paginate`.

Pure SQLAlchemy, no Flask: the ledger pages its history with it. Reading ``?page=`` from a request
is :func:`pointsmart.pages.page_arg`; the API's stricter reading is in :mod:`pointsmart.api.views`.
"""

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

#: a page number past this is a typo or a probe, not a page anyone needs
MAX_PAGE = 100_000


@dataclass(frozen=True)
class Page:
    """One page of a query's rows, with what a pager needs to draw itself."""

    items: list[Any]
    number: int
    size: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))


def paginate(session: Session, query: sa.Select, number: int, size: int) -> Page:
    """Count ``query``'s rows and load page ``number`` (from 1) of ``size`` rows; the query is ordered
    by the caller, so a page is the same rows each time it is asked for."""
    number = min(max(number, 1), MAX_PAGE)
    total = session.scalar(sa.select(sa.func.count()).select_from(query.order_by(None).subquery()))
    items = session.scalars(query.limit(size).offset((number - 1) * size)).all()
    return Page(list(items), number, size, total)
