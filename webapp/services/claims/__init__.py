"""Claims from the host app: routing to one ledger, storing, and what became of each."""

from __future__ import annotations

from webapp.services.claims.events import recorded_outcomes
from webapp.services.claims.ingest import IngestProblem, Stored, ingest
from webapp.services.claims.routing import (
    RoutingError,
    add_rule,
    claim_of,
    counts_by_integration,
    move,
    remove_rule,
    route,
    routed_to,
    rules_with_integrations,
    set_default,
)
from webapp.services.claims.status import describe, page, state

__all__ = [
    "IngestProblem",
    "RoutingError",
    "Stored",
    "add_rule",
    "claim_of",
    "counts_by_integration",
    "describe",
    "ingest",
    "move",
    "page",
    "recorded_outcomes",
    "remove_rule",
    "route",
    "routed_to",
    "rules_with_integrations",
    "set_default",
    "state",
]
