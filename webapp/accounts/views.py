"""``/account``: sign in and out, sign up (when open), password, API tokens, and ``GET /api/account``.

Every form posts with a CSRF token; a new token is shown once and only its
hash is kept. Changes are written to the audit log by the store.
"""

from __future__ import annotations

import re

from flask import Blueprint, current_app, g, jsonify, redirect, render_template, request, url_for

from layers.errors import BadParameter
from layers.store import StoreConflict
from webapp.accounts.auth import (
    MIN_PASSWORD,
    hash_password,
    login_required,
    new_token,
    require_user,
    sign_in,
    sign_out,
    verify_password,
)
from webapp.catalog import current_catalog
from webapp.workload import count_as_expensive

__all__ = ["RATE_LIMITED_ENDPOINTS", "USER_NAME_RE", "bp", "check_new_account"]

bp = Blueprint("accounts", __name__)
# each POST checks or hashes a password (scrypt): password guessing is bounded per client (webapp.limits)
RATE_LIMITED_ENDPOINTS = ("accounts.login", "accounts.signup")
USER_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{1,39}$")
_DUMMY_HASH = hash_password("not a password: keeps unknown names as slow as known ones")


def _store():
    return current_app.extensions["store"]


def check_new_account(name, password):
    """BadParameter unless ``name`` and ``password`` make an acceptable account."""
    if not USER_NAME_RE.match(name or ""):
        raise BadParameter("name", "2-40 characters: lower-case letters, digits, '.', '_' or '-', starting with a "
                                   "letter or digit")
    if len(password or "") < MIN_PASSWORD:
        raise BadParameter("password", f"at least {MIN_PASSWORD} characters")


def _safe_next(target):
    """Only a path on this site (no scheme, no host, no '//'): never an open redirect."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("accounts.account")


def _page(template, code=200, **context):
    return render_template(template, all_layers=list(current_catalog()), title=context.pop("title", "Account"),
                           **context), code


@bp.route("/account/login", methods=["GET", "POST"])
def login():
    """Sign in with name and password."""
    error = None
    if request.method == "POST":
        count_as_expensive()
        name = request.form.get("name", "").strip().lower()
        user = _store().user(name=name)
        if verify_password(user.password_hash if user else _DUMMY_HASH, request.form.get("password", "")) and user:
            sign_in(user)
            return redirect(_safe_next(request.args.get("next") or request.form.get("next")))
        error = "unknown name or wrong password"
    return _page("account/login.html", 401 if error else 200, title="Sign in", error=error,
                 next=request.args.get("next", ""), signup=current_app.config["SIGNUP_OPEN"])


@bp.post("/account/logout")
def logout():
    """Sign out (a POST with the CSRF token, so no other site can sign you out)."""
    sign_out()
    return redirect(url_for("pages.overview"))


@bp.route("/account/signup", methods=["GET", "POST"])
def signup():
    """Create an account, when the operator opened sign-up (``SIGNUP_OPEN``)."""
    if not current_app.config["SIGNUP_OPEN"]:
        return _page("account/login.html", 403, title="Sign up", signup=False, next="",
                     error="sign-up is closed on this service; ask its operator for an account")
    error = None
    if request.method == "POST":
        count_as_expensive()
        name, password = request.form.get("name", "").strip().lower(), request.form.get("password", "")
        try:
            check_new_account(name, password)
            user = _store().create_user(name, hash_password(password), actor=name)
        except (BadParameter, StoreConflict) as exc:
            error = str(exc)
        else:
            sign_in(user)
            return redirect(url_for("imports.page"))
    return _page("account/signup.html", 400 if error else 200, title="Sign up", error=error)


@bp.get("/account/")
@login_required
def account():
    """Your layers, your API tokens, your password."""
    user = g.user
    return _page("account/account.html", layers=current_app.extensions["catalog"].owned_by(user.id),
                 tokens=_store().tokens(user.id), new_token=None, message=request.args.get("message"))


@bp.post("/account/tokens")
@login_required
def create_token():
    """Make an API token; it is shown once, on this page."""
    label = request.form.get("label", "").strip()[:80] or "API token"
    token, token_hash = new_token()
    _store().create_token(g.user.id, token_hash, label, actor=g.user.name)
    return _page("account/account.html", layers=current_app.extensions["catalog"].owned_by(g.user.id),
                 tokens=_store().tokens(g.user.id), new_token=token, message=None)


@bp.post("/account/tokens/<int:token_id>/revoke")
@login_required
def revoke_token(token_id):
    done = _store().revoke_token(g.user.id, token_id, actor=g.user.name)
    return redirect(url_for("accounts.account", message="token revoked" if done else "no such token"))


@bp.post("/account/password")
@login_required
def change_password():
    user, form = g.user, request.form
    if not verify_password(user.password_hash, form.get("current", "")):
        return redirect(url_for("accounts.account", message="the current password is wrong"))
    try:
        check_new_account(user.name, form.get("new", ""))
    except BadParameter as exc:
        return redirect(url_for("accounts.account", message=str(exc)))
    _store().set_password(user.id, hash_password(form["new"]), actor=user.name)
    sign_in(_store().user(user_id=user.id))  # this session stays; every other one is signed out
    return redirect(url_for("accounts.account", message="password changed"))


@bp.get("/api/account")
def api_account():
    """Who the token or session belongs to, and their layers (published or not)."""
    user = require_user()
    layers = current_app.extensions["catalog"].owned_by(user.id)
    return jsonify({"user": user.name, "layers": [
        {"id": lay.id, "title": lay.title, "public": lay.public, "version": lay.version,
         "feature_count": len(lay.gdf), "links": {"manage": url_for("imports.manage", layer_id=lay.id),
                                                   "map": url_for("pages.layer_map", layer_id=lay.id)}}
        for lay in layers]})
