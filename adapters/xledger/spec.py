"""Xledger's integration type: credential fields (API token, environment, entity code), target
fields and checks, with help in Bokmål and English.
"""

from __future__ import annotations

from adapters.defaults import standard_checks, standard_mapping
from adapters.types import (
    Choice,
    CredentialField,
    IntegrationType,
    TargetField,
    Text,
)

HOSTS = {"production": "www.xledger.net", "demo": "demo.xledger.net"}
API_TOKENS_URL = "https://www.xledger.net/f/api-tokens"
# Xledger's help articles (ACCOUNTING_APIS §1): production vs demo, and a token's entity.
ENVIRONMENTS_URL = "https://xledgerukinternal.zendesk.com/hc/en-us/articles/23682919258514"
ENTITIES_URL = "https://xledgerukinternal.zendesk.com/hc/en-us/articles/8715787519634"

# Xledger's limit on the line text is not published; 250 is what its UI accepts. UNCONFIRMED.
TEXT_LENGTH = 250

TARGET_FIELDS = (
    TargetField(
        "postedDate",
        Text("Bilagsdato", "Posting date"),
        "date",
        role="voucher",
        required=True,
        help=Text("Datoen bilaget føres på i hovedboken.", "The date the voucher is posted on."),
    ),
    TargetField(
        "account",
        Text("Konto", "Account"),
        "code",
        required=True,
        max_length=20,
        reference="account",
        help=Text(
            "Kostnadskontoen hver utgiftslinje debiteres (NS 4102, f.eks. 7140 reisekostnad).",
            "The expense account each expense line debits (NS 4102, e.g. 7140 travel).",
        ),
    ),
    TargetField(
        "text",
        Text("Tekst", "Text"),
        "text",
        max_length=TEXT_LENGTH,
        help=Text("Linjeteksten i hovedboken.", "The line text in the general ledger."),
    ),
    TargetField(
        "glObject1",
        Text("Avdeling", "Department"),
        "code",
        max_length=20,
        reference="dimension",
        help=Text(
            "Fri dimensjon 1 i Xledger, som de fleste bruker til avdeling eller lokallag.",
            "Xledger's free dimension 1, which most organisations use for department or "
            "local branch.",
        ),
    ),
    TargetField(
        "project",
        Text("Prosjekt", "Project"),
        "code",
        max_length=20,
        reference="project",
    ),
    TargetField(
        "taxRule",
        Text("Avgiftskode", "Tax code"),
        "code",
        max_length=10,
        reference="tax_code",
        help=Text(
            "Avgiftskoden (mva) i Xledger; kodene er egne for hver kunde.",
            "The VAT tax rule code in Xledger; codes differ between customers.",
        ),
    ),
    TargetField(
        "balancingAccount",
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
    TargetField(
        "subledger",
        Text("Reskontro (ansatt/leverandør)", "Subledger (employee/supplier)"),
        "code",
        role="balance",
        max_length=20,
        help=Text(
            "Den frivilliges ansatt- eller leverandørnummer, hvis utbetalingen skal gå via "
            "reskontro.",
            "The volunteer's employee or supplier number, if the payout goes through a subledger.",
        ),
    ),
    TargetField(
        "invoiceNumber",
        Text("Fakturanummer", "Invoice number"),
        "text",
        role="voucher",
        max_length=50,
    ),
    TargetField(
        "yourReference",
        Text("Deres referanse", "Your reference"),
        "text",
        role="voucher",
        max_length=100,
    ),
)

TYPE = IntegrationType(
    key="xledger",
    name=Text("Xledger", "Xledger"),
    summary=Text(
        "For organisasjoner som fører regnskapet i Xledger. Bilagene sendes som "
        "hovedbokimport (GL import) med én API-nøkkel.",
        "For organisations that keep their accounts in Xledger. Vouchers are sent as general "
        "ledger import items with one API token.",
    ),
    credential_fields=(
        CredentialField(
            name="api_token",
            label=Text("API-nøkkel", "API token"),
            kind="secret",
            pattern=r"^\S{8,}$",
            pattern_message=Text(
                "Lim inn bare selve nøkkelen, uten «token» foran og uten mellomrom.",
                "Paste only the token itself, without “token” in front and without spaces.",
            ),
            help=Text(
                "En domeneadministrator lager nøkkelen i Xledger under Administrasjon → "
                "Systemtilgang → GraphQL → API-nøkler. Gi den lesetilgang til kontoplan, "
                "prosjekter og dimensjoner og skrivetilgang til hovedbokimport. Nøkkelen vises "
                "bare én gang.",
                "A domain administrator creates the token in Xledger under Administration → "
                "System access → GraphQL → API tokens. Give it read access to the chart of "
                "accounts, projects and dimensions and write access to GL import. The token "
                "is shown only once.",
            ),
            help_url=API_TOKENS_URL,
            max_length=500,
        ),
        CredentialField(
            name="environment",
            label=Text("Miljø", "Environment"),
            kind="select",
            choices=(
                Choice(
                    "production",
                    Text("Produksjon (www.xledger.net)", "Production (www.xledger.net)"),
                ),
                Choice("demo", Text("Demo (demo.xledger.net)", "Demo (demo.xledger.net)")),
            ),
            default="production",
            pattern_message=Text("Velg produksjon eller demo.", "Choose production or demo."),
            help=Text(
                "Nøkler laget i demo virker bare i demo og slettes når demo kopieres fra "
                "produksjon (omtrent hver 14. dag).",
                "Tokens created in demo only work in demo and are deleted when demo is "
                "refreshed from production (about every two weeks).",
            ),
            help_url=ENVIRONMENTS_URL,
        ),
        CredentialField(
            name="entity_code",
            label=Text("Firmakode (valgfri)", "Entity code (optional)"),
            kind="text",
            required=False,
            pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,29}$",
            pattern_message=Text(
                "Firmakoden består av bokstaver og tall, som i Xledger (f.eks. NBF).",
                "The entity code is letters and digits, as shown in Xledger (e.g. NBF).",
            ),
            help=Text(
                "Fyll inn bare hvis bilagene skal til et annet firma enn det nøkkelen ble "
                "laget i, for eksempel en underenhet.",
                "Fill in only when vouchers go to another entity than the one the token was "
                "created in, for example a sub-entity. Example: NBF.",
            ),
            help_url=ENTITIES_URL,
            max_length=30,
        ),
    ),
    target_fields=TARGET_FIELDS,
    default_mapping=standard_mapping(
        date="postedDate",
        account="account",
        text="text",
        text_length=TEXT_LENGTH,
        department="glObject1",
        project="project",
        tax_code="taxRule",
        balancing_account="balancingAccount",
        subledger="subledger",
    ),
    checks=standard_checks(
        Text("Tilgang til firma og kontoplan", "Authorised for the entity"),
        Text("Klar til eksport (hovedbokimport)", "Ready to export (GL import)"),
    ),
    allowed_hosts=tuple(HOSTS.values()),
    batch_limit=500,
    docs_url=API_TOKENS_URL,
)
