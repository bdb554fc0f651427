"""Test helpers for accounts: create a user, sign a test client in (its own module: test files import it by
name, which ``from conftest import`` cannot do reliably once tests/browser/conftest.py is loaded too)."""

import re

__all__ = ["PASSWORD", "make_user", "sign_in"]

_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
PASSWORD = "correct horse battery"


def make_user(app, name, password=PASSWORD):
    from webapp.accounts.auth import hash_password

    return app.extensions["store"].create_user(name, hash_password(password), actor="test")


def sign_in(app, name, password=PASSWORD):
    """A test client signed in as ``name`` (created if new): ``(client, csrf token, user record)``."""
    user = app.extensions["store"].user(name=name) or make_user(app, name, password)
    client = app.test_client()
    page = client.get("/account/login").get_data(as_text=True)
    token = _CSRF.search(page).group(1)
    response = client.post("/account/login", data={"name": name, "password": password, "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)
    # signing in starts a new session (no fixation): the pages from now on carry a new token
    token = _CSRF.search(client.get("/import").get_data(as_text=True)).group(1)
    return client, token, user
