"""Each role's 使用说明: reachable from every page's top bar, landing on one's own role's guide, with
what to do each day, each month, and when something goes wrong; ready to print."""

import re

import pytest

from pointsmart.auth.help import guide_for
from pointsmart.auth.models import Role

GUIDE_OF = {"chair": "chair", "panel": "panel", "shopkeeper": "shopkeeper"}


@pytest.mark.parametrize("role", sorted(GUIDE_OF))
def test_each_role_reaches_its_own_guide_from_its_home_page(login_as, role):
    client = login_as(role)
    home = client.get("/", follow_redirects=True).get_data(as_text=True)
    link = re.search(r'<a href="([^"]+)" class="help-link">使用说明</a>', home)
    assert link, "the top bar links to the help"
    landed = client.get(link.group(1))
    assert landed.status_code == 302 and landed.headers["Location"].endswith(f"/help/{GUIDE_OF[role]}")
    page = client.get(landed.headers["Location"]).get_data(as_text=True)
    for heading in ("每天", "每月", "出了问题怎么办"):
        assert f"<h2>{heading}</h2>" in page
    assert 'class="print-button' in page


def test_every_guide_covers_a_lost_card_a_wrong_score_and_a_refused_sync(login_as):
    chair = login_as("chair")
    for guide, card, score in (
        ("chair", "积分卡丢了", "分数记错了"),
        ("panel", "积分卡丢了", "分数打错了"),
        ("shopkeeper", "积分卡丢了", "分数不对"),
        ("county", "积分卡", "分数看起来记错了"),
    ):
        page = chair.get(f"/help/{guide}").get_data(as_text=True)
        assert card in page and score in page and "同步" in page and "被拒" in page, guide


def test_an_unknown_guide_is_a_404_and_anonymous_is_sent_to_log_in(client, login_as):
    assert login_as("panel").get("/help/nobody").status_code == 404
    assert client.get("/help/chair").status_code == 302


def test_every_role_has_its_own_guide():
    assert {role: guide_for(role) for role in Role} == {
        Role.CHAIR: "chair",
        Role.PANEL: "panel",
        Role.SHOPKEEPER: "shopkeeper",
        Role.COUNTY_REVIEWER: "county",
        Role.COUNTY_ADMIN: "county",
    }
