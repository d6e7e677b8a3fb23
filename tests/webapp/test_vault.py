"""The credential vault: tokens, associated data, fingerprints, keyring storage, rotation."""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import stat

import pytest
from flask import Flask
from hypothesis import given, settings
from hypothesis import strategies as st

from webapp import vault as vault_module
from webapp.config import ConfigurationError
from webapp.db import db, init_database
from webapp.migrate import upgrade
from webapp.models import Integration, IntegrationCredential, Organization, User
from webapp.vault import (
    EnvKeyringStore,
    FileKeyringStore,
    Keyring,
    KeyringError,
    RewrapResult,
    Slot,
    Vault,
    VaultError,
    b64url_encode,
    get_vault,
    init_app,
)

TOKEN_RE = re.compile(r"v1\.[A-Za-z0-9_-]{1,32}\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]{22,}")
XLEDGER = {"api_token": "xl-Tok3n-ÆØÅ-0123456789abcdef", "environment": "demo", "entity": ""}


def key_material(keyring: Keyring) -> list[str]:
    """Every spelling of the keyring's keys that could leak: base64url, base64, hex."""
    spellings = []
    for key in (*keyring.keys.values(), keyring.fingerprint_key):
        spellings += [b64url_encode(key), base64.b64encode(key).decode(), key.hex()]
    return spellings


def assert_nothing_secret(text: str, keyring: Keyring, *secrets: str) -> None:
    for spelling in key_material(keyring):
        assert spelling not in text
    for secret in secrets:
        if secret:
            assert secret not in text


# --- fixtures ---------------------------------------------------------------------------------


def _sqlite(path) -> object:
    database = init_database(f"sqlite:///{path}")
    with database.connection_context():
        upgrade(database)
    return database


@pytest.fixture
def database(tmp_path):
    previous = db.obj
    database = _sqlite(tmp_path / "vault.db")
    yield database
    database.close()
    db.initialize(previous)


@pytest.fixture
def keyring() -> Keyring:
    return Keyring.generate()


@pytest.fixture
def vault(keyring) -> Vault:
    return Vault.from_keyring(keyring)


@pytest.fixture
def org(database) -> Organization:
    return Organization.create(name="Norges Blindeforbund", slug="nbf")


@pytest.fixture
def integration(org) -> Integration:
    return Integration.create(organization=org, type_key="xledger", name="Xledger")


@pytest.fixture
def sibling(org) -> Integration:
    """A second integration in the same organisation."""
    return Integration.create(organization=org, type_key="xledger", name="Xledger 2")


@pytest.fixture
def foreign(database) -> Integration:
    """An integration in another organisation."""
    other = Organization.create(name="HLF", slug="hlf")
    return Integration.create(organization=other, type_key="dynamics", name="Dynamics")


def row(integration, set_version, field_name) -> IntegrationCredential:
    return IntegrationCredential.get(
        integration=integration, set_version=set_version, field_name=field_name
    )


def set_token(integration, set_version, field_name, token) -> None:
    """Write a token into a row the way someone with database access could."""
    kid = token.split(".")[1] if token.count(".") >= 2 else "x"
    IntegrationCredential.update(token=token, key_id=kid).where(
        (IntegrationCredential.integration == integration)
        & (IntegrationCredential.set_version == set_version)
        & (IntegrationCredential.field_name == field_name)
    ).execute()


# --- round trip -------------------------------------------------------------------------------


def test_sealed_set_opens_to_the_same_values_and_stores_no_plaintext(vault, integration):
    vault.seal_set(integration, 1, XLEDGER)

    assert vault.open_set(integration, 1) == XLEDGER
    assert vault.open_field(integration.id, 1, "api_token") == XLEDGER["api_token"]
    for stored in IntegrationCredential.select():
        assert TOKEN_RE.fullmatch(stored.token)
        assert stored.key_id == vault.active_key_id
        assert XLEDGER["api_token"] not in stored.token
        assert XLEDGER["api_token"] not in stored.fingerprint


def test_each_seal_uses_a_fresh_nonce(vault, integration):
    vault.seal_set(integration, 1, {"api_token": "same"})
    first = row(integration, 1, "api_token").token
    vault.seal_set(integration, 1, {"api_token": "same"})
    second = row(integration, 1, "api_token").token

    assert first != second
    assert first.split(".")[2] != second.split(".")[2]
    assert vault.open_field(integration, 1, "api_token") == "same"


