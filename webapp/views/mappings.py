"""Field mapping editor: one row per target field, edited inline; preview; code check.

Every action is a plain form (GET or POST + redirect back) that htmx upgrades: a row swaps
between its view and its edit form, the preview and the code check refresh themselves when
the mapping changes (`mapping-changed`) or the codes are fetched (`references-refreshed`).
The preview shows one sample claim at a time; what would be sent for it loads when its
disclosure is opened.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from werkzeug.routing import BuildError

from adapters import get_type
from adapters.errors import AdapterError, AuthError
from webapp import htmx
from webapp.access import integration_or_404, org_admin_required, org_blueprint_setup
from webapp.i18n import text
from webapp.mapping import CATALOGUE, TRANSFORMS
from webapp.services import mappings
from webapp.vault import VaultError

bp = Blueprint(
    "mappings", __name__, url_prefix="/o/<org_slug>/integrations/<int:integration_id>/mappings"
)
org_blueprint_setup(bp)

PAGE = "mappings/index.html"
REFRESHED = "references-refreshed"
CHANGED = "mapping-changed"


@bp.url_value_preprocessor
def _load_integration(endpoint: str | None, values: dict | None) -> None:
    """integration_id → g.integration, only within the page's organisation (else 404)."""
    if values is None or "integration_id" not in values:
        return
    integration_id = values.pop("integration_id")
    g.integration = None
    if g.get("org") is None:
        return  # not signed in: the blueprint's before_request sends them to sign in
    g.integration = integration_or_404(integration_id)
    g.itype = get_type(g.integration.type_key)


@bp.url_defaults
def _add_integration_id(endpoint: str, values: dict) -> None:
    if "integration_id" not in values and g.get("integration") is not None:
        values["integration_id"] = g.integration.id


@bp.get("/")
def index():
    """Show every target field's source, the code check and the preview."""
    return htmx.render(PAGE, "mappings/_rows.html", **_page_context())


@bp.get("/fields/<target>")
def row(target: str):
    """Show one row (htmx swaps it back in after Cancel or after the codes were fetched)."""
    return _respond("mappings/_row.html", r=_row_state(target), focus=True)


@bp.get("/fields/<target>/edit")
@org_admin_required
def edit(target: str):
    """Show the edit form of one row; `kind` switches the source type before saving."""
    state = _row_state(target, editable=True)
    draft = mappings.draft_for(g.integration, g.itype, target, request.args.get("kind"))
    return _respond("mappings/_row.html", _page={"drafts": {target: draft}}, r=state, draft=draft)


@bp.post("/fields/<target>")
@org_admin_required
def save(target: str):
    """Check and save one row; on a problem show the form again with the message."""
    state = _row_state(target, editable=True)
    draft = mappings.parse_form(g.itype, target, request.form)
    old_version = draft.version
    fresh = mappings.save_draft(g.integration, g.itype, draft, g.user)
    label = text(state.label)
    if fresh is None:
        message = draft.conflict or _(
            "%(label)s was not saved. The message at the field says what to change.", label=label
        )
        return _respond(
            "mappings/_row.html",
            _page={"drafts": {target: draft}},
            r=state,
            draft=draft,
            announce=message,
        )
    g.integration = fresh
    message = _("%(label)s saved.", label=label)
    stay = draft.kind == "lookup" and request.form.get("action") == "add_another"
    if not htmx.is_fragment_request():
        flash(message, "success")
        if stay:
            return redirect(url_for("mappings.edit", target=target) + f"#row-{target}")
        return redirect(url_for("mappings.index") + f"#row-{target}")
    fragment = {"r": _row_state(target), "announce": message, "old_version": old_version}
    if stay:
        # Stay in the form, with an empty pair of boxes for the next entry.
        fragment["draft"] = mappings.draft_for(fresh, g.itype, target)
        fragment["focus_new"] = True
    else:
        fragment["focus"] = True
    return htmx.trigger(_respond("mappings/_row.html", **fragment), CHANGED)


@bp.post("/defaults")
@org_admin_required
def install():
    """Fill an integration without any mapping with its system's standard mapping."""
    if mappings.install_defaults(g.integration, g.user):
        flash(
            _("The standard mapping for %(system)s is filled in.", system=text(g.itype.name)),
            "success",
        )
    return redirect(url_for("mappings.index"))


@bp.get("/preview")
def preview():
    """Show one sample claim (`claim`, else the newest) resolved with the saved mapping."""
    claim_id = request.args.get("claim", type=int)
    fragment = _preview_context(claim_id)
    sample = fragment["sample"]
    if request.args.get("show") and sample.shown is not None:
        fragment["announce"] = _(
            "Claim %(num)d of %(count)d", num=sample.position, count=len(sample.claims)
        )
    return _respond("mappings/_preview.html", _page={"claim_id": claim_id}, **fragment)


