"""A warm parent for the crash test: imports PointsMart once, then forks ``pointsmart serve`` on request.

A cold ``pointsmart serve`` takes 1.5–4 s on this 2-core machine just to import its modules, which would
leave no time for thirty kills. So this process (run as a script, in the server's environment) imports
everything once, opens no database and starts no thread, and on each ``start PORT`` line from its stdin
forks a child that runs the real console-script entry point (``pointsmart.cli.main`` with ``serve``
arguments): the child builds its own app, engine and connections, and serves with waitress. The test
kills that child with SIGKILL and asks this process to reap it (``reap PID``), which answers how it
ended. ``run LOG ARGS…`` runs another ``pointsmart`` command the same way, to its end. End of stdin:
the parent exits.

Protocol, one line each way: ``start PORT LOG`` → ``pid N``; ``poll N`` → ``alive`` or ``exit STATUS``;
``reap N`` → ``exit STATUS`` (a negative status is the signal that ended it, ``-9`` for SIGKILL);
``run LOG ARGS…`` → ``exit STATUS`` once the command has ended.
"""

import importlib
import os
import pkgutil
import sys
import threading


def warm() -> None:
    """Import what a server imports, without building anything that holds a file, socket or thread."""
    import waitress  # noqa: F401
    import waitress.server  # noqa: F401
    from sqlalchemy.orm import configure_mappers

    import pointsmart

    for module in pkgutil.walk_packages(pointsmart.__path__, "pointsmart."):
        if module.name != "pointsmart.__main__" and ".migrations" not in module.name:
            importlib.import_module(module.name)

    configure_mappers()  # the mappers' set-up, done once here instead of in every child
    assert threading.active_count() == 1, "a thread before fork() would be lost in the child"


def command_child(log: str, args: list[str]) -> None:
    """In the forked child: output to ``log``, then ``pointsmart ARGS`` exactly as the console script."""
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    sys.argv = ["pointsmart", *args]
    code = 0
    try:
        from pointsmart.cli import main

        main()
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else 1
    except BaseException:  # noqa: BLE001 (report anything, then leave without the parent's cleanup)
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def main() -> None:
    warm()
    print("ready", flush=True)
    for line in sys.stdin:
        words = line.split()
        if words[:1] == ["start"]:
            pid = os.fork()
            if pid == 0:
                command_child(words[2], ["serve", "--host", "127.0.0.1", "--port", words[1]])
            print(f"pid {pid}", flush=True)
        elif words[:1] == ["run"]:
            pid = os.fork()
            if pid == 0:
                command_child(words[1], words[2:])
            _pid, status = os.waitpid(pid, 0)
            print(f"exit {os.waitstatus_to_exitcode(status)}", flush=True)
        elif words[:1] == ["poll"]:
            pid, status = os.waitpid(int(words[1]), os.WNOHANG)
            print("alive" if pid == 0 else f"exit {os.waitstatus_to_exitcode(status)}", flush=True)
        elif words[:1] == ["reap"]:
            _pid, status = os.waitpid(int(words[1]), 0)
            print(f"exit {os.waitstatus_to_exitcode(status)}", flush=True)
        else:
            print(f"error unknown command {line.strip()!r}", flush=True)


if __name__ == "__main__":
    main()
