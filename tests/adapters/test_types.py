"""The three integration type declarations: what the web app builds its forms from."""

from __future__ import annotations

import re

import pytest

import adapters
from adapters.types import GUID_PATTERN

KEYS = ("xledger", "dynamics_dataverse", "dynamics_bc", "tripletex")
APP_FIELDS = {
    f"claim.{name}"
    for name in (
        "claim_number claimant_name claimant_email claimant_number purpose department project "
        "approved_at submitted_at"
    ).split()
} | {
    f"line.{name}"
    for name in "date expense_type amount km description department project vat_code".split()
}


def test_registry_lists_the_four_types() -> None:
    assert sorted(t.key for t in adapters.all_types()) == sorted(KEYS)


@pytest.mark.parametrize("key", KEYS)
def test_every_field_is_explained_in_both_languages(key: str) -> None:
    integration = adapters.get_type(key)
    for field in integration.credential_fields:
        assert field.label.nb and field.label.en
        assert field.help and field.help.nb and field.help.en, field.name
        assert field.help_url and field.help_url.startswith("https://"), field.name
        assert field.pattern_message, field.name
        if field.pattern:
            re.compile(field.pattern)
    for target in integration.target_fields:
        assert target.label.nb and target.label.en
    assert [c.key for c in integration.checks] == [
        "address",
        "reachable",
        "authenticated",
        "authorised",
        "ready",
    ]


@pytest.mark.parametrize("key", KEYS)
def test_default_mapping_targets_exist_and_read_known_app_fields(key: str) -> None:
    integration = adapters.get_type(key)
    names = {t.name for t in integration.target_fields}
    required = {t.name for t in integration.target_fields if t.required}
    targets = {row.target for row in integration.default_mapping}
    assert targets <= names
    assert required <= targets
    for row in integration.default_mapping:
        if row.kind in ("field", "lookup"):
            assert row.value in APP_FIELDS, row
        if row.kind == "template":
            assert set(re.findall(r"\{([a-z_.]+)\}", row.value)) <= APP_FIELDS


@pytest.mark.parametrize("key", KEYS)
def test_standard_chart_lookup(key: str) -> None:
    account = next(row for row in adapters.get_type(key).default_mapping if row.kind == "lookup")
    assert dict(account.lookup)["mileage"] == "7100"
    assert dict(account.lookup)["meals"] == "7150"
    assert account.lookup_default == "7790"


def test_secret_fields() -> None:
    assert adapters.get_type("xledger").secret_fields == ("api_token",)
    assert adapters.get_type("dynamics_bc").secret_fields == ("client_secret",)
    assert adapters.get_type("dynamics_dataverse").secret_fields == ("client_secret",)


def test_xledger_environment_choices() -> None:
    env = adapters.get_type("xledger").credential_field("environment")
    assert [c.value for c in env.choices] == ["production", "demo"]
    assert env.default == "production"
    assert not adapters.get_type("xledger").credential_field("entity_code").required


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://ledgerlink-demo.crm4.dynamics.com", True),
        ("https://org.api.crm19.dynamics.com/", True),
        ("https://org.crm.dynamics.com", True),
        ("http://org.crm4.dynamics.com", False),
        ("https://org.crm4.dynamics.com.evil.example", False),
        ("https://evil.example/org.crm4.dynamics.com", False),
        ("https://org.crm123.dynamics.com", False),
    ],
)
def test_dataverse_environment_url_pattern(url: str, ok: bool) -> None:
    field = adapters.get_type("dynamics_dataverse").credential_field("environment_url")
    assert field.matches(url) is ok


def test_tenant_and_client_patterns() -> None:
    bc = adapters.get_type("dynamics_bc")
    tenant = bc.credential_field("tenant_id")
    assert tenant.matches("7b9c7a2e-4f1d-4c3a-9a55-2d1e0c3b8f10")
    assert tenant.matches("ledgerlink-demo.onmicrosoft.com")
    assert not tenant.matches("../../evil")
    assert bc.credential_field("client_id").pattern == GUID_PATTERN


@pytest.mark.parametrize(
    ("key", "host", "ok"),
    [
        ("xledger", "www.xledger.net", True),
        ("xledger", "demo.xledger.net", True),
        ("xledger", "xledger.net", False),
        ("dynamics_dataverse", "login.microsoftonline.com", True),
        ("dynamics_dataverse", "org.crm4.dynamics.com", True),
        ("dynamics_dataverse", "api.businesscentral.dynamics.com", False),
        ("dynamics_bc", "api.businesscentral.dynamics.com", True),
        ("dynamics_bc", "org.crm4.dynamics.com", False),
    ],
)
def test_allowed_hosts(key: str, host: str, ok: bool) -> None:
    assert adapters.get_type(key).host_allowed(host) is ok
