"""JSON from outsiders, with its nesting bounded.

Python's `json` recurses once per level: a body of 10,000 `[` raises RecursionError (not the
ValueError that callers expect), and code that walks what it parsed recursively (NUL checks,
serializers, `json.dumps`) can hit the same limit at a depth `json` still parsed. Nothing this
product reads nests more than a few levels, so anything deeper than MAX_JSON_DEPTH is refused
before it is looked at. The depth check walks with an explicit stack: it cannot recurse too deep.
"""

import json

MAX_JSON_DEPTH = 64


class JsonTooDeep(ValueError):
    """The JSON nests more than the allowed depth (a ValueError, like any other bad JSON)."""

    def __init__(self, max_depth: int):
        self.max_depth = max_depth
        super().__init__(f"nested more than {max_depth} levels deep")


def json_depth_exceeds(value, max_depth: int = MAX_JSON_DEPTH) -> bool:
    """Whether parsed JSON `value` nests objects/arrays more than `max_depth` levels (a scalar is 0)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > max_depth:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def check_json_depth(value, max_depth: int = MAX_JSON_DEPTH):
    """`value` itself, or JsonTooDeep when it nests more than `max_depth` levels."""
    if json_depth_exceeds(value, max_depth):
        raise JsonTooDeep(max_depth)
    return value


def json_loads_bounded(raw: str | bytes, max_depth: int = MAX_JSON_DEPTH):
    """`json.loads(raw)`, raising JsonTooDeep (a ValueError) for JSON nested more than `max_depth`
    levels, however deep, and ValueError for any other bad JSON."""
    try:
        value = json.loads(raw)
    except RecursionError:
        raise JsonTooDeep(max_depth) from None
    return check_json_depth(value, max_depth)
