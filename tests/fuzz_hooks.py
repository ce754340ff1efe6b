"""Schemathesis hooks for ``tests/test_api_fuzz.py`` (loaded through ``SCHEMATHESIS_HOOKS``).

A well-behaved client sends a fresh Idempotency-Key with each new request and the same key only with
a retry of the same body. Schemathesis draws keys from a small space and reuses them across different
bodies, which the API rightly refuses (``422 idempotency_key_reused``: the key names another request)
— a refusal no schema can express. So a key that the document allows is made unique per case; keys
the document forbids (empty, blank, too long) are left as drawn, so their refusal is still checked.
``tests/test_api.py`` tests the retry and reuse behaviour itself.
"""

import re
import uuid

import schemathesis

HEADER = "Idempotency-Key"


def _allowed(key) -> bool:
    return isinstance(key, str) and 1 <= len(key) <= 100 and re.search(r"\S", key) is not None


@schemathesis.hook
def before_call(context, case, kwargs):
    """Every phase's calls (examples, coverage, fuzzing, stateful) pass here, unlike the map_* hooks."""
    if case.headers and _allowed(case.headers.get(HEADER)):
        case.headers[HEADER] = uuid.uuid4().hex
