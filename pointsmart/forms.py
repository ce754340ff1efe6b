"""The base of every form: Flask-WTF's form with the text rule (:mod:`pointsmart.text`) on every text field.

Every form in the package derives from this :class:`FlaskForm` instead of Flask-WTF's (a test checks
it), so no text field can be declared without the rule: each ``StringField`` (and ``PasswordField``)
refuses line breaks and control characters; each ``TextAreaField`` allows tab and line breaks and
refuses the rest. A field without a ``Length`` validator gets the rule's default length limit.

Every whole-number field is this module's :class:`IntegerField` (a WTForms ``IntegerField`` declared
anywhere is bound as ours): it reads ASCII or full-width digits with an optional leading minus, and
nothing else, in one message naming the field; never Python's ``int()`` on whatever was posted.
Every date field is this module's :class:`DayField` (``YYYY-MM-DD``, ASCII or full-width digits).
"""

import re

import flask_wtf
import wtforms
from flask_babel import lazy_gettext as _l
from wtforms import StringField, TextAreaField
from wtforms.fields.core import UnboundField
from wtforms.validators import Length, NumberRange, StopValidation, ValidationError

from . import periods, text
from .errors import Invalid


def sane_day(_form, field) -> None:
    """A WTForms validator: a field error for a day something happened on that is after today or
    outside the window records keep (:func:`pointsmart.periods.day_problem`)."""
    if problem := periods.day_problem(field.data):
        raise ValidationError(problem)


def planned_day(_form, field) -> None:
    """A WTForms validator: as :func:`sane_day`, for a day planned for, which may be up to a year ahead
    (when a notice comes down)."""
    if problem := periods.day_problem(field.data, ahead=True):
        raise ValidationError(problem)


def number_read(_form, field) -> None:
    """A WTForms validator, on a number field after its InputRequired or Optional (which clear the parse
    error of a blank field themselves): when the text typed is no number at all, the field's
    one message is its ``invalid_value_message``, and the rules after it (a range, say) are not also
    reported against the missing value."""
    if field.process_errors:
        raise StopValidation()


class Readable:
    """A WTForms validator, after a field's ``InputRequired``: a value that was sent but could not be
    read (a date of 2026-02-30, a choice of "0x1") is this field's one message — "not valid", never
    the "required" a ``DataRequired`` would put in place of the parse error."""

    def __init__(self, message):
        self.message = message

    def __call__(self, _form, field) -> None:
        if field.process_errors:
            field.errors[:] = []
            raise StopValidation(self.message)


#: full-width digits and minus (typed with a Chinese input method) read as ASCII
FULL_WIDTH_NUMBER = str.maketrans({**{chr(0xFF10 + i): str(i) for i in range(10)}, "\uff0d": "-"})
_WHOLE_NUMBER = re.compile(r"-?[0-9]+")
#: more digits than this is past every field's bound: read as ±10**MAX_DIGITS, never handed to int() or
#: to NumberRange's float() (a 309-digit number overflowed it: a 500)
MAX_DIGITS = 18
NOT_A_WHOLE_NUMBER = _l("请填写一个整数")


class IntegerField(wtforms.IntegerField):
    """A whole number as a person types it: ASCII digits or full-width ones (１２ is 12), an optional
    leading minus (a field's ``NumberRange`` says whether a negative is allowed). Anything else — "1.5",
    "1_2" and " 1 2" (which Python's ``int`` reads), "+7", Arabic-Indic digits — is the field's one
    message (its ``invalid_value_message``, else "请填写一个整数"); the validators after it (a range) are
    not also reported (:func:`number_read`). A blank field is no value and no error: its
    ``InputRequired``/``Optional`` decides. A number of more than :data:`MAX_DIGITS` digits reads as
    ±10**18, which every field's range refuses in its own words."""

    def process_formdata(self, valuelist):
        if not valuelist:
            return
        self.data = None
        raw = valuelist[0] if isinstance(valuelist[0], str) else ""
        typed = raw.strip(text.SPACES).translate(FULL_WIDTH_NUMBER)
        if not typed:
            return
        if not _WHOLE_NUMBER.fullmatch(typed):
            raise ValueError(self.invalid_value_message or NOT_A_WHOLE_NUMBER)
        digits = typed.lstrip("-").lstrip("0") or "0"
        sign = -1 if typed.startswith("-") else 1
        self.data = sign * (10**MAX_DIGITS if len(digits) > MAX_DIGITS else int(digits))

    def pre_validate(self, form):
        number_read(form, self)

    def post_validate(self, form, validation_stopped):
        # a field declared without a range still refuses a number past every bound
        if not self.errors and self.data is not None and abs(self.data) >= 10**MAX_DIGITS:
            raise ValidationError(bounds(self))