def test_sealing_again_overwrites_given_fields_and_keeps_the_others(vault, integration):
    user = User.create(issuer="i", subject="s", email="kari@example.org")
    vault.seal_set(integration, 1, XLEDGER)
    vault.seal_set(integration, 1, {"api_token": "new-token"}, actor=user)

    assert vault.open_set(integration, 1) == {**XLEDGER, "api_token": "new-token"}
    assert IntegrationCredential.select().count() == 3
    assert row(integration, 1, "api_token").created_by_id == user.id


def test_invalid_field_name_writes_nothing(vault, integration):
    vault.seal_set(integration, 1, {"api_token": "old"})
    with pytest.raises(ValueError):
        vault.seal_set(integration, 1, {"api_token": "new", "bad name|x": "v"})
    assert vault.open_set(integration, 1) == {"api_token": "old"}


def test_non_text_values_are_refused_without_echoing_them(vault, integration):
    with pytest.raises(TypeError) as caught:
        vault.seal_set(integration, 1, {"api_token": b"bytes-secret"})
    assert "bytes-secret" not in str(caught.value)
    with pytest.raises(TypeError) as caught:
        vault.seal_set(integration, 1, {"api_token": "lone \ud800 surrogate"})
    assert "surrogate" not in str(caught.value)


def test_missing_field_is_a_vault_error(vault, integration):
    with pytest.raises(VaultError) as caught:
        vault.open_field(integration, 1, "api_token")
    assert caught.value.reason == "missing"
    assert vault.open_set(integration, 1) == {}


def test_carry_over_reencrypts_kept_values_under_the_new_version(vault, integration):
    author = User.create(issuer="i", subject="a", email="ada@example.org")
    later = User.create(issuer="i", subject="b", email="bo@example.org")
    vault.seal_set(integration, 1, XLEDGER, actor=author)
    before = row(integration, 1, "api_token")

    vault.seal_set(integration, 2, {"environment": "production"}, actor=later)
    vault.carry_over(integration, 1, 2, ["api_token", "entity"], actor=later)

    assert vault.open_set(integration, 2) == {**XLEDGER, "environment": "production"}
    kept = row(integration, 2, "api_token")
    assert kept.token != before.token
    # The secret was not entered again: "saved on DATE by NAME" stays the original.
    assert kept.created_by_id == author.id
    assert kept.created_at == before.created_at
    assert kept.fingerprint == before.fingerprint
    # The old version is untouched until deleted.
    assert vault.open_set(integration, 1) == XLEDGER
    assert vault.delete_set(integration, 1) == 3
    assert vault.open_set(integration, 1) == {}


def test_carry_over_of_a_missing_field_fails(vault, integration):
    vault.seal_set(integration, 1, {"api_token": "t"})
    with pytest.raises(VaultError):
        vault.carry_over(integration, 1, 2, ["client_secret"])
    assert vault.open_set(integration, 2) == {}


@pytest.mark.parametrize(
    "value", ["", " ", "ÆØÅ æøå – “quotes” 🔑", "a.b.c", "\x00\x1f|", "x" * 100_000]
)
def test_any_text_round_trips_through_the_database(vault, integration, value):
    vault.seal_set(integration, 3, {"client_secret": value})
    assert vault.open_field(integration, 3, "client_secret") == value


# --- tampering ----------------------------------------------------------------------------------


def _tamper(token: str, part: str, other_kid: str) -> str:
    version, kid, nonce, ct = token.split(".")

    def flip(text: str, index: int) -> str:
        # A middle character: every one of its bits is used, so the bytes change.
        return text[:index] + ("B" if text[index] != "B" else "C") + text[index + 1 :]

    if part == "version":
        return ".".join(["v2", kid, nonce, ct])
    if part == "kid":
        return ".".join([version, other_kid, nonce, ct])
    if part == "nonce":
        return ".".join([version, kid, flip(nonce, 5), ct])
    if part == "ciphertext":
        return ".".join([version, kid, nonce, flip(ct, 1)])
    if part == "tag":
        return ".".join([version, kid, nonce, flip(ct, len(ct) - 8)])
    raise AssertionError(part)


