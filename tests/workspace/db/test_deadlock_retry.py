"""A transaction the database aborts to break a deadlock is run again; other errors are not.

Real deadlocks on the real servers: two transactions lock two rows in opposite orders."""

from __future__ import annotations

import os
import threading
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from runyard.workspace.db.engine import Database, get_database, is_transient_conflict


@pytest.fixture(params=["postgresql"] + ([] if os.environ.get("RUNYARD_TEST_MARIADB") == "0" else ["mariadb"]))
def server_url(request: pytest.FixtureRequest) -> str:
    """PostgreSQL and MariaDB (SQLite has one writer at a time: its transactions cannot deadlock)."""
    return str(request.getfixturevalue(f"{'postgres' if request.param == 'postgresql' else 'mariadb'}_url"))


def _probe_table(db: Database) -> None:
    with db.session(write=True) as session:
        session.execute(text("DROP TABLE IF EXISTS deadlock_probe"))
        session.execute(text("CREATE TABLE deadlock_probe (id INTEGER PRIMARY KEY, value INTEGER NOT NULL)"))
        session.execute(text("INSERT INTO deadlock_probe (id, value) VALUES (1, 0), (2, 0)"))


def test_two_transactions_that_deadlock_both_commit(server_url: str) -> None:
    db = get_database(server_url)
    _probe_table(db)
    both_hold_their_first_row = threading.Barrier(2, timeout=20)
    calls = {"a": 0, "b": 0}
    errors: list[BaseException] = []

    def transfer(session: Session, *, name: str, first: int, second: int) -> None:
        calls[name] += 1
        session.execute(text("UPDATE deadlock_probe SET value = value + 1 WHERE id = :id"), {"id": first})
        if calls[name] == 1:  # the first attempt waits until the other holds its first row: a lock cycle
            both_hold_their_first_row.wait()
        session.execute(text("UPDATE deadlock_probe SET value = value + 1 WHERE id = :id"), {"id": second})

    def run(name: str, first: int, second: int) -> None:
        try:
            db.run(transfer, write=True, name=name, first=first, second=second)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=("a", 1, 2)), threading.Thread(target=run, args=("b", 2, 1))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert sorted(calls.values()) == [1, 2], calls  # the database aborted one; it ran again and committed
    with db.session(write=False) as session:
        values = dict(session.execute(text("SELECT id, value FROM deadlock_probe")).all())  # type: ignore[arg-type]
    assert values == {1: 2, 2: 2}  # each transaction's two updates, once each: nothing lost, nothing doubled
    with db.session(write=True) as session:
        session.execute(text("DROP TABLE deadlock_probe"))


def test_an_ordinary_error_is_raised_at_once(server_url: str) -> None:
    db = get_database(server_url)
    _probe_table(db)
    calls: list[int] = []

    def duplicate(session: Session) -> Any:
        calls.append(1)
        session.execute(text("INSERT INTO deadlock_probe (id, value) VALUES (1, 5)"))

    with pytest.raises(IntegrityError) as caught:
        db.run(duplicate, write=True)
    assert calls == [1]
    assert not is_transient_conflict(caught.value)
    with db.session(write=True) as session:
        session.execute(text("DROP TABLE deadlock_probe"))
