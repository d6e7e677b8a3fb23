"""What every integration type shares: the five named checks and the NS 4102 mapping template.

Plain data only. Each adapter module builds its own `IntegrationType` from these so that the
three systems name their checks alike and start from the same chart of accounts.
"""

from __future__ import annotations

from adapters.types import CheckSpec, MappingDefault, Text

# Norsk Standard kontoplan (NS 4102) accounts most non-profits use for volunteers' claims.
EXPENSE_ACCOUNTS: tuple[tuple[str, str], ...] = (
    ("mileage", "7100"),  # bilgodtgjørelse
    ("travel", "7140"),  # reisekostnad
    ("meals", "7150"),  # diettkostnad
    ("course", "6860"),  # møte, kurs, oppdatering
    ("office", "6800"),  # kontorrekvisita
    ("other", "7790"),  # annen kostnad
)
DEFAULT_EXPENSE_ACCOUNT = "7790"
# Skyldige trekk / annen kortsiktig gjeld: where an approved claim waits for payout.
DEFAULT_PAYABLE_ACCOUNT = "2910"
DEFAULT_TAX_CODE = "0"
# Business Central groups VAT by posting group, not by the numeric Norwegian codes.
BC_TAX_GROUPS: tuple[tuple[str, str], ...] = (
    ("0", "INGEN"),  # ingen mva-behandling
    ("1", "HØY"),  # 25 %
    ("11", "MIDDELS"),  # 15 %
    ("13", "LAV"),  # 12 %
)
CLAIM_TEXT = "{claim.purpose} – {claim.claimant_name} ({claim.claim_number})"


def standard_checks(authorised: Text, ready: Text) -> tuple[CheckSpec, ...]:
    """The five checks in the order they run; only the last two differ between systems."""
    return (
        CheckSpec("address", Text("Adressen er tillatt", "Address allowed")),
        CheckSpec(
            "reachable",
            Text("Tjenesten kan nås (DNS, TCP, TLS)", "Host reachable (DNS, TCP, TLS)"),
        ),
        CheckSpec("authenticated", Text("Pålogging godtatt", "Authenticated")),
        CheckSpec("authorised", authorised),
        CheckSpec("ready", ready),
    )


def standard_mapping(
    *,
    date: str,
    account: str,
    text: str,
    text_length: int,
    balancing_account: str,
    department: str | None = None,
    project: str | None = None,
    tax_code: str | None = None,
    tax_lookup: tuple[tuple[str, str], ...] = (),
    subledger: str | None = None,
    extra: tuple[MappingDefault, ...] = (),
) -> tuple[MappingDefault, ...]:
    """The default mapping of an approved claim, given each system's own field names."""
    rows = [
        MappingDefault(date, "field", "claim.approved_at"),
        MappingDefault(
            account,
            "lookup",
            "line.expense_type",
            lookup=EXPENSE_ACCOUNTS,
            lookup_default=DEFAULT_EXPENSE_ACCOUNT,
        ),
        MappingDefault(text, "template", CLAIM_TEXT, transforms=(("truncate", str(text_length)),)),
    ]
    if department:
        rows.append(MappingDefault(department, "field", "line.department"))
    if project:
        rows.append(MappingDefault(project, "field", "line.project"))
    if tax_code and tax_lookup:
        rows.append(
            MappingDefault(
                tax_code,
                "lookup",
                "line.vat_code",
                lookup=tax_lookup,
                lookup_default=tax_lookup[0][1],
            )
        )
    elif tax_code:
        rows.append(
            MappingDefault(
                tax_code, "field", "line.vat_code", transforms=(("default", DEFAULT_TAX_CODE),)
            )
        )
    rows.append(MappingDefault(balancing_account, "constant", DEFAULT_PAYABLE_ACCOUNT))
    if subledger:
        rows.append(MappingDefault(subledger, "field", "claim.claimant_number"))
    rows.extend(extra)
    return tuple(rows)
