"""Property tests for the two hand-written readers: OData `$filter` and GraphQL arguments."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from sandbox import odata
from sandbox.graphql import parse_operation

texts = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)


@given(st.lists(texts, min_size=1, max_size=5))
def test_filter_round_trips_quoted_values(values):
    quoted = [value.replace("'", "''") for value in values]
    text = " or ".join(f"ll_reference eq '{q}'" for q in quoted)
    groups = odata.parse_filter(text)
    assert [group[0][1] for group in groups] == values
    for value in values:
        assert odata.matches({"ll_reference": value}, groups)


@given(texts, st.integers(min_value=0, max_value=10_000))
def test_graphql_inline_arguments_round_trip(text, first):
    query = (
        f"query Q($after: String) {{ glImportItems(first: {first}, after: $after, "
        f"filter: {{ extIdentifier_in: [{json.dumps(text)}] }}) {{ edges {{ cursor }} }} }}"
    )
    operation = parse_operation(query, {"after": "42"})
    assert operation.field == "glImportItems"
    assert operation.arguments == {
        "first": first,
        "after": "42",
        "filter": {"extIdentifier_in": [text]},
    }


def test_alias_and_header_defaults_are_skipped():
    operation = parse_operation(
        'query Q($f: Account_Filter = {code: "1920"}) { a: accounts(first: 1) { edges { cursor } } }',
        {},
    )
    assert (operation.kind, operation.field, operation.arguments) == (
        "query",
        "accounts",
        {"first": 1},
    )
