"""The control page (`/_sandbox/`) and the JSON inspection API (`/_sandbox/api/…`).

The page lets a person trying the demo see what was posted and provoke failures with plain
HTML forms; the API does the same for tests. Neither ever shows an access token or a client
secret other than the published demo ones.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, redirect, render_template, request, url_for

from sandbox import demo
from sandbox.responses import json_response
from sandbox.state import FAULT_KINDS, SandboxState
from sandbox.variations import VARIATIONS

bp = Blueprint("control", __name__, url_prefix="/_sandbox")

# Parameters each fault kind accepts, with their types (`count` is accepted by all).
FAULT_PARAMS: dict[str, dict[str, type]] = {
    "latency": {"seconds": float},
    "status": {"status": int},
    "rate_limit": {"retry_after": int},
    "timeout": {"seconds": float},
    "redirect": {"location": str},
    "credits": {"reset_at": str},
}


def _state() -> SandboxState:
    return current_app.config["SANDBOX_STATE"]


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else {}


def _bad_request(message: str) -> Response:
    return json_response({"error": message}, 400)


# --- inspection API --------------------------------------------------------------------------


def ledger_snapshot(state: SandboxState) -> dict[str, Any]:
    """Everything the fakes hold, as plain JSON (internal `_` fields included for BC)."""
    with state.lock:
        return {
            "xledger": {
                "vouchers": [dict(v) for v in state.xledger_vouchers],
                "import_items": [dict(i) for i in state.xledger_items],
                "import_errors": [dict(e) for e in state.xledger_errors],
            },
            "business_central": {
                "journal_lines": [_bc_view(line) for line in state.bc_journal_lines],
                "general_ledger_entries": [_bc_view(e) for e in state.bc_ledger_entries],
            },
            "dataverse": {
                host: {name: [dict(r) for r in rows] for name, rows in env["tables"].items()}
                for host, env in state.dataverse_envs.items()
            },
            "tripletex": {"vouchers": [dict(v) for v in state.tripletex_vouchers]},
        }


def _bc_view(row: dict[str, Any]) -> dict[str, Any]:
    view = {k: v for k, v in row.items() if not k.startswith("_") and not k.startswith("@")}
    view["dimensions"] = [
        {"code": d["code"], "valueCode": d["valueCode"]} for d in row.get("_dimensions", [])
    ]
    return view


@bp.get("/api/ledger")
def api_ledger() -> Response:
    """Posted Xledger vouchers, BC journal lines and ledger entries, Dataverse records."""
    return json_response(ledger_snapshot(_state()))


@bp.get("/api/requests")
def api_requests() -> Response:
    """API requests seen: method, host, path, status, error code (never headers or bodies)."""
    state = _state()
    with state.lock:
        return json_response({"requests": list(state.requests)})


@bp.delete("/api/requests")
def api_clear_requests() -> Response:
    state = _state()
    with state.lock:
        state.requests.clear()
    return json_response({"cleared": True})


@bp.post("/api/reset")
def api_reset() -> Response:
    """Back to the demo start: no postings, faults, revocations or extra tokens."""
    _state().reset()
    return json_response({"reset": True})


@bp.get("/api/faults")
def api_faults() -> Response:
    state = _state()
    with state.lock:
        return json_response({"faults": [f.to_json() for f in state.faults]})


@bp.post("/api/faults")
def api_add_fault() -> Response:
    """Inject a fault: {"target", "kind", "count"?, kind parameters…}."""
    body = dict(_body())
    target, kind = body.pop("target", None), body.pop("kind", None)
    count = body.pop("count", None)
    if not isinstance(target, str) or kind not in FAULT_KINDS:
        return _bad_request(f"need a target and a kind, one of {sorted(FAULT_KINDS)}")
    if count is not None and (not isinstance(count, int) or isinstance(count, bool) or count < 1):
        return _bad_request("count must be a positive integer or null (until cleared)")
    allowed = FAULT_PARAMS.get(kind, {})
    params = {}
    for name, value in body.items():
        if name not in allowed:
            return _bad_request(f"fault {kind} takes {sorted(allowed) or 'no parameters'}")
        try:
            params[name] = allowed[name](value)
        except (TypeError, ValueError):
            return _bad_request(f"{name} must be a {allowed[name].__name__}")
    if kind == "status" and not 500 <= params.get("status", 503) <= 599:
        return _bad_request("status must be a 5xx code")
    fault = _state().add_fault(target, kind, count, **params)
    return json_response(fault.to_json(), 201)


@bp.delete("/api/faults")
def api_clear_faults() -> Response:
    """Clear all faults, or only those of `?target=`."""
    removed = _state().clear_faults(target=request.args.get("target"))
    return json_response({"removed": removed})


@bp.delete("/api/faults/<fault_id>")
def api_clear_fault(fault_id: str) -> Response:
    removed = _state().clear_faults(fault_id=fault_id)
    return json_response({"removed": removed}, 200 if removed else 404)


@bp.post("/api/xledger/tokens")
def api_new_xledger_token() -> Response:
    """A fresh valid Xledger token, so parallel tests don't share one."""
    return json_response({"token": _state().new_xledger_token()}, 201)


