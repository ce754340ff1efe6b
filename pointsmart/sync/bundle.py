"""Bundles: the change log on a USB stick, for a village without a network.

A bundle is a gzip file of lines:

1. ``PointsMart-Bundle/1``
2. a header: ``{"village_code", "from_seq", "to_seq", "records", "created_at"}``
3. one line per batch, each exactly the body ``POST /api/v1/sync/batches`` takes
4. ``{"signature": HMAC-SHA256 of every byte above}``

The HMAC key is the sha256 of the village's sync key — what the county keeps of that key — so the
county can check a bundle without ever holding the key itself. The county
(:mod:`pointsmart.county.bundles`) checks the signature over the whole file before applying anything,
then applies its batches in one transaction, exactly as if they had been pushed.
"""

import gzip
import hashlib
import hmac
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from flask_babel import gettext as _
from sqlalchemy.orm import Session

from ..clock import utcnow
from ..errors import DomainError
from ..json_limits import bounded
from . import batches, wire

MAGIC = b"PointsMart-Bundle/1\n"
#: the longest line a bundle may hold: one batch, as ``POST /api/v1/sync/batches`` takes it (about
#: 300–600 KB; see ``batches.BATCH_SIZE``), with room to spare
MAX_LINE_BYTES = 8 * 1024 * 1024
#: a bundle may inflate to this many times its size (change-log JSON compresses 5–10×) …
MAX_INFLATION = 50
#: … or to this much, whichever is larger, but never past the last
MIN_INFLATED_LIMIT = 64 * 1024 * 1024
MAX_INFLATED_LIMIT = 4 * 1024 * 1024 * 1024
#: a line is a batch of up to 2,000 records: this many lines is 200 million records, far past any
#: village; a file of millions of tiny lines is refused here instead of costing minutes of reading
MAX_LINES = 100_000


class BundleError(DomainError):
    code = "bundle_invalid"
    status = 422


def signing_key(sync_key: str) -> bytes:
    """The bundle's HMAC key: sha256 of the sync key, which is also what the county stores."""
    return hashlib.sha256(sync_key.encode()).hexdigest().encode()


@dataclass
class ExportReport:
    village_code: str
    from_seq: int
    to_seq: int
    records: int
    batches: int


def export_bundle(
    session: Session,
    village_code: str,
    sync_key: str,
    out: BinaryIO,
    from_seq: int | None = None,
    village_url: str | None = None,
) -> ExportReport:
    """Write the change log from ``from_seq`` (default: what the county has not acknowledged) to ``out``.

    Each batch carries ``village_url`` when given, as a push's do: a village that syncs only by USB
    stick tells the county its LAN address all the same (the county's family page links there).
    """
    start = batches.state(session).acked_seq + 1 if from_seq is None else max(1, from_seq)
    end = batches.head_seq(session)
    mac = hmac.new(signing_key(sync_key), digestmod=hashlib.sha256)
    count = 0
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as gz:

        def put(line: bytes) -> None:
            gz.write(line)
            mac.update(line)

        put(MAGIC)
        header = {
            "village_code": village_code,
            "from_seq": start,
            "to_seq": max(end, start - 1),
            "records": max(0, end - start + 1),
            "created_at": wire.when(utcnow()),
        }
        put(wire.canonical(header) + b"\n")
        seq = start
        while (
            seq <= end
            and (batch := batches.build(session, village_code, seq, village_url=village_url)) is not None
        ):
            put(batch.body + b"\n")
            count += 1
            seq = batch.to_seq + 1
        gz.write(wire.canonical({"signature": mac.hexdigest()}) + b"\n")
    return ExportReport(village_code, header["from_seq"], header["to_seq"], header["records"], count)


def _inflated_limit(stream: BinaryIO) -> int:
    """How far this file may inflate: :data:`MAX_INFLATION` times its size, and never below
    :data:`MIN_INFLATED_LIMIT` (a small bundle of short records compresses better than a big one)."""
    stream.seek(0, 2)
    return min(MAX_INFLATED_LIMIT, max(MIN_INFLATED_LIMIT, MAX_INFLATION * stream.tell()))


