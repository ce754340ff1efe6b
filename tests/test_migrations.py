"""Migrations: frozen, upgradeable from every earlier revision, and tidy on the way down.

Each earlier revision gets a database made at it and filled the way that day's app left it (with SQL
through the tables of that day: :mod:`tests.frozen_data`), which is then upgraded to head and must
pass ``ledger verify`` and a ``sync push`` to a county — itself made at the same revision when the
county existed then. Migration 0004's backfill, now table-level SQL, must write exactly the records
the ORM backfill wrote (:mod:`tests.reference_backfill`). Runs on the suite's database (SQLite or
PostgreSQL).
"""

import ast
import json
from contextlib import ExitStack

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import downgrade, upgrade

from pointsmart import ROOT, create_app
from pointsmart.extensions import db

from . import frozen_data, reference_backfill
from .conftest import DB, pg_schema, require_postgresql
from .sync_support import CountyServer, county_totals, village_totals

SCRIPTS = ScriptDirectory(str(ROOT / "migrations"))
HEAD = SCRIPTS.get_current_head()
#: every revision but head, oldest first
EARLIER = [script.revision for script in reversed(list(SCRIPTS.walk_revisions())) if script.revision != HEAD]
#: the revision that made the change log: before it a village's data waits for its backfill
CHANGE_LOG_SINCE = "0004"
#: the revision that made the county's tables
COUNTY_SINCE = "0004"
#: what a village's change log carries, and the revision whose data first has each
KINDS_SINCE = {
    "household": "0001", "transfer": "0001", "category": "0002", "criterion": "0002", "round": "0002",
    "round_result": "0002", "goods": "0003", "stock_move": "0003", "redemption": "0003", "card": "0003",
}  # fmt: skip
#: kinds a later migration backfilled (0013: the cards), after the records 0004's backfill wrote
BACKFILLED_LATER = {"card"}
KINDS = set(KINDS_SINCE) - BACKFILLED_LATER


@pytest.fixture
def fresh_app(tmp_path, monkeypatch):
    """Return a callable making an app on an empty database of its own (no migration run yet)."""
    monkeypatch.setenv("POINTSMART_INSTANCE", str(tmp_path / "instance"))
    apps, schemas = [], ExitStack()

    def make(name: str, **settings):
        if DB == "postgresql":
            require_postgresql()
            url = schemas.enter_context(pg_schema(f"pm_mig_{name}"))
        else:
            url = f"sqlite:///{tmp_path / name}.sqlite3"
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True, **settings})
        apps.append(app)
        return app

    yield make
    for app in apps:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    schemas.close()


def migrate(app, revision: str) -> None:
    with app.app_context():
        upgrade(revision=revision)
        db.session.remove()


def fill(app, filler, *args) -> None:
    with app.app_context(), db.engine.begin() as conn:
        filler(conn, *args)


def village_at(fresh_app, revision: str):
    """A village database made at ``revision`` with that day's data (its change log, if any, backfilled)."""
    village = fresh_app("village")
    before_log = min(revision, SCRIPTS.get_revision(CHANGE_LOG_SINCE).down_revision)
    migrate(village, before_log)
    fill(village, frozen_data.fill_village, before_log)
    migrate(village, revision)
    return village


def change_log(conn) -> tuple[list, tuple]:
    columns = "seq, kind, uuid, payload, digest, balance_sum, transfer_count"
    rows = conn.execute(sa.text(f"SELECT {columns} FROM change_record ORDER BY seq")).all()
    head = conn.execute(sa.text("SELECT seq, digest, balance_sum, transfer_count FROM outbox_head")).one()
    return [tuple(row) for row in rows], tuple(head)