@bp.post("/api/xledger/tokens/<action>")
def api_xledger_token(action: str) -> Response:
    """Revoke or restore a token: {"token": …}."""
    token = _body().get("token")
    if not isinstance(token, str) or action not in ("revoke", "restore"):
        return _bad_request('POST /revoke or /restore with {"token": …}')
    state = _state()
    with state.lock:
        if action == "revoke":
            state.revoked_xledger_tokens.add(token)
        else:
            state.revoked_xledger_tokens.discard(token)
    return json_response({"token_revoked": action == "revoke"})


@bp.post("/api/entra/apps")
def api_new_app() -> Response:
    """Register a fresh app in the demo tenant, an application user in Dataverse and BC."""
    app = _state().new_app()
    return json_response(
        {"tenant_id": app.tenant_id, "client_id": app.client_id, "client_secret": app.secret},
        201,
    )


@bp.post("/api/entra/secrets/<action>")
def api_secret(action: str) -> Response:
    """Expire or restore an app's client secret: {"client_id": …}."""
    client_id = _body().get("client_id")
    state = _state()
    with state.lock:
        app = state.apps.get(str(client_id).lower())
        if app is None or action not in ("expire", "restore"):
            return _bad_request('POST /expire or /restore with a known {"client_id": …}')
        app.secret_expired = action == "expire"
    return json_response({"secret_expired": action == "expire"})


@bp.post("/api/entra/tokens/expire")
def api_expire_tokens() -> Response:
    """Expire issued access tokens (all, or one client's), to exercise refresh."""
    expired = _state().expire_access_tokens(_body().get("client_id"))
    return json_response({"expired": expired})


@bp.get("/api/settings")
def api_settings() -> Response:
    state = _state()
    with state.lock:
        return json_response(dict(state.settings))


@bp.put("/api/settings")
def api_update_settings() -> Response:
    """Change settings; unknown keys or bad values are refused with 400."""
    try:
        return json_response(_state().update_settings(_body()))
    except (TypeError, ValueError) as error:
        return _bad_request(str(error))


@bp.get("/api/demo")
def api_demo() -> Response:
    """The demo credentials, as printed at start."""
    return json_response(
        {
            "xledger_token": demo.XLEDGER_TOKEN,
            "xledger_entity": demo.XLEDGER_ENTITY_CODE,
            "tenant_id": demo.TENANT_ID,
            "tenant_domain": demo.TENANT_DOMAIN,
            "client_id": demo.CLIENT_ID,
            "client_secret": demo.CLIENT_SECRET,
            "dataverse_url": demo.DATAVERSE_URL,
            "dataverse_table": demo.DATAVERSE_TABLE,
            "bc_environment": demo.BC_ENVIRONMENT,
            "bc_company": demo.BC_COMPANY_NAME,
            "bc_journal": demo.BC_JOURNAL,
        }
    )


