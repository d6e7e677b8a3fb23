"""The interface every accounting-system adapter implements."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from adapters.types import (
    CheckResult,
    ExportResult,
    IntegrationType,
    ReferenceItem,
    ReferenceKind,
    Voucher,
)


@dataclass(frozen=True)
class AdapterSettings:
    """How adapters reach the outside world; built by the web app from its configuration."""

    # Development only: send every provider call to {sandbox_url}/{real host}/{path}.
    sandbox_url: str | None = None
    connect_timeout: float = 5.0
    read_timeout: float = 20.0
    max_attempts: int = 4
    # Upper bound on time spent sleeping between retries of one call.
    max_retry_seconds: float = 60.0
    backoff_base: float = 0.5


class Adapter:
    """One accounting system. Subclasses set `type` and implement the four operations.

    An adapter is built per use from decrypted credentials (field name → value) and never
    keeps them beyond its own lifetime; it never imports Flask or `webapp`.
    """

    type: IntegrationType

    def __init__(self, credentials: Mapping[str, str], settings: AdapterSettings) -> None:
        self.credentials = dict(credentials)
        self.settings = settings

    def __repr__(self) -> str:
        # Never the credentials.
        return f"<{type(self).__name__} {self.type.key}>"

    def test_connection(self) -> list[CheckResult]:
        """Run the type's named checks in order; the first failure skips the rest."""
        raise NotImplementedError

    def check_access(self) -> None:
        """The lightest authenticated call; raises the typed error when it is refused.

        Exports with nothing to send still make it, so rejected credentials show up at once.
        """
        raise NotImplementedError

    def reference_data(self, kind: ReferenceKind) -> list[ReferenceItem]:
        """All codes of one kind (accounts, tax codes, projects, dimensions), every page."""
        raise NotImplementedError

    def export(self, vouchers: list[Voucher]) -> list[ExportResult]:
        """Send vouchers (within `type.batch_limit` lines per call); one result per voucher."""
        raise NotImplementedError

    def payload(self, vouchers: list[Voucher]) -> list[dict[str, object]]:
        """The requests `export` would send for these vouchers, without sending (previews).

        Each item is {"request": "METHOD path", "body": …}; needs no secret credential.
        """
        raise NotImplementedError

    def find_exported(self, references: list[str]) -> dict[str, str]:
        """Which of these idempotency references the system already holds → external id."""
        raise NotImplementedError