def test_no_migration_imports_the_app():
    for path in sorted((ROOT / "migrations" / "versions").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        nodes = list(ast.walk(tree))
        imported = [alias.name for node in nodes if isinstance(node, ast.Import) for alias in node.names]
        imported += [node.module or "" for node in nodes if isinstance(node, ast.ImportFrom)]
        assert not [name for name in imported if name.split(".")[0] == "pointsmart"], path.name
    assert EARLIER[:4] == ["0001", "0002", "0003", "0004"]


@pytest.mark.parametrize("revision", EARLIER)
def test_a_database_made_at_an_earlier_revision_upgrades_to_head_verifies_and_syncs(revision, fresh_app):
    village = village_at(fresh_app, revision)
    county = fresh_app("county", POINTSMART_MODE="county")
    if revision >= COUNTY_SINCE:
        migrate(county, revision)
        fill(county, frozen_data.fill_county)
    migrate(village, "head")
    migrate(county, "head")

    verify = village.test_cli_runner().invoke(args=["ledger", "verify"])
    assert verify.exit_code == 0 and "ledger OK" in verify.output, verify.output
    added = county.test_cli_runner().invoke(
        args=["county", "add-village", frozen_data.VILLAGE_CODE, frozen_data.VILLAGE_NAME, "--township",
              frozen_data.TOWNSHIP_CODE, "--township-name", "旧镇"]
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    village.config["POINTSMART_SYNC_KEY"] = added.output.strip().splitlines()[-1]
    server = CountyServer(county)
    try:
        push = village.test_cli_runner().invoke(args=["sync", "push", "--url", server.url, "--batch-size=7"])
    finally:
        server.stop()
    assert push.exit_code == 0 and "0 waiting" in push.output, push.output

    totals = village_totals(village)
    assert county_totals(county, frozen_data.VILLAGE_CODE) == totals
    assert totals["transfers"] >= 8 and totals["balance_sum"] > 0
    checked = county.test_cli_runner().invoke(args=["county", "verify"])
    villages = 2 if revision >= COUNTY_SINCE else 1  # the one synced before the upgrade, too
    assert checked.exit_code == 0 and f"{villages} villages checked, 0 with differences" in checked.output
    with village.app_context():
        kinds = set(db.session.scalars(sa.text("SELECT DISTINCT kind FROM change_record")))
    assert kinds == {kind for kind, since in KINDS_SINCE.items() if since <= revision}


def test_county_constraints_are_named_after_every_column_and_still_hold(fresh_app):
    county = fresh_app("county", POINTSMART_MODE="county")
    migrate(county, COUNTY_SINCE)
    fill(county, frozen_data.fill_county)
    migrate(county, "head")
    with county.app_context():
        inspector = sa.inspect(db.engine)
        names = {c["name"] for c in inspector.get_unique_constraints("synced_transfer")}
        assert names == {"uq_synced_transfer_village_id_uuid"}
        with db.engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), db.metadata) == []
        row = db.session.execute(sa.text("SELECT * FROM synced_transfer")).mappings().first()
        duplicate = {key: value for key, value in row.items() if key != "id"}
        insert = f"INSERT INTO synced_transfer ({', '.join(duplicate)}) VALUES (:{', :'.join(duplicate)})"
        with pytest.raises(sa.exc.IntegrityError):
            db.session.execute(sa.text(insert), duplicate)
        db.session.rollback()


def test_the_frozen_backfill_writes_the_records_digests_and_totals_the_orm_backfill_wrote(fresh_app):
    village = village_at(fresh_app, CHANGE_LOG_SINCE)
    migrate(village, "head")
    with village.app_context(), db.engine.connect() as conn:
        frozen, frozen_head = change_log(conn)
        if conn.dialect.name == "sqlite":
            conn.execute(sa.text("DROP TRIGGER change_record_no_delete"))
        else:
            conn.execute(sa.text("ALTER TABLE change_record DISABLE TRIGGER change_record_append_only"))
        conn.execute(sa.text("DELETE FROM change_record"))
        conn.execute(sa.text("DELETE FROM outbox_head"))
        reference_backfill.backfill(conn)
        redone, redone_head = change_log(conn)
        balances = "SELECT sum(balance) FROM account WHERE kind = 'household'"
        ledger = conn.execute(sa.text(f"SELECT ({balances}), (SELECT count(*) FROM transfer)")).one()
        conn.rollback()  # the triggers and the frozen log come back
    later = [row for row in frozen if row[1] in BACKFILLED_LATER]
    frozen = frozen[: len(frozen) - len(later)]
    assert {row[1] for row in later} == BACKFILLED_LATER  # all of them after 0004's records
    frozen_head = (len(frozen), frozen[-1][4], *frozen_head[2:])
    assert {row[1] for row in frozen} == KINDS
    assert frozen == redone
    transfers = [row for row in frozen if row[1] == "transfer"]
    reversal = next(json.loads(row[3]) for row in transfers if '"reversal"' in row[3])
    assert reversal["reverses"] in {row[2] for row in transfers}  # named, as the live change log names it
    assert frozen_head == redone_head == (len(frozen), frozen[-1][4], *ledger)