@pytest.mark.parametrize("part", ["version", "kid", "nonce", "ciphertext", "tag"])
def test_tampering_with_any_part_of_a_token_is_refused(vault, integration, part, caplog):
    vault.seal_set(integration, 1, {"api_token": "s3cret-value-123"})
    vault.rotate()  # a second key exists: swapping the kid points at a real, wrong key
    token = row(integration, 1, "api_token").token
    bad = _tamper(token, part, vault.active_key_id)
    assert bad != token
    set_token(integration, 1, "api_token", bad)

    with caplog.at_level(logging.DEBUG, logger="ledgerlink.vault"):
        with pytest.raises(VaultError) as caught:
            vault.open_set(integration, 1)

    message = str(caught.value)
    assert "api_token" in message and str(integration.id) in message
    for text in (message, repr(caught.value), caplog.text):
        assert bad not in text and token not in text
        assert bad.split(".")[3] not in text
        assert "s3cret-value-123" not in text
    assert f"integration {integration.id}, field api_token" in caplog.text


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "v1",
        "v1.kid.nonce",
        "v1.{kid}.{nonce}.{ct}.extra",
        "v1.{kid}.{nonce}.{ct}=",
        "v1.{kid}.{nonce}.{ct_plus}",
        "v1.{kid}.{nonce}.{ct_short}",
        "v1.{kid}.{nonce}x.{ct}",
        "v1.{kid}.{nonce}.{ct}é",
        "v1.unknown-kid.{nonce}.{ct}",
    ],
)
def test_malformed_tokens_are_refused(vault, bad):
    slot = Slot(1, 2, 3, "api_token")
    _, kid, nonce, ct = vault.encrypt_field(slot, "value-abc").split(".")
    token = bad.format(
        kid=kid, nonce=nonce, ct=ct, ct_plus=ct.replace(ct[3], "+"), ct_short=ct[:-1]
    )
    with pytest.raises(VaultError) as caught:
        vault.decrypt_field(slot, token)
    assert "value-abc" not in str(caught.value)


def test_a_token_has_exactly_one_spelling(vault):
    """Changing only the spare bits of the last base64 character is also refused."""
    slot = Slot(1, 2, 3, "f")
    token = vault.encrypt_field(slot, "x")  # 12 + 1 + 16 bytes: the last char has spare bits
    last = token[-1]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    sibling = alphabet[alphabet.index(last) ^ 1]
    ct = token.split(".")[3]
    padding = "=" * (-len(ct) % 4)
    # A lenient decoder reads both spellings as the same bytes ...
    assert base64.urlsafe_b64decode(ct[:-1] + sibling + padding) == base64.urlsafe_b64decode(
        ct + padding
    )
    # ... the vault accepts only the canonical one.
    with pytest.raises(VaultError):
        vault.decrypt_field(slot, token[:-1] + sibling)
    assert vault.decrypt_field(slot, token) == "x"


def test_key_id_column_must_match_the_token(vault, integration):
    vault.seal_set(integration, 1, {"api_token": "t"})
    IntegrationCredential.update(key_id="other").execute()
    with pytest.raises(VaultError) as caught:
        vault.open_field(integration, 1, "api_token")
    assert caught.value.reason == "key_mismatch"


# --- associated data: a token moved to another place does not decrypt ---------------------------


@pytest.mark.parametrize("target", ["sibling", "foreign", "field", "version"])
def test_a_token_copied_to_another_row_is_refused(vault, integration, sibling, foreign, target):
    vault.seal_set(integration, 1, {"api_token": "victim-token", "client_secret": "other"})
    place = {
        "sibling": (sibling, 1, "api_token"),
        "foreign": (foreign, 1, "api_token"),
        "field": (integration, 1, "client_secret"),
        "version": (integration, 2, "api_token"),
    }[target]
    target_integration, version, field_name = place
    if target in ("sibling", "foreign", "version"):
        vault.seal_set(target_integration, version, {field_name: "attacker-own"})
    set_token(target_integration, version, field_name, row(integration, 1, "api_token").token)

    with pytest.raises(VaultError):
        vault.open_field(target_integration, version, field_name)
    assert vault.open_field(integration, 1, "api_token") == "victim-token"


def test_a_vault_with_a_different_key_under_the_same_id_cannot_open(vault, keyring, integration):
    vault.seal_set(integration, 1, {"api_token": "t"})
    impostor = Keyring(keyring.active, {keyring.active: os.urandom(32)}, keyring.fingerprint_key)
    with pytest.raises(VaultError) as caught:
        Vault.from_keyring(impostor).open_set(integration, 1)
    assert caught.value.reason == "invalid"


