"""The host-app API (DESIGN §11): `/api/v1/claims`, JSON only, API-key auth, no cookies.

Every answer is JSON; every refusal an RFC 9457 problem in the request's language.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Callable

from flask import Blueprint, Response, g, request, session
from flask_babel import gettext as _
from pydantic import ValidationError

from webapp.api import body, ratelimit
from webapp.api.problems import from_validation, invalid, problem
from webapp.services import api_keys, claims, idempotency
from webapp.services.claims.schema import MAX_BATCH, STATUSES, ClaimBatch, ClaimIn

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.after_request
def _no_cookies(response: Response) -> Response:
    # The locale selector may touch the session (?lang=); an API answer never sets a cookie.
    session.modified = False
    session.accessed = False
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def json_response(data: object, status: int = 200) -> Response:
    return Response(
        json.dumps(data, ensure_ascii=False), status=status, mimetype="application/json"
    )


def require(scope: str) -> Callable:
    """Authenticate the bearer key with `scope` and count the request against its limit."""

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            header = request.headers.get("Authorization", "")
            secret = header[7:].strip() if header[:7].lower() == "bearer " else ""
            try:
                key = api_keys.authenticate(secret, scope)
            except api_keys.KeyProblem as exc:
                return _key_problem(exc.code, scope)
            retry_after = ratelimit.hit(key.prefix)
            if retry_after is not None:
                return problem(
                    429,
                    "rate-limited",
                    _("Too many requests"),
                    _(
                        "This key may send %(n)d requests a minute. Wait %(s)d seconds and send again.",
                        n=ratelimit.per_minute(),
                        s=retry_after,
                    ),
                    headers={"Retry-After": str(retry_after)},
                )
            g.api_key = key
            g.api_org = key.organization  # joined by authenticate: no second query
            return view(*args, **kwargs)

        return wrapped

    return decorator


def _key_problem(code: str, scope: str) -> Response:
    if code == "scope":
        return problem(
            403,
            "insufficient-scope",
            _("The key may not do this"),
            _(
                "This API key lacks the scope %(scope)s. A coordinator administrator can create a key with it.",
                scope=scope,
            ),
        )
    detail = (
        _("This API key has been revoked. Ask a coordinator administrator for a new key.")
        if code == "revoked"
        else _("Send a valid API key as: Authorization: Bearer ll_live_…")
    )
    return problem(
        401,
        "unauthorized",
        _("Not signed in"),
        detail,
        headers={"WWW-Authenticate": 'Bearer realm="ledgerlink"'},
    )


@bp.post("/claims")
@require("claims:write")
def create_claims():
    """Receive one claim or a batch of up to 500; replays an Idempotency-Key's first answer."""
    try:
        data = body.raw()
        parsed = body.parse(data)
    except body.BodyProblem as exc:
        return problem(exc.status, exc.code, exc.title, exc.detail)
    key = request.headers.get("Idempotency-Key")
    if key is None:
        status, payload = _store(parsed)
        return json_response(payload, status) if status < 400 else payload
    if not key.strip() or len(key) > idempotency.MAX_KEY:
        return problem(
            400,
            "bad-idempotency-key",
            _("The Idempotency-Key is not valid"),
            _("Use 1 to 255 characters, for example a UUID."),
        )
    canonical = json.dumps(parsed, sort_keys=True, default=str, ensure_ascii=False).encode()
    digest = idempotency.request_hash("POST", request.path, canonical)
    org_id = g.api_org.id
    try:
        replay = idempotency.begin(org_id, key, digest)
    except idempotency.KeyReused:
        return problem(
            422,
            "idempotency-key-reused",
            _("This Idempotency-Key was used for another request"),
            _("Use a new key for a different body; a key is kept for 24 hours."),
        )
    except idempotency.KeyInUse:
        return problem(
            409,
            "idempotency-key-in-use",
            _("The first request with this key is still running"),
            _("Wait a moment and send the same request again."),
        )
    if replay is not None:
        response = Response(replay.body, status=replay.status, mimetype="application/json")
        response.headers["Idempotent-Replayed"] = "true"
        return response
    try:
        status, payload = _store(parsed)
    except BaseException:
        idempotency.release(org_id, key)
        raise
    if status >= 400:
        idempotency.release(org_id, key)
        return payload
    text = json.dumps(payload, ensure_ascii=False)
    idempotency.finish(org_id, key, status, text)
    return Response(text, status=status, mimetype="application/json")


def _store(parsed: object) -> tuple[int, object]:
    """(status, JSON payload) for a valid body, or (status ≥ 400, problem response)."""
    batch = isinstance(parsed, dict) and "claims" in parsed
    try:
        if batch:
            items = ClaimBatch.model_validate(parsed).claims
        else:
            items = [ClaimIn.model_validate(parsed)]
    except ValidationError as exc:
        return 422, invalid(from_validation(exc))
    try:
        stored = claims.ingest(g.api_org, items, source="api", base="/claims" if batch else "")
    except claims.IngestProblem as exc:
        return 422, invalid(exc.errors)
    fresh = {s.claim.id: s.totals for s in stored if s.totals is not None}
    described = claims.describe(
        [s.claim for s in stored], fresh if len(fresh) == len(stored) else None
    )
    if batch:
        results = [{"result": s.result, "claim": d} for s, d in zip(stored, described, strict=True)]
        created = any(s.result == "created" for s in stored)
        return (201 if created else 200), {"results": results}
    return (201 if stored[0].result == "created" else 200), described[0]


@bp.get("/claims/<int:claim_id>")
@require("claims:read")
def show_claim(claim_id: int):
    """One claim of the key's organisation and what became of it."""
    claim = claims.claim_of(g.api_org.id, claim_id)
    if claim is None:
        return not_found()
    return json_response(claims.describe([claim])[0])


@bp.get("/claims")
@require("claims:read")
def list_claims():
    """The organisation's claims, oldest change first, a page at a time."""
    errors = []
    status = request.args.get("status") or None
    if status is not None and status not in STATUSES:
        errors.append(("status", _("Expected one of: %(list)s.", list=", ".join(STATUSES))))
    since = None
    if request.args.get("updated_since"):
        try:
            since = dt.datetime.fromisoformat(request.args["updated_since"].replace("Z", "+00:00"))
            if since.tzinfo is None:
                raise ValueError("naive")
        except ValueError:
            errors.append(
                (
                    "updated_since",
                    _(
                        "Expected a date and time with a time zone, for example 2026-11-02T10:15:00+01:00."
                    ),
                )
            )
    limit = request.args.get("limit", "100")
    if not limit.isdigit() or not 1 <= int(limit) <= MAX_BATCH:
        errors.append(("limit", _("Expected a whole number from 1 to %(n)d.", n=MAX_BATCH)))
    cursor = request.args.get("cursor") or None
    if cursor is not None:
        try:
            claims.status.decode_cursor(cursor)
        except ValueError:
            errors.append(("cursor", _("Use the next_cursor of the previous page as it is.")))
    if errors:
        return problem(
            400,
            "invalid-parameter",
            _("A query parameter is not valid"),
            _("Correct the parameters listed in errors."),
            [{"pointer": f"#/query/{name}", "detail": detail} for name, detail in errors],
        )
    data, next_cursor = claims.page(
        g.api_org.id, status=status, updated_since=since, cursor=cursor, limit=int(limit)
    )
    return json_response({"data": data, "next_cursor": next_cursor})


def not_found() -> Response:
    return problem(
        404,
        "not-found",
        _("Not found"),
        _("There is no such claim or address in your organisation."),
    )
