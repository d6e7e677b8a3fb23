"""The texts of mapping and claim problems (Bokmål and English), and the helpers that fill them
in.
"""

from __future__ import annotations

from adapters.types import IntegrationType, Text

# fmt: off
# Messages. Validation messages are prefixed with the target field's label; claim messages
# with "Expense claim N, line M – Label:". Braces are doubled for Text.format.
_E_UNKNOWN_TARGET = Text(
    "«{target}» er ikke et felt i {system}. Fjern raden, eller velg et av feltene {system} har.",
    "“{target}” is not a field in {system}. Remove the row, or choose one of {system}'s fields.")
_E_AMOUNT = Text(
    "Beløpet regnes ut fra linjene på reiseregningen og kan ikke kobles. Fjern raden.",
    "The amount is calculated from the claim's lines and cannot be mapped. Remove the row.")
_E_DUPLICATE = Text(
    "Feltet er koblet mer enn én gang. Behold én rad og fjern de andre.",
    "This field is mapped more than once. Keep one row and remove the others.")
_E_REQUIRED = Text(
    "{label} er påkrevd i {system}, men har ingen kilde. Velg et felt, en fast verdi, en "
    "oppslagstabell eller en mal. Feltkoblingen kan ikke lagres før dette er gjort.",
    "{label} is required by {system} but has no source. Choose a field, a constant, a lookup "
    "table or a template. The mapping cannot be saved until this is done.")
_E_KIND = Text(
    "Ukjent kildetype «{kind}». Velg felt, fast verdi, oppslagstabell eller mal.",
    "Unknown source type “{kind}”. Choose field, constant, lookup table or template.")
_E_NO_FIELD = Text(
    "Ingen kilde er valgt. Velg hvilket felt fra reiseregningen som skal brukes.",
    "No source is chosen. Choose which field of the expense claim to use.")
_E_UNKNOWN_FIELD = Text(
    "Kildefeltet «{field}» finnes ikke. Velg et felt fra listen over felt på reiseregningen.",
    "The source field “{field}” does not exist. Choose a field from the list of expense claim "
    "fields.")
_E_TYPE = Text(
    "«{source}» er {vtype}, men {system} venter {ttype} her. Velg et annet felt, eller bruk en "
    "fast verdi.",
    "“{source}” is {vtype}, but {system} expects {ttype} here. Choose another field, or use a "
    "constant.")
_E_SCOPE = Text(
    "«{source}» hører til hver utgiftslinje, men dette feltet står på {where}. Velg et felt "
    "fra selve reiseregningen, eller en fast verdi.",
    "“{source}” belongs to each expense line, but this field is on {where}. Choose a field of "
    "the claim itself, or a constant.")
_E_CONST_EMPTY = Text(
    "{what}Verdien er tom. Skriv inn en verdi, eller fjern raden.",
    "{what}The value is empty. Enter a value, or remove the row.")
_E_NOT_NUMBER = Text(
    "{what}«{value}» er ikke et tall. Skriv et tall som 125,50.",
    "{what}“{value}” is not a number. Enter a number such as 125.50.")
_E_TOO_BIG = Text(
    "{what}«{value}» er for stort. Skriv et tall under 1 000 000 000 000.",
    "{what}“{value}” is too large. Enter a number below 1,000,000,000,000.")
_E_NOT_INTEGER = Text(
    "{what}«{value}» er ikke et heltall. Skriv bare sifre, for eksempel 1500.",
    "{what}“{value}” is not a whole number. Enter digits only, for example 1500.")
_E_NOT_DATE = Text(
    "{what}«{value}» er ikke en dato. Skriv datoen som ÅÅÅÅ-MM-DD eller DD.MM.ÅÅÅÅ, for "
    "eksempel 2025-03-31.",
    "{what}“{value}” is not a date. Write the date as YYYY-MM-DD or DD.MM.YYYY, for example "
    "2025-03-31.")
_E_NOT_CODE = Text(
    "{what}«{value}» er ikke en gyldig kode. En kode har bare bokstaver, sifre og tegnene "
    ". - _ / uten mellomrom. Skriv koden slik den står i {system}, for eksempel 6860.",
    "{what}“{value}” is not a valid code. A code has only letters, digits and the characters "
    ". - _ / without spaces. Enter the code as it appears in {system}, for example 6860.")
