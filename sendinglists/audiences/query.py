"""The audience text query: what power users type and the API accepts, converted to and from rules.

    status = active AND clicked_within = 30d AND (state = "CA" OR revenue >= 50)

Grammar (keywords are case-insensitive; AND binds tighter than OR):

    query     := [ or_expr ]
    or_expr   := and_expr { OR and_expr }
    and_expr  := term { AND term }
    term      := "(" or_expr ")" | condition
    condition := field ( cmp value | IS [NOT] EMPTY | [NOT] IN "(" value { "," value } ")"
                       | [NOT] CONTAINS value )
    cmp       := "=" | "!=" | "<" | "<=" | ">" | ">="     ("==" and "<>" are accepted too)
    value     := "text" | 'text' | number | 2024-01-31 | 30d | true | false | bare_word
    field     := a built-in name, a custom field key, or custom.<key>

`query_parse` returns raw rules (and where each came from in the text) for `rules_validate`;
`rules_to_query` writes canonical rules back as text. A syntax error is a QuerySyntaxError that
names the position (0-based character offset) where the query stops making sense.
"""

import re
from dataclasses import dataclass
from decimal import Decimal

from sendinglists.audiences.rules import (
    BUILTIN_FIELDS,
    DATE_RE,
    DURATION_RE,
    KEYWORDS,
    LIST_OPS,
    NO_VALUE_OPS,
    Kind,
)

MAX_QUERY_LENGTH = 4000
_BARE_WORD_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_BARE_KINDS = {Kind.ENUM, Kind.WITHIN, Kind.DATETIME}