def test_a_vault_without_the_key_cannot_open(vault, integration):
    vault.seal_set(integration, 1, {"api_token": "t"})
    with pytest.raises(VaultError) as caught:
        Vault.from_keyring(Keyring.generate()).open_set(integration, 1)
    assert caught.value.reason == "unknown_key"


# --- property: any text round-trips, the token never carries it ---------------------------------

PROPERTY_VAULT = Vault.from_keyring(Keyring.generate())
plaintexts = st.one_of(st.text(), st.text(min_size=200, max_size=2000))
slots = st.builds(
    Slot,
    st.integers(1, 2**31),
    st.integers(1, 2**31),
    st.integers(1, 10_000),
    st.from_regex(r"[A-Za-z0-9_.-]{1,64}", fullmatch=True),
)


@settings(max_examples=200, deadline=None)
@given(plaintext=plaintexts, slot=slots)
def test_property_any_text_round_trips_and_never_shows_in_the_token(plaintext, slot):
    token = PROPERTY_VAULT.encrypt_field(slot, plaintext)

    assert TOKEN_RE.fullmatch(token)
    assert PROPERTY_VAULT.decrypt_field(slot, token) == plaintext
    if len(plaintext) >= 8:
        assert plaintext not in token
        encoded = b64url_encode(plaintext.encode())
        assert encoded[:12] not in token


@settings(max_examples=100, deadline=None)
@given(plaintext=st.text(), slot=slots, other=slots)
def test_property_a_token_opens_only_in_its_own_place(plaintext, slot, other):
    token = PROPERTY_VAULT.encrypt_field(slot, plaintext)
    if other != slot:
        with pytest.raises(VaultError):
            PROPERTY_VAULT.decrypt_field(other, token)


# --- fingerprints -------------------------------------------------------------------------------


def test_fingerprint_is_stable_and_changes_with_the_value(vault, integration, sibling, foreign):
    fp = vault.fingerprint(integration, "api_token", "abc")

    assert re.fullmatch(r"[0-9a-f]{32}", fp)
    assert vault.fingerprint(integration.id, "api_token", "abc") == fp
    assert vault.fingerprint(integration, "api_token", "abd") != fp
    assert vault.fingerprint(integration, "client_secret", "abc") != fp
    assert vault.fingerprint(sibling, "api_token", "abc") != fp
    assert vault.fingerprint(foreign, "api_token", "abc") != fp
    # Keyed: another keyring's fingerprint key gives another fingerprint.
    assert Vault.from_keyring(Keyring.generate()).fingerprint(integration, "api_token", "abc") != fp


def test_fingerprint_survives_key_rotation(vault, integration):
    before = vault.fingerprint(integration, "api_token", "abc")
    vault.rotate()
    assert vault.fingerprint(integration, "api_token", "abc") == before


def test_set_fingerprint_tells_same_credentials_from_changed(vault, integration):
    assert vault.set_fingerprint(integration, 1) is None
    vault.seal_set(integration, 1, XLEDGER)
    fp = vault.set_fingerprint(integration, 1)

    assert re.fullmatch(r"[0-9a-f]{32}", fp)
    assert vault.values_fingerprint(integration, dict(reversed(XLEDGER.items()))) == fp
    assert vault.field_fingerprints(integration, 1) == {
        name: vault.fingerprint(integration, name, value) for name, value in XLEDGER.items()
    }
    # Kept values carried into a new version: same credentials, same fingerprint.
    vault.carry_over(integration, 1, 2, list(XLEDGER))
    assert vault.set_fingerprint(integration, 2) == fp
    # One field changed: a different fingerprint.
    vault.seal_set(integration, 2, {"environment": "production"})
    assert vault.set_fingerprint(integration, 2) != fp
    # A field added: different too.
    vault.seal_set(integration, 3, {**XLEDGER, "extra": ""})
    assert vault.set_fingerprint(integration, 3) != fp


# --- rotation, rewrap, retire -------------------------------------------------------------------


def _seal_many(vault, integration, count: int) -> dict[tuple[int, str], str]:
    expected = {}
    for n in range(count):
        field_name = f"field_{n}"
        vault.seal_set(integration, 1, {field_name: f"value-{n}"})
        expected[(1, field_name)] = f"value-{n}"
    return expected


