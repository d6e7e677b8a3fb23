"""Field mapping resolver: one approved expense claim becomes one balanced voucher.

Pure functions, no I/O. A mapping is a list of `MappingRow`s, one per target field of an
`IntegrationType`. Each row names a source (an app field from `CATALOGUE`, a constant, a
lookup table keyed by an app field, or a text template) and optional transforms
(`TRANSFORMS`). The resolver turns a claim into a `Voucher`:

- one debit line per claim line: every `line`-role and `voucher`-role target field, plus
  `amount` = the line's amount rounded to øre (0.01, ROUND_HALF_UP);
- one balancing credit line, last: every `balance`-role and `voucher`-role target field, plus
  `amount` = −(sum of the rounded debit amounts), so every voucher sums to exactly zero and
  rounding never creates or loses an øre across a claim;
- `Voucher.number` is the claim id (an integer, usable as Xledger's `trRegNumber`), and
  `Voucher.reference` is `reference_for(integration_id, claim_id)`, the idempotency key.

Line values are `str` for text and codes, `Decimal` for numbers (never float), `int` for
integers and `datetime.date` for dates, or `str` when a `date_format` transform gives the
provider's own format. A non-required field whose source is empty is left out of the line.

Problems with a mapping are `Text` messages (Bokmål and English) from `validate_row` and
`validate_mapping`; problems with a claim are `ClaimError`s returned as data, so one bad
claim never stops a batch, and a claim with any error produces no voucher.

For speed, `compile_mapping` validates and compiles the rows once into a `MappingPlan`: one
closure per row, and the constants placed once. `resolve_claims` compiles
once per batch; `resolve_claim` accepts a plan, or caches the plan of the rows it is given
(`plan_for`, which the editor uses too).

The package's parts: `spec` (app fields, transforms, rows, claim data), `messages` (problem
texts), `transforms` (target types and claim values), `sources` (field, constant, lookup,
template), `compile` (validation and plans), `codes` (references and codes used), `resolve`
(claims to vouchers). Callers import from the package.
"""

from __future__ import annotations

from webapp.mapping.codes import closest_codes, reference_for, used_codes
from webapp.mapping.compile import compile_mapping, validate_mapping, validate_row
from webapp.mapping.resolve import plan_for, resolve_claim, resolve_claims
from webapp.mapping.spec import (
    AMOUNT,
    CATALOGUE,
    DEFAULT_TZ,
    MAX_AMOUNT,
    OERE,
    REFERENCE_MAX_LENGTH,
    REFERENCE_PREFIX,
    SOURCE_KINDS,
    TRANSFORMS,
    ClaimData,
    ClaimError,
    LineData,
    MappingPlan,
    MappingRow,
    SourceKind,
    rows_from_defaults,
    rows_from_models,
)

__all__ = [
    "AMOUNT",
    "CATALOGUE",
    "ClaimData",
    "ClaimError",
    "DEFAULT_TZ",
    "LineData",
    "MAX_AMOUNT",
    "MappingPlan",
    "MappingRow",
    "OERE",
    "REFERENCE_MAX_LENGTH",
    "REFERENCE_PREFIX",
    "SOURCE_KINDS",
    "SourceKind",
    "TRANSFORMS",
    "closest_codes",
    "compile_mapping",
    "plan_for",
    "reference_for",
    "resolve_claim",
    "resolve_claims",
    "rows_from_defaults",
    "rows_from_models",
    "used_codes",
    "validate_mapping",
    "validate_row",
]
