"""Accounts, API tokens and sign-in: who may import, edit and delete layers (see :mod:`webapp.accounts.auth`)."""

from webapp.accounts import auth, views

__all__ = ["init_app"]


def init_app(app):
    """Identity per request, CSRF, private caching, and the ``/account`` pages."""
    auth.init_app(app)
    app.register_blueprint(views.bp)
