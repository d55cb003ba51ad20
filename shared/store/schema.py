"""The results database's tables (SQLAlchemy Core). Alembic migrations under migrations/ create them; a test
checks that these definitions and the migrations agree.

A task's answer is stored as its spec's flat columns, one JSON object per task and inspection in `results`: a
new task, or a task whose columns change, needs no migration (typed columns made from the specs would need an
ALTER TABLE each time). Boxes, the one nested list a record part may hold, get their own table so that they can
be queried by class and confidence."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

# constraint names that every backend and every migration spell alike
metadata = sa.MetaData(naming_convention={
    "ix": "ix_%(column_0_label)s", "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s", "pk": "pk_%(table_name)s"})

# JSONB on PostgreSQL: indexable and compared by value
Document = sa.JSON().with_variant(JSONB(), "postgresql")
Time = sa.DateTime(timezone=True)

pictures = sa.Table(
    "pictures", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("path", sa.Text, nullable=False),  # where it was first seen
    sa.Column("sha256", sa.String(64), nullable=False, unique=True),
    sa.Column("size_bytes", sa.BigInteger, nullable=False),
    sa.Column("width", sa.Integer),
    sa.Column("height", sa.Integer),
    sa.Column("first_seen", Time, nullable=False),
)

runs = sa.Table(
    "runs", metadata,
    sa.Column("key", sa.String(64), primary_key=True),  # sha256 of the description
    sa.Column("description", Document, nullable=False),  # {task: {run, version, options}}
    sa.Column("first_used", Time, nullable=False),
)

inspections = sa.Table(
    "inspections", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    # None: no readable file, so no content hash
    sa.Column("picture_id", sa.Integer, sa.ForeignKey("pictures.id", ondelete="CASCADE")),
    sa.Column("image", sa.Text, nullable=False),  # the picture as the record names it
    sa.Column("runs_key", sa.String(64), sa.ForeignKey("runs.key"), nullable=False),
    sa.Column("created", Time, nullable=False, index=True),
    sa.Column("error", sa.Text),
    sa.Column("timings", Document),  # {task: milliseconds per picture}
    sa.Column("novel", sa.Boolean),
    sa.Column("digest", sa.String(64), nullable=False),  # sha256 of the answer: the same answer again changes nothing
    sa.UniqueConstraint("picture_id", "runs_key", name="uq_inspections_picture_runs"),
    # `watch` asks which paths the store has seen for its runs, hundreds at a time
    sa.Index("ix_inspections_runs_key_image", "runs_key", "image"),
)

results = sa.Table(
    "results", metadata,
    sa.Column("inspection_id", sa.Integer, sa.ForeignKey("inspections.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("task", sa.String(64), primary_key=True),
    sa.Column("columns", Document, nullable=False),  # the spec's columns(part)
    sa.Column("vote", sa.Boolean),  # the spec's novelty(part); None: the task does not vote
)

boxes = sa.Table(
    "boxes", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("inspection_id", sa.Integer, sa.ForeignKey("inspections.id", ondelete="CASCADE"), nullable=False,
              index=True),
    sa.Column("task", sa.String(64), nullable=False),
    sa.Column("class", sa.Text, nullable=False),
    sa.Column("confidence", sa.Float, nullable=False),
    # the record's xmin..ymax: PostgreSQL reserves xmin and xmax as system column names
    sa.Column("x_min", sa.Float, nullable=False),
    sa.Column("y_min", sa.Float, nullable=False),
    sa.Column("x_max", sa.Float, nullable=False),
    sa.Column("y_max", sa.Float, nullable=False),
)