# --- control page --------------------------------------------------------------------------

# Page targets → identity; the page only ever acts on the published demo credentials.
PAGE_TARGETS = {
    "xledger": ("Xledger (demo token)", demo.XLEDGER_TOKEN),
    "dynamics": ("Dynamics 365: Entra, Dataverse and Business Central (demo app)", demo.CLIENT_ID),
}
PAGE_FAULTS = {
    "status": ("Server error 503", {"status": 503}),
    "rate_limit": ("Throttled: 429 with Retry-After 2 s", {"retry_after": 2}),
    "latency": ("Slow: 3 s extra per request", {"seconds": 3.0}),
}
MESSAGES = {
    "revoked": "The demo Xledger token is revoked. Exports to Xledger now fail until restored.",
    "restored": "The demo Xledger token works again.",
    "expired": "The demo client secret is expired. New Dynamics tokens are refused.",
    "secret-restored": "The demo client secret works again.",
    "burst": "Burst limit setting changed.",
    "fault": "Fault injected. It affects the next requests as chosen.",
    "cleared": "All faults cleared.",
    "reset": "The sandbox is back to its starting state: nothing posted, no faults.",
    "variation": "The tenant variation changed. It applies to the next requests.",
    "invalid": "That request was not understood; nothing changed.",
}


@bp.get("/")
def page() -> str:
    """Show demo credentials, what was posted, and buttons to provoke failures."""
    state = _state()
    with state.lock:
        context = {
            "demo": demo,
            "ledger": ledger_snapshot(state),
            "faults": [f.to_json() for f in state.faults],
            "settings": dict(state.settings),
            "token_revoked": demo.XLEDGER_TOKEN in state.revoked_xledger_tokens,
            "secret_expired": state.apps[demo.CLIENT_ID].secret_expired,
            "requests": list(state.requests)[-15:][::-1],
        }
    message = MESSAGES.get(request.args.get("done", ""))
    return render_template(
        "sandbox/control.html",
        message=message,
        targets=PAGE_TARGETS,
        page_faults=PAGE_FAULTS,
        variations=list(VARIATIONS.values()),
        **context,
    )


@bp.post("/actions/<action>")
def page_action(action: str) -> Response:
    """Carry out one button of the control page, then show the page again."""
    state = _state()
    done = _page_action(state, action)
    return redirect(url_for("control.page", done=done), code=303)


def _page_action(state: SandboxState, action: str) -> str:
    with state.lock:
        if action == "revoke-token":
            state.revoked_xledger_tokens.add(demo.XLEDGER_TOKEN)
            return "revoked"
        if action == "restore-token":
            state.revoked_xledger_tokens.discard(demo.XLEDGER_TOKEN)
            return "restored"
        if action == "expire-secret":
            state.apps[demo.CLIENT_ID].secret_expired = True
            return "expired"
        if action == "restore-secret":
            state.apps[demo.CLIENT_ID].secret_expired = False
            return "secret-restored"
        if action == "toggle-burst":
            state.settings["burst_limit"] = not state.settings["burst_limit"]
            return "burst"
        if action == "clear-faults":
            state.clear_faults()
            return "cleared"
        if action == "reset":
            state.reset()
            return "reset"
        if action == "add-fault":
            return _page_fault(state)
        if action == "variation":
            variation = VARIATIONS.get(request.form.get("key", ""))
            value = request.form.get("value")
            if variation is None or not variation.allows(value):
                return "invalid"
            state.settings[variation.key] = value
            return "variation"
    return "invalid"


def _page_fault(state: SandboxState) -> str:
    target = PAGE_TARGETS.get(request.form.get("target", ""))
    fault = PAGE_FAULTS.get(request.form.get("kind", ""))
    try:
        count = int(request.form.get("count", "3"))
    except ValueError:
        return "invalid"
    if target is None or fault is None or not 1 <= count <= 100:
        return "invalid"
    state.add_fault(target[1], request.form["kind"], count, **fault[1])
    return "fault"
