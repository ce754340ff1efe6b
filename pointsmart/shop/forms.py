"""Shop forms."""

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileAllowed, FileField
from wtforms import BooleanField, DateField, DecimalField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from ..forms import FlaskForm, IntegerField, sane_day
from .models import MOVE_LABELS, MoveKind
from .redemptions import MAX_REASON
from .services import DONOR_LENGTH, FUNDING_LENGTH, MAX_NOTE, MAX_PRICE, NAME_LENGTH, SPEC_LENGTH

#: WTForms' own message for a value that is no decimal, in WTForms' own catalogue (translated there)
NOT_A_DECIMAL = "Not a valid decimal value."


class FiniteDecimalField(DecimalField):
    """A decimal number that is a number: ``NaN``, ``sNaN`` and ``Infinity`` parse as ``Decimal`` but
    break every comparison and sum after them, so they are a field error here."""

    def process_formdata(self, valuelist):
        super().process_formdata(valuelist)
        if self.data is not None and not self.data.is_finite():
            self.data = None
            raise ValueError(self.gettext(NOT_A_DECIMAL))


class GoodsForm(FlaskForm):
    name = StringField(_l("商品名称"), validators=[DataRequired(), Length(max=NAME_LENGTH)])
    spec = StringField(_l("规格单位"), validators=[Length(max=SPEC_LENGTH)])
    price = IntegerField(_l("所需积分"), validators=[DataRequired(), NumberRange(min=1, max=MAX_PRICE)])
    low_stock = IntegerField(
        _l("库存低于此数时提醒"), default=0, validators=[Optional(), NumberRange(min=0, max=100_000)]
    )
    position = IntegerField(_l("排序"), default=0, validators=[Optional(), NumberRange(min=-9999, max=9999)])
    active = BooleanField(_l("上架"), default=True)
    photo = FileField(
        _l("商品照片"),
        validators=[FileAllowed(["jpg", "jpeg", "png", "webp"], _l("只支持 JPG、PNG、WebP 照片"))],
    )


class PhotoForm(FlaskForm):
    """A goods photo on its own (the stock page): the shopkeeper has the goods in hand."""

    photo = FileField(
        _l("商品照片"),
        validators=[FileAllowed(["jpg", "jpeg", "png", "webp"], _l("只支持 JPG、PNG、WebP 照片"))],
    )


class ReceiveForm(FlaskForm):
    kind = SelectField(
        _l("入库类型"),
        choices=[SelectChoice(str(k), MOVE_LABELS[k]) for k in (MoveKind.DONATION, MoveKind.PURCHASE)],
    )
    qty = IntegerField(_l("数量"), validators=[DataRequired(), NumberRange(min=1, max=100_000)])
    moved_on = DateField(_l("日期"), validators=[Optional(), sane_day])
    donor = StringField(_l("捐赠人或单位"), validators=[Length(max=DONOR_LENGTH)])
    funding_source = StringField(_l("经费来源"), validators=[Length(max=FUNDING_LENGTH)])
    cost_yuan = FiniteDecimalField(
        _l("单价（元）"), places=2, validators=[Optional(), NumberRange(min=0, max=1_000_000)]
    )
    note = StringField(_l("备注"), validators=[Length(max=MAX_NOTE)])


class LossForm(FlaskForm):
    qty = IntegerField(_l("数量"), validators=[DataRequired(), NumberRange(min=1, max=100_000)])
    note = StringField(_l("损耗原因"), validators=[DataRequired(), Length(max=MAX_NOTE)])


class CancelForm(FlaskForm):
    reason = StringField(_l("撤销原因"), validators=[DataRequired(), Length(max=MAX_REASON)])
