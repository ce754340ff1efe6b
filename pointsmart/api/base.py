"""The base of every API schema: marshmallow's ``Schema`` with the text rule (:mod:`pointsmart.text`).

Before a body is loaded, each string field's value passes the one rule; a value that breaks it is
refused with ``422 invalid_text`` and the field's name (``{"error": {"code": "invalid_text",
"field": "reason", …}}``), before any other check. A string field is single-line unless its metadata
says ``"x-multiline": True`` (which the API document shows); its length limit is its ``Length``
validator's maximum, or the rule's default.
"""

from marshmallow import Schema as MarshmallowSchema
from marshmallow import fields, pre_load, validate

from .. import text


def _max_length(field: fields.Field) -> int | None:
    lengths = [v.max for v in field.validators if isinstance(v, validate.Length) and v.max is not None]
    return min(lengths) if lengths else None


class Schema(MarshmallowSchema):
    """A marshmallow schema whose string fields refuse bad text with ``invalid_text``."""

    @pre_load
    def check_text(self, data, **kwargs):
        if not isinstance(data, dict):
            return data  # marshmallow itself refuses a body of the wrong shape
        for name, field in self.load_fields.items():
            value = data.get(field.data_key or name)
            if isinstance(field, fields.String) and isinstance(value, str):
                message = text.problem(
                    value, multiline=bool(field.metadata.get("x-multiline")), max_length=_max_length(field)
                )
                if message:
                    raise text.refusal(field.data_key or name, None, message)
        return data
