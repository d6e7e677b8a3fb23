"""Benchmark: the vault's seal+open of one credential set against raw AESGCM, in the same run.

A Dynamics 365 credential set of 5 fields is sealed and opened in memory with the vault's
crypto core (`Vault.encrypt_field` / `Vault.decrypt_field`, exactly what `seal_set` and
`open_set` call per field; no database). The baseline does the same cryptography with
`cryptography`'s AESGCM directly: the same AESGCM object, a fresh 96-bit nonce from
`os.urandom`, the same plaintexts (UTF-8) and associated data, encrypt then decrypt, no token
format. The two alternate, and each figure is the best of many rounds.

For context it also times raw AESGCM plus the least any text token needs (standard base64
of nonce+ciphertext, a fixed prefix, decoded again): the part of the vault's overhead that
its format, its checks (canonical base64url, version, key id) and the associated data add.

Run: `.venv/bin/python bench/vault.py`
"""

from __future__ import annotations

import gc
import os
import sys
import time
from binascii import a2b_base64, b2a_base64
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from webapp.vault import Keyring, Slot, Vault, associated_data  # noqa: E402

TARGET = 1.5
ROUNDS = 30
SETS_PER_ROUND = 1_500
ORG_ID, INTEGRATION_ID, SET_VERSION = 7, 42, 3
CREDENTIALS = {
    "tenant_id": "0f3c5a2e-1234-4abc-9def-001122334455",
    "client_id": "6b1d2f40-9a8e-4c3b-b2a1-5566778899aa",
    "client_secret": "Qx~8Q~cLr3vT5yUw9Zb1Nd4Fh7Jk2Mp6Rs0Wx.Yz",
    "environment_url": "https://hlf.crm4.dynamics.com",
    "table": "new_expenseclaims",
}


def best_of(rounds: int, runs: dict[str, Callable[[], object]]) -> dict[str, float]:
    """Best seconds per call of each function, measured in alternation."""
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(rounds):
        for name, run in runs.items():
            gc.collect()
            gc.disable()
            try:
                start = time.perf_counter()
                for _ in range(SETS_PER_ROUND):
                    run()
                elapsed = time.perf_counter() - start
            finally:
                gc.enable()
            best[name] = min(best[name], elapsed / SETS_PER_ROUND)
    return best


def main() -> None:
    vault = Vault.from_keyring(Keyring.generate())
    slots = {name: Slot(ORG_ID, INTEGRATION_ID, SET_VERSION, name) for name in CREDENTIALS}
    items = [(slots[name], value) for name, value in CREDENTIALS.items()]
    encrypt, decrypt = vault.encrypt_field, vault.decrypt_field

    def vault_seal_open() -> dict[str, str]:
        tokens = [(slot, encrypt(slot, value)) for slot, value in items]
        return {slot.field_name: decrypt(slot, token) for slot, token in tokens}

    aead = vault._keys.aeads[vault.active_key_id]
    raw_items = [
        (name, value, associated_data(vault.active_key_id, slots[name]))
        for name, value in CREDENTIALS.items()
    ]

    def raw_aesgcm() -> dict[str, str]:
        sealed = []
        for name, value, aad in raw_items:
            nonce = os.urandom(12)
            sealed.append((name, nonce, aead.encrypt(nonce, value.encode("utf-8"), aad), aad))
        return {
            name: aead.decrypt(nonce, ct, aad).decode("utf-8") for name, nonce, ct, aad in sealed
        }

    def raw_aesgcm_base64() -> dict[str, str]:
        tokens = []
        for name, value, aad in raw_items:
            nonce = os.urandom(12)
            blob = nonce + aead.encrypt(nonce, value.encode("utf-8"), aad)
            tokens.append((name, "v1.k." + b2a_base64(blob, newline=False).decode(), aad))
        opened = {}
        for name, token, aad in tokens:
            blob = a2b_base64(token[5:])
            opened[name] = aead.decrypt(blob[:12], blob[12:], aad).decode("utf-8")
        return opened

    def fingerprints() -> dict[str, str]:
        return {
            name: vault._fingerprint(ORG_ID, INTEGRATION_ID, name, value)
            for name, value in CREDENTIALS.items()
        }

    assert vault_seal_open() == CREDENTIALS == raw_aesgcm() == raw_aesgcm_base64()
    runs = {
        "vault": vault_seal_open,
        "raw": raw_aesgcm,
        "raw+b64": raw_aesgcm_base64,
        "fp": fingerprints,
    }
    best = best_of(ROUNDS, runs)
    ratio = best["vault"] / best["raw"]
    fields = len(CREDENTIALS)
    print(f"credential set: {fields} fields, best of {ROUNDS} rounds x {SETS_PER_ROUND} sets")
    print(f"raw AESGCM encrypt+decrypt: {best['raw'] * 1e6:7.2f} µs/set")
    print(
        f"raw AESGCM + base64 text:   {best['raw+b64'] * 1e6:7.2f} µs/set "
        f"(vault / this: {best['vault'] / best['raw+b64']:.2f} x)"
    )
    print(f"vault seal+open (crypto):   {best['vault'] * 1e6:7.2f} µs/set")
    print(f"fingerprints (HMAC-SHA256): {best['fp'] * 1e6:7.2f} µs/set (not in the ratio)")
    print(
        f"bench: vault seal+open per set {best['vault'] * 1e6:.1f} us "
        f"(target <= {best['raw'] * TARGET * 1e6:.1f})"
    )
    print(f"bench: vault seal+open ratio {ratio:.2f} x (target <= {TARGET})")


if __name__ == "__main__":
    main()
