"""``pointsmart households import`` with a file that gives a household holding points a new head."""

import sqlalchemy as sa

from pointsmart.extensions import db
from pointsmart.households.models import Household

from .test_roster import HEADER, ROWS, csv_bytes


def test_cli_lists_a_head_change_and_needs_the_flag(app, make_household, tmp_path):
    make_household(points=150, household_no="01-001", head_name="王建国")
    source = tmp_path / "roster.csv"
    source.write_bytes(csv_bytes([["01-001", "王小明", "一社", "", "", "", ""], *ROWS[1:]], header=HEADER))
    runner = app.test_cli_runner()

    refused = runner.invoke(args=["households", "import", str(source)])
    assert refused.exit_code == 1 and "[head_change_unaccepted]" in refused.output
    assert "row 2: 01-001 head 王建国 -> 王小明 (150 points)" in refused.output
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Household.id))) == 1  # nothing written

    done = runner.invoke(args=["households", "import", str(source), "--accept-head-changes"])
    assert done.exit_code == 0, done.output
    with app.app_context():
        names = db.session.scalars(sa.select(Household.head_name).order_by(Household.household_no)).all()
        assert names == ["王小明", "李秀兰", "张玉芳"]