_E_CONST_TOO_LONG = Text(
    "{what}«{value}» har {length} tegn, men {system} tillater høyst {max} her. Forkort verdien.",
    "{what}“{value}” has {length} characters, but {system} allows at most {max} here. Shorten "
    "the value.")
_E_LOOKUP_NO_FIELD = Text(
    "Velg hvilket felt fra reiseregningen som skal slås opp i tabellen, for eksempel "
    "utgiftstype.",
    "Choose which field of the expense claim to look up in the table, for example expense "
    "type.")
_E_LOOKUP_EMPTY = Text(
    "Oppslagstabellen er tom og har ingen standardverdi. Legg til minst én rad (for eksempel "
    "utgiftstype → konto), eller velg en annen kilde.",
    "The lookup table is empty and has no default. Add at least one row (for example expense "
    "type → account), or choose another source.")
_E_LOOKUP_SHAPE = Text(
    "Oppslagstabellen er ikke en liste med par av nøkkel og verdi. Bygg tabellen på nytt.",
    "The lookup table is not a list of key and value pairs. Build the table again.")
_E_LOOKUP_NO_KEY = Text(
    "En rad i oppslagstabellen mangler nøkkel. Fyll inn nøkkelen, eller fjern raden.",
    "A row of the lookup table has no key. Fill in the key, or remove the row.")
_E_LOOKUP_DUP = Text(
    "Nøkkelen «{key}» står mer enn én gang i oppslagstabellen. Behold én av radene.",
    "The key “{key}” appears more than once in the lookup table. Keep one of the rows.")
_W_LOOKUP_ROW = Text("I oppslagstabellen for «{key}»: ", "In the lookup table for “{key}”: ")
_W_LOOKUP_DEFAULT = Text("Standardverdien i oppslagstabellen: ", "The lookup table's default: ")
_W_DEFAULT = Text("Standardverdien når feltet er tomt: ", "The default when empty: ")
_E_TEMPLATE_EMPTY = Text(
    "Malen er tom. Skriv en tekst, for eksempel «Reiseregning {{claim.claim_number}} – "
    "{{claim.claimant_name}}».",
    "The template is empty. Write a text, for example “Expense claim {{claim.claim_number}} – "
    "{{claim.claimant_name}}”.")
_E_TEMPLATE_SYNTAX = Text(
    "Malen har en krøllparentes som ikke er lukket. Skriv feltnavn i krøllparenteser, som "
    "{{claim.claim_number}}, og skriv {{{{ eller }}}} for en krøllparentes i selve teksten.",
    "The template has a brace that is not closed. Put field names in braces, such as "
    "{{claim.claim_number}}, and write {{{{ or }}}} for a brace in the text itself.")
_E_TEMPLATE_BLANK = Text(
    "Malen har tomme krøllparenteser {{}}. Skriv et feltnavn i dem, for eksempel "
    "{{claim.claim_number}}.",
    "The template has empty braces {{}}. Put a field name in them, for example "
    "{{claim.claim_number}}.")
_E_TEMPLATE_FIELD = Text(
    "Malen bruker «{name}», som ikke er et felt på reiseregningen. Bruk for eksempel "
    "{{claim.claim_number}}, {{claim.claimant_name}} eller {{line.description}}.",
    "The template uses “{name}”, which is not a field of the expense claim. Use for example "
    "{{claim.claim_number}}, {{claim.claimant_name}} or {{line.description}}.")
_E_TEMPLATE_CONVERSION = Text(
    "Malen har «!{conversion}» etter «{name}», og det støttes ikke. Fjern «!{conversion}».",
    "The template has “!{conversion}” after “{name}”, which is not supported. Remove "
    "“!{conversion}”.")
_E_TEMPLATE_SPEC = Text(
    "Formatet «{spec}» passer ikke til «{name}». Fjern det, eller bruk for eksempel "
    "{{line.date:%d.%m.%Y}}.",
    "The format “{spec}” does not suit “{name}”. Remove it, or use for example "
    "{{line.date:%d.%m.%Y}}.")
