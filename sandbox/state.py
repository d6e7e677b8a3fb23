"""The sandbox's in-memory store: ledgers, tokens, faults, settings and requests seen.

One `SandboxState` backs one running sandbox. Request threads share it, so every read-modify-
write happens under `state.lock`; nothing sleeps while holding it.
"""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sandbox import demo
from sandbox.variations import VARIATIONS

DEFAULT_SETTINGS: dict[str, Any] = {
    # Xledger's unofficial burst limit: more than `burst_max_requests` per token within
    # `burst_window_seconds` is refused. Off when embedded (tests), on when run alone.
    "burst_limit": False,
    "burst_max_requests": 20,
    "burst_window_seconds": 5.0,
    # "errors" (200 + errors array) or "401": the real answer is unknown (ACCOUNTING_APIS §1.4).
    "xledger_unknown_token": "errors",
    "xledger_max_inputs": 500,
    "xledger_max_first": 10000,
    # Entra answered `invalid_request` in 2020 and `invalid_tenant` later; adapters accept both.
    "entra_unknown_tenant_error": "invalid_request",
    "token_expires_in": 3599,
    "dataverse_page_size": 5000,
    "bc_page_size": 20000,
    # How long a `timeout` fault sleeps when the fault does not say.
    "timeout_seconds": 30.0,
    # How real tenants differ (sandbox/variations.py): the demo tenant's answer by default.
    **{key: variation.default for key, variation in VARIATIONS.items()},
}

FAULT_KINDS = frozenset(
    {
        "latency",
        "status",
        "rate_limit",
        "timeout",
        "revoked",
        "expired_secret",
        "not_registered",
        "no_privilege",
        "no_permission",
        "no_read_scope",
        "credits",
        "redirect",
    }
)
MAX_REQUESTS_KEPT = 2000


@dataclass
class Fault:
    """One injected failure for one identity (token, tenant, client id or host; `*` = all)."""

    id: str
    target: str
    kind: str
    params: dict[str, Any] = field(default_factory=dict)
    # Requests still to affect; None = until cleared.
    remaining: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "target": self.target,
            "kind": self.kind,
            "count": self.remaining,
            **self.params,
        }


@dataclass
class AccessToken:
    """An Entra access token: opaque, bound to tenant, client and resource."""

    tenant_id: str
    client_id: str
    resource: str
    expires_at: float


@dataclass
class EntraApp:
    client_id: str
    secret: str
    tenant_id: str
    secret_expired: bool = False


