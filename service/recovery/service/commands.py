"""What the `recovery` commands open of the service: its database on the settings' URL,
migrated, for one session, then closed (the one way a command reaches the database)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session

from recovery.service.db import Database
from recovery.service.settings import Settings

__all__ = ["database_session"]


@contextmanager
def database_session(settings: Settings, read_only: bool = False) -> Iterator[Session]:
    """One session on the service's database, brought up to date first: a transaction
    committed on success and rolled back on error, or (`read_only`) a read holding no write
    lock."""
    db = Database(settings.database_url)
    try:
        db.migrate()
        with db.reading() if read_only else db.session() as s:
            yield s
    finally:
        db.close()
