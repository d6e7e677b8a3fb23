"""Paste mistakes caught in credential fields, and "did you mean" for listed names (pure)."""

from __future__ import annotations

from adapters import paste
from adapters.suggest import closest, did_you_mean

GUID = "0b9c7a2e-4f1d-4c3a-9a55-2d1e0c3b8f10"
CLIENT = "3f2b8c1d-6e4a-4b7f-8c2d-1a9e5f7b3c60"


def test_the_secret_id_pasted_instead_of_the_value_is_named():
    found = paste.mistake("client_secret", GUID, {})
    assert found is not None and "secret's ID" in found.en and "«Value»" in found.nb
    assert paste.mistake("client_secret", "Abc8Q~x1y2z3.e4f5g6h7i8j9k0", {}) is None


def test_tenant_mistakes_client_id_web_address_and_e_mail():
    same = paste.mistake("tenant_id", CLIENT.upper(), {"client_id": CLIENT})
    assert same is not None and "same as the client ID" in same.en
    url = paste.mistake("tenant_id", f"https://login.microsoftonline.com/{GUID}/oauth2", {})
    assert url is not None and f"Did you mean {GUID}?" in url.en
    mail = paste.mistake("tenant_id", "kari@blindeforbundet.no", {})
    assert mail is not None and "blindeforbundet.no" in mail.en and "e-mail" in mail.en
    assert paste.mistake("tenant_id", GUID, {"client_id": CLIENT}) is None
    assert paste.mistake("tenant_id", "nbf.onmicrosoft.com", {}) is None


def test_an_environment_address_with_a_path_offers_the_address_alone():
    found = paste.mistake(
        "environment_url", "https://nbf.crm4.dynamics.com/main.aspx?appid=123", {}
    )
    assert found is not None and found.en.endswith("https://nbf.crm4.dynamics.com")
    assert paste.mistake("environment_url", "https://nbf.crm4.dynamics.com", {}) is None


def test_a_token_with_its_scheme_in_front_is_named():
    assert paste.mistake("api_token", "token abcdefgh12345", {}) is not None
    assert paste.mistake("api_token", "abcdefgh12345", {}) is None


def test_did_you_mean_finds_the_listed_name_closest_to_what_was_typed():
    companies = ["CRONUS Norge AS", "Demoforeningen"]
    assert closest("cronus norge", companies) == "CRONUS Norge AS"
    assert closest("Demoforenigen", companies) == "Demoforeningen"
    assert closest("Helt annet", companies) is None
    assert did_you_mean("LEDGERLIN", ["GENERELT", "LEDGERLINK"]).en == " Did you mean “LEDGERLINK”?"
    assert did_you_mean("x", []).en == ""
