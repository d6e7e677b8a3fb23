"""Business Central's integration type: credential fields (Entra app, environment, company,
journal), target fields and checks, with help in Bokmål and English.
"""

from __future__ import annotations

from adapters.defaults import BC_TAX_GROUPS, standard_checks, standard_mapping
from adapters.entra import ENTRA_FIELDS, LOGIN_HOST
from adapters.types import (
    CredentialField,
    IntegrationType,
    TargetField,
    Text,
)

API_HOST = "api.businesscentral.dynamics.com"
ADMIN_CENTER_URL = "https://businesscentral.dynamics.com/"
# Page 9860 "Microsoft Entra Applications", where an app is enabled and given permissions.
ENTRA_APPS_PAGE_URL = "https://businesscentral.dynamics.com/?page=9860"
JOURNALS_PAGE_URL = "https://businesscentral.dynamics.com/?page=251"
DESCRIPTION_LENGTH = 100
ENVIRONMENT_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,29}$"
JOURNAL_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,9}$"
# Each claim's journal lines carry its reference as `documentNumber` (Code[20]): posted G/L
# entries keep documentNumber but have no externalDocumentNumber (ACCOUNTING_APIS §8), so that
# is what a claim is read back by. The claim number goes in the description instead.
DOCUMENT_NUMBER_LENGTH = 20

CREDENTIAL_FIELDS = (
    *ENTRA_FIELDS,
    CredentialField(
        name="environment",
        label=Text("Miljø", "Environment"),
        kind="text",
        pattern=ENVIRONMENT_PATTERN,
        pattern_message=Text(
            "Miljønavnet er bokstaver, tall og bindestrek, f.eks. production eller sandbox.",
            "The environment name is letters, digits and hyphens, e.g. production or sandbox.",
        ),
        help=Text(
            "Navnet på Business Central-miljøet slik det står i administrasjonssenteret, "
            "f.eks. production eller sandbox.",
            "The Business Central environment's name as shown in the admin center, e.g. "
            "production or sandbox.",
        ),
        help_url=ADMIN_CENTER_URL,
        default="production",
        max_length=30,
    ),
    CredentialField(
        name="company",
        label=Text("Selskap", "Company"),
        kind="text",
        pattern=r"^\S.{0,29}$",
        pattern_message=Text(
            "Skriv selskapets navn nøyaktig slik det står i Business Central (høyst 30 tegn).",
            "Enter the company's name exactly as in Business Central (at most 30 characters).",
        ),
        help=Text(
            "Selskapets navn, f.eks. «CRONUS Norge AS». Appen må være aktivert på siden "
            "Microsoft Entra-applikasjoner og ha tillatelsessett for selskapet.",
            "The company's name, e.g. “CRONUS Norge AS”. The app must be enabled on the "
            "Microsoft Entra Applications page and have permission sets for the company.",
        ),
        help_url=ENTRA_APPS_PAGE_URL,
        max_length=30,
    ),
    CredentialField(
        name="journal",
        label=Text("Kladd (finanskladdnavn)", "Journal (batch name)"),
        kind="text",
        pattern=JOURNAL_PATTERN,
        pattern_message=Text(
            "Kladdenavnet er høyst 10 tegn, bokstaver og tall, f.eks. LEDGERLINK.",
            "The journal batch name is at most 10 letters and digits, e.g. LEDGERLINK.",
        ),
        help=Text(
            "En finanskladd som bare Ledgerlink bruker. Lag den i Business Central under "
            "Finanskladder → Kladdenavn.",
            "A general journal batch that only Ledgerlink uses. Create it in Business Central "
            "under General Journals → Batch Name.",
        ),
        help_url=JOURNALS_PAGE_URL,
        default="LEDGERLINK",
        max_length=10,
    ),
)

TARGET_FIELDS = (
    TargetField("postingDate", Text("Bokføringsdato", "Posting date"), "date", "voucher", True),
    TargetField(
        "accountNumber",
        Text("Kontonummer", "Account number"),
        "code",
        required=True,
        max_length=20,
        reference="account",
    ),
    TargetField(
        "description",
        Text("Beskrivelse", "Description"),
        "text",
        max_length=DESCRIPTION_LENGTH,
    ),
    TargetField(
        "taxCode",
        Text("Mva-kode", "Tax code"),
        "code",
        max_length=20,
        reference="tax_code",
    ),
    TargetField(
        "department",
        Text("Avdeling (dimensjon)", "Department (dimension)"),
        "code",
        max_length=20,
        reference="dimension",
    ),
    TargetField(
        "project",
        Text("Prosjekt (dimensjon)", "Project (dimension)"),
        "code",
        max_length=20,
        reference="project",
    ),
    TargetField(
        "balancingAccountNumber",
        Text("Motkonto (skyldig utlegg)", "Balancing account (payable)"),
        "code",
        role="balance",
        required=True,
        max_length=20,
        reference="account",
        help=Text(
            "Kontoen kreditlinjen føres på: der godkjente utlegg venter på utbetaling.",
            "The account of the credit line: where approved claims wait to be paid out.",
        ),
    ),
)

TYPE = IntegrationType(
    key="dynamics_bc",
    name=Text("Dynamics 365 Business Central", "Dynamics 365 Business Central"),
    summary=Text(
        "For organisasjoner som fører regnskapet i Business Central. Utleggene føres som "
        "linjer i en egen finanskladd som så bokføres.",
        "For organisations that keep their accounts in Business Central. Claims become lines "
        "in a journal of their own, which is then posted.",
    ),
    credential_fields=CREDENTIAL_FIELDS,
    target_fields=TARGET_FIELDS,
    checks=standard_checks(
        Text("Tilgang til selskapet", "Authorised for the company"),
        Text("Klar til eksport (kladden finnes)", "Ready to export (journal exists)"),
    ),
    allowed_hosts=(LOGIN_HOST, API_HOST),
    batch_limit=100,
    default_mapping=standard_mapping(
        date="postingDate",
        account="accountNumber",
        text="description",
        text_length=DESCRIPTION_LENGTH,
        department="department",
        project="project",
        tax_code="taxCode",
        tax_lookup=BC_TAX_GROUPS,
        balancing_account="balancingAccountNumber",
    ),
    docs_url=ENTRA_APPS_PAGE_URL,
)


# Dimension codes Ledgerlink recognises for the two dimension target fields, in the order
# tried: Norwegian companies name them in Norwegian, W1 companies in English.
DIMENSION_CODES = {
    "department": ("AVDELING", "DEPARTMENT", "AVD"),
    "project": ("PROSJEKT", "PROJECT"),
}
# References per `$filter` when reading back: keeps the URL well under 2,000 characters.
READBACK_CHUNK = 25
LINE_FIELDS = ("postingDate", "accountNumber", "description", "taxCode")
