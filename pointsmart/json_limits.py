"""JSON from outside, bounded in depth before anything recurses over it.

Python's ``json`` and msgspec both parse nested arrays and objects by recursion: 100,000 ``[`` raise
``RecursionError`` (a 500 if nobody catches it), and anything a few hundred levels deep that does
parse can still overflow the stack in whatever walks it next (a schema, an encoder, a digest). Our
documents are shallow — an API body or a sync record is at most four or five levels — so anything past
:data:`MAX_DEPTH` is refused as malformed, the same way a syntax error is.
"""

from flask.json.provider import DefaultJSONProvider

#: deeper than any body, record or header the app reads (records are ~4 levels)
MAX_DEPTH = 32


class TooDeep(ValueError):
    """JSON nested past :data:`MAX_DEPTH` (a ``ValueError``, like any other malformed JSON)."""

    def __init__(self, limit: int = MAX_DEPTH):
        super().__init__(f"JSON nested deeper than {limit} levels")


def nested_too_deep(value, limit: int = MAX_DEPTH) -> bool:
    """Whether a decoded value has containers nested past ``limit`` (walked without recursion)."""
    if not isinstance(value, dict | list):
        return False
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item
        nested = [child for child in children if isinstance(child, dict | list)]
        if nested and depth >= limit:
            return True
        stack.extend((child, depth + 1) for child in nested)
    return False


def bounded(decode, data, limit: int = MAX_DEPTH):
    """Decode ``data`` with ``decode``; raise :class:`TooDeep` for nesting past ``limit``.

    The parsers give up by themselves (``RecursionError``) after about a thousand levels, so the
    work done on a hostile 100,000-level document stays small; the walk then holds the rest to
    ``limit``.
    """
    try:
        value = decode(data)
    except RecursionError:
        raise TooDeep(limit) from None
    if nested_too_deep(value, limit):
        raise TooDeep(limit)
    return value


class BoundedJSONProvider(DefaultJSONProvider):
    """Flask's JSON, with request bodies (``request.get_json``) bounded in depth."""

    def loads(self, s, **kwargs):
        return bounded(lambda data: super(BoundedJSONProvider, self).loads(data, **kwargs), s)
