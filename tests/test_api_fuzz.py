"""The API and its document agree: Schemathesis, every check, against the app served for real.

The village's document is fuzzed with a chair's, a shopkeeper's and a panel member's token; the county's
with a reviewer's token and a village's sync key. Examples are bounded (``FUZZ_EXAMPLES`` per operation
and phase, fixed seed) so that the whole module fits CI time on a small machine; every phase runs
(examples, coverage, fuzzing, stateful) and every check, and the answer must be zero failures. Any 5xx
the server answers fails the test a second time, through the suite's own 5xx hook (``conftest.py``).

Schemathesis runs as its own command (``schemathesis run``): its JSON report gives the numbers, which
the test prints per role (``pytest -s`` shows them).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pointsmart.auth.models import User
from pointsmart.auth.services import create_api_token, create_user
from pointsmart.cards import services as cards
from pointsmart.households.models import Household
from pointsmart.shop import redemptions
from pointsmart.shop import services as shop
from pointsmart.shop.models import MoveKind

from .conftest import PASSWORD, VILLAGE_CODE, committing
from .live import serving
from .sync_support import register

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
HOOKS = Path(__file__).with_name("fuzz_hooks.py")
#: examples per operation and phase: enough to cover every parameter's edges, small enough for CI
FUZZ_EXAMPLES = int(os.environ.get("POINTSMART_FUZZ_EXAMPLES", "10"))
SEED = 20261201


#: A schema-valid batch is still refused when its records do not chain to its digest or leave a gap in
#: the sequence — consistency that no schema can express — so for this one operation a 422 counts as
#: an accepted answer to a schema-valid body. Every other check still applies to it.
SYNC_BATCH_CONSISTENCY = """
[[operations]]
include-path = "/sync/batches"
checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "403", "404", "409", "422"]
"""


def fuzz(base_url: str, credential: str, label: str, report_dir: Path, extra_config: str = "") -> dict:
    """Run Schemathesis against ``base_url``'s document with ``credential``; return its numbers."""
    report = report_dir / f"{label}.json"
    # the credential as the document's own "bearer" scheme (not a blanket header), so that Schemathesis
    # knows which header authenticates and can check that a call without it is refused with 401
    config = report_dir / f"{label}.toml"
    config.write_text(f'[auth.openapi.bearer]\nbearer = "{credential}"\n' + extra_config)
    done = subprocess.run(
        [
            str(SCHEMATHESIS),
            "--config-file",
            str(config),
            "run",
            f"{base_url}/api/v1/openapi.json",
            "--checks",
            "all",
            "--max-examples",
            str(FUZZ_EXAMPLES),
            "--seed",
            str(SEED),
            "--workers",
            "1",
            "--request-timeout",
            "30",
            "--no-color",
            "--report",
            "json",
            "--report-json-path",
            str(report),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=os.environ | {"SCHEMATHESIS_HOOKS": str(HOOKS)},
        cwd=report_dir,  # its cache (.schemathesis/) goes there, not into the checkout
        check=False,
    )
    numbers = _numbers(json.loads(report.read_text()) if report.exists() else {})
    print(
        f"\nschemathesis {label}: {numbers['operations']} operations, {numbers['cases']} cases, "
        f"{numbers['failures']} failures"
    )
    assert done.returncode == 0 and numbers["failures"] == 0, done.stdout[-12_000:] + done.stderr[-2_000:]
    assert numbers["complete"] and numbers["cases"] > 0, done.stdout[-4_000:]
    return numbers


def _numbers(report: dict) -> dict:
    """Cases generated and distinct failures, from Schemathesis' JSON run report."""
    cases = report.get("test_cases", {})
    return {
        "cases": cases.get("generated", 0),
        "failures": cases.get("unique_failures", 0) + cases.get("errored", 0),
        "operations": report.get("operations", {}).get("tested", 0),
        "complete": report.get("complete", False),
    }


@pytest.fixture
def village_data(app, make_household, make_user, village_id):
    """What a village's API has to show — households with points and a card, goods in stock, a round,
    a sale — as Schemathesis dictionaries, so that most drawn ids name real rows (the rest are drawn
    freely, to check the 404s and 422s)."""
    from pointsmart.org.services import home_village
    from pointsmart.scoring import criteria as scoring_criteria
    from pointsmart.scoring import workflow as scoring_workflow

    households = [make_household(points=points) for points in (500, 0, 35)]
    seller_id, _name = make_user("shopkeeper")
    with committing(app) as session:
        rows = [session.get(Household, hid) for hid in households]
        card = cards.issue_card(session, rows[0], None)
        soap = shop.save_goods(session, village_id, {"name": "洗衣粉", "price": 30}, None)
        shop.receive_stock(session, soap, MoveKind.DONATION, 500, None, donor="爱心企业")
        category = scoring_criteria.save_category(session, village_id, {"name": "环境卫生"}, None)
        scoring_criteria.save_criterion(
            session, category, {"name": "门前三包", "points": 3, "cadence": "monthly"}, None
        )
        scoring_round = scoring_workflow.create_round(
            session, home_village(session), "monthly", "2026-11", "", None
        )
        sale = redemptions.redeem(session, village_id, card, [(soap.id, 1)], session.get(User, seller_id))
        return {
            "households": [row.uuid for row in rows],
            "cards": [card.number, card.token],
            "goods": [soap.id],
            "rounds": [scoring_round.id],
            "redemptions": [sale.id],
        }


VILLAGE_BINDINGS = {
    "path.household_uuid": "households",
    "path.token": "cards",
    "path.round_id": "rounds",
    "path.redemption_id": "redemptions",
    "body.card": "cards",
    "body.lines[*].goods_id": "goods",
}
#: a batch that names the key's own village gets past the village check to the sequence and digest ones
COUNTY_BINDINGS = {"body.village_code": "villages"}


def dictionaries(data: dict, bindings: dict = VILLAGE_BINDINGS) -> str:
    """Schemathesis configuration drawing ids from ``data`` for most cases."""
    lines = []
    for name, values in data.items():
        lines += [f"[dictionaries.{name}]", f"values = {json.dumps(values)}"]
    lines.append("[parameters]")
    lines += [f'"{key}" = {{ dictionary = "{name}", probability = 0.7 }}' for key, name in bindings.items()]
    return "\n" + "\n".join(lines) + "\n"


def test_the_village_document_holds_under_schemathesis_for_each_role(
    app, api_token, village_data, tmp_path, capsys
):
    tokens = {role: api_token(role) for role in ("chair", "shopkeeper", "panel")}
    results = {}
    with serving(app, threads=2) as base:
        for role, token in tokens.items():
            results[role] = fuzz(base, token, f"village-{role}", tmp_path, dictionaries(village_data))
    assert set(results) == {"chair", "shopkeeper", "panel"}


def test_the_county_document_holds_under_schemathesis_with_a_reviewer_and_a_sync_key(county_app, tmp_path):
    sync_key = register(county_app)
    with committing(county_app) as session:
        reviewer = create_user(session, "reviewer1", "county_reviewer", PASSWORD, "县审核员")
        token = create_api_token(session, session.get(User, reviewer.id))
    results = {}
    with serving(county_app, threads=2) as base:
        config = SYNC_BATCH_CONSISTENCY + dictionaries({"villages": [VILLAGE_CODE]}, COUNTY_BINDINGS)
        results["reviewer"] = fuzz(base, token, "county-reviewer", tmp_path, config)
        results["sync key"] = fuzz(base, sync_key, "county-sync-key", tmp_path, config)
    assert set(results) == {"reviewer", "sync key"}


def test_each_tier_documents_only_its_own_endpoints(app, county_app):
    village = app.test_client().get("/api/v1/openapi.json").get_json()["paths"]
    county = county_app.test_client().get("/api/v1/openapi.json").get_json()["paths"]
    assert "/sync/batches" not in village and "/county/villages" not in village
    assert set(county) == {"/sync/batches", "/county/villages"}
    assert "/households" in village and not set(village) & set(county)
