"""Tripletex's integration type: credential fields (consumer and employee token, environment,
accountant's client company), target fields and checks, with help in Bokmål and English."""

from __future__ import annotations

from adapters.defaults import standard_checks, standard_mapping
from adapters.types import Choice, CredentialField, IntegrationType, TargetField, Text

HOSTS = {"production": "tripletex.no", "test": "api-test.tripletex.tech"}
# Tripletex's developer documentation (ACCOUNTING_APIS §9 sources); its authentication pages
# describe the three tokens and accountant access.
DOCS_URL = "https://developer.tripletex.no/docs/documentation/"
DESCRIPTION_LENGTH = 255
# `externalVoucherNumber` holds the claim's reference (≤ 70 characters in the 2026 schema).
EXTERNAL_NUMBER_LENGTH = 70
# The voucher type claims are posted as; every Tripletex company has it.
VOUCHER_TYPE = "Reiseregning"

TARGET_FIELDS = (
    TargetField(
        "date",
        Text("Bilagsdato", "Voucher date"),
        "date",
        role="voucher",
        required=True,
        help=Text("Datoen bilaget føres på.", "The date the voucher is posted on."),
    ),
    TargetField(
        "account",
        Text("Konto", "Account"),
        "code",
        required=True,
        max_length=10,
        reference="account",
        help=Text(
            "Kostnadskontoen hver utgiftslinje debiteres (NS 4102, f.eks. 7140 reisekostnad).",
            "The expense account each expense line debits (NS 4102, e.g. 7140 travel).",
        ),
    ),
    TargetField(
        "description",
        Text("Beskrivelse", "Description"),
        "text",
        max_length=DESCRIPTION_LENGTH,
    ),
    TargetField(
        "department", Text("Avdeling", "Department"), "code", max_length=20, reference="dimension"
    ),
    TargetField("project", Text("Prosjekt", "Project"), "code", max_length=20, reference="project"),
    TargetField(
        "vatType",
        Text("Mva-kode", "VAT code"),
        "code",
        max_length=10,
        reference="tax_code",
        help=Text(
            "Mva-koden slik den er nummerert i Tripletex (betydningen kan variere per firma).",
            "The VAT code as Tripletex numbers it (its meaning can differ per company).",
        ),
    ),
    TargetField(
        "balancingAccount",
        Text("Motkonto (skyldig utlegg)", "Balancing account (payable)"),
        "code",
        role="balance",
        required=True,
        max_length=10,
        reference="account",
        help=Text(
            "Kontoen kreditposteringen føres på: der godkjente utlegg venter på utbetaling.",
            "The account of the credit posting: where approved claims wait to be paid out.",
        ),
    ),
)

TYPE = IntegrationType(
    key="tripletex",
    name=Text("Tripletex", "Tripletex"),
    summary=Text(
        "For organisasjoner som fører regnskapet i Tripletex. Hvert utlegg sendes som et "
        "bilag med posteringer, med en forbrukernøkkel og en ansattnøkkel.",
        "For organisations that keep their accounts in Tripletex. Each claim is sent as a "
        "voucher with postings, using a consumer token and an employee token.",
    ),
    credential_fields=(
        CredentialField(
            name="consumer_token",
            label=Text("Forbrukernøkkel (consumer token)", "Consumer token"),
            kind="secret",
            pattern=r"^\S{8,}$",
            pattern_message=Text(
                "Lim inn bare selve nøkkelen, uten mellomrom.",
                "Paste only the token itself, without spaces.",
            ),
            help=Text(
                "Nøkkelen Tripletex ga integrasjonen (Ledgerlink). Den står i velkomst-e-posten "
                "til organisasjonens Ledgerlink-oppsett.",
                "The token Tripletex issued to the integration (Ledgerlink). It is in the "
                "welcome e-mail of your organisation's Ledgerlink setup.",
            ),
            help_url=DOCS_URL,
        ),
        CredentialField(
            name="employee_token",
            label=Text("Ansattnøkkel (employee token)", "Employee token"),
            kind="secret",
            pattern=r"^\S{8,}$",
            pattern_message=Text(
                "Lim inn bare selve nøkkelen, uten mellomrom.",
                "Paste only the token itself, without spaces.",
            ),
            help=Text(
                "En administrator lager den i Tripletex: Innstillinger → Brukere → brukeren → "
                "API-tilgang → Ny nøkkel for Ledgerlink. Brukeren trenger rettighet til å føre "
                "bilag. Nøkkelen vises bare én gang.",
                "An administrator creates it in Tripletex: Settings → Users → the user → API "
                "access → New token for Ledgerlink. The user needs the right to post vouchers. "
                "The token is shown only once.",
            ),
            help_url=DOCS_URL,
        ),
        CredentialField(
            name="environment",
            label=Text("Miljø", "Environment"),
            kind="select",
            choices=(
                Choice(
                    "production", Text("Produksjon (tripletex.no)", "Production (tripletex.no)")
                ),
                Choice(
                    "test",
                    Text("Test (api-test.tripletex.tech)", "Test (api-test.tripletex.tech)"),
                ),
            ),
            default="production",
            pattern_message=Text("Velg produksjon eller test.", "Choose production or test."),
            help=Text(
                "Nøkler fra testmiljøet begynner med «test-» og virker bare der.",
                "Tokens from the test environment start with “test-” and only work there.",
            ),
            help_url=DOCS_URL,
        ),
        CredentialField(
            name="company_id",
            label=Text("Klientens firma-ID (valgfri)", "Client company id (optional)"),
            kind="text",
            required=False,
            pattern=r"^[0-9]{1,12}$",
            pattern_message=Text("Bare sifre, f.eks. 108000.", "Digits only, e.g. 108000."),
            help=Text(
                "Bare for regnskapsførere som fører for organisasjonen: klientens firma-ID. La "
                "feltet stå tomt når nøkkelen hører til organisasjonens eget firma.",
                "Only for accountants keeping the organisation's books: the client's company "
                "id. Leave it empty when the token belongs to the organisation's own company.",
            ),
            help_url=DOCS_URL,
        ),
    ),
    target_fields=TARGET_FIELDS,
    checks=standard_checks(
        Text("Tilgang til firma, kontoplan og mva-koder", "Authorised: company, accounts, VAT"),
        Text("Klar til eksport (bilagstype)", "Ready to export (voucher type)"),
    ),
    allowed_hosts=tuple(HOSTS.values()),
    batch_limit=200,
    default_mapping=standard_mapping(
        date="date",
        account="account",
        text="description",
        text_length=DESCRIPTION_LENGTH,
        department="department",
        project="project",
        tax_code="vatType",
        balancing_account="balancingAccount",
    ),
    docs_url=DOCS_URL,
)
