"""The interface every accounting-system adapter implements."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from adapters.errors import AdapterError
from adapters.types import (
    CheckResult,
    ExportResult,
    IntegrationType,
    ReferenceItem,
    ReferenceKind,
    Text,
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


@dataclass(frozen=True)
class Note:
    """Something an export or a reference fetch went on without (DESIGN: enrichments).

    What an export needs (authenticate, find the target, write, confirm) stops a run when it
    fails; an enrichment (dimensions, tax groups, projects, a reference list, readback after
    posting) that is missing or forbidden is skipped with a note instead. `message` says
    what was skipped, why, and what an admin can grant; never a URL, JSON or provider text.
    """

    key: str
    message: Text
    provider_code: str | None = None
    details: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {
            "key": self.key,
            "nb": self.message.nb,
            "en": self.message.en,
            "code": self.provider_code,
            "details": dict(self.details),
        }


class Adapter:
    """One accounting system. Subclasses set `type` and implement the four operations.

    An adapter is built per use from decrypted credentials (field name → value) and never
    keeps them beyond its own lifetime; it never imports Flask or `webapp`.
    """

    type: IntegrationType

    def __init__(self, credentials: Mapping[str, str], settings: AdapterSettings) -> None:
        self.credentials = dict(credentials)
        self.settings = settings
        # Enrichments skipped during this adapter's life, one note per key (see `Note`).
        self.notes: list[Note] = []
        # Set by `carrying()` when a request holding vouchers is about to leave; the export
        # run clears it before each batch. A batch whose call never started goes back to
        # waiting when the run stops; one that may have left stays "sent, outcome unknown".
        self.carried = False

    def skip(self, key: str, message: Text, error: AdapterError | None = None) -> None:
        """Record that the enrichment `key` was skipped (once per adapter) and go on."""
        if any(note.key == key for note in self.notes):
            return
        self.notes.append(
            Note(
                key,
                message,
                provider_code=error.provider_code if error else None,
                details=dict(error.details) if error else {},
            )
        )

    def carrying(self) -> None:
        """Call right before sending a request that holds vouchers (a write)."""
        self.carried = True

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

    def prepare(self, vouchers: list[Voucher]) -> None:
        """Optionally do now, without any I/O, the work `export` of these voucher objects
        would do before its first request (checks, request bodies); `export` then uses it.

        An export run prepares a batch on its own thread while `export` sends the batch before
        on another: keep what is prepared per voucher (one dict, whose single operations are
        atomic) and touch nothing else `export` uses.
        """

    def payload(self, vouchers: list[Voucher]) -> list[dict[str, object]]:
        """The requests `export` would send for these vouchers, without sending (previews).

        Each item is {"request": "METHOD path", "body": …}; needs no secret credential.
        """
        raise NotImplementedError

    def find_exported(self, references: list[str]) -> dict[str, str]:
        """Which of these idempotency references the system already holds → external id."""
        raise NotImplementedError
