"""Idempotency references for the accounting systems, and the codes a mapping uses."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from adapters.types import IntegrationType, ReferenceKind
from webapp.mapping.sources import _pairs
from webapp.mapping.spec import REFERENCE_MAX_LENGTH, REFERENCE_PREFIX, MappingRow

# ---------------------------------------------------------------------------------------------
# References and codes


def reference_for(integration_id: int, claim_id: int) -> str:
    """The claim's idempotency reference, stable for (integration, claim), ≤ 20 characters.

    "LL-{integration_id}-{claim_id}" in decimal; ids too long for that are written in base 36
    after "LX-" instead (never the same as a decimal reference). Sent as Xledger
    `extIdentifier` and Business Central `externalDocumentNumber`. ValueError when the ids
    are not positive integers or do not fit even in base 36.
    """
    if not (type(integration_id) is int and type(claim_id) is int):
        raise ValueError(f"ids must be integers, not {integration_id!r} and {claim_id!r}")
    if integration_id <= 0 or claim_id <= 0:
        raise ValueError(f"ids must be positive, not {integration_id} and {claim_id}")
    reference = f"{REFERENCE_PREFIX}-{integration_id}-{claim_id}"
    if len(reference) <= REFERENCE_MAX_LENGTH:
        return reference
    reference = f"LX-{_base36(integration_id)}-{_base36(claim_id)}"
    if len(reference) <= REFERENCE_MAX_LENGTH:
        return reference
    raise ValueError("ids too large for a 20-character reference")


def _base36(number: int) -> str:
    digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    out = ""
    while number:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
    return out or "0"


def used_codes(
    itype: IntegrationType, rows: Iterable[MappingRow]
) -> list[tuple[str, ReferenceKind, str]]:
    """Codes typed into the mapping for fields that name reference data, to check live.

    Constants, lookup values, lookup defaults and "default when empty" values of target
    fields with a `reference` kind, as (target, kind, code), in mapping order, no repeats.
    """
    kinds = itype.extra.get("reference_kinds")
    targets = {tf.name: tf for tf in itype.target_fields}
    seen: set[tuple[str, str, str]] = set()
    out: list[tuple[str, ReferenceKind, str]] = []
    for row in rows:
        tf = targets.get(row.target)
        if tf is None or tf.reference is None:
            continue
        if isinstance(kinds, tuple | list) and tf.reference not in kinds:
            continue
        codes = [row.value] if row.kind == "constant" else []
        if row.kind == "lookup":
            codes += [value for _, value in _pairs(row.lookup)] + [row.lookup_default or ""]
        if isinstance(row.transforms, dict):
            codes.append(str(row.transforms.get("default") or ""))
        for code in codes:
            code = str(code).strip()
            item = (tf.name, tf.reference, code)
            if code and item not in seen:
                seen.add(item)
                out.append(item)
    return out


def closest_codes(code: str, known_codes: Iterable[str], n: int = 3) -> list[str]:
    """The known codes most like an unknown one (for "did you mean …?"), best first.

    difflib's similarity, case-insensitive; among equally similar codes, one with the same
    characters comes first, since two swapped digits are the commonest typo in a code.
    """
    wanted = str(code).strip().upper()
    matcher = difflib.SequenceMatcher(b=wanted)
    scored = []
    for known in dict.fromkeys(str(k) for k in known_codes):
        candidate = known.strip().upper()
        matcher.set_seq1(candidate)
        if matcher.real_quick_ratio() >= 0.5 and matcher.quick_ratio() >= 0.5:
            ratio = matcher.ratio()
            if ratio >= 0.5:
                scored.append((-ratio, sorted(candidate) != sorted(wanted), known))
    scored.sort(key=lambda item: item[:2])
    return [known for _, _, known in scored[:n]]
