"""Fixtures for the host-app API: an organisation with an integration and API keys."""

from __future__ import annotations

import copy

import pytest

from webapp.services import api_keys

CLAIM = {
    "external_id": "exp-1001",
    "claimant": {"name": "Kari Nordmann", "number": "4711"},
    "purpose": "Likepersonsmøte i Bergen",
    "department": "200",
    "project": "P100",
    "approved_at": "2026-11-03T09:15:00+01:00",
    "approved_by": "Ola Leder",
    "receipts_url": "https://utlegg.example.org/claims/1001/receipts",
    "lines": [
        {"date": "2026-11-02", "expense_type": "travel", "amount": "349.50", "vat_code": "0"},
        {
            "date": "2026-11-02",
            "expense_type": "mileage",
            "amount": 16500,
            "mileage": {"km": "50", "rate": "3.30"},
        },
    ],
}


def claim(external_id: str = "exp-1001", **changes) -> dict:
    body = copy.deepcopy(CLAIM)
    body["external_id"] = external_id
    body.update(changes)
    return body


@pytest.fixture
def org(make):
    org = make.org("Blindeforbundet", slug="nbf")
    make.member(org, "admin@example.org", "coordinator_admin")
    make.member(org, "kari@example.org", "coordinator")
    return org


@pytest.fixture
def xledger(org, make):
    integration = make.integration(org, status="connected", name="Xledger hovedbok")
    org.default_integration = integration
    org.save()
    return integration


@pytest.fixture
def key(org, xledger) -> str:
    return api_keys.create(org, "Utleggsappen", ["claims:write", "claims:read"])[1]


@pytest.fixture
def bearer(key) -> dict:
    return {"Authorization": f"Bearer {key}"}
