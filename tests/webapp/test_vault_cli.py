"""`flask vault status|rotate|rewrap|retire` as an operator runs them, on SQLite."""

from __future__ import annotations

import logging
import os
import re
import stat

import pytest

from webapp.db import db
from webapp.models import Integration, IntegrationCredential, Organization
from webapp.vault import Keyring, Vault, get_vault

from .test_vault import assert_nothing_secret

SECRETS = {f"field_{n}": f"operator-must-never-see-{n}" for n in range(7)}


@pytest.fixture
def cli_app(tmp_path):
    from webapp import create_app

    previous = db.obj
    app = create_app(
        {
            "ENV_NAME": "testing",
            "TESTING": True,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
            "AUTO_MIGRATE": True,
            "SECRET_KEY": "cli-test-secret-key-long-enough-for-testing",
            "REDIS_URL": None,
            "VAULT_KEYRING": None,
            "VAULT_KEYRING_FILE": str(tmp_path / "vault-keyring.json"),
        }
    )
    yield app
    db.close()
    db.initialize(previous)


@pytest.fixture
def sealed(cli_app):
    """Seven credential fields across two organisations; returns their integrations."""
    with cli_app.app_context():
        vault = get_vault()
        first = Organization.create(name="Norges Blindeforbund", slug="nbf")
        second = Organization.create(name="HLF", slug="hlf")
        a = Integration.create(organization=first, type_key="xledger", name="Xledger")
        b = Integration.create(organization=second, type_key="dynamics", name="Dynamics")
        names = list(SECRETS)
        vault.seal_set(a, 1, {n: SECRETS[n] for n in names[:4]})
        vault.seal_set(b, 2, {n: SECRETS[n] for n in names[4:]})
        return a.id, b.id


def run(app, *args):
    return app.test_cli_runner().invoke(args=["vault", *args])


def keyring_file(app) -> Keyring:
    with open(app.config["VAULT_KEYRING_FILE"]) as f:
        return Keyring.from_json(f.read())


def open_everything(app, ids) -> dict[str, str]:
    with app.app_context():
        vault = get_vault()
        return {**vault.open_set(ids[0], 1), **vault.open_set(ids[1], 2)}


def test_rotate_rewrap_retire_end_to_end(cli_app, sealed, caplog):
    caplog.set_level(logging.DEBUG, logger="ledgerlink.vault")
    original = keyring_file(cli_app)
    old = original.active
    outputs = []

    def step(*args, code=0):
        result = run(cli_app, *args)
        outputs.append(result.stdout + result.stderr)
        assert result.exit_code == code, result.stdout + result.stderr
        return result

    status = step("status")
    assert f"keyring: {cli_app.config['VAULT_KEYRING_FILE']}" in status.stdout
    assert f"active key: {old}" in status.stdout
    assert re.search(rf"{old}\s+7 token\(s\)\s+\(active\)", status.stdout)

    rotated = step("rotate")
    new = re.search(r"new active key: (\S+)", rotated.stdout).group(1)
    assert new != old
    assert keyring_file(cli_app).active == new
    status = step("status")
    assert re.search(rf"{old}\s+7 token\(s\)", status.stdout)
    assert re.search(rf"{new}\s+0 token\(s\)\s+\(active\)", status.stdout)
    assert "7 token(s) are not under the active key" in status.stdout

    refused = step("retire", old, code=1)
    assert f"key {old} is still used by 7 token(s)" in refused.stderr
    refused = step("retire", new, code=1)
    assert "is the active key" in refused.stderr
    assert set(keyring_file(cli_app).keys) == {old, new}

    assert step("rewrap", "--batch-size", "3").stdout.strip() == (
        "rewrapped 7, skipped 0, failed 0"
    )
    assert step("rewrap").stdout.strip() == "rewrapped 0, skipped 7, failed 0"

    retired = step("retire", old)
    assert f"retired key {old}" in retired.stdout
    assert set(keyring_file(cli_app).keys) == {new}
    status = step("status")
    assert old not in status.stdout
    assert re.search(rf"{new}\s+7 token\(s\)\s+\(active\)", status.stdout)

    assert open_everything(cli_app, sealed) == SECRETS
    # A restarted process (a fresh vault from the file) reads everything too.
    with cli_app.app_context():
        from webapp.vault import keyring_store_for

        fresh = Vault(keyring_store_for(cli_app))
        assert fresh.open_set(sealed[0], 1) == {n: SECRETS[n] for n in list(SECRETS)[:4]}

    everything = "\n".join(outputs) + caplog.text
    current = keyring_file(cli_app)
    assert_nothing_secret(everything, original, *SECRETS.values())
    assert_nothing_secret(everything, current)
    with cli_app.app_context():
        for token in IntegrationCredential.select(IntegrationCredential.token).tuples():
            assert token[0] not in everything


