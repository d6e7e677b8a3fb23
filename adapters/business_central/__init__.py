"""Dynamics 365 Business Central through its API v2.0: general journal lines, then post.

The package's parts: `spec` (the integration type), `adapter` (the adapter, registered on
import), `errors` (answers as typed errors).
"""

from __future__ import annotations

from adapters.business_central.adapter import BusinessCentralAdapter
from adapters.business_central.errors import (
    BAD_ENVIRONMENT,
    BAD_JOURNAL,
    BAD_TENANT,
    COMPANY_GONE,
    COMPANY_NOT_FOUND,
    ENVIRONMENT_NOT_FOUND,
    JOURNAL_NOT_FOUND,
    NO_PERMISSION,
    NOT_ENABLED,
    NOT_FOUND,
    POST_FAILED,
    REFUSED,
    UNEXPECTED,
    bc_error,
)
from adapters.business_central.spec import (
    ADMIN_CENTER_URL,
    API_HOST,
    CREDENTIAL_FIELDS,
    DESCRIPTION_LENGTH,
    DIMENSION_CODES,
    DOCUMENT_NUMBER_LENGTH,
    ENTRA_APPS_PAGE_URL,
    ENVIRONMENT_PATTERN,
    JOURNAL_PATTERN,
    JOURNALS_PAGE_URL,
    LINE_FIELDS,
    READBACK_CHUNK,
    TARGET_FIELDS,
    TYPE,
)

__all__ = [
    "ADMIN_CENTER_URL",
    "API_HOST",
    "BAD_ENVIRONMENT",
    "BAD_JOURNAL",
    "BAD_TENANT",
    "BusinessCentralAdapter",
    "COMPANY_GONE",
    "COMPANY_NOT_FOUND",
    "CREDENTIAL_FIELDS",
    "DESCRIPTION_LENGTH",
    "DIMENSION_CODES",
    "DOCUMENT_NUMBER_LENGTH",
    "ENTRA_APPS_PAGE_URL",
    "ENVIRONMENT_NOT_FOUND",
    "ENVIRONMENT_PATTERN",
    "JOURNALS_PAGE_URL",
    "JOURNAL_NOT_FOUND",
    "JOURNAL_PATTERN",
    "LINE_FIELDS",
    "NOT_ENABLED",
    "NOT_FOUND",
    "NO_PERMISSION",
    "POST_FAILED",
    "READBACK_CHUNK",
    "REFUSED",
    "TARGET_FIELDS",
    "TYPE",
    "UNEXPECTED",
    "bc_error",
]