_E_TEMPLATE_TARGET = Text(
    "En mal gir tekst, men {system} venter {ttype} her. Bruk et felt, en fast verdi eller en "
    "oppslagstabell.",
    "A template gives text, but {system} expects {ttype} here. Use a field, a constant or a "
    "lookup table.")
_E_TRANSFORMS_SHAPE = Text(
    "Omformingene er ikke en liste over navn og verdier. Velg dem på nytt.",
    "The transforms are not a list of names and values. Choose them again.")
_E_TRANSFORM_UNKNOWN = Text(
    "Ukjent omforming «{name}». Bruk datoformat, fortegn, avrunding, avkorting eller "
    "standardverdi.",
    "Unknown transform “{name}”. Use date format, sign, rounding, truncation or default.")
_E_DATE_FORMAT_TYPE = Text(
    "Datoformat kan bare brukes på datoer, men verdien er {vtype}. Fjern datoformatet.",
    "A date format only applies to dates, but the value is {vtype}. Remove the date format.")
_E_DATE_FORMAT_TARGET = Text(
    "Datoformat gir tekst, men {system} venter {ttype} her. Fjern datoformatet.",
    "A date format gives text, but {system} expects {ttype} here. Remove the date format.")
_E_DATE_FORMAT_BAD = Text(
    "Datoformatet «{option}» er ugyldig. Bruk koder som %Y-%m-%d (2025-03-31) eller %d.%m.%Y "
    "(31.03.2025).",
    "The date format “{option}” is not valid. Use codes such as %Y-%m-%d (2025-03-31) or "
    "%d.%m.%Y (31.03.2025).")
_E_SIGN_BAD = Text(
    "Fortegn må være «negate» (snu fortegnet) eller «keep» (behold), ikke «{option}».",
    "Sign must be “negate” (flip the sign) or “keep”, not “{option}”.")
_E_SIGN_TYPE = Text(
    "Fortegn kan bare brukes på tall, men verdien er {vtype}. Fjern omformingen.",
    "Sign only applies to numbers, but the value is {vtype}. Remove the transform.")
_E_ROUND_BAD = Text(
    "Avrunding må være et antall desimaler fra 0 til 6, for eksempel 2, ikke «{option}».",
    "Rounding must be a number of decimal places from 0 to 6, for example 2, not “{option}”.")
_E_ROUND_TYPE = Text(
    "Avrunding kan bare brukes på desimaltall, men verdien er {vtype}. Fjern omformingen.",
    "Rounding only applies to decimal numbers, but the value is {vtype}. Remove the "
    "transform.")
_E_TRUNCATE_BAD = Text(
    "Avkorting må være «on», «off» eller en lengde fra 1 til {max}, ikke «{option}».",
    "Truncation must be “on”, “off” or a length from 1 to {max}, not “{option}”.")
_E_TRUNCATE_TYPE = Text(
    "Avkorting gjelder bare tekst og koder, men {system} venter {ttype} her. Fjern "
    "omformingen.",
    "Truncation only applies to text and codes, but {system} expects {ttype} here. Remove the "
    "transform.")

_F_REQUIRED_EMPTY = Text(
    "Feltet er påkrevd, men «{source}» mangler verdi. Fyll inn «{source}» i utleggsappen, "
    "eller legg til en standardverdi i feltkoblingen.",
    "This field is required, but “{source}” is empty. Fill in “{source}” in the expense app, "
    "or add a default in the field mapping.")
_F_REQUIRED_TEMPLATE = Text(
    "Feltet er påkrevd, men malen ga ingen tekst. Endre malen, eller legg til en standardverdi "
    "i feltkoblingen.",
    "This field is required, but the template gave no text. Change the template, or add a "
    "default in the field mapping.")
_F_UNMATCHED = Text(
    "«{key}» fra «{source}» finnes ikke i oppslagstabellen, og tabellen har ingen "
    "standardverdi. Legg til «{key}» i tabellen, eller gi tabellen en standardverdi.",
    "“{key}” from “{source}” is not in the lookup table, and the table has no default. Add "
    "“{key}” to the table, or give the table a default.")
