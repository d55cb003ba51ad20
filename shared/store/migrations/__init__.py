"""Alembic migrations of the results database (run by shared.store.migrate; no alembic.ini needed)."""
