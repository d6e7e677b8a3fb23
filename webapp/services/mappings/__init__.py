"""Field mapping editor: load, check and save one row at a time; preview; reference check.

The rules of a mapping live in `webapp.mapping` (pure); this module adds what needs the
database, the vault or an adapter:

- rows in the editor's order (required target fields first) with their stored problems;
- the edit form as a `Draft`, parsed and checked field by field, then saved through
  `integrations.change` so that every save bumps `integration.version` under the optimistic
  lock and writes an audit event naming the target field;
- lookup tables checked against the keys that approved, not yet exported claims really use;
- a preview that resolves the latest approved claims with the stored mapping, one on screen
  at a time, each claim's result kept while the mapping, the codes and the claim stay as
  they are;
- the accounting system's codes, cached per integration in `ReferenceCache`, and the codes
  typed into the mapping that the system does not have, with the closest ones it does.

`install_defaults` is what the setup wizard calls to pre-fill a new integration.

The package's parts: `rows` (the editor's rows and the reference codes), `form` (one row's
edit form), `saving` (rows, lookup entries, defaults), `preview`, `times`, `kept` (results
kept while their inputs are unchanged).
"""

from __future__ import annotations

from webapp.services.integrations import StaleVersion
from webapp.services.mappings.form import (
    Draft,
    check_draft,
    draft_for,
    field_choices,
    key_values,
    parse_form,
    transforms_for,
    unmatched_keys,
)
from webapp.services.mappings.preview import (
    ClaimPreview,
    Preview,
    payload_text,
    preview,
    sample_claims,
)
from webapp.services.mappings.rows import (
    DATE_FORMATS,
    KINDS,
    MAX_ENTRIES,
    NONE,
    PREVIEW_CHOICES,
    TRANSFORMS_FOR,
    CodeFlag,
    InvalidMapping,
    NotConnected,
    ReferenceState,
    RowState,
    all_references,
    cached_references,
    code_flags,
    editor_rows,
    mapping_count,
    ordered_targets,
    reference_kinds,
    reference_state,
    refresh_references,
    stored_rows,
    target_field,
)
from webapp.services.mappings.saving import (
    add_lookup_entry,
    change_lookup_entry,
    conflict_message,
    install_defaults,
    remove_lookup_entry,
    save_draft,
    save_row,
)
from webapp.services.mappings.times import clock_time, local_time

__all__ = [
    "StaleVersion",
    "ClaimPreview",
    "CodeFlag",
    "DATE_FORMATS",
    "Draft",
    "InvalidMapping",
    "KINDS",
    "MAX_ENTRIES",
    "NONE",
    "NotConnected",
    "PREVIEW_CHOICES",
    "Preview",
    "ReferenceState",
    "RowState",
    "TRANSFORMS_FOR",
    "add_lookup_entry",
    "all_references",
    "cached_references",
    "change_lookup_entry",
    "check_draft",
    "clock_time",
    "code_flags",
    "conflict_message",
    "draft_for",
    "editor_rows",
    "mapping_count",
    "field_choices",
    "install_defaults",
    "key_values",
    "local_time",
    "ordered_targets",
    "parse_form",
    "payload_text",
    "preview",
    "reference_kinds",
    "reference_state",
    "refresh_references",
    "remove_lookup_entry",
    "sample_claims",
    "save_draft",
    "save_row",
    "stored_rows",
    "target_field",
    "transforms_for",
    "unmatched_keys",
]
