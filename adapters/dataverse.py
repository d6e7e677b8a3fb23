"""Dynamics 365 through the Dataverse Web API: HLF's portal and its `ll_expenselines` table."""

from __future__ import annotations

from adapters import register
from adapters.base import Adapter
from adapters.defaults import standard_checks, standard_mapping
from adapters.entra import ENTRA_FIELDS, LOGIN_HOST
from adapters.types import CredentialField, IntegrationType, MappingDefault, TargetField, Text

# Environment hosts: {org}.crm{N}.dynamics.com, also the {org}.api.crm{N} form (§3.1).
HOST_PATTERN = r"[a-z0-9][a-z0-9-]*\.(api\.)?crm([0-9]{1,2})?\.dynamics\.com"
ENVIRONMENT_URL_PATTERN = rf"^https://{HOST_PATTERN}/?$"
TABLE_PATTERN = r"^[a-z][a-z0-9_]{1,63}$"
POWER_PLATFORM_URL = "https://admin.powerplatform.microsoft.com/environments"
MAKER_TABLES_URL = "https://make.powerapps.com/"
DESCRIPTION_LENGTH = 200

CREDENTIAL_FIELDS = (
    *ENTRA_FIELDS,
    CredentialField(
        name="environment_url",
        label=Text("Miljøadresse (URL)", "Environment URL"),
        kind="url",
        pattern=ENVIRONMENT_URL_PATTERN,
        pattern_message=Text(
            "Skriv inn miljøets adresse slik den står i Power Platform administrasjonssenter, "
            "f.eks. https://organisasjon.crm4.dynamics.com.",
            "Enter the environment's address as shown in the Power Platform admin center, "
            "e.g. https://organisation.crm4.dynamics.com.",
        ),
        help=Text(
            "Power Platform administrasjonssenter → Miljøer → velg miljøet → «Miljø-URL». "
            "Appregistreringen må være lagt til som applikasjonsbruker der, med en "
            "sikkerhetsrolle.",
            "Power Platform admin center → Environments → choose the environment → "
            "“Environment URL”. The app registration must be added there as an application "
            "user, with a security role.",
        ),
        help_url=POWER_PLATFORM_URL,
        max_length=200,
    ),
    CredentialField(
        name="table",
        label=Text("Tabell (entitetssett)", "Table (entity set)"),
        kind="text",
        pattern=TABLE_PATTERN,
        pattern_message=Text(
            "Skriv tabellens entitetssettnavn med små bokstaver, f.eks. ll_expenselines.",
            "Enter the table's entity set name in lower case, e.g. ll_expenselines.",
        ),
        help=Text(
            "Ledgerlink-løsningen lager tabellen ll_expenselines. Endre bare hvis "
            "organisasjonen bruker en egen tabell; navnet står under Tabeller → tabellen → "
            "Egenskaper → «Navn på entitetssett».",
            "The Ledgerlink solution creates the table ll_expenselines. Change it only when "
            "your organisation uses its own table; the name is under Tables → the table → "
            "Properties → “Entity set name”.",
        ),
        help_url=MAKER_TABLES_URL,
        default="ll_expenselines",
        max_length=64,
    ),
)

TARGET_FIELDS = (
    TargetField("ll_date", Text("Bilagsdato", "Posting date"), "date", "voucher", True),
    TargetField(
        "ll_accountnumber",
        Text("Kontonummer", "Account number"),
        "code",
        required=True,
        max_length=20,
        help=Text(
            "Kostnadskontoen hver utgiftslinje føres på (NS 4102).",
            "The expense account of each expense line (NS 4102).",
        ),
    ),
    TargetField(
        "ll_description",
        Text("Beskrivelse", "Description"),
        "text",
        max_length=DESCRIPTION_LENGTH,
    ),
    TargetField("ll_department", Text("Avdeling", "Department"), "code", max_length=20),
    TargetField("ll_project", Text("Prosjekt", "Project"), "code", max_length=20),
    TargetField("ll_vatcode", Text("Mva-kode", "VAT code"), "code", max_length=10),
    TargetField(
        "ll_vouchernumber",
        Text("Bilagsnummer", "Voucher number"),
        "text",
        role="voucher",
        max_length=20,
        help=Text(
            "Nummeret regnskapet kjenner bilaget igjen på, vanligvis utleggets nummer.",
            "The number the accounts know the voucher by, usually the claim's number.",
        ),
    ),
    TargetField(
        "ll_balancingaccount",
        Text("Motkonto (skyldig utlegg)", "Balancing account (payable)"),
        "code",
        role="balance",
        required=True,
        max_length=20,
    ),
)

TYPE = IntegrationType(
    key="dynamics_dataverse",
    name=Text("Dynamics 365 (Dataverse)", "Dynamics 365 (Dataverse)"),
    summary=Text(
        "For organisasjoner med en Dynamics 365-portal (Dataverse), som HLF. Utleggslinjene "
        "skrives til en tabell i miljøet, og regnskapet henter dem derfra.",
        "For organisations with a Dynamics 365 portal (Dataverse), such as HLF. Expense lines "
        "are written to a table in the environment, where the accounts pick them up.",
    ),
    credential_fields=CREDENTIAL_FIELDS,
    target_fields=TARGET_FIELDS,
    checks=standard_checks(
        Text("Tilgang til miljøet", "Authorised for the environment"),
        Text("Klar til eksport (tabellen finnes)", "Ready to export (table exists)"),
    ),
    allowed_hosts=(LOGIN_HOST, f"re:{HOST_PATTERN}"),
    batch_limit=100,
    default_mapping=standard_mapping(
        date="ll_date",
        account="ll_accountnumber",
        text="ll_description",
        text_length=DESCRIPTION_LENGTH,
        department="ll_department",
        project="ll_project",
        tax_code="ll_vatcode",
        balancing_account="ll_balancingaccount",
        extra=(
            MappingDefault(
                "ll_vouchernumber", "field", "claim.claim_number", transforms=(("truncate", "20"),)
            ),
        ),
    ),
    docs_url=POWER_PLATFORM_URL,
    # The HLF table holds no chart of accounts, so there is nothing to check codes against.
    extra={"reference_kinds": ()},
)


class DataverseAdapter(Adapter):
    type = TYPE


register(DataverseAdapter)
