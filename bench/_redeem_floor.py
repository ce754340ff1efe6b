"""The floor under a redemption (issue 10): the rows the app writes for each basket, by raw ``sqlite3``.

One transaction per basket, ``BEGIN IMMEDIATE`` … ``COMMIT``, on a connection with the app's PRAGMAs
(WAL, ``synchronous=FULL``, foreign keys on; ``bench._common.raw_connect``), one connection, one thread:
the idempotency key's claim, the card with its household, per line the goods taken off the shelf, the
shop credited and the household debited (conditional ``UPDATE … RETURNING``), the transfer, the
redemption, per line its line and its stock move, the audit entry, the change log's head moved and its
records (the transfer, the redemption, per line the stock move, as the app's) inserted with their
digests chained. No ORM, no Flask, no HTTP, no JSON parsing of a request: what no app can go below.
"""

import hashlib
import json
import sqlite3
import uuid
from pathlib import Path

from ._common import Stopwatch, raw_connect

_NOW = "2026-01-01 08:00:00.000000"


def _text(obj) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def _redeem(conn: sqlite3.Connection, head: list, fixed: dict, key: str, token: str, lines) -> None:
    """One basket, one transaction; ``head`` (seq, digest, balance_sum, transfer_count) moves with it."""
    execute = conn.execute
    execute("BEGIN IMMEDIATE")
    try:
        request_hash = hashlib.sha256(f"{token}{lines}".encode()).hexdigest()
        redemption_uuid, transfer_uuid = str(uuid.uuid4()), str(uuid.uuid4())
        claimed = execute(
            'INSERT INTO idempotency_record (scope, "key", request_hash, status, response, created_at) '
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id",
            ("api:redemptions", key, request_hash, 201, _text(redemption_uuid), _NOW),
        ).fetchone()
        if claimed is None:
            raise RuntimeError(f"key {key} claimed twice")
        card_id, household_id, account_id, household_uuid = execute(
            "SELECT card.id, card.household_id, household.account_id, household.uuid FROM card "
            "JOIN household ON household.id = card.household_id WHERE card.token = ? AND card.status = ?",
            (token, "active"),
        ).fetchone()
        taken, points = [], 0
        for goods_id, qty in lines:
            row = execute(
                "UPDATE goods SET stock = stock - ? WHERE id = ? AND village_id = ? AND active = 1 "
                "AND stock >= ? RETURNING price, name, uuid, stock",
                (qty, goods_id, fixed["village_id"], qty),
            ).fetchone()
            if row is None:
                raise RuntimeError(f"goods {goods_id} out of stock")
            taken.append((goods_id, qty, *row))
            points += row[0] * qty
        (shop_id,) = execute(
            "UPDATE account SET balance = balance + ? WHERE code = ? RETURNING id", (points, "shop")
        ).fetchone()
        paid = execute(
            "UPDATE account SET balance = balance - ? WHERE id = ? AND kind = ? AND balance >= ? "
            "RETURNING balance, code",
            (points, account_id, "household", points),
        ).fetchone()
        if paid is None:
            raise RuntimeError(f"household {household_id} cannot pay {points}")
        balance, household_code = paid
        transfer_id = execute(
            "INSERT INTO transfer (uuid, from_account_id, to_account_id, amount, kind, reason, ref, "
            "reverses_id, actor_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (transfer_uuid, account_id, shop_id, points, "redemption", "积分兑换", redemption_uuid, None,
             fixed["operator_id"], _NOW),
        ).lastrowid  # fmt: skip
        redemption_id = execute(
            "INSERT INTO redemption (uuid, village_id, household_id, card_id, points, balance_after, status, "
            "transfer_id, operator_id, created_at, cancelled_by, cancelled_at, cancel_reason) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (redemption_uuid, fixed["village_id"], household_id, card_id, points, balance, "done",
             transfer_id, fixed["operator_id"], _NOW, None, None, ""),
        ).lastrowid  # fmt: skip
        records = [
            ("transfer", transfer_uuid, {"amount": points, "from": household_code, "to": "shop",
                                         "kind": "redemption", "ref": redemption_uuid, "at": _NOW}),
            ("redemption", redemption_uuid, {"household": household_uuid, "points": points,
                                             "balance_after": balance, "status": "done", "at": _NOW}),
        ]  # fmt: skip
        for goods_id, qty, price, name, goods_uuid, stock in taken:
            execute(
                "INSERT INTO redemption_line (redemption_id, goods_id, qty, unit_price, goods_name) "
                "VALUES (?, ?, ?, ?, ?)",
                (redemption_id, goods_id, qty, price, name),
            )
            move_uuid = str(uuid.uuid4())
            execute(
                "INSERT INTO stock_move (uuid, goods_id, kind, qty, donor, moved_on, funding_source, "
                "cost_fen, note, redemption_id, stocktake_id, actor_id, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (move_uuid, goods_id, "redemption", -qty, "", None, "", None, "", redemption_id, None,
                 fixed["operator_id"], _NOW),
            )  # fmt: skip
            records.append(
                (
                    "stock_move",
                    move_uuid,
                    {"goods": goods_uuid, "qty": -qty, "kind": "redemption", "left": stock},
                )
            )
        execute(
            "INSERT INTO audit_log (at, actor_id, action, target_type, target_id, data) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (_NOW, fixed["operator_id"], "shop.redeem", "redemption", redemption_uuid,
             _text({"points": points, "lines": [[g, q] for g, q, *_ in taken]})),
        )  # fmt: skip
        seq, digest, balance_sum, transfer_count = head
        rows = []
        for kind, record_uuid, payload in records:
            seq += 1
            text = _text(payload)
            digest = hashlib.sha256(
                (digest + _text({"kind": kind, "payload": payload, "seq": seq, "uuid": record_uuid})).encode()
            ).hexdigest()
            if kind == "transfer":
                transfer_count += 1
                balance_sum -= points
            rows.append((seq, kind, record_uuid, text, digest, balance_sum, transfer_count, _NOW))
        moved = execute(
            "UPDATE outbox_head SET seq = ?, digest = ?, balance_sum = ?, transfer_count = ? "
            "WHERE id = 1 AND seq = ? AND digest = ?",
            (seq, digest, balance_sum, transfer_count, head[0], head[1]),
        ).rowcount
        if moved != 1:
            raise RuntimeError("the change log's head moved under the floor")
        conn.executemany(
            "INSERT INTO change_record (seq, kind, uuid, payload, digest, balance_sum, transfer_count, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        execute("COMMIT")
    except BaseException:
        execute("ROLLBACK")
        raise
    head[:] = [seq, digest, balance_sum, transfer_count]


def floor(db_path: Path, tokens: list[str], baskets, operator: str) -> tuple[int, float]:
    """Write every basket (``baskets[i]`` to ``tokens[i]``); return (baskets written, seconds)."""
    conn = raw_connect(db_path)
    try:
        (village_id,) = conn.execute("SELECT id FROM village ORDER BY id LIMIT 1").fetchone()
        (operator_id,) = conn.execute("SELECT id FROM user WHERE username = ?", (operator,)).fetchone()
        fixed = {"village_id": village_id, "operator_id": operator_id}
        head = list(
            conn.execute("SELECT seq, digest, balance_sum, transfer_count FROM outbox_head").fetchone()
        )
        with Stopwatch() as sw:
            for i, (token, lines) in enumerate(zip(tokens, baskets, strict=True)):
                _redeem(conn, head, fixed, f"floor-{i}", token, lines)
        return len(baskets), sw.seconds
    finally:
        conn.close()
