"""Integration type schema: what each accounting system asks for and accepts.

Each adapter module declares one `IntegrationType` and registers its adapter class with it
(see `adapters/__init__.py`). The web app builds its forms, validation, mapping editor and
export batching from these declarations alone, so adding a system takes one adapter module.

Labels and messages are carried in both languages (`Text`) because this package does not
import Flask or Flask-Babel; the web app picks the language at render time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

CredentialKind = Literal["text", "secret", "url", "uuid", "select"]
DataType = Literal["text", "code", "date", "decimal", "integer"]
# Which voucher line a target field is written on: every expense ("debit") line, the one
# balancing ("credit") line, or both (voucher-level fields such as the posting date).
LineRole = Literal["line", "balance", "voucher"]
# What a code names in the accounting system, for checking it against reference data.
ReferenceKind = Literal["account", "tax_code", "project", "dimension"]

GUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
# A tenant is a GUID or a verified domain such as contoso.onmicrosoft.com.
TENANT_PATTERN = (
    r"^(?:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    r"|(?=.{4,253}$)(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]{2,63})$"
)


@dataclass(frozen=True)
class Text:
    """A user-facing string in Norwegian Bokmål and English."""

    nb: str
    en: str

    def get(self, locale: str | None) -> str:
        return self.en if (locale or "nb").startswith("en") else self.nb

    def format(self, **values: object) -> Text:
        return Text(self.nb.format(**values), self.en.format(**values))


@dataclass(frozen=True)
class Choice:
    value: str
    label: Text


@dataclass(frozen=True)
class CredentialField:
    """One value a coordinator enters to connect (API token, tenant id, URL …)."""

    name: str
    label: Text
    kind: CredentialKind
    required: bool = True
    pattern: str | None = None
    # Shown when the value does not match `pattern`.
    pattern_message: Text | None = None
    help: Text | None = None
    # Where in the provider's own UI the value is found.
    help_url: str | None = None
    choices: tuple[Choice, ...] = ()
    default: str | None = None
    max_length: int = 500

    @property
    def secret(self) -> bool:
        return self.kind == "secret"

    def matches(self, value: str) -> bool:
        return self.pattern is None or re.fullmatch(self.pattern, value) is not None


@dataclass(frozen=True)
class TargetField:
    """One field of the accounting system's voucher line that a mapping fills."""

    name: str
    label: Text
    data_type: DataType
    role: LineRole = "line"
    required: bool = False
    max_length: int | None = None
    reference: ReferenceKind | None = None
    help: Text | None = None


@dataclass(frozen=True)
class CheckSpec:
    """A named step of "Test connection", in the order it runs."""

    key: str
    label: Text


@dataclass(frozen=True)
class MappingDefault:
    """One row of a type's default mapping template (see webapp/mapping.py for kinds)."""

    target: str
    kind: Literal["field", "constant", "lookup", "template"]
    value: str = ""
    lookup: tuple[tuple[str, str], ...] = ()
    lookup_default: str | None = None
    transforms: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class IntegrationType:
    key: str
    name: Text
    # One line on when a coordinator should choose this system.
    summary: Text
    credential_fields: tuple[CredentialField, ...]
    target_fields: tuple[TargetField, ...]
    checks: tuple[CheckSpec, ...]
    # Exact host names, or patterns starting with "re:" for hosts built from a credential.
    allowed_hosts: tuple[str, ...]
    # Most voucher lines sent in one export call.
    batch_limit: int
    default_mapping: tuple[MappingDefault, ...] = ()
    # Credential field that names the provider's own object to check (e.g. the table).
    docs_url: str | None = None
    extra: dict[str, object] = field(default_factory=dict)

    def credential_field(self, name: str) -> CredentialField:
        for f in self.credential_fields:
            if f.name == name:
                return f
        raise KeyError(name)

    def target_field(self, name: str) -> TargetField:
        for f in self.target_fields:
            if f.name == name:
                return f
        raise KeyError(name)

    @property
    def secret_fields(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.credential_fields if f.secret)

    def host_allowed(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        for allowed in self.allowed_hosts:
            if allowed.startswith("re:"):
                if re.fullmatch(allowed[3:], host):
                    return True
            elif host == allowed:
                return True
        return False


# Results that adapters return. Plain data, so jobs can store them as JSON.

CheckStatus = Literal["waiting", "running", "passed", "failed", "skipped"]


@dataclass
class CheckResult:
    key: str
    label: Text
    status: CheckStatus
    message: Text | None = None
    hint: Text | None = None
    # The credential field a coordinator should correct when this check failed.
    field: str | None = None
    provider_code: str | None = None
    # The failure's kind (auth, permission, config, transient, data): its connection issue.
    kind: str | None = None

    def as_dict(self) -> dict[str, object]:
        def text(t: Text | None) -> dict[str, str] | None:
            return None if t is None else {"nb": t.nb, "en": t.en}

        return {
            "key": self.key,
            "label": text(self.label),
            "status": self.status,
            "message": text(self.message),
            "hint": text(self.hint),
            "field": self.field,
            "provider_code": self.provider_code,
            "kind": self.kind,
        }


@dataclass(frozen=True)
class ReferenceItem:
    """A code in the accounting system's reference data (account, tax code, project …)."""

    kind: ReferenceKind
    code: str
    description: str = ""


@dataclass
class Voucher:
    """One expense claim resolved into balanced lines, ready for an adapter to send.

    `lines` hold target-field name → value (`Decimal` for amounts, `datetime.date` for
    dates, `str` for codes and text); the balancing line is last. `reference` is the
    claim's idempotency reference, sent as Xledger `extIdentifier` / BC
    `externalDocumentNumber` so that a retry never duplicates the claim.
    """

    claim_id: int
    reference: str
    number: int
    lines: list[dict[str, object]]

    @property
    def total(self) -> Decimal:
        return sum((Decimal(str(line["amount"])) for line in self.lines), Decimal("0"))


@dataclass
class ExportResult:
    """What became of one voucher: the provider's id, or the reason it was refused."""

    reference: str
    external_id: str | None = None
    error: Text | None = None
    provider_code: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None
