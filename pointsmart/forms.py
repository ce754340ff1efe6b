"""The base of every form: Flask-WTF's form with the text rule (:mod:`pointsmart.text`) on every text field.

Every form in the package derives from this :class:`FlaskForm` instead of Flask-WTF's (a test checks
it), so no text field can be declared without the rule: each ``StringField`` (and ``PasswordField``)
refuses line breaks and control characters; each ``TextAreaField`` allows tab and line breaks and
refuses the rest. A field without a ``Length`` validator gets the rule's default length limit.
"""

import flask_wtf
from wtforms import StringField, TextAreaField
from wtforms.validators import Length, StopValidation, ValidationError

from . import periods, text


def sane_day(_form, field) -> None:
    """A WTForms validator: a field error for a day outside the window records keep
    (:func:`pointsmart.periods.day_problem`)."""
    if problem := periods.day_problem(field.data):
        raise ValidationError(problem)


def number_read(_form, field) -> None:
    """A WTForms validator, on a number field after its InputRequired or Optional (which clear the parse
    error of a blank field themselves): when the text typed is no number at all, the field's
    one message is its ``invalid_value_message``, and the rules after it (a range, say) are not also
    reported against the missing value."""
    if field.process_errors:
        raise StopValidation()


class TextRule:
    """A WTForms validator: the one text rule, with the field's label in the message."""

    def __init__(self, multiline: bool, max_length: int | None):
        self.multiline, self.max_length = multiline, max_length

    def __call__(self, form, field) -> None:
        value = field.data if isinstance(field.data, str) else ""
        message = text.problem(value, multiline=self.multiline, max_length=self.max_length)
        if message:
            raise StopValidation(message)


def _declared_max(field) -> int | None:
    lengths = [v.max for v in field.validators if isinstance(v, Length) and v.max not in (None, -1)]
    return min(lengths) if lengths else None


class FlaskForm(flask_wtf.FlaskForm):
    """Flask-WTF's form; every text field it binds gets :class:`TextRule`."""

    class Meta:
        def bind_field(self, form, unbound_field, options):
            field = unbound_field.bind(form=form, **options)
            if isinstance(field, StringField):
                rule = TextRule(isinstance(field, TextAreaField), _declared_max(field))
                # first, so a NUL is named as such before any other check reads the value
                field.validators = [rule, *field.validators]
            return field