def _too_large() -> BundleError:
    return BundleError(
        _("文件解压后过大或有超长的行，不是积分超市导出的同步文件，已拒收，什么也没有改。"),
        code="bundle_too_large",
    )


def _lines(stream: BinaryIO):
    """The bundle's lines, each read with a length cap and counted against the inflated-size and line
    caps as it is decompressed: a small file that inflates to gigabytes is refused after the first
    few MB, never held whole."""
    budget = _inflated_limit(stream)
    stream.seek(0)
    started = False
    try:
        with gzip.GzipFile(fileobj=stream, mode="rb") as gz:
            for count, line in enumerate(iter(lambda: gz.readline(MAX_LINE_BYTES + 1), b"")):
                started = True
                budget -= len(line)
                if budget < 0 or count >= MAX_LINES or (len(line) > MAX_LINE_BYTES and line[-1:] != b"\n"):
                    raise _too_large()
                yield line
    except EOFError as exc:
        raise BundleError(
            _("文件不完整（可能没有拷完），已拒收，什么也没有改。"), code="bundle_truncated"
        ) from exc
    except (gzip.BadGzipFile, zlib.error) as exc:
        if not started:
            raise BundleError(_("这不是积分超市的同步文件。"), code="bundle_invalid") from exc
        raise BundleError(
            _("文件已损坏（可能拷贝时出错），已拒收，什么也没有改。请在村里重新导出，再拷一次。"),
            code="bundle_damaged",
        ) from exc


def _intact(stream: BinaryIO) -> None:
    """Read the whole file once, so a damaged or cut-off copy is refused before any of it is believed."""
    for _line in _lines(stream):
        pass


def _header(stream: BinaryIO) -> dict:
    lines = _lines(stream)
    if next(lines, b"") != MAGIC:
        raise BundleError(_("这不是积分超市的同步文件。"), code="bundle_invalid")
    try:
        header = bounded(wire.decode, next(lines, b""))
        found = {"village_code": str(header["village_code"]), "from_seq": int(header["from_seq"]),
                 "to_seq": int(header["to_seq"])}  # fmt: skip
    except (ValueError, KeyError, TypeError, AttributeError) as exc:  # TooDeep is a ValueError
        raise BundleError(_("同步文件的开头损坏了。"), code="bundle_invalid") from exc
    if not re.fullmatch(r"[0-9]{12}", found["village_code"]):  # a 区划代码, before any database sees it
        raise BundleError(_("同步文件的开头损坏了。"), code="bundle_invalid")
    return found


def verify(stream: BinaryIO, key_hash: str) -> None:
    """Check the signature over the whole file.

    :raises BundleError: truncated (no signature line), or altered (the signature does not match).
    """
    mac = hmac.new(key_hash.encode(), digestmod=hashlib.sha256)
    last = None
    for line in _lines(stream):
        if last is not None:
            mac.update(last)
        last = line
    try:
        signature = (
            bounded(wire.decode, last).get("signature") if last and last.startswith(b'{"signature"') else None
        )
    except (ValueError, AttributeError):
        signature = None
    if signature is None:
        raise BundleError(_("文件不完整（可能没有拷完），已拒收，什么也没有改。"), code="bundle_truncated")
    if not hmac.compare_digest(str(signature), mac.hexdigest()):
        raise BundleError(
            _(
                "签名不符：文件在村里导出之后被改动过，或不是用这个村当前的同步密钥导出的。已拒收，什么也没有改。"
            ),
            code="bundle_tampered",
        )


def read_header(stream: BinaryIO) -> dict:
    """Read the whole file once — a damaged or cut-off copy is refused before any of it is believed —
    then its header: ``village_code``, ``from_seq``, ``to_seq``."""
    _intact(stream)
    return _header(stream)


def batch_lines(stream: BinaryIO) -> Iterator[bytes]:
    """The batches of a bundle whose signature was verified, each the body of one push."""
    for number, line in enumerate(_lines(stream)):
        if number >= 2 and not line.startswith(b'{"signature"'):
            yield line
