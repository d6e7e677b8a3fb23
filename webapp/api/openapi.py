"""The OpenAPI 3.1 document, built from the pydantic models that validate the requests."""

from __future__ import annotations

import functools

from pydantic.json_schema import models_json_schema

from webapp.services.claims.schema import (
    MAX_BATCH,
    STATUSES,
    BatchOut,
    ClaimBatch,
    ClaimIn,
    ClaimOut,
    ClaimPage,
    Problem,
)

REF = "#/components/schemas/{model}"
PROBLEM_STATUSES = {
    "400": "The body or a parameter cannot be read.",
    "401": "No valid API key, or a revoked one.",
    "403": "The key lacks the scope.",
    "404": "No such claim in the key's organisation.",
    "409": "The first request with this Idempotency-Key is still running.",
    "413": "The body is over the size limit.",
    "415": "The body is not JSON.",
    "422": "Some fields are not valid; `errors` points at each.",
    "429": "Too many requests for this key; see Retry-After.",
}


def _ref(name: str) -> dict:
    return {"$ref": REF.format(model=name)}


def _problems(*codes: str) -> dict:
    return {
        code: {
            "description": PROBLEM_STATUSES[code],
            "content": {"application/problem+json": {"schema": _ref("Problem")}},
        }
        for code in codes
    }


@functools.cache
def document() -> dict:
    """The whole document (the same for every request, so built once)."""
    _keys, schemas = models_json_schema(
        [
            (ClaimIn, "validation"),
            (ClaimBatch, "validation"),
            (ClaimOut, "serialization"),
            (BatchOut, "serialization"),
            (ClaimPage, "serialization"),
            (Problem, "serialization"),
        ],
        ref_template=REF,
    )
    auth = ("401", "403", "429")
    claim_ok = {"application/json": {"schema": _ref("ClaimOut")}}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Ledgerlink claims API",
            "version": "1.0.0",
            "description": (
                "Send approved expense claims to Ledgerlink and learn what became of each. "
                "Authenticate with an organisation API key: `Authorization: Bearer ll_live_…`. "
                "Amounts are NOK as decimal strings or whole øre as integers, never floats. "
                "Errors are RFC 9457 problem details in the language of Accept-Language "
                "(Norwegian Bokmål by default)."
            ),
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "paths": {
            "/claims": {
                "post": {
                    "operationId": "createClaims",
                    "summary": f"Send one claim, or a batch of up to {MAX_BATCH}",
                    "description": (
                        "A claim whose external_id is already known is not stored again: the "
                        "answer shows the existing one. With an Idempotency-Key, the same key "
                        "and body within 24 hours replays the first answer."
                    ),
                    "parameters": [
                        {
                            "name": "Idempotency-Key",
                            "in": "header",
                            "required": False,
                            "schema": {"type": "string", "minLength": 1, "maxLength": 255},
                        }
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"oneOf": [_ref("ClaimIn"), _ref("ClaimBatch")]}
                            }
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "Every claim was already known (nothing new stored).",
                            "content": {
                                "application/json": {
                                    "schema": {"oneOf": [_ref("ClaimOut"), _ref("BatchOut")]}
                                }
                            },
                        },
                        "201": {
                            "description": "Stored.",
                            "content": {
                                "application/json": {
                                    "schema": {"oneOf": [_ref("ClaimOut"), _ref("BatchOut")]}
                                }
                            },
                        },
                        **_problems("400", *auth, "409", "413", "415", "422"),
                    },
                },
                "get": {
                    "operationId": "listClaims",
                    "summary": "The organisation's claims, oldest change first",
                    "parameters": [
                        {
                            "name": "status",
                            "in": "query",
                            "schema": {"type": "string", "enum": list(STATUSES)},
                        },
                        {
                            "name": "updated_since",
                            "in": "query",
                            "schema": {"type": "string", "format": "date-time"},
                        },
                        {
                            "name": "cursor",
                            "in": "query",
                            "description": "The next_cursor of the previous page, unchanged.",
                            "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,400}$"},
                        },
                        {
                            "name": "limit",
                            "in": "query",
                            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_BATCH},
                        },
                    ],
                    "responses": {
                        "200": {
                            "description": "One page.",
                            "content": {"application/json": {"schema": _ref("ClaimPage")}},
                        },
                        **_problems("400", *auth),
                    },
                },
            },
            "/claims/{claim_id}": {
                "get": {
                    "operationId": "getClaim",
                    "summary": "One claim and what became of it",
                    "parameters": [
                        {
                            "name": "claim_id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "integer", "minimum": 1},
                        }
                    ],
                    "responses": {
                        "200": {"description": "The claim.", "content": claim_ok},
                        **_problems(*auth, "404"),
                    },
                }
            },
        },
        "components": {
            "schemas": schemas["$defs"],
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
