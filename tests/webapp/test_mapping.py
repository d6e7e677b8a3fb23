"""The field mapping resolver (webapp/mapping.py): pure functions, no Flask, no database.

Most tests use a small synthetic integration type built here, so they pin the resolver's
rules rather than one provider's field list; the last section runs the three real types'
default mappings on demo-like claims.
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import ROUND_HALF_UP, Decimal
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import adapters
from adapters.types import IntegrationType, MappingDefault, TargetField, Text, Voucher
from webapp.mapping import (
    AMOUNT,
    CATALOGUE,
    ClaimData,
    ClaimError,
    LineData,
    MappingPlan,
    MappingRow,
    closest_codes,
    compile_mapping,
    reference_for,
    resolve_claim,
    resolve_claims,
    rows_from_defaults,
    rows_from_models,
    used_codes,
    validate_mapping,
    validate_row,
)

OERE = Decimal("0.01")
UTC = dt.UTC


def target(name, data_type, role="line", required=False, max_length=None, reference=None):
    return TargetField(
        name,
        Text(f"Felt {name}", f"Field {name}"),
        data_type,
        role=role,
        required=required,
        max_length=max_length,
        reference=reference,
    )


def make_type(*fields: TargetField, batch_limit: int = 500, defaults=()) -> IntegrationType:
    return IntegrationType(
        key="test",
        name=Text("Testsystemet", "Test system"),
        summary=Text("Et system for tester.", "A system for tests."),
        credential_fields=(),
        target_fields=tuple(fields),
        checks=(),
        allowed_hosts=(),
        batch_limit=batch_limit,
        default_mapping=tuple(defaults),
    )


TYPE = make_type(
    target("posted", "date", role="voucher", required=True),
    target("account", "code", required=True, max_length=10, reference="account"),
    target("text", "text", max_length=60),
    target("dept", "code", max_length=10, reference="dimension"),
    target("project", "code", max_length=10, reference="project"),
    target("vat", "code", max_length=4, reference="tax_code"),
    target("km", "decimal"),
    target("quantity", "integer"),
    target("due", "date"),
    target("payable", "code", role="balance", required=True, max_length=10, reference="account"),
    target("subledger", "code", role="balance", max_length=10),
    target("docno", "code", role="voucher", max_length=12),
)
ACCOUNTS = (("mileage", "7100"), ("travel", "7140"), ("meals", "7150"))
ROWS = [
    MappingRow("posted", "field", "claim.approved_at"),
    MappingRow("account", "lookup", "line.expense_type", lookup=ACCOUNTS, lookup_default="7790"),
    MappingRow("text", "template", "Reiseregning {claim.claim_number} – {claim.claimant_name}"),
    MappingRow("dept", "field", "line.department"),
    MappingRow("vat", "field", "line.vat_code", transforms={"default": "0"}),
    MappingRow("payable", "constant", "2910"),
    MappingRow("subledger", "field", "claim.claimant_number"),
]


def line(amount: object = "100.00", **kw) -> LineData:
    if isinstance(amount, str):
        amount = Decimal(amount)
    values = dict(date=dt.date(2025, 3, 30), expense_type="travel", amount=amount)
    values.update(kw)
    return LineData(**values)


def claim(*lines: LineData, **kw) -> ClaimData:
    values = dict(
        id=42,
        claim_number="RR-1001",
        claimant_name="Kari Nordmann",
        claimant_number="20042",
        purpose="Styremøte",
        department="100",
        approved_at=dt.datetime(2025, 3, 31, 12, 0, tzinfo=UTC),
        lines=lines or (line(),),
    )
    values.update(kw)
    return ClaimData(**values)


def resolve(rows, c, itype=TYPE, **kw):
    kw.setdefault("integration_id", 7)
    return resolve_claim(itype, rows, c, **kw)


def voucher(rows, c, itype=TYPE, **kw) -> Voucher:
    result = resolve(rows, c, itype, **kw)
    assert isinstance(result, Voucher), result
    return result


def errors(rows, c, itype=TYPE, **kw) -> list[ClaimError]:
    result = resolve(rows, c, itype, **kw)
    assert isinstance(result, list) and result, result
    assert all(isinstance(e, ClaimError) for e in result)
    return result


def with_row(row: MappingRow, rows=ROWS) -> list[MappingRow]:
    return [r for r in rows if r.target != row.target] + [row]


def with_rows(*new: MappingRow) -> list[MappingRow]:
    rows = ROWS
    for row in new:
        rows = with_row(row, rows)
    return rows


def both(text: Text) -> str:
    return f"{text.nb} | {text.en}"


# --- the voucher ------------------------------------------------------------------------------


def test_one_debit_line_per_claim_line_and_a_balancing_line_last() -> None:
    c = claim(line("100.00"), line("50.50", expense_type="mileage", department="200"))
    v = voucher(ROWS, c)
    assert v.claim_id == 42 and v.number == 42
    assert v.reference == "LL-7-42" == reference_for(7, 42)
    debit1, debit2, balance = v.lines
    assert debit1 == {
        "posted": dt.date(2025, 3, 31),
        "account": "7140",
        "text": "Reiseregning RR-1001 – Kari Nordmann",
        "dept": "100",
        "vat": "0",
        "amount": Decimal("100.00"),
    }
    assert debit2["account"] == "7100" and debit2["dept"] == "200"
    assert balance == {
        "posted": dt.date(2025, 3, 31),
        "payable": "2910",
        "subledger": "20042",
        "amount": Decimal("-150.50"),
    }
    assert v.total == 0


def test_amounts_are_rounded_half_up_to_oere_and_the_balance_takes_the_rounded_sum() -> None:
    c = claim(line("0.005"), line("0.005"), line("-0.005"), line("10.004"))
    v = voucher(ROWS, c)
    amounts = [ln[AMOUNT] for ln in v.lines]
    assert amounts == [Decimal(a) for a in ("0.01", "0.01", "-0.01", "10.00", "-10.01")]
    assert sum(amounts) == 0
    assert all(a.as_tuple().exponent == -2 for a in amounts)


def test_a_zero_total_gives_a_positive_zero_balance() -> None:
    v = voucher(ROWS, claim(line("-0.001"), line("0.00")))
    assert [str(ln[AMOUNT]) for ln in v.lines] == ["0.00", "0.00", "0.00"]


def test_voucher_fields_go_on_every_line_balance_fields_only_on_the_last() -> None:
    rows = [*ROWS, MappingRow("docno", "field", "claim.claim_number")]
    v = voucher(rows, claim(line(), line()))
    assert all(ln["docno"] == "RR-1001" and ln["posted"] for ln in v.lines)
    assert all("payable" not in ln and "subledger" not in ln for ln in v.lines[:-1])
    assert all("account" not in ln for ln in v.lines[-1:])


def test_an_empty_optional_field_is_left_out_of_the_line() -> None:
    v = voucher(ROWS, claim(line(), claimant_number="", department=""))
    assert "dept" not in v.lines[0]
    assert "subledger" not in v.lines[-1]


def test_approval_time_becomes_the_date_in_the_organisations_time_zone() -> None:
    late = claim(approved_at=dt.datetime(2025, 3, 31, 22, 30, tzinfo=UTC))
    assert voucher(ROWS, late).lines[0]["posted"] == dt.date(2025, 4, 1)
    assert voucher(ROWS, late, tz="UTC").lines[0]["posted"] == dt.date(2025, 3, 31)
    # Summer time: 22:30 UTC is 00:30 in Oslo in July, 23:30 in January.
    july = claim(approved_at=dt.datetime(2025, 7, 1, 22, 30, tzinfo=UTC))
    january = claim(approved_at=dt.datetime(2025, 1, 1, 22, 30, tzinfo=UTC))
    assert voucher(ROWS, july).lines[0]["posted"] == dt.date(2025, 7, 2)
    assert voucher(ROWS, january).lines[0]["posted"] == dt.date(2025, 1, 1)


def test_a_lines_department_and_project_fall_back_to_the_claims() -> None:
    rows = with_row(MappingRow("project", "field", "line.project"))
    c = claim(line(department="", project=""), line(department="300"), project="P-1")
    v = voucher(rows, c)
    assert [ln.get("dept") for ln in v.lines[:2]] == ["100", "300"]
    assert [ln.get("project") for ln in v.lines[:2]] == ["P-1", "P-1"]


def test_the_amount_cannot_be_mapped() -> None:
    itype = make_type(*TYPE.target_fields, target(AMOUNT, "decimal"))
    message = validate_row(itype, MappingRow(AMOUNT, "constant", "5"))
    assert message and "kan ikke kobles" in message.nb and "cannot be mapped" in message.en


# --- sources ------------------------------------------------------------------------------------


def test_catalogue_declares_the_app_fields_with_types_and_labels() -> None:
    assert {name: kind for name, (kind, _label) in CATALOGUE.items()} == {
        "claim.claim_number": "text",
        "claim.claimant_name": "text",
        "claim.claimant_email": "text",
        "claim.claimant_number": "code",
        "claim.purpose": "text",
        "claim.department": "code",
        "claim.project": "code",
        "claim.approved_at": "date",
        "claim.submitted_at": "date",
        "line.date": "date",
        "line.expense_type": "code",
        "line.amount": "decimal",
        "line.km": "decimal",
        "line.description": "text",
        "line.department": "code",
        "line.project": "code",
        "line.vat_code": "code",
    }
    for _kind, label in CATALOGUE.values():
        assert label.nb and label.en


def test_field_sources_of_each_type() -> None:
    rows = [
        *ROWS,
        MappingRow("km", "field", "line.km"),
        MappingRow("due", "field", "line.date"),
        MappingRow("quantity", "field", "claim.claimant_number"),
        MappingRow("project", "field", "claim.project"),
    ]
    c = claim(line(km=Decimal("12.345"), date=dt.date(2025, 2, 3)), project=" P-7 ")
    debit = voucher(rows, c).lines[0]
    assert debit["km"] == Decimal("12.35")
    assert debit["due"] == dt.date(2025, 2, 3)
    assert debit["quantity"] == 20042 and type(debit["quantity"]) is int
    assert debit["project"] == "P-7"


def test_dates_and_numbers_written_into_a_text_field() -> None:
    rows = with_row(MappingRow("text", "field", "line.date"))
    assert voucher(rows, claim()).lines[0]["text"] == "2025-03-30"
    rows = with_row(MappingRow("text", "field", "line.km"))
    assert voucher(rows, claim(line(km=Decimal("1E+1")))).lines[0]["text"] == "10.00"
    # A number is not a code, though.
    message = validate_row(TYPE, MappingRow("dept", "field", "line.amount"))
    assert message and "«Beløp» er et tall, men Testsystemet venter en kode her" in message.nb


def test_constants_are_typed_for_their_target() -> None:
    rows = with_rows(
        MappingRow("km", "constant", "1 250,5"),
        MappingRow("quantity", "constant", "-3"),
        MappingRow("due", "constant", "31.03.2025"),
        MappingRow("text", "constant", "Utlegg"),
    )
    debit = voucher(rows, claim()).lines[0]
    assert debit["km"] == Decimal("1250.5")
    assert debit["quantity"] == -3
    assert debit["due"] == dt.date(2025, 3, 31)
    assert debit["text"] == "Utlegg"


def test_lookup_is_case_insensitive_and_falls_back_to_its_default() -> None:
    c = claim(line(expense_type=" Travel "), line(expense_type="parking"))
    assert [ln.get("account") for ln in voucher(ROWS, c).lines] == ["7140", "7790", None]


def test_an_unmatched_lookup_key_without_a_default_is_a_claim_error_naming_key_and_field() -> None:
    rows = with_row(MappingRow("account", "lookup", "line.expense_type", lookup=ACCOUNTS))
    c = claim(line(), line(expense_type="taxi"))
    [error] = errors(rows, c)
    assert error.target == "account" and error.line == 2
    assert error.claim_id == 42 and error.claim_number == "RR-1001"
    assert "«taxi»" in error.message.nb and "“taxi”" in error.message.en
    assert "Felt account" in error.message.nb and "Field account" in error.message.en
    assert "RR-1001, linje 2" in error.message.nb and "RR-1001, line 2" in error.message.en
    assert "Legg til «taxi» i tabellen" in error.message.nb


def test_an_empty_lookup_key_uses_the_lookup_default_or_the_empty_default() -> None:
    table = (("100", "A100"), ("200", "A200"))
    rows = with_row(MappingRow("dept", "lookup", "line.department", lookup=table))
    c = claim(line(department=""), department="")
    assert "dept" not in voucher(rows, c).lines[0]
    with_default = MappingRow("dept", "lookup", "line.department", table, "ZZ")
    assert voucher(with_row(with_default), c).lines[0]["dept"] == "ZZ"
    empty_default = MappingRow("dept", "lookup", "line.department", table, None, {"default": "E"})
    assert voucher(with_row(empty_default), c).lines[0]["dept"] == "E"


def test_lookup_keyed_by_a_date_or_a_number() -> None:
    by_date = MappingRow("dept", "lookup", "line.date", (("2025-03-30", "D1"),), "D0")
    by_km = MappingRow("vat", "lookup", "line.km", (("12,5", "V1"),), "V0")
    c = claim(line(km=Decimal("12.50")), line(date=dt.date(2025, 1, 1)))
    lines = voucher(with_row(by_km, with_row(by_date)), c).lines
    assert [ln["dept"] for ln in lines[:2]] == ["D1", "D0"]
    assert [ln["vat"] for ln in lines[:2]] == ["V1", "V0"]


def test_templates_with_qualified_unqualified_and_formatted_fields() -> None:
    template = "{claim_number}/{description}: {line.date:%d.%m.%Y} {amount} {{kr}}"
    rows = with_row(MappingRow("text", "template", template))
    c = claim(line("12.5", description="Taxi"), line(description="Buss"))
    texts = [ln["text"] for ln in voucher(rows, c).lines[:2]]
    assert texts == [
        "RR-1001/Taxi: 30.03.2025 12.50 {kr}",
        "RR-1001/Buss: 30.03.2025 100.00 {kr}",
    ]


def test_a_template_with_empty_fields_is_trimmed_and_a_blank_one_is_empty() -> None:
    rows = with_row(MappingRow("text", "template", "{claim.purpose} {claim.claimant_email}"))
    assert voucher(rows, claim(purpose="Kurs")).lines[0]["text"] == "Kurs"
    assert "text" not in voucher(rows, claim(purpose="")).lines[0]


def test_a_template_survives_missing_and_odd_values() -> None:
    rows = with_row(MappingRow("text", "template", "{claim_number}-{claimant_name}"))
    odd = SimpleNamespace(**{**vars_of(claim()), "claim_number": None, "claimant_name": 12})
    assert voucher(rows, odd).lines[0]["text"] == "-12"


def test_a_formatted_template_field_survives_odd_values() -> None:
    rows = with_row(MappingRow("text", "template", "[{claim_number:>6}] {line.amount:.1f}"))
    odd = SimpleNamespace(**{**vars_of(claim()), "claim_number": object()})
    assert voucher(rows, odd).lines[0]["text"].startswith("[<object object")
    plain = voucher(rows, claim(claim_number="R1")).lines[0]["text"]
    assert plain == "[    R1] 100.0"


def vars_of(c: ClaimData) -> dict[str, object]:
    return {name: getattr(c, name) for name in ClaimData.__dataclass_fields__}


# --- transforms ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "expected"), [("%Y-%m-%d", "2025-03-31"), ("%d.%m.%Y", "31.03.2025")]
)
def test_date_format_gives_the_providers_format(pattern: str, expected: str) -> None:
    rows = with_row(
        MappingRow("posted", "field", "claim.approved_at", transforms={"date_format": pattern})
    )
    assert {ln["posted"] for ln in voucher(rows, claim(line(), line())).lines} == {expected}


def test_sign_and_rounding() -> None:
    rows = [
        *ROWS,
        MappingRow("km", "field", "line.km", transforms={"sign": "negate", "round": "0"}),
    ]
    lines = voucher(rows, claim(line(km=Decimal("12.50")), line(km=Decimal("0.4")))).lines
    assert [ln["km"] for ln in lines[:2]] == [Decimal("-13"), Decimal("0")]
    assert str(lines[1]["km"]) == "0"


def test_text_is_cut_to_the_targets_length_by_default() -> None:
    rows = with_row(MappingRow("text", "field", "line.description"))
    long = "Kjøring til og fra styremøte i Trondheim, med bompenger og ferje"
    cut = voucher(rows, claim(line(description=long))).lines[0]["text"]
    assert cut == long[:60].rstrip() and len(long) > 60
    off = with_row(MappingRow("text", "field", "line.description", transforms={"truncate": "off"}))
    [error] = errors(off, claim(line(description=long)))
    assert "høyst 60" in error.message.nb and "at most 60" in error.message.en
    short = with_row(MappingRow("text", "field", "line.description", transforms={"truncate": "8"}))
    assert voucher(short, claim(line(description=long))).lines[0]["text"] == "Kjøring"


def test_a_code_is_not_cut_unless_asked() -> None:
    c = claim(line(department="AVDELING-1234"))
    [error] = errors(ROWS, c)
    assert error.target == "dept" and "13 tegn" in error.message.nb
    cut = with_row(MappingRow("dept", "field", "line.department", transforms={"truncate": "on"}))
    assert voucher(cut, c).lines[0]["dept"] == "AVDELING-1"


def test_default_when_empty() -> None:
    rows = with_row(
        MappingRow("posted", "field", "claim.submitted_at", transforms={"default": "2025-01-31"})
    )
    assert voucher(rows, claim()).lines[0]["posted"] == dt.date(2025, 1, 31)
    rows = with_row(
        MappingRow(
            "posted",
            "field",
            "claim.submitted_at",
            transforms={"default": "2025-01-31", "date_format": "%d.%m.%Y"},
        )
    )
    assert voucher(rows, claim()).lines[0]["posted"] == "31.01.2025"


def test_an_empty_transform_option_means_not_used() -> None:
    row = MappingRow("text", "field", "line.description", transforms={"date_format": ""})
    assert validate_row(TYPE, row) is None


# --- validation messages ------------------------------------------------------------------------

BAD_ROWS = [
    (MappingRow("dept", "field", "line.colour"), "«line.colour» finnes ikke", "does not exist"),
    (MappingRow("dept", "field", ""), "Ingen kilde er valgt", "No source is chosen"),
    (MappingRow("dept", "formula", "x"), "Ukjent kildetype «formula»", "Unknown source type"),
    (MappingRow("nope", "constant", "1"), "«nope» er ikke et felt i Testsystemet", "not a field"),
    (MappingRow("text", "template", "{claim.colour}"), "«claim.colour»", "not a field of the"),
    (MappingRow("text", "template", "{claim_number"), "ikke er lukket", "not closed"),
    (MappingRow("text", "template", "A {} B"), "tomme krøllparenteser", "empty braces"),
    (MappingRow("text", "template", "{claim_number!r}"), "«!r»", "“!r”"),
    (MappingRow("text", "template", "{amount:%Q}"), "Formatet «%Q»", "The format “%Q”"),
    (MappingRow("text", "template", "  "), "Malen er tom", "The template is empty"),
    (MappingRow("km", "template", "{amount}"), "En mal gir tekst", "A template gives text"),
    (MappingRow("km", "constant", "mange"), "«mange» er ikke et tall", "is not a number"),
    (MappingRow("km", "constant", "1e3"), "«1e3» er ikke et tall", "is not a number"),
    (MappingRow("quantity", "constant", "2,5"), "ikke et heltall", "not a whole number"),
    (MappingRow("due", "constant", "i morgen"), "ikke en dato", "is not a date"),
    (MappingRow("due", "constant", "2025-02-30"), "ikke en dato", "is not a date"),
    (MappingRow("account", "constant", "71 40"), "ikke en gyldig kode", "not a valid code"),
    (MappingRow("account", "constant", "12345678901"), "har 11 tegn", "allows at most 10"),
    (MappingRow("account", "constant", ""), "Verdien er tom", "The value is empty"),
    (MappingRow("km", "constant", "10000000000000"), "for stort", "too large"),
    (MappingRow("dept", "field", "line.department", transforms={"colour": "red"}), "«colour»", ""),
    (
        MappingRow("dept", "field", "line.department", transforms={"date_format": "%Y"}),
        "bare brukes på datoer",
        "only applies to dates",
    ),
    (
        MappingRow("posted", "field", "claim.approved_at", transforms={"date_format": "%Y-%q"}),
        "Datoformatet «%Y-%q» er ugyldig",
        "not valid",
    ),
    (
        MappingRow("posted", "field", "claim.approved_at", transforms={"date_format": "dato"}),
        "er ugyldig",
        "not valid",
    ),
    (
        MappingRow("km", "field", "line.km", transforms={"sign": "flip"}),
        "«negate»",
        "not “flip”",
    ),
    (
        MappingRow("dept", "field", "line.department", transforms={"sign": "negate"}),
        "bare brukes på tall",
        "only applies to numbers",
    ),
    (MappingRow("km", "field", "line.km", transforms={"round": "9"}), "fra 0 til 6", "0 to 6"),
    (
        MappingRow("quantity", "constant", "2", transforms={"round": "1"}),
        "bare brukes på desimaltall",
        "decimal numbers",
    ),
    (
        MappingRow("text", "field", "line.description", transforms={"truncate": "70"}),
        "fra 1 til 60",
        "from 1 to 60",
    ),
    (
        MappingRow("km", "field", "line.km", transforms={"truncate": "on"}),
        "gjelder bare tekst",
        "only applies to text",
    ),
    (
        MappingRow("vat", "field", "line.vat_code", transforms={"default": "25 %"}),
        "Standardverdien når feltet er tomt: «25 %» er ikke en gyldig kode",
        "default when empty",
    ),
    (MappingRow("account", "lookup", ""), "Velg hvilket felt", "Choose which field"),
    (MappingRow("account", "lookup", "line.expense_type"), "tabellen er tom", "table is empty"),
    (
        MappingRow("account", "lookup", "line.expense_type", (("Taxi", "1"), ("taxi ", "2"))),
        "«taxi» står mer enn én gang",
        "more than once",
    ),
    (
        MappingRow("account", "lookup", "line.expense_type", (("", "7140"),)),
        "mangler nøkkel",
        "has no key",
    ),
    (
        MappingRow("account", "lookup", "line.expense_type", (("taxi", "71 40"),)),
        "I oppslagstabellen for «taxi»: «71 40» er ikke en gyldig kode",
        "In the lookup table for “taxi”",
    ),
    (
        MappingRow("account", "lookup", "line.expense_type", (("taxi", "7140"),), "71 40"),
        "Standardverdien i oppslagstabellen",
        "The lookup table's default",
    ),
    (
        MappingRow("account", "lookup", "line.expense_type", (("taxi",),)),
        "par av nøkkel og verdi",
        "key and value pairs",
    ),
    (
        MappingRow("dept", "lookup", "line.date", (("i går", "A"),)),
        "«i går» er ikke en dato",
        "is not a date",
    ),
    (MappingRow("payable", "field", "line.expense_type"), "motposteringslinjen", "balancing line"),
    (MappingRow("docno", "template", "{description}"), "også motposteringen", "including the"),
    (MappingRow("due", "field", "claim.claimant_name"), "er tekst, men", "is text, but"),
]


@pytest.mark.parametrize(("row", "nb", "en"), BAD_ROWS, ids=lambda v: getattr(v, "target", None))
def test_a_bad_row_gets_a_specific_message_in_both_languages(row, nb, en) -> None:
    message = validate_row(TYPE, row)
    assert message is not None
    assert nb in message.nb and en in message.en, both(message)
    assert message.nb != message.en
    if row.target in {tf.name for tf in TYPE.target_fields}:
        # Names the target field, in each language.
        assert message.nb.startswith(f"Felt {row.target}: ")
        assert message.en.startswith(f"Field {row.target}: ")
    assert validate_mapping(TYPE, with_row(row))[row.target] == message


def test_good_rows_validate() -> None:
    assert validate_mapping(TYPE, ROWS) == {}
    assert all(validate_row(TYPE, row) is None for row in ROWS)


def test_a_required_field_without_a_source_makes_the_mapping_unsaveable() -> None:
    rows = [r for r in ROWS if r.target != "payable"]
    problems = validate_mapping(TYPE, rows)
    assert list(problems) == ["payable"]
    assert "kan ikke lagres" in problems["payable"].nb
    assert "cannot be saved" in problems["payable"].en
    assert "Felt payable er påkrevd i Testsystemet" in problems["payable"].nb


def test_a_target_mapped_twice_is_reported() -> None:
    problems = validate_mapping(TYPE, [*ROWS, MappingRow("dept", "constant", "1")])
    assert "mer enn én gang" in problems["dept"].nb


def test_an_invalid_mapping_makes_every_claim_an_error_not_an_exception() -> None:
    rows = [r for r in ROWS if r.target != "account"]
    vouchers, problems = resolve_claims(TYPE, rows, [claim(id=1), claim(id=2)], integration_id=3)
    assert vouchers == []
    assert [(e.claim_id, e.target) for e in problems] == [(1, "account"), (2, "account")]
    assert "Feltkoblingen har feil" in problems[0].message.nb


# --- claim errors -------------------------------------------------------------------------------


def test_a_required_field_that_comes_out_empty_is_a_claim_error() -> None:
    rows = with_row(MappingRow("account", "field", "line.expense_type"))
    [error] = errors(rows, claim(line(), line(expense_type="  ")))
    assert error.target == "account" and error.line == 2
    assert "påkrevd" in error.message.nb and "«Utgiftstype»" in error.message.nb
    assert "required" in error.message.en and "“Expense type”" in error.message.en


def test_claim_level_problems() -> None:
    [no_lines] = errors(ROWS, claim(lines=()))
    assert no_lines.target is None and "ingen linjer" in no_lines.message.nb
    small = make_type(*TYPE.target_fields, batch_limit=3)
    [too_many] = errors(ROWS, claim(line(), line(), line()), itype=small)
    assert "høyst 2 linjer" in too_many.message.nb and "at most 2 lines" in too_many.message.en
    [no_id] = errors(ROWS, claim(id=None))
    assert "mangler id" in no_id.message.nb
    [zone] = errors(ROWS, claim(), tz="Europe/Atlantis")
    assert "Europe/Atlantis" in zone.message.nb and "time zone" in zone.message.en


def test_bad_amounts_are_reported_per_line() -> None:
    c = claim(line(), line(amount=None), line(amount="NaN"), line(amount="1e20"))
    found = errors(ROWS, c)
    assert [(e.target, e.line) for e in found] == [(AMOUNT, 2), (AMOUNT, 3), (AMOUNT, 4)]
    assert "ikke noe beløp" in found[0].message.nb
    assert "ikke et tall" in found[1].message.nb
    assert "urimelig stort" in found[2].message.nb


def test_all_of_a_claims_problems_are_reported_together() -> None:
    c = claim(line(department="X" * 11), line(amount=None), claim_number="", id=9)
    found = errors(ROWS, c)
    assert {(e.target, e.line) for e in found} == {("dept", 1), (AMOUNT, 2)}
    assert found[0].message.nb.startswith("Reiseregning id 9, linje 1 – Felt dept: ")


def test_one_bad_claim_does_not_stop_the_batch() -> None:
    good, bad = claim(id=1), claim(line(amount=None), id=2)
    weird = SimpleNamespace(id=3, claim_number="RR-3", lines=object())
    vouchers, problems = resolve_claims(TYPE, ROWS, [good, bad, weird], integration_id=5)
    assert [v.claim_id for v in vouchers] == [1]
    assert sorted({e.claim_id for e in problems}) == [2, 3]


# --- references, codes, rows --------------------------------------------------------------------


def test_reference_for_is_stable_short_and_distinct() -> None:
    assert reference_for(7, 42) == "LL-7-42"
    assert reference_for(99999, 9999999999) == "LL-99999-9999999999"
    long = reference_for(10**6, 10**12)
    assert long.startswith("LX-") and len(long) <= 20
    assert long == reference_for(10**6, 10**12)
    refs = {reference_for(i, c) for i in (1, 12, 10**8) for c in (1, 21, 10**11, 10**11 + 1)}
    assert len(refs) == 12 and all(len(r) <= 20 for r in refs)
    for bad in [(0, 1), (1, -1), ("1", 2), (1, 2.0), (True, 1), (10**30, 10**30)]:
        with pytest.raises(ValueError):
            reference_for(*bad)


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 10**14), st.integers(1, 10**16))
def test_every_voucher_carries_reference_for_its_ids(integration_id: int, claim_id: int) -> None:
    result = resolve(ROWS, claim(id=claim_id), integration_id=integration_id)
    if isinstance(result, Voucher):
        assert result.reference == reference_for(integration_id, claim_id)
        assert result.number == result.claim_id == claim_id
    else:
        with pytest.raises(ValueError):
            reference_for(integration_id, claim_id)


def test_used_codes_lists_constants_lookup_values_and_defaults_of_reference_fields() -> None:
    rows = [*ROWS, MappingRow("docno", "constant", "ABC"), MappingRow("project", "constant", "P1")]
    assert used_codes(TYPE, rows) == [
        ("account", "account", "7100"),
        ("account", "account", "7140"),
        ("account", "account", "7150"),
        ("account", "account", "7790"),
        ("vat", "tax_code", "0"),
        ("payable", "account", "2910"),
        ("project", "project", "P1"),
    ]


def test_closest_codes_suggests_similar_known_codes() -> None:
    known = ["7100", "7140", "7150", "2910", "AVD-10"]
    assert closest_codes("7410", known)[0] == "7140"
    assert closest_codes("7410", ["7150", "7140"]) == ["7140", "7150"]
    assert "AVD-10" in closest_codes("avd-1", known)
    assert len(closest_codes("71", known, n=2)) <= 2
    assert closest_codes("zzzz", known) == []


def test_rows_from_defaults_and_from_models() -> None:
    itype = make_type(
        *TYPE.target_fields,
        defaults=[MappingDefault("vat", "field", "line.vat_code", transforms=(("default", "0"),))],
    )
    [row] = rows_from_defaults(itype)
    assert row == MappingRow("vat", "field", "line.vat_code", transforms={"default": "0"})
    stored = [
        SimpleNamespace(id=2, position=1, **ROWS[1].model_values()),
        SimpleNamespace(id=1, position=0, **ROWS[0].model_values()),
        SimpleNamespace(id=3, position=2, **ROWS[4].model_values()),
    ]
    assert rows_from_models(stored) == [ROWS[0], ROWS[1], ROWS[4]]
    assert ROWS[1].model_values()["lookup"] == [list(pair) for pair in ACCOUNTS]


def test_claim_data_from_a_model_reads_the_lines_in_order() -> None:
    lines = [
        SimpleNamespace(
            id=n,
            position=p,
            date=dt.date(2025, 1, n),
            expense_type="travel",
            amount=Decimal(n),
            km=None,
            description="",
            department="",
            project="",
            vat_code="",
        )
        for n, p in ((1, 2), (2, 0), (3, 1))
    ]
    model = SimpleNamespace(
        id=5,
        claim_number="RR-5",
        claimant_name="Ola",
        claimant_email="",
        claimant_number="",
        purpose="",
        department="",
        project="",
        approved_at=None,
        submitted_at=None,
        lines=lines,
    )
    data = ClaimData.from_model(model)
    assert [ln.id for ln in data.lines] == [2, 3, 1]
    assert data.claim_number == "RR-5" and data.lines[0].amount == Decimal(2)


def test_a_compiled_plan_is_reused_and_gives_the_same_result() -> None:
    plan = compile_mapping(TYPE, ROWS)
    assert isinstance(plan, MappingPlan) and plan.ok
    c = claim(line(), line("3.333"))
    assert resolve_claim(TYPE, plan, c, integration_id=1) == resolve(ROWS, c, integration_id=1)


def test_resolving_from_rows_never_reuses_the_plan_of_different_rows() -> None:
    # Equal-looking rows that compile differently: 1 == True, and {} is not None.
    assert isinstance(resolve(with_row(MappingRow("quantity", "constant", "1")), claim()), Voucher)
    assert isinstance(resolve(with_row(MappingRow("quantity", "constant", True)), claim()), list)
    good = MappingRow("dept", "field", "line.department", transforms={})
    bad = MappingRow("dept", "field", "line.department", transforms=None)
    assert isinstance(resolve(with_row(good), claim()), Voucher)
    assert isinstance(resolve(with_row(bad), claim()), list)
    assert isinstance(resolve(with_row(good), claim()), Voucher)


# --- the real integration types -----------------------------------------------------------------

REAL_TYPES = ("xledger", "dynamics_bc", "dynamics_dataverse")


def demo_claims() -> list[ClaimData]:
    approved = dt.datetime(2025, 5, 12, 21, 45, tzinfo=UTC)
    return [
        claim(
            line("2350.00", expense_type="mileage", km=Decimal("470"), description="Oslo–Hamar"),
            line("189.90", expense_type="meals", vat_code="11"),
            line("45.00", expense_type="parking", department="110", project="P-2025-01"),
            id=101,
            approved_at=approved,
        ),
        claim(line("1200.00", expense_type="course"), id=102, claimant_number="", purpose=""),
        claim(
            line("99.995", expense_type="travel", description="Buss " * 80),
            id=103,
            claim_number="RR-2025-000000123456",
        ),
    ]


@pytest.mark.parametrize("key", REAL_TYPES)
def test_real_default_mappings_validate_and_resolve_demo_claims(key: str) -> None:
    itype = adapters.get_type(key)
    rows = rows_from_defaults(itype)
    assert validate_mapping(itype, rows) == {}
    vouchers, problems = resolve_claims(itype, rows, demo_claims(), integration_id=1)
    assert problems == []
    assert [v.claim_id for v in vouchers] == [101, 102, 103]
    for v in vouchers:
        assert v.total == 0
        assert_required_fields_present(itype, v)
        for target_field in itype.target_fields:
            for ln in v.lines:
                value = ln.get(target_field.name)
                if isinstance(value, str) and target_field.max_length:
                    assert len(value) <= target_field.max_length


def assert_required_fields_present(itype: IntegrationType, v: Voucher) -> None:
    for target_field in itype.target_fields:
        if not target_field.required:
            continue
        if target_field.role in ("line", "voucher"):
            assert all(ln.get(target_field.name) not in (None, "") for ln in v.lines[:-1])
        if target_field.role in ("balance", "voucher"):
            assert v.lines[-1].get(target_field.name) not in (None, "")


# --- properties ---------------------------------------------------------------------------------

amounts = st.decimals(
    min_value=Decimal("-99999.999"), max_value=Decimal("999999.999"), places=3
) | st.decimals(min_value=Decimal("-5"), max_value=Decimal("5"), places=4)
codes = st.sampled_from(["", "100", "200", "P-1", " 300 ", "ÆØÅ-1"])
lines_ = st.builds(
    LineData,
    id=st.integers(1, 10**6),
    date=st.dates(dt.date(2000, 1, 1), dt.date(2100, 1, 1)),
    expense_type=st.sampled_from(["travel", "Meals", "mileage", "other", "", "TAXI"]),
    amount=amounts,
    km=st.none() | amounts,
    description=st.text(max_size=60),
    department=codes,
    project=codes,
    vat_code=st.sampled_from(["", "1", "11", "25"]),
)
claims_ = st.builds(
    ClaimData,
    id=st.integers(1, 10**9),
    claim_number=st.text(max_size=25),
    claimant_name=st.text(max_size=40),
    claimant_number=st.sampled_from(["", "20001", "A-7"]),
    purpose=st.text(max_size=40),
    department=codes,
    project=codes,
    approved_at=st.datetimes(
        dt.datetime(2000, 1, 1), dt.datetime(2100, 1, 1), timezones=st.just(UTC)
    ),
    lines=st.lists(lines_, min_size=1, max_size=8).map(tuple),
)
PROPERTY_ROWS = with_rows(
    MappingRow("project", "field", "line.project"),
    MappingRow("km", "field", "line.km", transforms={"sign": "negate", "round": "1"}),
    MappingRow("due", "field", "line.date", transforms={"date_format": "%d.%m.%Y"}),
    MappingRow("text", "template", "{purpose} {line.description} {line.amount}"),
)


@settings(max_examples=150, deadline=None)
@given(claims_)
def test_every_voucher_balances_to_exactly_zero_without_losing_an_oere(c: ClaimData) -> None:
    result = voucher(PROPERTY_ROWS, c)
    assert len(result.lines) == len(c.lines) + 1
    debits, balance = result.lines[:-1], result.lines[-1]
    rounded = [ln.amount.quantize(OERE, rounding=ROUND_HALF_UP) for ln in c.lines]
    assert [d[AMOUNT] for d in debits] == rounded
    assert sum(d[AMOUNT] for d in debits) == sum(rounded)
    assert balance[AMOUNT] == -sum(rounded)
    assert sum(ln[AMOUNT] for ln in result.lines) == 0
    assert result.total == Decimal(0)
    assert_no_float(result)
    assert_required_fields_present(TYPE, result)


# Required fields from sources that are often empty: the claim resolves with them or says why.
EMPTYISH_ROWS = with_rows(
    MappingRow("account", "field", "line.expense_type"),
    MappingRow("payable", "field", "claim.claimant_number"),
)


@settings(max_examples=150, deadline=None)
@given(claims_, st.lists(st.sampled_from(["", " ", "7140", "2910"]), min_size=9, max_size=9))
def test_required_fields_are_in_every_line_or_the_claim_has_an_error(c, codes) -> None:
    lines = tuple(
        LineData(**{**vars_of_line(ln), "expense_type": code})
        for ln, code in zip(c.lines, codes, strict=False)
    )
    c = ClaimData(**{**vars_of(c), "lines": lines, "claimant_number": codes[-1]})
    result = resolve(EMPTYISH_ROWS, c)
    if isinstance(result, Voucher):
        assert_required_fields_present(TYPE, result)
    else:
        assert {e.target for e in result} <= {"account", "payable", "dept", "project"}
        empty_accounts = [n for n, ln in enumerate(lines, 1) if not ln.expense_type.strip()]
        assert [e.line for e in result if e.target == "account"] == empty_accounts
        assert any(e.target == "payable" for e in result) == (not codes[-1].strip())


def assert_no_float(value: object) -> None:
    assert not isinstance(value, float), value
    if isinstance(value, Voucher):
        assert_no_float(value.lines)
    elif isinstance(value, dict):
        for key, item in value.items():
            assert_no_float(key)
            assert_no_float(item)
    elif isinstance(value, list | tuple):
        for item in value:
            assert_no_float(item)
    elif isinstance(value, Decimal):
        assert value.is_finite()


@settings(max_examples=100, deadline=None)
@given(claims_, st.sampled_from(REAL_TYPES))
def test_real_types_resolve_any_sane_claim_or_say_why(c: ClaimData, key: str) -> None:
    itype = adapters.get_type(key)
    result = resolve(rows_from_defaults(itype), c, itype)
    if isinstance(result, Voucher):
        assert result.total == 0
        assert_no_float(result)
        assert_required_fields_present(itype, result)
    else:
        assert all(isinstance(e.message, Text) and e.message.nb for e in result)


junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.dates(),
    st.datetimes(),
    st.datetimes(timezones=st.just(UTC)),
    st.just(dt.datetime.max.replace(tzinfo=UTC)),
    st.just(dt.datetime.min.replace(tzinfo=UTC)),
    st.lists(st.integers(), max_size=2),
    st.builds(object),
)


def junk_object(draw, fields: tuple[str, ...]) -> SimpleNamespace:
    present = draw(st.lists(st.sampled_from(fields), unique=True))
    return SimpleNamespace(**{name: draw(junk) for name in present})


LINE_FIELDS = tuple(LineData.__dataclass_fields__)
CLAIM_FIELDS = tuple(f for f in ClaimData.__dataclass_fields__ if f != "lines")


@st.composite
def junk_claims(draw):
    if draw(st.booleans()):
        base = draw(claims_)
        values = vars_of(base)
        for name in draw(st.lists(st.sampled_from(CLAIM_FIELDS), max_size=4)):
            values[name] = draw(junk)
        lines = [vars_of_line(ln) for ln in base.lines]
        for ln in lines:
            for name in draw(st.lists(st.sampled_from(LINE_FIELDS), max_size=3)):
                ln[name] = draw(junk)
        values["lines"] = tuple(SimpleNamespace(**ln) for ln in lines)
        return SimpleNamespace(**values)
    c = junk_object(draw, CLAIM_FIELDS)
    shape = draw(st.sampled_from(["junk", "nones", "objects"]))
    if shape == "junk":
        c.lines = draw(junk)
    elif shape == "nones":
        c.lines = [None] * draw(st.integers(0, 2))
    else:
        c.lines = [junk_object(draw, LINE_FIELDS) for _ in range(draw(st.integers(0, 3)))]
    return c


def vars_of_line(ln: LineData) -> dict[str, object]:
    return {name: getattr(ln, name) for name in LINE_FIELDS}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(junk_claims())
def test_junk_claims_give_errors_as_data_never_an_exception(c) -> None:
    result = resolve(PROPERTY_ROWS, c)
    if isinstance(result, Voucher):
        assert result.total == 0
        assert_no_float(result)
        assert_required_fields_present(TYPE, result)
    else:
        assert result and all(isinstance(e, ClaimError) for e in result)
        assert all(e.message.nb and e.message.en for e in result)
    vouchers, problems = resolve_claims(TYPE, PROPERTY_ROWS, [c, claim()], integration_id=7)
    assert vouchers[-1].claim_id == 42
    assert not any("uventet" in e.message.nb for e in problems), problems


junk_text = st.one_of(st.text(max_size=20), st.sampled_from(list(CATALOGUE)), junk)
junk_rows = st.builds(
    MappingRow,
    target=st.sampled_from([tf.name for tf in TYPE.target_fields] + [AMOUNT, "x"]),
    kind=st.sampled_from(["field", "constant", "lookup", "template", "other"]),
    value=st.one_of(st.sampled_from(list(CATALOGUE)), st.text(max_size=30), junk),
    lookup=st.one_of(
        st.lists(st.tuples(junk_text, junk_text), max_size=3).map(tuple),
        st.lists(junk, max_size=2).map(tuple),
    ),
    lookup_default=st.one_of(st.none(), junk_text),
    transforms=st.one_of(
        st.dictionaries(
            st.sampled_from(["date_format", "sign", "round", "truncate", "default", "x"]),
            junk_text,
            max_size=3,
        ),
        junk,
    ),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(junk_rows, max_size=6), claims_)
def test_junk_mappings_are_rejected_with_messages_never_an_exception(rows, c) -> None:
    for row in rows:
        message = validate_row(TYPE, row)
        assert message is None or (message.nb and message.en)
    problems = validate_mapping(TYPE, rows)
    assert all(isinstance(m, Text) for m in problems.values())
    result = resolve(rows, c)
    if isinstance(result, Voucher):
        assert problems == {}
        assert result.total == 0
        assert_no_float(result)
        assert_required_fields_present(TYPE, result)
    elif problems:
        assert {e.target for e in result} == set(problems)


def test_floats_never_reach_a_voucher() -> None:
    # A float from a careless caller is read through its shortest repr, never kept.
    v = voucher(ROWS, claim(line(amount=0.1), line(amount=0.2)))
    assert [ln[AMOUNT] for ln in v.lines] == [Decimal("0.10"), Decimal("0.20"), Decimal("-0.30")]
    assert_no_float(v)
    assert not math.isnan(float(v.total))