@bp.get("/preview/payload")
def payload():
    """Show exactly what would be sent for one sample claim (the preview's disclosure)."""
    claim_id = request.args.get("claim", type=int)
    page = {"claim_id": claim_id, "payload": True}
    return _respond("mappings/_payload.html", _page=page, **_preview_context(claim_id, True))


@bp.get("/reference")
def reference():
    """Show which typed codes the accounting system does not have (from the cache)."""
    return _respond("mappings/_reference.html", **_reference_context())


@bp.post("/reference")
@org_admin_required
def refresh():
    """Fetch the accounting system's codes again and check the mapping against them."""
    system = text(g.itype.name)
    problem = None
    try:
        counts = mappings.refresh_references(g.integration)
    except mappings.NotConnected:
        problem = (
            _(
                "Ledgerlink has no saved credentials for %(system)s yet, so it cannot fetch the "
                "codes. Enter and test the credentials first.",
                system=system,
            ),
            _credentials_url(),
        )
    except VaultError:
        problem = (
            _(
                "The saved credentials can no longer be read, so the codes cannot be fetched. "
                "The credentials must be entered again."
            ),
            _credentials_url(),
        )
    except AdapterError as error:
        problem = (
            text(error.message),
            _credentials_url() if isinstance(error, AuthError) else None,
        )
    if problem is not None:
        return _respond(
            "mappings/_reference.html",
            _page={"reference_problem": problem},
            **_reference_context(problem),
            announce=problem[0],
        )
    total = sum(counts.values())
    message = ngettext(
        "Fetched %(num)d code from %(system)s.",
        "Fetched %(num)d codes from %(system)s.",
        total,
        system=system,
    )
    if not htmx.is_fragment_request():
        flash(message, "success")
        return redirect(url_for("mappings.index") + "#reference-check")
    response = _respond("mappings/_reference.html", **_reference_context(), announce=message)
    return htmx.trigger(response, REFRESHED)


# ---------------------------------------------------------------------------------------------


def _row_state(target: str, editable: bool = False) -> mappings.RowState:
    """The row of a target this integration has (404 for any other name).

    `editable`: only target fields the system still has can be edited.
    """
    for state in mappings.editor_rows(g.integration, g.itype):
        if state.target == target and (state.field is not None or not editable):
            return state
    abort(404)


def _respond(fragment: str, _page: dict | None = None, **context):
    """The fragment with `context` for htmx; otherwise the whole page, status 200."""
    if htmx.is_fragment_request():
        return htmx.render(PAGE, fragment, **{**_common(), **context})
    return htmx.render(PAGE, fragment, **_page_context(**(_page or {})))


def _common() -> dict:
    """What every template of the editor needs."""
    return {
        "integration": g.integration,
        "itype": g.itype,
        "can_edit": g.membership.is_admin,
        "catalogue": CATALOGUE,
        "transform_labels": TRANSFORMS,
        "date_formats": mappings.DATE_FORMATS,
        "field_choices": mappings.field_choices,
        "transforms_for": mappings.transforms_for,
        "local_time": lambda value: mappings.local_time(value, g.org.time_zone),
        "credentials_url": _credentials_url(),
        "draft": None,
        "drafts": {},
        "announce": None,
        "old_version": None,
        "focus": False,
        "focus_new": False,
    }


def _preview_context(
    claim_id: int | None = None, payload: bool = False, rows=None, caches=None
) -> dict:
    sample = mappings.preview(
        g.integration, g.itype, claim_id, rows=rows, caches=caches, payload=payload
    )
    return {"sample": sample, "claim_id": claim_id}


def _reference_context(
    problem: tuple[str, str | None] | None = None, rows=None, references=None
) -> dict:
    return {
        "reference": mappings.reference_state(g.integration, g.itype, rows, references),
        "reference_problem": problem,
    }


def _page_context(
    *,
    drafts: dict | None = None,
    claim_id: int | None = None,
    payload: bool = False,
    reference_problem: tuple[str, str | None] | None = None,
) -> dict:
    # Read once for the rows, the code check and the preview.
    stored = mappings.stored_rows(g.integration)
    references = mappings.all_references(g.integration)
    rows = mappings.editor_rows(g.integration, g.itype, stored, references[0])
    context = _common()
    context.update(
        rows=rows,
        drafts=drafts or {},
        has_rows=any(r.row is not None for r in rows),
        **_reference_context(reference_problem, rows, references),
        **_preview_context(claim_id, payload, stored, references[0]),
    )
    return context


def _credentials_url() -> str | None:
    """The credential form of this integration (it arrives with its own issue)."""
    try:
        return url_for("credentials.edit", integration_id=g.integration.id)
    except BuildError:
        return None