def test_rotate_rewrap_retire(vault, integration, foreign):
    _seal_many(vault, integration, 5)
    vault.seal_set(foreign, 4, XLEDGER)
    old = vault.active_key_id

    new = vault.rotate()
    assert new != old and vault.active_key_id == new
    assert vault.status()["tokens"] == {old: 8, new: 0}
    with pytest.raises(KeyringError, match="still used by 8"):
        vault.retire(old)
    with pytest.raises(KeyringError, match="active"):
        vault.retire(new)
    with pytest.raises(KeyringError, match="no key"):
        vault.retire("nope")

    assert vault.rewrap(batch_size=3) == RewrapResult(8, 0, 0)
    assert vault.rewrap(batch_size=3) == RewrapResult(0, 8, 0)
    vault.retire(old)

    assert vault.key_ids == (new,)
    assert vault.status()["tokens"] == {new: 8}
    assert vault.open_set(foreign, 4) == XLEDGER
    assert len(vault.open_set(integration, 1)) == 5


def test_rewrap_interrupted_between_batches_resumes(vault, integration):
    expected = _seal_many(vault, integration, 7)
    vault.rotate()
    seen = []

    def interrupt_after_first(progress: RewrapResult) -> None:
        seen.append(progress)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        vault.rewrap(batch_size=3, progress=interrupt_after_first)
    assert seen == [RewrapResult(3, 0, 0)]
    assert vault.status()["tokens"][vault.active_key_id] == 3

    second = vault.rewrap(batch_size=3)
    assert second == RewrapResult(4, 3, 0)
    assert seen[0].rewrapped + second.rewrapped == 7
    assert vault.status()["tokens"][vault.active_key_id] == 7
    assert vault.open_set(integration, 1) == {name: v for (_, name), v in expected.items()}


def test_rewrap_crash_inside_a_batch_rolls_back_only_that_batch(vault, integration, monkeypatch):
    _seal_many(vault, integration, 7)
    vault.rotate()
    real = Vault.encrypt_field
    calls = []

    def crash_on_fifth(self, aad_parts, plaintext):
        calls.append(1)
        if len(calls) == 5:  # second row of the second batch of 3
            raise RuntimeError("power cut")
        return real(self, aad_parts, plaintext)

    monkeypatch.setattr(Vault, "encrypt_field", crash_on_fifth)
    with pytest.raises(RuntimeError):
        vault.rewrap(batch_size=3)
    monkeypatch.setattr(Vault, "encrypt_field", real)
    assert vault.status()["tokens"][vault.active_key_id] == 3  # batch 2 rolled back

    assert vault.rewrap(batch_size=3) == RewrapResult(4, 3, 0)
    assert len(vault.open_set(integration, 1)) == 7


def test_rewrap_leaves_and_reports_tokens_that_do_not_decrypt(vault, integration, caplog):
    _seal_many(vault, integration, 4)
    broken = row(integration, 1, "field_2")
    set_token(integration, 1, "field_2", _tamper(broken.token, "ciphertext", ""))
    old = vault.active_key_id
    vault.rotate()

    with caplog.at_level(logging.INFO, logger="ledgerlink.vault"):
        result = vault.rewrap(batch_size=2)
    assert result == RewrapResult(3, 0, 1, (broken.id,))
    assert row(integration, 1, "field_2").key_id == old
    assert vault.rewrap() == RewrapResult(0, 3, 1, (broken.id,))
    with pytest.raises(KeyringError, match="still used by 1"):
        vault.retire(old)
    assert "field_2" in caplog.text and "value-2" not in caplog.text


def test_rewrap_skips_a_row_resaved_while_it_runs(vault, integration, monkeypatch):
    vault.seal_set(integration, 1, {"api_token": "old"})
    vault.rotate()
    real = Vault.encrypt_field

    def resave_first(self, aad_parts, plaintext):
        # Someone saves a new value between rewrap's read and its write.
        IntegrationCredential.update(token="v1.x.changed.meanwhile").execute()
        return real(self, aad_parts, plaintext)

    monkeypatch.setattr(Vault, "encrypt_field", resave_first)
    assert vault.rewrap() == RewrapResult(0, 1, 0)
    assert row(integration, 1, "api_token").token == "v1.x.changed.meanwhile"


# --- keyring: parsing, storage, no key material anywhere ----------------------------------------


