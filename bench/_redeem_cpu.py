"""Run by ``bench/shop_api.py`` in a subprocess: CPU time per redemption in-process (no HTTP, no
network: ``POST /api/v1/redemptions`` through Flask's test client, on the app's own WSGI stack).

A script, not a module of the package, so that the benchmark can run it against another checkout
(``PYTHONPATH`` first on the path): ``python _redeem_cpu.py DB TOKEN N`` with a JSON request list on
stdin; prints ``{"cpu": [seconds, …], "wall": [seconds, …], "statuses": {...}}`` as JSON.
"""

import json
import sys
import time


def main() -> None:
    db_path, token, warmup = sys.argv[1], sys.argv[2], int(sys.argv[3])
    bodies = json.load(sys.stdin)
    from pointsmart import create_app
    from pointsmart.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{db_path}", "TESTING": True,
                      "POINTSMART_BASE_URL": "http://pointsmart.bench"})  # fmt: skip
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    cpu, wall, statuses = [], [], {}
    for n, body in enumerate(bodies):
        start_cpu, start = time.thread_time(), time.perf_counter()
        response = client.post(
            "/api/v1/redemptions", json=body, headers=headers | {"Idempotency-Key": f"cpu-{n}"}
        )
        if n >= warmup:
            cpu.append(time.thread_time() - start_cpu)
            wall.append(time.perf_counter() - start)
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    print(json.dumps({"cpu": cpu, "wall": wall, "statuses": statuses}))


if __name__ == "__main__":
    main()
