"""Sign-in with OpenID Connect (authorization code + PKCE, state and nonce), sign-out."""

from __future__ import annotations

import logging

import requests
from authlib.integrations.base_client.errors import MismatchingStateError, OAuthError
from authlib.integrations.flask_client import OAuth
from flask import Blueprint, current_app, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from joserfc.errors import JoseError

from webapp import sessions
from webapp.services import users
from webapp.urls import safe_next

bp = Blueprint("auth", __name__, url_prefix="/auth")
log = logging.getLogger("ledgerlink.auth")


def init_app(app) -> None:
    # One OAuth registry per app: the client is bound to this app's provider settings.
    oauth = OAuth(app)
    app.extensions["ledgerlink_oauth"] = oauth
    issuer = app.config.get("OIDC_ISSUER")
    if issuer:
        oauth.register(
            "oidc",
            client_id=app.config["OIDC_CLIENT_ID"],
            client_secret=app.config["OIDC_CLIENT_SECRET"],
            server_metadata_url=issuer.rstrip("/") + "/.well-known/openid-configuration",
            client_kwargs={"scope": app.config["OIDC_SCOPES"], "code_challenge_method": "S256"},
        )


def _provider():
    """This app's OpenID Connect client, or None when sign-in is not configured."""
    oauth = current_app.extensions["ledgerlink_oauth"]
    return oauth.create_client("oidc")


def _problem(title: str, message: str, status: int):
    return render_template("auth/problem.html", title=title, message=message), status


@bp.get("/login")
def login():
    """Show the sign-in page; `?start=1` goes on to the identity provider."""
    if g.user is not None:
        return redirect(url_for("home.index"))
    nxt = safe_next(request.args.get("next"))
    if nxt:
        session["next"] = nxt
    provider = _provider()
    if provider is None:
        return _problem(
            _("Sign-in is not set up"),
            _("Sign-in is not configured on this server. An operator must set OIDC_ISSUER."),
            503,
        )
    if not request.args.get("start"):
        return render_template("auth/login.html")
    _forget_older_sign_ins()
    try:
        return provider.authorize_redirect(url_for("auth.callback", _external=True))
    except requests.RequestException:
        log.warning("identity provider unreachable")
        return _problem(
            _("Sign-in service unavailable"),
            _("We could not reach the sign-in service. Wait a moment and try again."),
            503,
        )


# Sign-ins started and not finished are kept in the session cookie (Authlib keeps one entry
# per start); past a handful the cookie outgrows what browsers keep (4 KB) and is dropped.
PENDING_SIGN_INS = 3


def _forget_older_sign_ins() -> None:
    """Keep the newest few unfinished sign-ins (other tabs) and forget the rest."""
    pending = sorted(
        (key for key in session if key.startswith("_state_oidc_")),
        key=lambda key: (session[key] or {}).get("exp") or 0,
    )
    for key in pending[: max(0, len(pending) - (PENDING_SIGN_INS - 1))]:
        session.pop(key, None)


def email_verified(claims: dict, required: bool) -> bool:
    """Whether the provider vouches for the address. An explicit "not verified" always
    refuses; without the claim (Entra ID sends none for its own accounts) the address is
    trusted unless OIDC_REQUIRE_EMAIL_VERIFIED asks for the claim."""
    verified = claims.get("email_verified")
    if isinstance(verified, str):
        verified = {"true": True, "false": False}.get(verified.strip().lower())
    if verified is None:
        return not required
    return verified is True


@bp.get("/callback")
def callback():
    """Finish sign-in: check state, nonce and the code (PKCE), then link the membership."""
    if request.args.get("error"):
        error = request.args.get("error")
        log.info("sign-in refused by provider: %s", error)
        if error == "access_denied":
            message = _("You chose not to sign in. Nothing was changed.")
        else:
            message = _("The sign-in service refused the request. Try again.")
        return _problem(_("Sign-in was not completed"), message, 400)
    provider = _provider()
    if provider is None:
        return redirect(url_for("auth.login"))
    try:
        token = provider.authorize_access_token()
    except MismatchingStateError:
        return _problem(
            _("Sign-in expired"),
            _("This sign-in link was not started here or has already been used. Start again."),
            400,
        )
    except (OAuthError, ValueError, JoseError) as exc:
        # JoseError: an ID token whose claims do not hold (wrong audience, expired, …).
        log.warning("sign-in failed: %s", type(exc).__name__)
        return _problem(
            _("Sign-in failed"), _("The sign-in could not be verified. Start again."), 400
        )
    except requests.RequestException:
        return _problem(
            _("Sign-in service unavailable"),
            _("We could not reach the sign-in service. Wait a moment and try again."),
            503,
        )
    claims = token.get("userinfo") or {}
    email = (claims.get("email") or "").strip().lower()
    if not claims.get("sub") or not email:
        return _problem(
            _("Sign-in failed"),
            _(
                "The sign-in service did not tell us your email address, so we cannot find your access."
            ),
            400,
        )
    if not email_verified(claims, current_app.config.get("OIDC_REQUIRE_EMAIL_VERIFIED", False)):
        log.info("sign-in refused: the provider has not verified the e-mail address")
        return _problem(
            _("E-mail address not verified"),
            _(
                "Your sign-in service says your e-mail address is not verified, so Ledgerlink cannot match it to an invitation. Verify the address with your sign-in service, or ask its administrator, then sign in again."
            ),
            403,
        )
    user = users.sign_in(
        claims["iss"],
        claims["sub"],
        email,
        claims.get("name") or "",
        admin_emails=current_app.config["ADMIN_EMAILS"],
    )
    if user is None:
        return _problem(
            _("Sign-in failed"),
            _(
                "This email address is already linked to another sign-in account. Ask your administrator."
            ),
            409,
        )
    # Read where the person was going before the session is renewed for the signed-in user.
    next_path = safe_next(session.get("next"))
    session.clear()
    sessions.start(session, user)
    if not user.is_platform_admin and not user.memberships.count():
        return redirect(url_for("auth.no_access"))
    return redirect(next_path or url_for("home.index"))


@bp.get("/no-access")
def no_access():
    """Tell a signed-in person without a membership whom to ask."""
    return render_template("auth/no_access.html")


@bp.post("/logout")
def logout():
    """Sign out of Ledgerlink, everywhere: every session of this person ends."""
    if g.get("user") is not None:
        users.end_sessions(g.user)
    session.clear()
    return redirect(url_for("auth.signed_out"))


@bp.get("/signed-out")
def signed_out():
    return render_template("auth/signed_out.html")