def test_keyring_json_round_trip_and_repr_hides_keys(keyring):
    again = Keyring.from_json(keyring.to_json())
    assert again == keyring and again.fingerprint_key == keyring.fingerprint_key
    vault = Vault.from_keyring(keyring)
    for text in (repr(keyring), str(keyring), repr(vault), repr(vault._store), repr(vault._keys)):
        assert_nothing_secret(text, keyring)
    assert keyring.active in repr(keyring)


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: "not json", "not valid JSON"),
        (lambda d: [], "JSON object"),
        (lambda d: {**d, "keys": {}}, '"keys" is empty'),
        (lambda d: {**d, "active": "missing"}, '"active"'),
        (lambda d: {**d, "keys": {"k1": d["fingerprint_key"]}, "active": "k1"}, "differ"),
        (lambda d: {**d, "keys": {"k1": "c2hvcnQ"}, "active": "k1"}, "not 32 bytes"),
        (lambda d: {**d, "keys": {"k1": "%%%"}, "active": "k1"}, "not valid base64url"),
        (lambda d: {**d, "keys": {"bad id!": d["keys"][d["active"]]}}, "key id"),
        (lambda d: {k: v for k, v in d.items() if k != "fingerprint_key"}, "fingerprint_key"),
    ],
)
def test_keyring_errors_name_the_problem_never_the_key(keyring, mutate, message):
    doc = json.loads(keyring.to_json())
    mutated = mutate(doc)
    text = mutated if isinstance(mutated, str) else json.dumps(mutated)
    with pytest.raises(ConfigurationError) as caught:
        EnvKeyringStore(text).load()
    assert message in str(caught.value)
    assert str(caught.value).startswith("LEDGERLINK_VAULT_KEYRING:")
    assert_nothing_secret(str(caught.value), keyring)


def _app(tmp_path, **config) -> Flask:
    app = Flask("vault_test", instance_path=str(tmp_path / "instance"))
    app.config.update({"ENV_NAME": "development", "SECRET_KEY": "dev-secret", **config})
    return app


def test_development_creates_a_private_keyring_in_the_instance_folder(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="ledgerlink.vault"):
        vault = init_app(_app(tmp_path))
    path = tmp_path / "instance" / "vault-keyring.json"

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "created a development keyring" in caplog.text
    keyring = Keyring.from_json(path.read_text())
    assert vault.active_key_id == keyring.active
    assert_nothing_secret(caplog.text, keyring)
    assert [p.name for p in path.parent.iterdir()] == ["vault-keyring.json"]
    # A restart loads the same keyring instead of making a new one.
    assert init_app(_app(tmp_path)).active_key_id == keyring.active


def test_production_refuses_to_start_without_a_keyring(tmp_path):
    with pytest.raises(ConfigurationError) as caught:
        init_app(_app(tmp_path, ENV_NAME="production"))
    assert str(caught.value).startswith("LEDGERLINK_VAULT_KEYRING_FILE: ")
    assert "LEDGERLINK_VAULT_KEYRING" in str(caught.value)
    assert not (tmp_path / "instance").exists()


def test_production_refuses_a_missing_or_broken_keyring_file(tmp_path):
    path = tmp_path / "keyring.json"
    with pytest.raises(ConfigurationError, match="^LEDGERLINK_VAULT_KEYRING_FILE: cannot read"):
        init_app(_app(tmp_path, ENV_NAME="production", VAULT_KEYRING_FILE=str(path)))
    assert not path.exists()
    path.write_text('{"active": "k1", "keys": {"k1": "short"}}')
    path.chmod(0o600)  # private, as production requires, but broken
    with pytest.raises(ConfigurationError, match="unusable"):
        init_app(_app(tmp_path, ENV_NAME="production", VAULT_KEYRING_FILE=str(path)))


def test_production_loads_a_keyring_file(tmp_path, keyring):
    path = tmp_path / "keyring.json"
    assert vault_module.main(["create-keyring", str(path)]) == 0
    assert vault_module.main(["create-keyring", str(path)]) == 1  # never overwritten
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    app = _app(tmp_path, ENV_NAME="production", VAULT_KEYRING_FILE=str(path))
    vault = init_app(app)
    with app.app_context():
        assert get_vault() is vault
    assert vault.active_key_id == Keyring.from_json(path.read_text()).active


def test_keyring_from_the_environment_is_read_only(tmp_path, keyring):
    app = _app(tmp_path, ENV_NAME="production", VAULT_KEYRING=keyring.to_json())
    vault = init_app(app)
    assert vault.active_key_id == keyring.active
    with pytest.raises(KeyringError) as caught:
        vault.rotate()
    assert "LEDGERLINK_VAULT_KEYRING" in str(caught.value)
    assert "update that variable" in str(caught.value)
    with pytest.raises(KeyringError):
        vault.retire(keyring.active + "x")
    assert_nothing_secret(str(caught.value), keyring)


