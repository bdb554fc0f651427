"""Accounts, API tokens and sign-in: who may import, edit and delete layers (see :mod:`webapp.accounts.auth`)."""

from webapp.accounts import auth, views
from webapp.limits import limit_expensive

__all__ = ["init_app", "init_limits"]


def init_app(app):
    """Identity per request, CSRF, private caching, and the ``/account`` pages."""
    auth.init_app(app)
    app.register_blueprint(views.bp)


def init_limits(app):
    """Password attempts (sign-in, sign-up: one scrypt each) count as expensive work (after limits.init_app)."""
    for endpoint in views.RATE_LIMITED_ENDPOINTS:
        limit_expensive(app, endpoint)
