"""``ml-connector users``: who may log in to the web app, with which role."""

from __future__ import annotations

import sys

import click

from ml_connector.interfaces.cli._store import store_url_option

__all__ = ["users"]

_ROLE = click.Choice(["admin", "operator", "viewer"])


def _password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    if len(password) < 12:
        raise click.ClickException("the password must have at least 12 characters")
    return password


@click.group(name="users")
def users() -> None:
    """Who may log in to the web app ('ml-connector serve')."""


@users.command(name="add")
@click.argument("name")
@click.option(
    "--role",
    type=_ROLE,
    required=True,
    help="viewer reads; operator also acts; admin also manages users",
)
@click.option(
    "--password-stdin",
    is_flag=True,
    help="read the password from the first line of stdin instead of asking",
)
@store_url_option
def add(name: str, role: str, password_stdin: bool, store_url: str | None) -> None:
    """Add the user NAME."""
    from ml_connector.interfaces.web.security import hash_password
    from ml_connector.store.open import open_store
    from ml_connector.store.web import add_user

    if not name.strip() or len(name) > 100:
        raise click.ClickException("the user name must have 1 to 100 characters")
    password = _password(password_stdin)
    engine = open_store(store_url)
    try:
        add_user(engine, name, role, hash_password(password))
    finally:
        engine.dispose()
    click.echo(f"added {name} ({role})")


@users.command(name="set")
@click.argument("name")
@click.option("--role", type=_ROLE, help="the new role")
@click.option("--password", "new_password", is_flag=True, help="ask for a new password")
@click.option("--password-stdin", is_flag=True, help="read the new password from stdin")
@click.option("--disable/--enable", default=None, help="stop or allow the user's logins")
@store_url_option
def set_(
    name: str,
    role: str | None,
    new_password: bool,
    password_stdin: bool,
    disable: bool | None,
    store_url: str | None,
) -> None:
    """Change the user NAME (a new password or --disable ends their sessions)."""
    from ml_connector.interfaces.web.security import hash_password
    from ml_connector.store.open import open_store
    from ml_connector.store.web import set_user

    hashed = hash_password(_password(password_stdin)) if new_password or password_stdin else None
    engine = open_store(store_url)
    try:
        set_user(engine, name, role=role, password_hash=hashed, disabled=disable)
    finally:
        engine.dispose()
    click.echo(f"changed {name}")


@users.command(name="list")
@store_url_option
def list_(store_url: str | None) -> None:
    """Every user with role and state."""
    from ml_connector.store.open import open_store
    from ml_connector.store.web import list_users

    engine = open_store(store_url)
    try:
        for user in list_users(engine):
            state = "disabled" if user.disabled else "enabled"
            click.echo(f"{user.name}\t{user.role}\t{state}")
    finally:
        engine.dispose()
