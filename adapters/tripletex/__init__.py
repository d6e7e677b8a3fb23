"""Tripletex over its REST API v2: test connection, reference data and voucher export.

The package's parts: `spec` (the integration type), `adapter` (the adapter, registered on
import), `errors` (answers as typed errors).
"""

from __future__ import annotations

from adapters.tripletex.adapter import TripletexAdapter
from adapters.tripletex.errors import tripletex_error
from adapters.tripletex.spec import TYPE

__all__ = ["TYPE", "TripletexAdapter", "tripletex_error"]