_F_TOO_LONG = Text(
    "«{value}» har {length} tegn, men {system} tillater høyst {max}. Slå på avkorting i "
    "feltkoblingen, eller forkort verdien i utleggsappen.",
    "“{value}” has {length} characters, but {system} allows at most {max}. Turn on truncation "
    "in the field mapping, or shorten the value in the expense app.")
_F_NOT_INTEGER = Text(
    "«{value}» er ikke et heltall, men {system} venter et heltall her. Rett verdien i "
    "utleggsappen, eller bruk en oppslagstabell.",
    "“{value}” is not a whole number, but {system} expects one here. Correct the value in the "
    "expense app, or use a lookup table.")
_F_NOT_NUMBER = Text(
    "«{value}» i «{source}» er ikke et tall. Rett verdien i utleggsappen.",
    "“{value}” in “{source}” is not a number. Correct the value in the expense app.")
_F_TOO_BIG = Text(
    "«{value}» i «{source}» er urimelig stort. Rett verdien i utleggsappen.",
    "“{value}” in “{source}” is implausibly large. Correct the value in the expense app.")
_F_NOT_DATE = Text(
    "«{value}» i «{source}» er ikke en dato. Rett datoen i utleggsappen.",
    "“{value}” in “{source}” is not a date. Correct the date in the expense app.")
_F_NO_AMOUNT = Text(
    "Linjen har ikke noe beløp. Fyll inn beløpet i utleggsappen.",
    "The line has no amount. Fill in the amount in the expense app.")
_F_NO_ID = Text(
    "Reiseregningen mangler id og kan ikke eksporteres. Kontakt brukerstøtte.",
    "The expense claim has no id and cannot be exported. Contact support.")
_F_NO_LINES = Text(
    "Reiseregningen har ingen linjer, så det er ingenting å føre. Sjekk reiseregningen i "
    "utleggsappen.",
    "The expense claim has no lines, so there is nothing to post. Check the claim in the "
    "expense app.")
_F_TOO_MANY_LINES = Text(
    "Reiseregningen har {count} linjer, men {system} tar imot høyst {limit} linjer i ett "
    "bilag. Del reiseregningen i flere i utleggsappen.",
    "The expense claim has {count} lines, but {system} accepts at most {limit} lines in one "
    "voucher. Split the claim into several in the expense app.")
_F_MAPPING = Text(
    "Feltkoblingen har feil og må rettes før eksport: {message}",
    "The field mapping has errors that must be fixed before export: {message}")
_F_TIME_ZONE = Text(
    "Tidssonen «{tz}» er ukjent. Velg en gyldig tidssone for organisasjonen, for eksempel "
    "Europe/Oslo.",
    "The time zone “{tz}” is unknown. Choose a valid time zone for the organisation, for "
    "example Europe/Oslo.")
_F_REFERENCE = Text(
    "Kan ikke lage eksportreferansen for integrasjon «{integration}» og reiseregning "
    "«{claim}». Kontakt brukerstøtte.",
    "Cannot build the export reference for integration “{integration}” and claim “{claim}”. "
    "Contact support.")
_F_UNEXPECTED = Text(
    "En uventet feil stoppet denne reiseregningen ({error}). De andre ble eksportert som "
    "vanlig. Kontakt brukerstøtte.",
    "An unexpected error stopped this expense claim ({error}). The others were exported as "
    "usual. Contact support.")


def _fmt(template: Text, **values: object) -> Text:
    """Format both halves; `Text` values contribute their own language's half."""
    nb = {k: v.nb if isinstance(v, Text) else v for k, v in values.items()}
    en = {k: v.en if isinstance(v, Text) else v for k, v in values.items()}
    return Text(template.nb.format(**nb), template.en.format(**en))


def _label(itype: IntegrationType, target: str) -> Text:
    for tf in itype.target_fields:
        if tf.name == target:
            return tf.label
    return Text(target, target)


def _prefixed(label: Text, detail: Text) -> Text:
    return Text(f"{label.nb}: {detail.nb}", f"{label.en}: {detail.en}")


def _show(value: object, limit: int = 40) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
