"""What one concurrent worker does: used by tests/test_concurrency.py and tests/test_shop_concurrency.py
from threads and from processes.

A separate module (not the test file) so that ``multiprocessing``'s *spawn* start method can import it
in a fresh interpreter. Each worker does one unit of work in its own transaction and reports
``("ok", None)``, ``(error_code, message)`` for a domain refusal, or ``("crash", repr)`` for anything
else — a crash is what would have been a 500 in the web app. Actions that answer like the API does
(a status and a body instead of raising) report ``(str(status), body as canonical JSON)``.
"""

import dataclasses
import json
import os

import sqlalchemy as sa

from pointsmart.errors import DomainError
from pointsmart.extensions import db
from pointsmart.households import services as households
from pointsmart.unit import write

#: seconds a worker waits for the others at the starting line before giving up
BARRIER_TIMEOUT = 60


def debit(session, household_id: int, points: int) -> None:
    """A chair's deduction: take ``points`` from the household, through the service the screen uses."""
    household = households.get_household(session, household_id)
    households.adjust_points(session, household, -points, "并发扣分", actor_id=None)


def reverse(session, household_id: int, transfer_id: int) -> None:
    """A chair's reversal of one of the household's transfers."""
    household = households.get_household(session, household_id)
    households.reverse_transfer(session, household, transfer_id, "并发撤销", actor_id=None)


def _answer(status: int, body) -> tuple[str, str]:
    """An API-style answer as the worker reports it: the status as text, the body as canonical JSON."""
    return str(status), json.dumps(body, sort_keys=True, ensure_ascii=False)


def redeem(session, user_id: int, key: str, card_text: str, lines: list) -> tuple[str, str]:
    """A counter's redemption through ``shop.redemptions.redeem_once`` (what the counter page calls),
    answered as the API would: 201 and the result, or the refusal's status and error body."""
    from pointsmart.auth.models import User
    from pointsmart.org.services import home_village
    from pointsmart.shop import redemptions

    operator = session.get(User, user_id)
    village_id = home_village(session).id
    basket = [tuple(line) for line in lines]
    try:
        with write(session):  # as the views do: a refusal is committed (kept) before it is raised on
            done = redemptions.redeem_once(session, village_id, key, basket, operator, card_text=card_text)
    except DomainError as err:
        return _answer(err.status, {"error": {"code": err.code, "message": err.message, **err.extra}})
    return _answer(201, dataclasses.asdict(done))


def redeem_api(session, token: str, key: str, card_text: str, lines: list) -> tuple[str, str]:
    """``POST /api/v1/redemptions`` with an ``Idempotency-Key``, through the app's own WSGI stack.

    The request runs in this worker's app context (Flask reuses it), so on this worker's session and
    connection; the view commits as it does in production.
    """
    from flask import current_app

    response = current_app.test_client().post(
        "/api/v1/redemptions",
        json={"card": card_text, "lines": [{"goods_id": g, "qty": q} for g, q in lines]},
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key},
    )
    return _answer(response.status_code, response.get_json())


ACTIONS = {"debit": debit, "reverse": reverse, "redeem": redeem, "redeem_api": redeem_api}


def attempt(app, barrier, action: str, *args) -> tuple[str, str | None]:
    """In a fresh app context: connect, wait at the barrier, do ``action`` and commit; say how it went."""
    with app.app_context():
        session = db.session
        try:
            session.execute(sa.text("SELECT 1"))  # open the connection before the race starts
            session.rollback()  # …and hold no transaction (on SQLite it would hold the write lock)
            barrier.wait(timeout=BARRIER_TIMEOUT)
            answer = ACTIONS[action](session, *args)
            session.commit()
            return answer or ("ok", None)
        except DomainError as error:
            session.rollback()
            return error.code, error.message
        except Exception as error:  # reported to the test, which fails on it
            barrier.abort()  # if it broke before the start, the others need not wait out the timeout
            session.rollback()
            return "crash", repr(error)
        finally:
            session.remove()


def run_in_process(url: str, instance: str, barrier, results, action: str, *args) -> None:
    """Entry point of a spawned process: build its own app on ``url``, attempt once, report on ``results``."""
    os.environ["POINTSMART_INSTANCE"] = instance
    try:
        from pointsmart import create_app

        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True})
    except Exception as error:
        barrier.abort()  # let the others fail fast instead of waiting out the timeout
        results.put((os.getpid(), "crash", f"create_app: {error!r}"))
        return
    outcome = attempt(app, barrier, action, *args)
    results.put((os.getpid(), *outcome))
    with app.app_context():
        db.engine.dispose()
