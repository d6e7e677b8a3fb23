"""How real tenants differ from the demo tenant (ACCOUNTING_APIS §8), one switch each.

A variation is a sandbox setting with a fixed set of values; the first value is the demo
tenant's. Tests set them through `PUT /_sandbox/api/settings`, a person trying the demo on
the control page. Each system's fake reads its own switches from `state.settings`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Variation:
    key: str
    system: str
    label: str
    # (value, what the tenant then does); the first is the demo tenant.
    choices: tuple[tuple[str, str], ...]

    @property
    def default(self) -> str:
        return self.choices[0][0]

    def allows(self, value: object) -> bool:
        return any(value == choice for choice, _meaning in self.choices)


# --- Xledger -----------------------------------------------------------------------------------

XLEDGER: tuple[Variation, ...] = ()

# --- Dataverse ---------------------------------------------------------------------------------

DATAVERSE: tuple[Variation, ...] = ()

# --- Business Central --------------------------------------------------------------------------

BUSINESS_CENTRAL: tuple[Variation, ...] = ()

# -----------------------------------------------------------------------------------------------

VARIATIONS: dict[str, Variation] = {v.key: v for v in (*XLEDGER, *DATAVERSE, *BUSINESS_CENTRAL)}
