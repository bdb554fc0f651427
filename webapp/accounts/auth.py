"""Who is asking: session sign-in or API token, password and token hashing, and who may change what.

- Passwords are hashed with Werkzeug's scrypt (``generate_password_hash``);
  the store keeps only the hash.
- API tokens are 256-bit random strings shown once; the store keeps their
  SHA-256 (a token has the entropy a password lacks, so a fast hash is right
  and lets every request look it up). ``Authorization: Bearer <token>``.
- A signed-in browser carries a signed session cookie (HttpOnly,
  SameSite=Lax) that also holds a fingerprint of the password hash, so a
  password change signs every other session out. Requests authenticated by
  the cookie must carry the CSRF token (form field ``csrf_token`` or header
  ``X-CSRFToken``); token requests need none (no ambient credential).
- Responses to an authenticated request are ``Cache-Control: private`` and
  every response varies on ``Cookie`` and ``Authorization``, so no shared
  cache can hand one user's private layer to another.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets

from flask import current_app, g, redirect, request, session, url_for
from flask_wtf.csrf import CSRFProtect
from werkzeug.security import check_password_hash, generate_password_hash

from layers.errors import MapError

__all__ = ["MIN_PASSWORD", "NotAllowed", "SignInRequired", "authenticate", "can_edit", "csrf", "hash_password",
           "hash_token", "init_app", "new_token", "require_user", "sign_in", "sign_out", "verify_password"]

MIN_PASSWORD = 10
TOKEN_PREFIX = "mapsvc_"
_SAFE = ("GET", "HEAD", "OPTIONS")
csrf = CSRFProtect()


class SignInRequired(MapError):
    """The request needs an account (a session or an API token)."""

    status = 401

    def __init__(self, why="sign in (or send an API token: Authorization: Bearer <token>) to do this"):
        super().__init__(why)


class NotAllowed(MapError):
    """Signed in, but not allowed to change this."""

    status = 403


def hash_password(password):
    """Werkzeug's scrypt hash of ``password`` (salted, parameters in the hash)."""
    return generate_password_hash(password)


def verify_password(stored_hash, password):
    return bool(stored_hash) and check_password_hash(stored_hash, password)


def new_token():
    """A fresh API token (shown once) and the hash to store."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    return token, hash_token(token)


def hash_token(token):
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _fingerprint(password_hash):
    return hashlib.sha256(password_hash.encode("utf-8")).hexdigest()[:16]


def sign_in(user):
    """Start a fresh session for ``user`` (a new cookie: no session fixation)."""
    session.clear()
    session["uid"] = user.id
    session["pw"] = _fingerprint(user.password_hash)
    session.permanent = False
    g.user, g.auth = user, "session"
    g.pop("catalog", None)


def sign_out():
    session.clear()
    g.user, g.auth = None, None
    g.pop("catalog", None)


# files that are the same for everyone: they keep their public, immutable caching for signed-in users too
_SHARED_ENDPOINTS = ("static", "assets.versioned")


def authenticate():
    """Set ``g.user`` / ``g.auth`` from a Bearer token or the session; check CSRF for cookie writes."""
    store = current_app.extensions["store"]
    g.user, g.auth = None, None
    if request.endpoint in _SHARED_ENDPOINTS:
        return  # the same file for everyone: no store look-up per asset
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        user = store.user_for_token(hash_token(token.strip())) if scheme.lower() == "bearer" and token else None
        if user is None:
            raise SignInRequired("the API token is unknown or revoked (Authorization: Bearer <token>)")
        g.user, g.auth = user, "token"
        return
    uid = session.get("uid")
    if uid is not None:
        user = store.user(user_id=uid)
        if user is None or not hmac.compare_digest(session.get("pw", ""), _fingerprint(user.password_hash)):
            session.clear()  # the account is gone or its password changed: this session is over
        else:
            g.user, g.auth = user, "session"
    # Every browser write is CSRF-checked (sign-in and sign-up forms too); an API call with neither a
    # cookie nor a token has no credential to abuse and gets its 401 from the view.
    # (a request no view will answer -- 404, 405 -- gets that answer: there is nothing to protect)
    if request.method not in _SAFE and request.routing_exception is None and (
            session or not request.path.startswith("/api/")):
        csrf.protect()


def require_user():
    """The signed-in user, or SignInRequired (401)."""
    user = g.get("user")
    if user is None:
        raise SignInRequired()
    return user


def can_edit(user, layer):
    """True when ``user`` may change ``layer``: a store layer they own (built-in and folder layers are files)."""
    return user is not None and not layer.read_only and layer.owner_id == user.id


def login_required(view):
    """Pages: send anonymous visitors to the sign-in page, back here afterwards."""

    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if g.get("user") is None:
            return redirect(url_for("accounts.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapped


def _private_responses(response):
    if request.endpoint in _SHARED_ENDPOINTS:
        return response
    response.vary.update(("Cookie", "Authorization"))
    # a signed-in user's answer, or a page bound to a session (its CSRF token), is for that browser only
    if g.get("user") is not None or session or session.modified:
        response.headers["Cache-Control"] = "private, no-cache"
    return response


def init_app(app):
    """Session cookie flags, CSRF (checked in :func:`authenticate`), identity per request, private caching."""
    app.config.setdefault("SESSION_COOKIE_SAMESITE", "Lax")
    app.config.setdefault("SESSION_COOKIE_HTTPONLY", True)
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)  # authenticate() decides: cookie writes only
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # valid as long as the session
    csrf.init_app(app)
    app.before_request(authenticate)
    app.after_request(_private_responses)
