"""A text longer than its field allows is refused naming the field and the limit; the page never lets
the browser cut it short without a word (no maxlength on fields the field macro draws)."""

import re

import sqlalchemy as sa

from pointsmart.extensions import db
from pointsmart.households.models import Household


def test_pasting_300_characters_into_a_200_character_field_is_refused_naming_it(app, login_as):
    chair = login_as("chair")
    response = chair.post(
        "/households/new", data={"household_no": "07-001", "head_name": "王秀兰", "address": "上" * 300}
    )
    page = response.get_data(as_text=True)
    assert "住址：最多 200 个字，现在是 300 个" in page
    address = re.search(r'<input[^>]*name="address"[^>]*>', page).group(0)
    assert "maxlength" not in address.replace("data-maxlength", ""), "the browser would cut a paste short"
    assert 'data-maxlength="200"' in address and "上" * 300 in address, "the text stays as typed"
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Household.id))) == 0


def test_the_field_macro_never_draws_a_maxlength(login_as):
    chair = login_as("chair")
    for url in ("/households/new", "/users", "/tokens", "/password"):
        page = chair.get(url).get_data(as_text=True)
        drawn = re.findall(r"<input[^>]*>", page)
        assert not [i for i in drawn if re.search(r"\smaxlength=", i)], url
        assert "data-maxlength" in page, url
