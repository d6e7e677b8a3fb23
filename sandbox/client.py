"""A tiny client for the sandbox's inspection API, for tests and scripts."""

from __future__ import annotations

from typing import Any

import requests


class SandboxClient:
    """Talks to `{url}/_sandbox/api/…`; every method raises on an HTTP error."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()

    def _call(self, method: str, path: str, json: Any = None, **params: Any) -> Any:
        response = self.session.request(
            method,
            f"{self.url}/_sandbox/api/{path}",
            json=json,
            params=params or None,
            timeout=self.timeout,
        )
        response.raise_for_status()
        return response.json()

    def ledger(self) -> dict[str, Any]:
        """Xledger vouchers/import items/errors, BC lines and entries, Dataverse records."""
        return self._call("GET", "ledger")

    def requests_seen(self) -> list[dict[str, Any]]:
        """API requests seen so far: at, api, method, host, path, status, error (the code of
        the error the answer carried, None for none: a burst refusal is 200 with one)."""
        return self._call("GET", "requests")["requests"]

    def clear_requests(self) -> None:
        self._call("DELETE", "requests")

    def set_fault(self, target: str, kind: str, count: int | None = None, **params: Any) -> dict:
        """Inject a fault for one identity (token, tenant, client id, host or "*")."""
        return self._call(
            "POST", "faults", {"target": target, "kind": kind, "count": count, **params}
        )

    def faults(self) -> list[dict[str, Any]]:
        return self._call("GET", "faults")["faults"]

    def clear_faults(self, target: str | None = None) -> int:
        """Clear every fault, or only those of `target`; return how many were removed."""
        params = {"target": target} if target is not None else {}
        return self._call("DELETE", "faults", **params)["removed"]

    def new_xledger_token(self) -> str:
        return self._call("POST", "xledger/tokens")["token"]

    def revoke_xledger_token(self, token: str) -> None:
        self._call("POST", "xledger/tokens/revoke", {"token": token})

    def restore_xledger_token(self, token: str) -> None:
        self._call("POST", "xledger/tokens/restore", {"token": token})

    def new_entra_app(self) -> dict[str, str]:
        """A fresh app in the demo tenant: tenant_id, client_id, client_secret."""
        return self._call("POST", "entra/apps")

    def expire_client_secret(self, client_id: str) -> None:
        self._call("POST", "entra/secrets/expire", {"client_id": client_id})

    def restore_client_secret(self, client_id: str) -> None:
        self._call("POST", "entra/secrets/restore", {"client_id": client_id})

    def expire_access_tokens(self, client_id: str | None = None) -> int:
        """Make issued access tokens expired (all, or one client's) to exercise refresh."""
        return self._call("POST", "entra/tokens/expire", {"client_id": client_id})["expired"]

    def reset(self) -> None:
        self._call("POST", "reset")

    def settings(self, **changes: Any) -> dict[str, Any]:
        """Read the settings, or change some (`burst_limit=True`) and return them all."""
        if changes:
            return self._call("PUT", "settings", changes)
        return self._call("GET", "settings")
