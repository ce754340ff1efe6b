"""The wire form of change records: canonical bytes and the digest chain.

A record is ``{"kind", "payload", "seq", "uuid"}``. Its canonical bytes are its compact JSON with keys
sorted at every level, UTF-8, no floats (msgspec's encoder with ``order="sorted"``). The digest of
record *n* is ``sha256(digest(n-1) + canonical(n))`` in hex, the chain starting from the empty string,
so the digest at a sequence number vouches for every record up to it: the county recomputes the
chain over what it received and compares it with the digest the village reports.
"""

import hashlib
import re
from datetime import date, datetime

import msgspec

_encoder = msgspec.json.Encoder(order="sorted")
decode = msgspec.json.decode


def canonical(obj) -> bytes:
    return _encoder.encode(obj)


#: fullmatch, not ``^…$``: ``$`` also matches before a final newline, which must go through the encoder
_PLAIN = re.compile(r"[0-9a-z_-]*")


def _string(text: str) -> bytes:
    # kinds and uuids are plain ASCII, whose JSON form is just quoted: skip the encoder (hot path)
    return b'"' + text.encode("ascii") + b'"' if _PLAIN.fullmatch(text) else _encoder.encode(text)


def record_bytes(seq: int, kind: str, uuid: str, payload: bytes) -> bytes:
    """The canonical bytes of a record whose payload is already canonical (what ``canonical`` gives)."""
    return b'{"kind":%b,"payload":%b,"seq":%d,"uuid":%b}' % (_string(kind), payload, seq, _string(uuid))


def chain(previous: str, record: bytes) -> str:
    return hashlib.sha256(previous.encode("ascii") + record).hexdigest()


def when(value: datetime | date | None) -> str | None:
    """A time or date as the wire carries it: ISO 8601, times in UTC without an offset."""
    return None if value is None else value.isoformat()
