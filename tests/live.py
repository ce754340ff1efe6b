"""A test's app served for real: waitress on 127.0.0.1 and a free port, in a background thread."""

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from waitress import create_server, wasyncore


@contextmanager
def serving(app, threads: int = 4) -> Iterator[str]:
    """Serve ``app`` with waitress; yield its base URL; stop the server (and check it stopped) after."""
    server = create_server(app, host="127.0.0.1", port=0, threads=threads)
    thread = threading.Thread(target=server.run, name="waitress", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        stop(server, thread)
        assert not thread.is_alive(), "waitress did not stop"


def stop(server, thread: threading.Thread) -> None:
    """Stop a waitress server run in ``thread``: its sockets, its loop, then its worker threads."""
    # Close the listening socket and every open connection from inside the server's own loop
    # thread, so the loop runs out of channels and returns.
    try:
        server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map))
    except OSError:  # its wake-up pipe is closed already (seen once in CI): close the sockets here
        wasyncore.close_all(server._map)
    thread.join(timeout=5)
    server.task_dispatcher.shutdown(timeout=5)