def test_both_keyring_settings_at_once_are_refused(tmp_path, keyring):
    app = _app(tmp_path, VAULT_KEYRING=keyring.to_json(), VAULT_KEYRING_FILE=str(tmp_path / "k"))
    with pytest.raises(ConfigurationError, match="not both"):
        init_app(app)


def test_the_vault_key_must_differ_from_secret_key(tmp_path, keyring):
    app = _app(tmp_path, VAULT_KEYRING=keyring.to_json(), SECRET_KEY=keyring.keys[keyring.active])
    with pytest.raises(ConfigurationError, match="SECRET_KEY"):
        init_app(app)


def test_rotation_rewrites_the_file_atomically_and_privately(tmp_path):
    path = tmp_path / "keys" / "keyring.json"
    vault = init_app(_app(tmp_path, VAULT_KEYRING_FILE=str(path)))
    first = vault.active_key_id
    new = vault.rotate()

    stored = Keyring.from_json(path.read_text())
    assert stored.active == new and set(stored.keys) == {first, new}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    leftovers = {p.name for p in path.parent.iterdir()} - {"keyring.json", "keyring.json.lock"}
    assert leftovers == set()


def test_other_processes_follow_a_rotation_in_the_file(tmp_path, integration):
    path = tmp_path / "keyring.json"
    web = Vault(_store(path))
    operator = Vault(FileKeyringStore(path))
    web.seal_set(integration, 1, {"api_token": "before"})

    new = operator.rotate()
    # The web process seals under the new key and reads what the operator's process wrote.
    web.seal_set(integration, 2, {"api_token": "after"})
    assert row(integration, 2, "api_token").key_id == new
    operator.rewrap()
    assert web.open_set(integration, 1) == {"api_token": "before"}


def _store(path) -> FileKeyringStore:
    store = FileKeyringStore(path)
    store.create(Keyring.generate())
    return store


def test_decryption_failures_are_logged_without_secrets(vault, keyring, integration, caplog):
    vault.seal_set(integration, 1, XLEDGER)
    token = row(integration, 1, "api_token").token
    set_token(integration, 1, "api_token", _tamper(token, "tag", ""))
    with caplog.at_level(logging.DEBUG, logger="ledgerlink.vault"):
        with pytest.raises(VaultError) as caught:
            vault.open_set(integration, 1)
        vault.rotate()
        vault.rewrap()
    records = [r for r in caplog.records if "does not decrypt" in r.getMessage()]
    assert len(records) == 2
    assert records[0].getMessage() == (
        f"vault: credential does not decrypt (integration {integration.id}, field api_token, "
        f"key {keyring.active})"
    )
    for text in (caplog.text, str(caught.value), repr(caught.value)):
        assert_nothing_secret(text, keyring, *XLEDGER.values(), token, token.split(".")[3])


# --- PostgreSQL ---------------------------------------------------------------------------------


@pytest.fixture
def postgres(request):
    """The suite's PostgreSQL database: TEST_DATABASE_URL, or the session's own."""
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        try:
            url = request.getfixturevalue("postgres_url")
        except Exception as exc:  # any failure to provide one means there is none here
            pytest.skip(
                "PostgreSQL not available (set TEST_DATABASE_URL or start PostgreSQL on "
                f"127.0.0.1:5432): {type(exc).__name__}"
            )
    previous = db.obj
    database = init_database(url)
    with database.connection_context():
        upgrade(database)
    yield database
    database.close()
    db.initialize(previous)


def test_round_trip_on_postgresql(postgres, vault):
    org = Organization.create(name="PG forening", slug=f"pg-{os.urandom(4).hex()}")
    try:
        integration = Integration.create(organization=org, type_key="xledger", name="Xledger")
        vault.seal_set(integration, 1, XLEDGER)
        assert vault.open_set(integration, 1) == XLEDGER
        vault.rotate()
        assert vault.rewrap().rewrapped == 3
        set_token(integration, 1, "entity", row(integration, 1, "api_token").token)
        with pytest.raises(VaultError):
            vault.open_set(integration, 1)
    finally:
        org.delete_instance(recursive=True)
