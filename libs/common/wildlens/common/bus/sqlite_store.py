"""The memory bus's queues in one SQLite file. Blocking; the bus calls it from one thread.

Tables: ``bus_queues`` (a queue and the event type it is bound to; ``owner`` set for a
broadcast queue, which lives only as long as its bus), ``bus_messages`` (one row per message
per queue; ``locked_by`` names the bus holding it unacked), ``bus_dead_letters`` and
``bus_owners`` (the buses alive on this file, so that the messages of one that died can be
handed out again).
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ClaimedMessage", "SqliteStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS bus_queues (
    name TEXT PRIMARY KEY,
    event_type TEXT NOT NULL,
    owner TEXT
);
CREATE INDEX IF NOT EXISTS bus_queues_event_type ON bus_queues (event_type);
CREATE TABLE IF NOT EXISTS bus_messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    queue TEXT NOT NULL,
    body BLOB NOT NULL,
    deliveries INTEGER NOT NULL DEFAULT 0,
    locked_by TEXT
);
CREATE INDEX IF NOT EXISTS bus_messages_ready ON bus_messages (queue, locked_by, id);
CREATE TABLE IF NOT EXISTS bus_dead_letters (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    queue TEXT NOT NULL,
    body BLOB NOT NULL,
    reason TEXT NOT NULL,
    deliveries INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS bus_owners (
    token TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    heartbeat REAL NOT NULL
);
"""

_TABLES = ("bus_queues", "bus_messages", "bus_dead_letters", "bus_owners")


@dataclass(frozen=True)
class ClaimedMessage:
    id: int
    body: bytes
    deliveries: int  # counting the delivery that claimed it


class SqliteStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: transactions are explicit, so a claim is one atomic statement
        # and multi-statement changes use BEGIN IMMEDIATE instead of the module's guesswork.
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=10000")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def ping(self) -> None:
        self._db.execute("SELECT 1").fetchone()

    def declare(self, queue: str, event_type: str, owner: str | None) -> None:
        self._db.execute(
            "INSERT INTO bus_queues (name, event_type, owner) VALUES (?, ?, ?) "
            "ON CONFLICT (name) DO UPDATE SET event_type = excluded.event_type, "
            "owner = excluded.owner",
            (queue, event_type, owner),
        )

    def publish(self, messages: list[tuple[str, bytes]]) -> None:
        """Copy every (event type, body) into each queue bound to that type, atomically."""
        with _transaction(self._db):
            for event_type, body in messages:
                self._db.execute(
                    "INSERT INTO bus_messages (queue, body) "
                    "SELECT name, ? FROM bus_queues WHERE event_type = ?",
                    (body, event_type),
                )

    def claim(self, queue: str, owner: str, limit: int) -> list[ClaimedMessage]:
        rows = self._db.execute(
            "UPDATE bus_messages SET locked_by = ?, deliveries = deliveries + 1 "
            "WHERE id IN (SELECT id FROM bus_messages WHERE queue = ? AND locked_by IS NULL "
            "ORDER BY id LIMIT ?) RETURNING id, body, deliveries",
            (owner, queue, limit),
        ).fetchall()
        return sorted((ClaimedMessage(*row) for row in rows), key=lambda m: m.id)

    def ack(self, message_id: int) -> None:
        self._db.execute("DELETE FROM bus_messages WHERE id = ?", (message_id,))

    def release(self, message_id: int) -> None:
        self._db.execute("UPDATE bus_messages SET locked_by = NULL WHERE id = ?", (message_id,))

    def dead_letter(self, message_id: int, dead_queue: str, reason: str) -> None:
        with _transaction(self._db):
            self._db.execute(
                "INSERT INTO bus_dead_letters (queue, body, reason, deliveries) "
                "SELECT ?, body, ?, deliveries FROM bus_messages WHERE id = ?",
                (dead_queue, reason, message_id),
            )
            self._db.execute("DELETE FROM bus_messages WHERE id = ?", (message_id,))

    def dead_letters(self, dead_queue: str) -> list[tuple[bytes, str, int]]:
        rows = self._db.execute(
            "SELECT body, reason, deliveries FROM bus_dead_letters WHERE queue = ? ORDER BY id",
            (dead_queue,),
        ).fetchall()
        return [(bytes(body), str(reason), int(n)) for body, reason, n in rows]

    def register(self, owner: str, host: str, pid: int, now: float) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO bus_owners (token, host, pid, heartbeat) VALUES (?, ?, ?, ?)",
            (owner, host, pid, now),
        )

    def heartbeat(self, owner: str, host: str, pid: int, now: float) -> None:
        # An upsert: a bus that was taken for dead (its loop stalled past the timeout) must
        # count as alive again, or every message it claims would be handed out twice.
        self.register(owner, host, pid, now)

    def reap(self, host: str, now: float, stale_after: float) -> int:
        """Forget buses that died; their unacked messages become deliverable again.

        A bus is dead when its heartbeat is stale or, on this host, its process is gone
        (which lets a restarted process recover at once instead of after the timeout).
        Returns how many messages were released.
        """
        with _transaction(self._db):
            owners = self._db.execute("SELECT token, host, pid, heartbeat FROM bus_owners")
            dead = [
                token
                for token, owner_host, pid, heartbeat in owners.fetchall()
                if heartbeat < now - stale_after or (owner_host == host and not _alive(pid))
            ]
            for token in dead:
                self._forget(token)
            released = self._db.execute(
                "UPDATE bus_messages SET locked_by = NULL WHERE locked_by IS NOT NULL "
                "AND locked_by NOT IN (SELECT token FROM bus_owners)"
            ).rowcount
        return int(released)

    def unregister(self, owner: str) -> None:
        with _transaction(self._db):
            self._forget(owner)
            self._db.execute(
                "UPDATE bus_messages SET locked_by = NULL WHERE locked_by = ?", (owner,)
            )

    def drop(self) -> None:
        for table in _TABLES:
            self._db.execute(f"DROP TABLE IF EXISTS {table}")

    def _forget(self, owner: str) -> None:
        self._db.execute(
            "DELETE FROM bus_messages WHERE queue IN (SELECT name FROM bus_queues WHERE owner = ?)",
            (owner,),
        )
        self._db.execute("DELETE FROM bus_queues WHERE owner = ?", (owner,))
        self._db.execute("DELETE FROM bus_owners WHERE token = ?", (owner,))


class _transaction:
    """BEGIN IMMEDIATE … COMMIT: takes the write lock up front so that two buses on the same
    file never deadlock upgrading a read lock."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self._db.execute("COMMIT" if exc_type is None else "ROLLBACK")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
