"""Import claims from a spreadsheet: upload → preview with problems by row → import."""

from __future__ import annotations

from flask import Blueprint, Response, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from webapp.access import login_required, org_admin_required, org_blueprint_setup
from webapp.services.claims import csv_import

bp = Blueprint("claims_import", __name__, url_prefix="/o/<org_slug>/claims/import")
org_blueprint_setup(bp)


@bp.get("/")
@login_required
@org_admin_required
def start():
    """The upload form and the template to fill in."""
    return render_template("claims_import/upload.html", error=None)


@bp.get("/template.csv")
@login_required
@org_admin_required
def template():
    """A spreadsheet with the columns and an example claim."""
    body = "\ufeff" + csv_import.template()
    return Response(
        body.encode("utf-8"),
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="ledgerlink-reiseregninger.csv"'},
    )


@bp.post("/")
@login_required
@org_admin_required
def preview():
    """Check the uploaded file and show each problem by row and column."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return render_template("claims_import/upload.html", error=_("Choose a CSV file to upload."))
    text = csv_import.decode(upload.read())
    checked = csv_import.preview(g.org, text)
    return render_template("claims_import/preview.html", preview=checked, filename=upload.filename)


@bp.post("/confirm")
@login_required
@org_admin_required
def confirm():
    """Store the claims that had no problems; the others are left out."""
    stored, checked = csv_import.import_valid(g.org, request.form.get("content", ""))
    created = sum(1 for s in stored if s.result == "created")
    existing = len(stored) - created
    flash(
        _(
            "%(created)d claims imported; %(existing)d were imported before and left as they were; %(skipped)d with problems left out.",
            created=created,
            existing=existing,
            skipped=checked.invalid_claims,
        ),
        "success",
    )
    return redirect(url_for("dashboard.home"))