class SandboxState:
    """Everything a running sandbox remembers; `reset()` returns it to the demo start."""

    def __init__(
        self,
        settings: dict[str, Any] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        unknown = set(settings or {}) - set(DEFAULT_SETTINGS)
        if unknown:
            raise ValueError(f"unknown sandbox settings: {sorted(unknown)}")
        self.lock = threading.RLock()
        self.clock = clock
        self._initial_settings = {**DEFAULT_SETTINGS, **(settings or {})}
        self.reset()

    def reset(self) -> None:
        """Forget everything posted, seen and injected; keep the settings given at start."""
        with self.lock:
            self.settings: dict[str, Any] = dict(self._initial_settings)
            self.faults: list[Fault] = []
            self.requests: deque[dict[str, Any]] = deque(maxlen=MAX_REQUESTS_KEPT)
            self._next_db_id = 5_000_000
            # Xledger
            self.xledger_tokens: set[str] = {demo.XLEDGER_TOKEN}
            self.revoked_xledger_tokens: set[str] = set()
            self.xledger_items: list[dict[str, Any]] = []
            self.xledger_errors: list[dict[str, Any]] = []
            self.xledger_vouchers: list[dict[str, Any]] = []
            self.burst_log: dict[str, deque[float]] = defaultdict(deque)
            # Entra
            self.tenants: dict[str, dict[str, Any]] = {
                demo.TENANT_ID: {
                    "id": demo.TENANT_ID,
                    "domains": {demo.TENANT_DOMAIN},
                    "name": demo.TENANT_DISPLAY_NAME,
                    "resources": {demo.BC_RESOURCE, demo.DATAVERSE_URL},
                }
            }
            self.apps: dict[str, EntraApp] = {
                demo.CLIENT_ID: EntraApp(demo.CLIENT_ID, demo.CLIENT_SECRET, demo.TENANT_ID)
            }
            self.access_tokens: dict[str, AccessToken] = {}
            # Dataverse: environment host → tables (entity set → records)
            self.dataverse_envs: dict[str, dict[str, Any]] = {
                demo.DATAVERSE_HOST: {
                    "tenant_id": demo.TENANT_ID,
                    "organization_id": demo.stable_guid("dv", "org", demo.DATAVERSE_HOST),
                    "business_unit_id": demo.stable_guid("dv", "bu", demo.DATAVERSE_HOST),
                    "tables": {demo.DATAVERSE_TABLE: []},
                }
            }
            # Business Central (one environment, one company)
            self.bc_environments: set[str] = {demo.BC_ENVIRONMENT}
            self.bc_journal_lines: list[dict[str, Any]] = []
            # Tripletex: session token → session; vouchers as posted
            self.tripletex_sessions: dict[str, dict[str, Any]] = {}
            self.tripletex_vouchers: list[dict[str, Any]] = []
            self.bc_ledger_entries: list[dict[str, Any]] = []

    # --- ids -------------------------------------------------------------------------------
    def next_db_id(self) -> str:
        """A new Xledger dbId (Int64 carried as a string)."""
        with self.lock:
            self._next_db_id += 1
            return str(self._next_db_id)

    # --- settings --------------------------------------------------------------------------
    def update_settings(self, changes: dict[str, Any]) -> dict[str, Any]:
        """Apply known keys (coerced to the default's type); raise ValueError on others."""
        unknown = set(changes) - set(DEFAULT_SETTINGS)
        if unknown:
            raise ValueError(f"unknown settings: {sorted(unknown)}")
        coerced = {}
        for key, value in changes.items():
            kind = type(DEFAULT_SETTINGS[key])
            if kind is bool and not isinstance(value, bool):
                raise ValueError(f"{key} must be true or false")
            coerced[key] = kind(value)
        for key, value in coerced.items():
            variation = VARIATIONS.get(key)
            if variation is not None and not variation.allows(value):
                known = ", ".join(f'"{choice}"' for choice, _meaning in variation.choices)
                raise ValueError(f"{key} must be one of {known}")
        if coerced.get("xledger_unknown_token", "errors") not in ("errors", "401"):
            raise ValueError('xledger_unknown_token must be "errors" or "401"')
        if coerced.get("entra_unknown_tenant_error", "invalid_request") not in (
            "invalid_request",
            "invalid_tenant",
        ):
            raise ValueError(
                'entra_unknown_tenant_error must be "invalid_request" or "invalid_tenant"'
            )
        with self.lock:
            self.settings.update(coerced)
            return dict(self.settings)

    # --- faults ----------------------------------------------------------------------------
    def add_fault(self, target: str, kind: str, count: int | None = None, **params: Any) -> Fault:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; known: {sorted(FAULT_KINDS)}")
        if not target:
            raise ValueError("a fault needs a target (token, tenant, client id, host or *)")
        fault = Fault(uuid.uuid4().hex[:12], target, kind, params, count)
        with self.lock:
            self.faults.append(fault)
        return fault

    def clear_faults(self, target: str | None = None, fault_id: str | None = None) -> int:
        """Remove faults (all, one target's, or one by id); return how many went."""
        with self.lock:
            keep = [
                f
                for f in self.faults
                if (target is not None and f.target != target)
                or (fault_id is not None and f.id != fault_id)
            ]
            removed = len(self.faults) - len(keep)
            self.faults = keep
            return removed

    def take_faults(self, identities: Iterable[str], kinds: Iterable[str]) -> list[Fault]:
        """Faults of `kinds` that match any identity, counting this request against them."""
        # Case-insensitive: GUIDs and hosts arrive in either case.
        wanted = {identity.lower() for identity in identities if identity} | {"*"}
        kinds = set(kinds)
        taken = []
        with self.lock:
            for fault in list(self.faults):
                if fault.kind not in kinds or fault.target.lower() not in wanted:
                    continue
                taken.append(fault)
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self.faults.remove(fault)
        return taken

    def has_fault(self, identities: Iterable[str], kind: str) -> Fault | None:
        """Like take_faults for one kind, returning the first match (or None)."""
        taken = self.take_faults(identities, [kind])
        return taken[0] if taken else None

    # --- request log -----------------------------------------------------------------------
    def log_request(self, entry: dict[str, Any]) -> None:
        with self.lock:
            self.requests.append(entry)

    # --- Xledger tokens --------------------------------------------------------------------
    def new_xledger_token(self) -> str:
        token = "sbx-" + secrets.token_urlsafe(24)
        with self.lock:
            self.xledger_tokens.add(token)
        return token

    def xledger_token_valid(self, token: str) -> bool:
        with self.lock:
            return token in self.xledger_tokens and token not in self.revoked_xledger_tokens

    def burst_allows(self, token: str) -> bool:
        """Record one request for `token`; False when it exceeds the sliding window."""
        with self.lock:
            if not self.settings["burst_limit"]:
                return True
            now = self.clock()
            window = self.burst_log[token]
            while window and now - window[0] >= self.settings["burst_window_seconds"]:
                window.popleft()
            # Refused requests are not recorded, so a client that backs off recovers.
            if len(window) >= self.settings["burst_max_requests"]:
                return False
            window.append(now)
            return True

    # --- Entra -----------------------------------------------------------------------------
    def find_tenant(self, name: str) -> dict[str, Any] | None:
        """A tenant by GUID or verified domain (case-insensitive)."""
        name = name.lower()
        with self.lock:
            for tenant in self.tenants.values():
                if tenant["id"] == name or name in tenant["domains"]:
                    return tenant
        return None

    def new_app(self, tenant_id: str = demo.TENANT_ID) -> EntraApp:
        """Register a fresh app (client id + secret), an application user everywhere."""
        app = EntraApp(str(uuid.uuid4()), "sbx~" + secrets.token_urlsafe(24), tenant_id)
        with self.lock:
            self.apps[app.client_id] = app
        return app

    def issue_access_token(self, tenant_id: str, client_id: str, resource: str) -> tuple[str, int]:
        expires_in = int(self.settings["token_expires_in"])
        token = secrets.token_urlsafe(48)
        with self.lock:
            self.access_tokens[token] = AccessToken(
                tenant_id, client_id, resource, self.clock() + expires_in
            )
        return token, expires_in

    def access_token(self, token: str) -> AccessToken | None:
        """The live token record, or None when unknown or expired."""
        with self.lock:
            record = self.access_tokens.get(token)
            if record is None or self.clock() >= record.expires_at:
                return None
            return record

    def expire_access_tokens(self, client_id: str | None = None) -> int:
        with self.lock:
            count = 0
            for record in self.access_tokens.values():
                if client_id is None or record.client_id == client_id:
                    record.expires_at = self.clock() - 1
                    count += 1
            return count