def test_rewrap_interrupted_and_resumed(cli_app, sealed, monkeypatch):
    assert run(cli_app, "rotate").exit_code == 0
    real = Vault.encrypt_field
    calls = []

    def interrupted_in_second_batch(self, aad_parts, plaintext):
        calls.append(1)
        if len(calls) == 5:  # batch 1 (3 tokens) committed, batch 2 half done
            raise KeyboardInterrupt
        return real(self, aad_parts, plaintext)

    monkeypatch.setattr(Vault, "encrypt_field", interrupted_in_second_batch)
    first = run(cli_app, "rewrap", "--batch-size", "3")
    monkeypatch.setattr(Vault, "encrypt_field", real)

    assert first.exit_code == 130
    assert "interrupted: rewrapped 3, skipped 0, failed 0 so far" in first.stderr
    assert "again to continue" in first.stderr
    with cli_app.app_context():
        active = get_vault().active_key_id
        assert (
            IntegrationCredential.select().where(IntegrationCredential.key_id == active).count()
            == 3
        )

    second = run(cli_app, "rewrap", "--batch-size", "3")
    assert second.exit_code == 0
    assert second.stdout.strip() == "rewrapped 4, skipped 3, failed 0"
    with cli_app.app_context():
        assert {row.key_id for row in IntegrationCredential.select()} == {active}
    assert open_everything(cli_app, sealed) == SECRETS


def test_rewrap_reports_tokens_that_do_not_decrypt(cli_app, sealed, caplog):
    with cli_app.app_context():
        victim = IntegrationCredential.get(field_name="field_1")
        other = IntegrationCredential.get(field_name="field_2")
        # A token copied onto another row: well formed, but bound to its original place.
        IntegrationCredential.update(token=other.token).where(
            IntegrationCredential.id == victim.id
        ).execute()
    old = keyring_file(cli_app).active
    assert run(cli_app, "rotate").exit_code == 0

    result = run(cli_app, "rewrap")

    assert result.exit_code == 0
    assert result.stdout.strip() == "rewrapped 6, skipped 0, failed 1"
    assert f"integration_credential ids: {victim.id}" in result.stderr
    assert "must be entered again" in result.stderr
    assert other.token not in result.stderr + result.stdout + caplog.text
    refused = run(cli_app, "retire", old)
    assert refused.exit_code == 1
    assert "still used by 1 token(s)" in refused.stderr


def test_retire_unknown_key_is_refused(cli_app, sealed):
    result = run(cli_app, "retire", "k-does-not-exist")
    assert result.exit_code == 1
    assert "no key 'k-does-not-exist'" in result.stderr


def test_keyring_file_stays_private_through_rotation(cli_app, sealed):
    assert run(cli_app, "rotate").exit_code == 0
    path = cli_app.config["VAULT_KEYRING_FILE"]
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_help_texts_are_one_line_docstrings(cli_app):
    result = run(cli_app, "--help")
    assert result.exit_code == 0
    for command in ("status", "rotate", "rewrap", "retire"):
        assert command in result.stdout
    rewrap_help = run(cli_app, "rewrap", "--help").stdout
    assert "--batch-size" in rewrap_help and "resumable" in rewrap_help
