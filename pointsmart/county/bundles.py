"""A village's bundle arrives at the county: checked whole, then applied as its pushes would be.

A repeat changes nothing; an overlap with what was pushed already is skipped. The file format (and the
village's side, writing it) is :mod:`pointsmart.sync.bundle`.
"""

from dataclasses import dataclass
from typing import BinaryIO

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from ..org.models import Village
from ..sync import bundle
from .batch_checks import parse
from .ingest import ingest, lock_link
from .models import VillageLink


@dataclass
class ImportReport:
    village_code: str
    village_name: str
    from_seq: int
    to_seq: int
    #: records the county did not have before
    applied: int
    acked_seq: int


def import_bundle(session: Session, stream: BinaryIO) -> ImportReport:
    """Check and apply a bundle at the county; the caller commits (or rolls back on an error).

    :raises BundleError: not a bundle, truncated, altered, or from a village this county does not know.
    :raises SequenceGap: it starts after what the county has, leaving a hole; nothing is applied.
    """
    header = bundle.read_header(stream)
    village = session.scalar(sa.select(Village).where(Village.code == header["village_code"]))
    link = session.get(VillageLink, village.id) if village else None
    if link is None:
        raise bundle.BundleError(
            _("村 %(code)s 没有在本县登记，不能导入它的同步文件。", code=header["village_code"]),
            code="bundle_unknown_village",
        )
    bundle.verify(stream, link.key_hash)
    before = lock_link(session, village.id).acked_seq
    acked = before
    for line in bundle.batch_lines(stream):
        acked, _digest = ingest(session, village, parse(line), via="bundle")
    return ImportReport(
        village.code, village.name, header["from_seq"], header["to_seq"], acked - before, acked
    )