def test_downgrade_to_base_leaves_no_table_function_or_trigger_behind(fresh_app):
    village = village_at(fresh_app, "0003")
    migrate(village, "head")
    with village.app_context():
        downgrade(revision="base")
        db.session.remove()
        with db.engine.connect() as conn:
            left = _schema_objects(conn)
    assert left == {("table", "alembic_version")}
    migrate(village, "head")  # and up again, from nothing
    with village.app_context(), db.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), db.metadata) == []


def _schema_objects(conn) -> set[tuple[str, str]]:
    """Every table, view, sequence, trigger, function and type left in the database (or its schema)."""
    if conn.dialect.name == "sqlite":
        rows = conn.execute(sa.text("SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"))
        return {tuple(row) for row in rows}
    kinds = {"r": "table", "v": "view", "m": "view", "S": "sequence", "f": "table", "p": "table"}
    rows = conn.execute(
        sa.text(
            "SELECT c.relkind, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'v', 'm', 'S', 'f', 'p')"
        )
    )
    found = {(kinds[kind], name) for kind, name in rows}
    found |= {("function", name) for (name,) in conn.execute(sa.text(
        "SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
        "WHERE n.nspname = current_schema()"
    ))}  # fmt: skip
    found |= {("trigger", name) for (name,) in conn.execute(sa.text(
        "SELECT t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n "
        "ON n.oid = c.relnamespace WHERE n.nspname = current_schema() AND NOT t.tgisinternal"
    ))}  # fmt: skip
    found |= {("type", name) for (name,) in conn.execute(sa.text(
        "SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
        "WHERE n.nspname = current_schema() AND t.typtype IN ('e', 'd')"
    ))}  # fmt: skip
    return found


