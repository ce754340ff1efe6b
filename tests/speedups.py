"""What the suite computes once per test process instead of once per app or per user.

The suite builds an app for nearly every test (about 1,500 in a pass) and logs a user in for most
of them. Three costs repeat each time and give the same result each time; these hooks keep that
result. None of them changes what an app does: a URL is built by the same generated function, a
template runs the same compiled code, a password is still hashed and verified with argon2id.
"""

import jinja2
from argon2 import PasswordHasher, Type
from flask import Flask
from werkzeug.routing.rules import Rule

from pointsmart.auth import passwords

#: the hasher the product uses, for the test that checks its strength
PRODUCTION_HASHER = passwords.HASHER


def remember_url_builders() -> None:
    """Build each URL rule's ``url_for`` function once per process, not once per app.

    Werkzeug generates and compiles Python source for two builders of each of the app's ~435
    rules whenever an app is made: about 0.3 s of a quiet machine's CPU, more than the rest of
    ``create_app``. The function depends only on the rule's parsed parts and defaults (it reaches
    the converters through the rule it is bound to), so equal rules can share it. A default that
    fills one of the rule's variables goes through that rule's converter: such rules are not shared.
    """
    compile_builder = Rule._compile_builder
    built: dict = {}

    def remembered(self, append_unknown: bool = True):
        defaults = self.defaults or {}
        if any(is_dynamic and name in defaults for is_dynamic, name in self._trace):
            return compile_builder(self, append_unknown)
        key = (tuple(self._trace), tuple(sorted((k, repr(v)) for k, v in defaults.items())), append_unknown)
        builder = built.get(key)
        if builder is None:
            builder = built[key] = compile_builder(self, append_unknown)
        return builder

    Rule._compile_builder = remembered


class _Templates(jinja2.BytecodeCache):
    """Jinja's compiled templates, kept in memory for every app of the process (keyed by the
    template's file and checked against its source, as Jinja's own file cache is)."""

    def __init__(self):
        self.code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        code = self.code.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        self.code[bucket.key] = bucket.bytecode_to_string()


def share_compiled_templates() -> None:
    """Every app's Jinja environment reads compiled templates from one cache: a template is parsed
    and compiled once per process instead of once per app."""
    templates = _Templates()
    create_environment = Flask.create_jinja_environment

    def with_shared_cache(self):
        environment = create_environment(self)
        environment.bytecode_cache = templates
        return environment

    Flask.create_jinja_environment = with_shared_cache


def hash_passwords_cheaply() -> None:
    """Hash the tests' passwords with argon2id at its smallest cost (8 KiB, one pass) instead of the
    product's 19 MiB and two passes, which cost ~30 ms for each user made and each log-in."""
    passwords.HASHER = PasswordHasher(
        time_cost=1, memory_cost=8, parallelism=1, hash_len=32, salt_len=16, type=Type.ID
    )


def install() -> None:
    remember_url_builders()
    share_compiled_templates()
    hash_passwords_cheaply()
