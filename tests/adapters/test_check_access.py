"""`check_access`: the lightest authenticated call, raising the typed error when refused."""

from __future__ import annotations

import pytest

from adapters import get_adapter
from adapters.errors import AuthError
from sandbox import demo


def _dynamics(key: str, client: dict[str, str]) -> dict[str, str]:
    common = {"tenant_id": demo.TENANT_ID, **client}
    if key == "dynamics_dataverse":
        return {**common, "environment_url": demo.DATAVERSE_URL, "table": demo.DATAVERSE_TABLE}
    return {
        **common,
        "environment": demo.BC_ENVIRONMENT,
        "company": demo.BC_COMPANY_NAME,
        "journal": demo.BC_JOURNAL,
    }


def test_xledger_check_access_passes_then_names_the_revoked_token(settings, control):
    token = control.new_xledger_token()
    adapter = get_adapter("xledger")({"api_token": token}, settings)
    adapter.check_access()
    control.revoke_xledger_token(token)
    with pytest.raises(AuthError) as caught:
        adapter.check_access()
    assert caught.value.field == "api_token"


@pytest.mark.parametrize("key", ["dynamics_dataverse", "dynamics_bc"])
def test_dynamics_check_access_passes_then_names_the_expired_secret(settings, control, key):
    app = control.new_entra_app()
    credentials = _dynamics(key, app)
    get_adapter(key)(credentials, settings).check_access()
    control.expire_client_secret(app["client_id"])
    control.expire_access_tokens(app["client_id"])
    with pytest.raises(AuthError) as caught:
        get_adapter(key)(credentials, settings).check_access()
    assert caught.value.provider_code == "AADSTS7000222"
