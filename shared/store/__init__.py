"""The results database: `defectlab inspect --db` writes each record here, `defectlab results DB` reads it back.
SQLite by default (a file path), PostgreSQL by URL (postgresql+psycopg://...). Framework-free: SQLAlchemy and
Alembic only. docs/results-database.md describes the schema and the dedupe rule."""
from __future__ import annotations

from .store import Store, describe_runs, open_store, runs_key
from .stream import stream_into

__all__ = ["Store", "describe_runs", "open_store", "runs_key", "stream_into"]
