"""Ids from outside, bounded to what the tables hold: one URL converter and one schema field.

Every primary key a URL or a request body names is an ``Integer`` column — PostgreSQL's 4-byte
``integer`` (SQLite's is 8 bytes, but the bound is the narrower one). A number outside 1..2**31-1
names no row; left unbounded it reaches the driver and fails there (SQLite raises ``OverflowError``
past 2**63). So an out-of-range id is refused where it enters: 404 in a URL, 422 in a body.
"""

import uuid as uuid_mod

from marshmallow import fields, validate
from werkzeug.routing import IntegerConverter, ValidationError

#: the largest id any table's ``Integer`` primary key can hold
MAX_ID = 2**31 - 1

#: the namespace of derived uuids (records whose rows have none of their own, such as round results)
NAMESPACE = uuid_mod.UUID("5b0f7d2e-6f43-4c1e-9a57-0d1c3e6a9b21")


def derived_uuid(*parts: str) -> str:
    """The global id of a record whose row has none of its own, derived from what names it (the same
    on every run, in the village and wherever the record travels)."""
    return str(uuid_mod.uuid5(NAMESPACE, ":".join(parts)))


class IdConverter(IntegerConverter):
    """``<int:...>`` in every route: a decimal id in 1..MAX_ID, or the route does not match (404).

    Registered as the app's ``int`` converter, so a route added later cannot skip the bound.
    """

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("min", 1)
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)

    def to_python(self, value: str) -> int:
        # refuse by length first: Python will not even convert a 5,000-digit string (ValueError)
        if len(value) > len(str(self.max)):
            raise ValidationError()
        return super().to_python(value)


class Id(fields.Integer):
    """A row id in a request body: a JSON integer (not a string, not a float) in 1..MAX_ID."""

    def __init__(self, **kwargs):
        kwargs.setdefault("strict", True)
        kwargs.setdefault("validate", validate.Range(min=1, max=MAX_ID))
        super().__init__(**kwargs)


def form_id(value) -> int:
    """A WTForms ``coerce`` for a select of rows: an id in 1..MAX_ID, else ``ValueError`` (a form error
    on the field, never a number too large for the database)."""
    text = str(value).strip()
    if not (text.isascii() and text.isdigit() and len(text) <= len(str(MAX_ID))):
        raise ValueError(value)  # "１" is a digit to Python, and int() would take it
    if not 1 <= int(text) <= MAX_ID:
        raise ValueError(value)
    return int(text)


def is_id(value) -> bool:
    """Whether a decoded JSON value is an id: an integer (not a bool, not a float) in 1..MAX_ID."""
    return type(value) is int and 1 <= value <= MAX_ID


def register_converters(app) -> None:
    """Bound every ``<int:...>`` of this app's routes (call before the blueprints are registered)."""
    app.url_map.converters["int"] = IdConverter
