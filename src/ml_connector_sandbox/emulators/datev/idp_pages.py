"""HTML of the emulator's login/consent page and error page."""

from __future__ import annotations

from collections.abc import Iterable
from html import escape

__all__ = ["consent_page", "error_page"]

_STYLE = (
    "body{font-family:sans-serif;max-width:36em;margin:3em auto;color:#222}"
    "label{display:block;margin:.6em 0}input{padding:.3em}"
    "button{margin:.8em .6em 0 0;padding:.4em 1em}"
    ".error{color:#a00}"
)


def consent_page(
    *,
    interaction: str,
    client_id: str,
    scopes: Iterable[str],
    action: str,
    message: str | None = None,
    demo_logins: Iterable[tuple[str, str]] = (),
) -> str:
    """Login form plus the list of requested scopes, posting back to ``action``;
    ``demo_logins`` (user, password) are the emulator's published demo sign-ins."""
    items = "".join(f"<li><code>{escape(scope)}</code></li>" for scope in scopes)
    notice = f"<p class='error' role='alert'>{escape(message)}</p>" if message else ""
    logins = " or ".join(
        f"user <code>{escape(user)}</code>, password <code>{escape(password)}</code>"
        for user, password in demo_logins
    )
    if logins:
        notice += f"<p class='demo'>This is an emulator. Sign in with its demo login: {logins}.</p>"
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>DATEV emulator: sign in</title><style>{_STYLE}</style></head><body>"
        "<h1>DATEV emulator</h1>"
        f"<p>The application <strong>{escape(client_id)}</strong> asks for access to:</p>"
        f"<ul>{items}</ul>{notice}"
        f"<form method='post' action='{escape(action)}'>"
        f"<input type='hidden' name='interaction' value='{escape(interaction)}'>"
        "<label>User <input name='username' autocomplete='username' required></label>"
        "<label>Password <input name='password' type='password' "
        "autocomplete='current-password' required></label>"
        "<button type='submit' name='decision' value='allow'>Allow</button>"
        "<button type='submit' name='decision' value='deny' formnovalidate>Deny</button>"
        "</form></body></html>"
    )


def error_page(title: str, detail: str) -> str:
    """A page for errors that must not be redirected (unknown client or redirect URI)."""
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{escape(title)}</h1><p class='error'>{escape(detail)}</p></body></html>"
    )
