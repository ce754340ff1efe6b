"""Shop reports and the shop's paper trail: daily/monthly figures, 物资盘点台账, 分值对应表, 积分兑换台账, 爱心榜."""

from flask import Blueprint

bp = Blueprint("shop_reports", __name__, url_prefix="/shop/reports")