def bounds(field) -> str:
    """The message for a number outside a field's ``NumberRange`` (or any bound at all)."""
    for rule in field.validators:
        if isinstance(rule, NumberRange) and rule.min is not None and rule.max is not None:
            return _l("请填 %(min)s 到 %(max)s 之间的整数", min=rule.min, max=rule.max)
    return NOT_A_WHOLE_NUMBER


NOT_A_DAY = _l("不是有效的日期，请按 2026-12-01 的样子填写。")


class DayField(wtforms.DateField):
    """A day as a person types it, read by the one reader of typed days
    (:func:`pointsmart.periods.read_day`): ``YYYY-MM-DD`` only, ASCII or full-width digits. Anything
    else (``20261031``, ``2026-W44-6``, ``2026/10/31``, ``2026-02-30``) is the field's one message (its
    ``invalid_value_message``, else "不是有效的日期……"). A blank field is no value and no error: its
    ``InputRequired``/``DataRequired``/``Optional`` decides (a required day is never silently today).
    Every WTForms ``DateField`` declared in the package is bound as this one."""

    def process_formdata(self, valuelist):
        if not valuelist:
            return
        self.data = None
        raw = valuelist[0] if isinstance(valuelist[0], str) else ""
        try:
            self.data = periods.read_day(raw)
        except ValueError:
            raise ValueError(self.invalid_value_message or NOT_A_DAY) from None


class TextRule:
    """A WTForms validator: the one text rule, with the field's label in the message."""

    def __init__(self, multiline: bool, max_length: int | None):
        self.multiline, self.max_length = multiline, max_length

    def __call__(self, form, field) -> None:
        value = field.data if isinstance(field.data, str) else ""
        message = text.problem(value, multiline=self.multiline, max_length=self.max_length)
        if message:
            raise StopValidation(message)


#: what a form value read from a request may be: a multipart or urlencoded post's text, a JSON body's scalar
_PLAIN_VALUES = (str, int, float, bool, type(None))


def refuse_files_in_text(form, formdata) -> None:
    """A file part (or a JSON object or list) posted under the name of a field that takes text — a
    note, a reason, a user name, a date — is one 422 naming the field, on every form alike; WTForms
    would hand the field a ``FileStorage`` and a validator would fail on it (a 500).

    :raises Invalid: ``file_in_text_field``, with the field's name."""
    if formdata is None:
        return
    for field in form:
        if isinstance(field, wtforms.FileField):
            continue
        if any(not isinstance(value, _PLAIN_VALUES) for value in formdata.getlist(field.name)):
            raise Invalid(
                _l("“%(label)s”要填写文字，不能是文件。", label=field.label.text),
                code="file_in_text_field",
                field=field.name,
            )


def _declared_max(field) -> int | None:
    lengths = [v.max for v in field.validators if isinstance(v, Length) and v.max not in (None, -1)]
    return min(lengths) if lengths else None


class FlaskForm(flask_wtf.FlaskForm):
    """Flask-WTF's form; every text field it binds gets :class:`TextRule`, and a posted file where a
    field takes text is refused before any field reads it (:func:`refuse_files_in_text`)."""

    class Meta(flask_wtf.FlaskForm.Meta):
        def wrap_formdata(self, form, formdata):
            formdata = super().wrap_formdata(form, formdata)
            refuse_files_in_text(form, formdata)
            return formdata

        def bind_field(self, form, unbound_field, options):
            if unbound_field.field_class is wtforms.IntegerField:
                unbound_field = UnboundField(IntegerField, *unbound_field.args, **unbound_field.kwargs)
            elif unbound_field.field_class is wtforms.DateField:
                unbound_field = UnboundField(DayField, *unbound_field.args, **unbound_field.kwargs)
            field = unbound_field.bind(form=form, **options)
            if isinstance(field, StringField):
                rule = TextRule(isinstance(field, TextAreaField), _declared_max(field))
                # first, so a NUL is named as such before any other check reads the value
                field.validators = [rule, *field.validators]
            return field
