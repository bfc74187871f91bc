"""`recovery users`: service accounts in the service's database."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import typer

from recovery.cli.common import database, fail, out

app = typer.Typer(help="Service accounts.", no_args_is_help=True)


@app.command("create")
def users_create(
    username: Annotated[str, typer.Option()],
    role: Annotated[str, typer.Option(help="therapist | patient | analyst | admin")],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True,
                                          confirmation_prompt=True,
                                          envvar="RECOVERY_NEW_PASSWORD")],
    patient_id: Annotated[str | None, typer.Option(help="patient accounts: their record")] = None,
) -> None:
    """Create an account in the service's database (password prompted, never echoed)."""
    from pydantic import ValidationError

    from recovery.service.accounts import create
    from recovery.service.schemas import UserIn

    try:
        body = UserIn(username=username, password=password, role=role,  # type: ignore[arg-type]
                      patient_id=patient_id)
    except ValidationError as exc:
        fail("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()))
    with database() as s:
        user = create(s, body)
        out.print(f"[green]created[/] {user.role} {user.username!r} (id {user.id})")


@app.command("passwd")
def users_passwd(
    username: Annotated[str, typer.Option()],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True,
                                          confirmation_prompt=True,
                                          envvar="RECOVERY_NEW_PASSWORD")],
) -> None:
    """Set a user's password; every token they hold stops working."""
    from recovery.service.accounts import revise

    if not 10 <= len(password) <= 200:
        fail("password: 10 to 200 characters")
    _change_user(username, lambda u: revise(u, password=password), "password changed")


@app.command("disable")
def users_disable(username: Annotated[str, typer.Option()]) -> None:
    """Disable an account (sign-in refused, tokens revoked); `enable` undoes it."""
    from recovery.service.accounts import revise

    _change_user(username, lambda u: revise(u, active=False), "disabled")


@app.command("enable")
def users_enable(username: Annotated[str, typer.Option()]) -> None:
    """Re-enable a disabled account (its old tokens stay revoked)."""
    from recovery.service.accounts import revise

    _change_user(username, lambda u: revise(u, active=True), "enabled")


@app.command("delete")
def users_delete(username: Annotated[str, typer.Option()]) -> None:
    """Delete an account for good (its id is never reused; records keep pointing at it)."""
    from recovery.service.accounts import retire

    _change_user(username, retire, "deleted")


def _change_user(username: str, change: Callable[[Any], None], done: str) -> None:
    """Change one account, found by its name, in one transaction."""
    from recovery.service.accounts import by_name

    with database() as s:
        change(by_name(s, username))
    out.print(f"[green]{done}[/]: {username!r}")
