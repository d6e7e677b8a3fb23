"""Demo credentials and reference data the sandbox starts with.

The credentials are the constants of docs/SANDBOX_CONTRACT.md; the web app's demo seed and
README import them from here. The reference data is a small Norwegian non-profit: an NS 4102
chart of accounts subset, Norwegian VAT codes, projects and departments, served by every fake
in that system's own shape.
"""

from __future__ import annotations

import uuid

# --- Xledger ---------------------------------------------------------------------------------
XLEDGER_TOKEN = "demo-xledger-token-2026"
XLEDGER_ENTITY_CODE = "NBF"
XLEDGER_ENTITY_DESCRIPTION = "Ledgerlink demo (NBF)"
XLEDGER_HOSTS = ("www.xledger.net", "demo.xledger.net")

# --- Entra ID ----------------------------------------------------------------------------------
TENANT_ID = "7b9c7a2e-4f1d-4c3a-9a55-2d1e0c3b8f10"
TENANT_DOMAIN = "ledgerlink-demo.onmicrosoft.com"
TENANT_DISPLAY_NAME = "Ledgerlink Demo"
CLIENT_ID = "3f2b8c1d-6e4a-4b7f-8c2d-1a9e5f7b3c60"
CLIENT_SECRET = "demo-secret-Value~2026"

# --- Dataverse -----------------------------------------------------------------------------------
DATAVERSE_HOST = "ledgerlink-demo.crm4.dynamics.com"
DATAVERSE_URL = f"https://{DATAVERSE_HOST}"
DATAVERSE_TABLE = "ll_expenselines"

# --- Business Central ------------------------------------------------------------------------
BC_HOST = "api.businesscentral.dynamics.com"
BC_RESOURCE = f"https://{BC_HOST}"
BC_ENVIRONMENT = "sandbox"
BC_COMPANY_NAME = "CRONUS Norge AS"
BC_JOURNAL = "LEDGERLINK"

# Stable ids so that a restarted sandbox answers with the same GUIDs.
_NAMESPACE = uuid.UUID("5a1d8c2e-0b7e-4c51-9e0a-1e6f3b2d4c70")


def stable_guid(*parts: str) -> str:
    """A GUID derived from `parts`, the same on every run."""
    return str(uuid.uuid5(_NAMESPACE, "/".join(parts)))


BC_COMPANY_ID = stable_guid("bc", "company", BC_COMPANY_NAME)

# --- Reference data ----------------------------------------------------------------------------
# (code, description, kind): kind drives the flags each system shows (balance sheet, cost …).
ACCOUNTS: tuple[tuple[str, str, str], ...] = (
    ("1920", "Bank", "asset"),
    ("2400", "Leverandørgjeld", "liability"),
    ("2710", "Inngående merverdiavgift", "liability"),
    ("2910", "Gjeld til ansatte", "liability"),
    ("2930", "Skyldig lønn", "liability"),
    ("6800", "Kontorrekvisita", "cost"),
    ("6860", "Møte, kurs, oppdatering o.l.", "cost"),
    ("7100", "Bilgodtgjørelse, oppgavepliktig", "cost"),
    ("7130", "Reisekostnad, oppgavepliktig", "cost"),
    ("7140", "Reisekostnad, ikke oppgavepliktig", "cost"),
    ("7150", "Diettkostnad", "cost"),
    ("7160", "Diettkostnad, oppgavepliktig", "cost"),
    ("7350", "Representasjon", "cost"),
    ("7790", "Annen kostnad", "cost"),
)

# (code, description, rate in percent)
TAX_CODES: tuple[tuple[str, str, int], ...] = (
    ("0", "Ingen mva-behandling", 0),
    ("1", "Fradrag for inngående mva, høy sats 25 %", 25),
    ("11", "Fradrag for inngående mva, middels sats 15 %", 15),
    ("13", "Fradrag for inngående mva, lav sats 12 %", 12),
)

PROJECTS: tuple[tuple[str, str], ...] = (
    ("P100", "Likepersonsarbeid"),
    ("P200", "Kurs og opplæring"),
    ("P300", "Ungdom"),
)

# Xledger free dimension GL_OBJECT_1; in Business Central the AVDELING dimension.
DEPARTMENTS: tuple[tuple[str, str], ...] = (
    ("100", "Sentralt"),
    ("200", "Region Øst"),
    ("300", "Region Vest"),
    ("400", "Region Nord"),
)

# Business Central groups VAT by posting group rather than by numeric code.
BC_TAX_GROUPS: tuple[tuple[str, str], ...] = (
    ("INGEN", "Ingen mva"),
    ("HØY", "Høy sats 25 %"),
    ("MIDDELS", "Middels sats 15 %"),
    ("LAV", "Lav sats 12 %"),
)
BC_DIMENSIONS: tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...] = (
    ("AVDELING", "Avdeling", DEPARTMENTS),
    ("PROSJEKT", "Prosjekt", PROJECTS),
)


# Tripletex's test environment (api-test.tripletex.tech): test tokens start with "test-".
TRIPLETEX_CONSUMER_TOKEN = "test-ledgerlink-consumer-2026"
TRIPLETEX_EMPLOYEE_TOKEN = "test-ledgerlink-employee-2026"
TRIPLETEX_CONSUMER_TOKENS = frozenset({TRIPLETEX_CONSUMER_TOKEN, "ledgerlink-consumer-prod"})
# The second one belongs to a user without access to the ledger (403 on accounts).
TRIPLETEX_EMPLOYEE_TOKENS = frozenset(
    {TRIPLETEX_EMPLOYEE_TOKEN, "test-ledgerlink-employee-noledger"}
)
TRIPLETEX_COMPANY_ID = 108_000
TRIPLETEX_COMPANY = "Demoforeningen (Tripletex test)"


def credentials_summary(base_url: str) -> str:
    """The demo credentials as the text printed when the sandbox starts."""
    return "\n".join(
        (
            f"Ledgerlink sandbox running at {base_url}",
            f"  Control page:       {base_url}/_sandbox/",
            f"  Xledger:            token {XLEDGER_TOKEN}, entity {XLEDGER_ENTITY_CODE}",
            f"                      {base_url}/www.xledger.net/graphql",
            f"  Entra tenant:       {TENANT_ID} ({TENANT_DOMAIN})",
            f"  Entra client id:    {CLIENT_ID}",
            f"  Entra secret:       {CLIENT_SECRET}",
            f"  Dataverse:          {DATAVERSE_URL}, table {DATAVERSE_TABLE}",
            f"  Business Central:   environment {BC_ENVIRONMENT}, company {BC_COMPANY_NAME},"
            f" journal {BC_JOURNAL}",
            f"  Tripletex (test):   consumer token {TRIPLETEX_CONSUMER_TOKEN},"
            f" employee token {TRIPLETEX_EMPLOYEE_TOKEN}",
            f"  Use LEDGERLINK_SANDBOX_URL={base_url}",
        )
    )
