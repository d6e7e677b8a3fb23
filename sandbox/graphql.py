"""Just enough GraphQL reading for the Xledger fake.

Not a GraphQL implementation: it finds the operation type, the first root field and that
field's arguments (variables, or inline literals), which is all the fake needs to answer.
Selections are ignored; the fake returns every known field of a node.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

_TOKEN = re.compile(
    r"""
    (?P<skip>[\s,\ufeff]+|\#[^\n\r]*)
    |(?P<block>\"\"\"[\s\S]*?\"\"\")
    |(?P<string>"(?:\\.|[^"\\\n])*")
    |(?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
    |(?P<name>[_A-Za-z][_0-9A-Za-z]*)
    |(?P<punct>\.\.\.|[!$&()\[\]{}:=@|])
    """,
    re.VERBOSE,
)


class GraphQLSyntaxError(ValueError):
    """The document could not be read; the message follows graphql-js ("Syntax Error: …")."""


@dataclass(frozen=True)
class Operation:
    kind: str  # "query" or "mutation"
    field: str  # first root field name (aliases resolved)
    arguments: dict[str, Any]


def tokenize(source: str) -> list[tuple[str, str]]:
    tokens = []
    position = 0
    while position < len(source):
        match = _TOKEN.match(source, position)
        if match is None:
            raise GraphQLSyntaxError(f"Syntax Error: Unexpected character {source[position]!r}.")
        position = match.end()
        kind = match.lastgroup or "skip"
        if kind != "skip":
            tokens.append((kind, match.group()))
    return tokens


def parse_operation(query: str, variables: dict[str, Any] | None) -> Operation:
    """Read the operation's type, first root field and its arguments."""
    tokens = tokenize(query)
    if not tokens:
        raise GraphQLSyntaxError("Syntax Error: Unexpected <EOF>.")
    reader = _Reader(tokens, variables or {})
    kind = "query"
    if tokens[0] == ("name", "mutation"):
        kind = "mutation"
    elif tokens[0][0] == "name" and tokens[0][1] not in ("query", "subscription"):
        raise GraphQLSyntaxError(f'Syntax Error: Unexpected Name "{tokens[0][1]}".')
    reader.skip_to_selection_set()
    name = reader.expect("name")
    if reader.peek() == ("punct", ":"):
        reader.next()
        name = reader.expect("name")
    arguments: dict[str, Any] = {}
    if reader.peek() == ("punct", "("):
        arguments = reader.arguments()
    return Operation(kind, name, arguments)


class _Reader:
    def __init__(self, tokens: list[tuple[str, str]], variables: dict[str, Any]) -> None:
        self.tokens = tokens
        self.variables = variables
        self.index = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def next(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise GraphQLSyntaxError("Syntax Error: Unexpected <EOF>.")
        self.index += 1
        return token

    def expect(self, kind: str, value: str | None = None) -> str:
        token = self.next()
        if token[0] != kind or (value is not None and token[1] != value):
            raise GraphQLSyntaxError(f'Syntax Error: Unexpected "{token[1]}".')
        return token[1]

    def skip_to_selection_set(self) -> None:
        # Skip the header (`query Name($a: T = {…})`): the first `{` outside parentheses.
        depth = 0
        while True:
            kind, value = self.next()
            if value == "(" and kind == "punct":
                depth += 1
            elif value == ")" and kind == "punct":
                depth -= 1
            elif value == "{" and kind == "punct" and depth == 0:
                return

    def arguments(self) -> dict[str, Any]:
        self.expect("punct", "(")
        result = {}
        while self.peek() != ("punct", ")"):
            name = self.expect("name")
            self.expect("punct", ":")
            result[name] = self.value()
        self.next()
        return result

    def value(self) -> Any:
        kind, text = self.next()
        if kind == "punct" and text == "$":
            return self.variables.get(self.expect("name"))
        if kind == "string":
            return json.loads(text)
        if kind == "block":
            return text[3:-3]
        if kind == "number":
            return float(text) if any(c in text for c in ".eE") else int(text)
        if kind == "name":
            return {"true": True, "false": False, "null": None}.get(text, text)
        if text == "[":
            items = []
            while self.peek() != ("punct", "]"):
                items.append(self.value())
            self.next()
            return items
        if text == "{":
            fields = {}
            while self.peek() != ("punct", "}"):
                name = self.expect("name")
                self.expect("punct", ":")
                fields[name] = self.value()
            self.next()
            return fields
        raise GraphQLSyntaxError(f'Syntax Error: Unexpected "{text}".')
