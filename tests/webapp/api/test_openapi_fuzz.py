"""Schemathesis against the live app: no server errors, every answer matches the document.

Driven through hypothesis directly (schemathesis' pytest plugin does not load under pytest 9),
a bounded number of examples per operation so it runs in seconds.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from webapp.services import api_keys

# Not positive_data_acceptance: a schema-valid body can still break a rule the schema cannot
# say (km × rate, an identity number, an opaque cursor) and is rightly refused with a problem.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]

pytestmark = pytest.mark.slow
EXAMPLES = 60


@pytest.fixture
def fuzz_key(org, xledger) -> str:
    return api_keys.create(org, "Schemathesis", ["claims:write", "claims:read"])[1]


def test_api_conforms_to_its_openapi_document(live_server, fuzz_key):
    from openapi_spec_validator import validate

    schema = schemathesis.openapi.from_url(live_server.url() + "/api/v1/openapi.json")
    validate(schema.raw_schema)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.label for op in operations} == {
        "POST /claims",
        "GET /claims",
        "GET /claims/{claim_id}",
    }
    headers = {"Authorization": f"Bearer {fuzz_key}"}
    statuses: list[int] = []

    @given(case=st.one_of(*[op.as_strategy() for op in operations]))
    @settings(
        max_examples=EXAMPLES * len(operations),
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def check(case):
        response = case.call_and_validate(headers=headers, checks=CHECKS)
        statuses.append(response.status_code)

    check()
    assert statuses and all(code < 500 for code in statuses)
    # The run reached the happy paths, not only refusals.
    assert {200, 201} & set(statuses), statuses