def test_the_year_end_rules_chosen_before_0011_reach_the_county_after_the_upgrade(fresh_app):
    """0011 gives the rule's rows a uuid and writes their records after the head, chained as the live
    change log chains them; a push then brings them to the county."""
    from pointsmart.county.models import SyncedPointsRule
    from pointsmart.sync import wire

    village = village_at(fresh_app, "0010")
    with village.app_context(), db.engine.begin() as conn:
        conn.execute(
            sa.text("INSERT INTO points_rule (rule, months, since) VALUES (:r, :m, :s)"),
            [
                {"r": "year_end", "m": None, "s": "2026-01-05 02:00:00"},
                {"r": "months", "m": 12, "s": "2026-06-01 03:30:00.250000"},
            ],
        )
        before, _head = change_log(conn)
    migrate(village, "head")
    with village.app_context(), db.engine.connect() as conn:
        after, head = change_log(conn)
        uuids = dict(conn.execute(sa.text("SELECT rule, uuid FROM points_rule")).all())
    assert after[: len(before)] == before
    added = [row for row in after[len(before) :] if row[1] == "points_rule"]  # 0013 adds the cards after
    assert [(row[1], row[2]) for row in added] == [
        ("points_rule", uuids["year_end"]),
        ("points_rule", uuids["months"]),
    ]
    assert [json.loads(row[3]) for row in added] == [
        {"rule": "year_end", "months": None, "since": "2026-01-05T02:00:00",
         "created_at": "2026-01-05T02:00:00"},
        {"rule": "months", "months": 12, "since": "2026-06-01T03:30:00.250000",
         "created_at": "2026-06-01T03:30:00.250000"},
    ]  # fmt: skip
    digest = ""
    for seq, kind, uuid, payload, stored, *_totals in after:
        digest = wire.chain(digest, wire.record_bytes(seq, kind, uuid, payload.encode()))
        assert stored == digest
    assert head == (len(after), digest, *before[-1][5:])

    county = fresh_app("county", POINTSMART_MODE="county")
    migrate(county, "head")
    added = county.test_cli_runner().invoke(
        args=["county", "add-village", frozen_data.VILLAGE_CODE, frozen_data.VILLAGE_NAME, "--township",
              frozen_data.TOWNSHIP_CODE, "--township-name", "旧镇"]
    )  # fmt: skip
    village.config["POINTSMART_SYNC_KEY"] = added.output.strip().splitlines()[-1]
    server = CountyServer(county)
    try:
        push = village.test_cli_runner().invoke(args=["sync", "push", "--url", server.url])
    finally:
        server.stop()
    assert push.exit_code == 0 and "0 waiting" in push.output, push.output
    with county.app_context():
        rules = db.session.execute(
            sa.select(SyncedPointsRule.uuid, SyncedPointsRule.rule, SyncedPointsRule.months)
        ).all()
    assert sorted(tuple(r) for r in rules) == sorted(
        [(uuids["year_end"], "year_end", None), (uuids["months"], "months", 12)]
    )


def test_the_cards_issued_before_0013_reach_the_county_as_the_live_change_log_would_send_them(fresh_app):
    """0013 writes a record for each card after the head, chained as the live change log chains them and
    with the payload the live serializer would write — a hash of the token, never the token; a push
    then brings them to the county, where the card's token opens the family's page."""
    from pointsmart.cards.models import Card
    from pointsmart.county.models import SyncedCard
    from pointsmart.sync import kinds, wire

    village = village_at(fresh_app, "0012")
    with village.app_context(), db.engine.connect() as conn:
        before, _head = change_log(conn)
    migrate(village, "head")
    with village.app_context(), db.engine.connect() as conn:
        after, head = change_log(conn)
    with village.app_context():
        cards = db.session.scalars(sa.select(Card).order_by(Card.id)).all()
        look = kinds.Lookups(db.session)
        expected = [("card", kinds.card_uuid(c.id), kinds.card(c, look)) for c in cards]
        tokens = [c.token for c in cards]
        db.session.rollback()
    assert after[: len(before)] == before and cards
    added = after[len(before) :]
    assert [(row[1], row[2], json.loads(row[3])) for row in added] == expected
    assert not any(token in row[3] for token in tokens for row in added)
    digest = ""
    for seq, kind, uuid, payload, stored, *_totals in after:
        digest = wire.chain(digest, wire.record_bytes(seq, kind, uuid, payload.encode()))
        assert stored == digest
    assert head == (len(after), digest, *before[-1][5:])

    county = fresh_app("county", POINTSMART_MODE="county")
    migrate(county, "head")
    added = county.test_cli_runner().invoke(
        args=["county", "add-village", frozen_data.VILLAGE_CODE, frozen_data.VILLAGE_NAME, "--township",
              frozen_data.TOWNSHIP_CODE, "--township-name", "旧镇"]
    )  # fmt: skip
    village.config["POINTSMART_SYNC_KEY"] = added.output.strip().splitlines()[-1]
    server = CountyServer(county)
    try:
        push = village.test_cli_runner().invoke(args=["sync", "push", "--url", server.url])
    finally:
        server.stop()
    assert push.exit_code == 0 and "0 waiting" in push.output, push.output
    with county.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(SyncedCard)) == len(tokens)
    page = county.test_client().get(f"/c/{tokens[0]}")
    assert page.status_code == 200 and "数据截至" in page.get_data(as_text=True)
