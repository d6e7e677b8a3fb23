"""How real tenants differ from the demo tenant (ACCOUNTING_APIS §8), one switch each.

A variation is a sandbox setting with a fixed set of values; the first value is the demo
tenant's. Tests set them through `PUT /_sandbox/api/settings`, a person trying the demo on
the control page. Each system's fake reads its own switches from `state.settings`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Variation:
    key: str
    system: str
    label: str
    # (value, what the tenant then does); the first is the demo tenant.
    choices: tuple[tuple[str, str], ...]

    @property
    def default(self) -> str:
        return self.choices[0][0]

    def allows(self, value: object) -> bool:
        return any(value == choice for choice, _meaning in self.choices)


# --- Xledger -----------------------------------------------------------------------------------

XLEDGER: tuple[Variation, ...] = (
    Variation(
        "xledger_token_origin",
        "Xledger",
        "Where the API tokens were made",
        (
            ("live", "In production: they work in production, and in demo after a refresh"),
            ("demo", "In the demo environment: production refuses them"),
        ),
    ),
    Variation(
        "xledger_auth_refusal",
        "Xledger",
        "How a refused token is answered (HTTP 200 with errors)",
        (
            ("invalid_token", "“Invalid or expired API token”, code UNAUTHENTICATED"),
            ("unauthorized", "“Unauthorized”, no code"),
            ("access_denied", "“Access denied”, no code"),
        ),
    ),
    Variation(
        "xledger_chart",
        "Xledger",
        "Chart of accounts of the entity",
        (
            ("standard", "NS 4102 with every account the default mapping uses"),
            ("own", "An own chart without 6860 (course), 7150 (meals) and 2910 (payable)"),
        ),
    ),
    Variation(
        "xledger_reference_lists",
        "Xledger",
        "Projects and object kinds (departments) for the token's role",
        (
            ("all", "Readable"),
            ("denied", "Denied: “Access denied: … no read access to Projects”"),
            ("missing", "Not offered: “Cannot query field `projects` on type `Query`”"),
        ),
    ),
)

# --- Dataverse ---------------------------------------------------------------------------------

DATAVERSE: tuple[Variation, ...] = (
    Variation(
        "dataverse_role",
        "Dataverse",
        "Security role of the application user on the table",
        (
            ("full", "Create, Read, Write and Delete"),
            ("create_only", "Create only (least privilege): reads answer 403 0x80040220"),
        ),
    ),
    Variation(
        "dataverse_alternate_key",
        "Dataverse",
        "Alternate key of the table",
        (
            ("none", "None"),
            ("line_key", "On ll_linekey (the claim reference and line number)"),
        ),
    ),
)

# --- Business Central --------------------------------------------------------------------------

BUSINESS_CENTRAL: tuple[Variation, ...] = (
    Variation(
        "bc_permission_set",
        "Business Central",
        "Permission sets of the app (Microsoft Entra Applications page)",
        (
            ("full", "D365 BUS FULL ACCESS: everything"),
            ("least", "Journals and G/L entries only: no dimensions, dimension values, tax groups"),
            ("no_ledger_read", "Journals only: G/L entries cannot be read back"),
            ("read_only", "Read only: nothing can be written or posted"),
        ),
    ),
    Variation(
        "bc_journals",
        "Business Central",
        "General journal batches in the company",
        (
            ("filtered", "Two batches; `$filter=code eq …` is honoured"),
            ("unfiltered", "Three batches; this version answers `journals` unfiltered"),
        ),
    ),
    Variation(
        "bc_unknown_environment",
        "Business Central",
        "How an environment that does not exist is answered",
        (
            ("named", "404 “Environment '…' not found.”"),
            ("plain", "404 “No HTTP resource was found that matches the request URI …”"),
        ),
    ),
)

# --- Tripletex ---------------------------------------------------------------------------------

TRIPLETEX: tuple[Variation, ...] = (
    Variation(
        "tripletex_employee_token",
        "Tripletex",
        "The employee token",
        (("valid", "Valid"), ("expired", "Expired or revoked by the customer's admin")),
    ),
    Variation(
        "tripletex_validation",
        "Tripletex",
        "Accounts that require a department",
        (("none", "None"), ("department_required", "Every cost account (422 without one)")),
    ),
    Variation(
        "tripletex_rate_reset",
        "Tripletex",
        "429 answers",
        (("sent", "With X-Rate-Limit-Reset"), ("missing", "Without it (issue #103)")),
    ),
    Variation(
        "tripletex_voucher_type",
        "Tripletex",
        "The voucher type claims are posted as",
        (("standard", "“Reiseregning” exists"), ("missing", "The company has deleted it")),
    ),
    Variation(
        "tripletex_lookup",
        "Tripletex",
        "GET /ledger/voucher/>externalVoucherNumber",
        (
            ("exact", "Finds vouchers posted through the API"),
            ("import_only", "Finds only imported vouchers (search by date instead)"),
        ),
    ),
)

# -----------------------------------------------------------------------------------------------

VARIATIONS: dict[str, Variation] = {
    v.key: v for v in (*XLEDGER, *DATAVERSE, *BUSINESS_CENTRAL, *TRIPLETEX)
}