_TOKEN_RE = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<punct>[(),])
  | (?P<op>!=|<>|<=|>=|==|=|<|>)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<date>\d{4}-\d{2}-\d{2}(?![\w.-]))
  | (?P<duration>\d{1,5}[dD](?![\w.-]))
  | (?P<number>-?\d+(?:\.\d+)?(?![\w.-]))
  | (?P<word>[A-Za-z_][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)*)
    """,
    re.VERBOSE,
)
_UNESCAPE_RE = re.compile(r"\\(.)", re.DOTALL)


class QuerySyntaxError(ValueError):
    """A query that does not parse; `position` is the 0-based offset of the problem."""

    def __init__(self, message: str, position: int, query: str = ""):
        super().__init__(f"{message} (at position {position})")
        self.message = message
        self.position = position
        self.query = query

    @property
    def pointer(self) -> str:
        """The query with a caret under the problem, for a monospace error display."""
        line = self.query.replace("\n", " ")
        return f"{line}\n{' ' * self.position}^"


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # punct, op, string, date, duration, number, word, keyword, end
    value: object
    text: str
    position: int

    def describe(self) -> str:
        return "the end of the query" if self.kind == "end" else repr(self.text)


def tokenize(query: str) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    while position < len(query):
        match = _TOKEN_RE.match(query, position)
        if match is None:
            char = query[position]
            if char in "\"'":
                raise QuerySyntaxError(f"Unterminated text starting with {char}", position, query)
            raise QuerySyntaxError(f"Unexpected character {char!r}", position, query)
        kind, text = match.lastgroup, match.group()
        if kind != "space":
            tokens.append(Token(kind, *_token_value(kind, text), position))
        position = match.end()
    tokens.append(Token("end", None, "", len(query)))
    return tokens


def _token_value(kind: str, text: str) -> tuple[object, str]:
    """(value, text) of a token: strings unescaped, numbers as int/float, `==`/`<>` canonical."""
    if kind == "string":
        return _UNESCAPE_RE.sub(r"\1", text[1:-1]), text
    if kind == "number":
        number = Decimal(text)
        return (
            int(number) if number == number.to_integral_value() and "." not in text else float(number)
        ), text
    if kind == "duration":
        return text.lower(), text
    if kind == "op":
        return {"==": "=", "<>": "!="}.get(text, text), text
    return text, text


@dataclass(frozen=True, slots=True)
class ParsedQuery:
    rules: dict
    positions: dict[str, int]  # rule path -> where it starts in the query


def query_parse(query: str) -> ParsedQuery:
    """Raw rules for `query` (validate them with `rules_validate(..., positions=...)`)."""
    if len(query) > MAX_QUERY_LENGTH:
        raise QuerySyntaxError(
            f"The query is longer than {MAX_QUERY_LENGTH} characters", MAX_QUERY_LENGTH, query
        )
    parser = _Parser(query, tokenize(query))
    return parser.parse()


class _Parser:
    def __init__(self, query: str, tokens: list[Token]):
        self.query = query
        self.tokens = tokens
        self.index = 0
        self.positions: dict[str, int] = {}

    # --- token helpers ----------------------------------------------------------------------------

    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def is_keyword(self, token: Token, *words: str) -> bool:
        return token.kind == "word" and token.text.lower() in words

    def error(self, message: str, token: Token | None = None) -> QuerySyntaxError:
        token = token or self.current
        return QuerySyntaxError(message, token.position, self.query)

    # --- grammar ----------------------------------------------------------------------------------

    def parse(self) -> ParsedQuery:
        if self.current.kind == "end":
            return ParsedQuery({"group": "and", "rules": []}, {})
        node = self.or_expr()
        if self.current.kind != "end":
            token = self.current
            if token.text == ")":
                raise self.error("Unexpected ')' without a matching '('")
            raise self.error(
                f"Unexpected {token.describe()} after a complete condition; join conditions with AND or OR"
            )
        root = node if "group" in node else {"group": "and", "rules": [node]}
        self._record_positions(root, "")
        return ParsedQuery(root, self.positions)

    def _record_positions(self, node: dict, path: str) -> None:
        position = node.pop("_position", None)
        if position is not None and path:
            self.positions[path] = position
        for index, child in enumerate(node.get("rules", [])):
            self._record_positions(child, f"{path}.rules[{index}]" if path else f"rules[{index}]")

    def or_expr(self) -> dict:
        start = self.current.position
        parts = [self.and_expr()]
        while self.is_keyword(self.current, "or"):
            self.advance()
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else {"group": "or", "rules": parts, "_position": start}

    def and_expr(self) -> dict:
        start = self.current.position
        parts = [self.term()]
        while self.is_keyword(self.current, "and"):
            self.advance()
            parts.append(self.term())
        return parts[0] if len(parts) == 1 else {"group": "and", "rules": parts, "_position": start}

    def term(self) -> dict:
        token = self.current
        if token.text == "(" and token.kind == "punct":
            self.advance()
            if self.current.text == ")":
                raise self.error("Empty parentheses: put a condition inside")
            node = self.or_expr()
            if self.current.text != ")":
                raise self.error(
                    f"Expected ')' to close the '(' at position {token.position}, found {self.current.describe()}"
                )
            self.advance()
            if "group" not in node:
                return node
            node["_position"] = token.position
            return node
        return self.condition()

    def condition(self) -> dict:
        token = self.current
        if token.kind != "word" or token.text.lower() in KEYWORDS:
            if token.kind == "end":
                raise self.error("Expected a condition (like status = active), found the end of the query")
            raise self.error(f"Expected a field name, found {token.describe()}")
        self.advance()
        rule: dict = {"field": token.text, "_position": token.position}
        following = self.current
        if following.kind == "op":
            self.advance()
            rule["operator"] = following.value
            rule["value"] = self.value(after=following)
        elif self.is_keyword(following, "is"):
            self.advance()
            negated = self._take_keyword("not")
            if not self.is_keyword(self.current, "empty"):
                raise self.error(f"Expected EMPTY after IS{' NOT' if negated else ''}")
            self.advance()
            rule["operator"] = "is not empty" if negated else "is empty"
        elif self.is_keyword(following, "in", "contains", "not"):
            negated = self._take_keyword("not")
            if self.is_keyword(self.current, "in"):
                self.advance()
                rule["operator"] = "not in" if negated else "in"
                rule["value"] = self.value_list()
            elif self.is_keyword(self.current, "contains"):
                contains = self.advance()
                rule["operator"] = "not contains" if negated else "contains"
                rule["value"] = self.value(after=contains)
            else:
                raise self.error(f"Expected IN or CONTAINS after NOT, found {self.current.describe()}")
        else:
            raise self.error(
                f"Expected an operator (=, !=, <, <=, >, >=, in, contains, is empty) after {token.text!r}, "
                f"found {following.describe()}"
            )
        return rule

    def _take_keyword(self, word: str) -> bool:
        if self.is_keyword(self.current, word):
            self.advance()
            return True
        return False

    def value(self, *, after: Token):
        token = self.current
        if token.kind in ("string", "date", "duration", "number"):
            self.advance()
            return token.value
        if token.kind == "word":
            lowered = token.text.lower()
            if lowered in ("true", "false"):
                self.advance()
                return lowered == "true"
            if lowered in KEYWORDS:
                raise self.error(
                    f"Expected a value after {after.text!r}, found the keyword {token.text!r}; "
                    f'quote it ("{token.text}") if you mean the text'
                )
            self.advance()
            return token.text
        raise self.error(f"Expected a value after {after.text!r}, found {token.describe()}")

    def value_list(self) -> list:
        opening = self.current
        if opening.text != "(":
            raise self.error(f"Expected '(' to start the list of values, found {opening.describe()}")
        self.advance()
        if self.current.text == ")":
            raise self.error("Expected at least one value in the list")
        values = [self.value(after=opening)]
        while self.current.text == ",":
            comma = self.advance()
            values.append(self.value(after=comma))
        if self.current.text != ")":
            raise self.error(
                f"Expected ',' or ')' in the list started at position {opening.position}, "
                f"found {self.current.describe()}"
            )
        self.advance()
        return values


# --- rules -> text --------------------------------------------------------------------------------


def rules_to_query(rules: dict) -> str:
    """Canonical rules (from `rules_validate`) as a text query that parses back to the same rules."""
    if not rules or not rules.get("rules"):
        return ""
    return _node_text(rules, nested=False)


def _node_text(node: dict, *, nested: bool) -> str:
    if "group" not in node:
        return _rule_text(node)
    text = f" {node['group'].upper()} ".join(_node_text(child, nested=True) for child in node["rules"])
    return f"({text})" if nested and len(node["rules"]) > 1 else text


def _rule_text(rule: dict) -> str:
    name, op = rule["field"], rule["operator"]
    if op in NO_VALUE_OPS:
        return f"{name} {op}"
    spec = BUILTIN_FIELDS.get(name)
    bare = spec is not None and spec.kind in _BARE_KINDS
    if op in LIST_OPS:
        return f"{name} {op} ({', '.join(value_text(v, bare=bare) for v in rule['value'])})"
    return f"{name} {op} {value_text(rule['value'], bare=bare)}"


def value_text(value, *, bare: bool = False) -> str:
    """A value as query text: numbers, booleans, dates and durations bare; other text quoted,
    except the words of a built-in choice field (`bare`: status = active)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format(Decimal(str(value)).normalize(), "f")
    text = str(value)
    # A bare date or duration lexes back to the same string whatever the field, so it is safe bare.
    if DATE_RE.match(text) or DURATION_RE.match(text):
        return text
    if bare and _BARE_WORD_RE.match(text) and text.lower() not in KEYWORDS:
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
