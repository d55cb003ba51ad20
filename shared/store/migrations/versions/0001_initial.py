"""pictures, runs, inspections, results, boxes

Revision ID: 0001
Revises:
Create Date: 2026-12-07

"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "pictures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("first_seen", TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pictures")),
        sa.UniqueConstraint("sha256", name=op.f("uq_pictures_sha256")),
    )
    op.create_table(
        "runs",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("description", DOCUMENT, nullable=False),
        sa.Column("first_used", TIME, nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_runs")),
    )
    op.create_table(
        "inspections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("picture_id", sa.Integer(), nullable=True),
        sa.Column("image", sa.Text(), nullable=False),
        sa.Column("runs_key", sa.String(length=64), nullable=False),
        sa.Column("created", TIME, nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("timings", DOCUMENT, nullable=True),
        sa.Column("novel", sa.Boolean(), nullable=True),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["picture_id"], ["pictures.id"], name=op.f("fk_inspections_picture_id_pictures"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["runs_key"], ["runs.key"], name=op.f("fk_inspections_runs_key_runs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inspections")),
        sa.UniqueConstraint("picture_id", "runs_key", name="uq_inspections_picture_runs"),
    )
    op.create_index(op.f("ix_inspections_created"), "inspections", ["created"], unique=False)
    op.create_table(
        "results",
        sa.Column("inspection_id", sa.Integer(), nullable=False),
        sa.Column("task", sa.String(length=64), nullable=False),
        sa.Column("columns", DOCUMENT, nullable=False),
        sa.Column("vote", sa.Boolean(), nullable=True),
        sa.ForeignKeyConstraint(["inspection_id"], ["inspections.id"],
                                name=op.f("fk_results_inspection_id_inspections"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("inspection_id", "task", name=op.f("pk_results")),
    )
    op.create_table(
        "boxes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("inspection_id", sa.Integer(), nullable=False),
        sa.Column("task", sa.String(length=64), nullable=False),
        sa.Column("class", sa.Text(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("x_min", sa.Float(), nullable=False),
        sa.Column("y_min", sa.Float(), nullable=False),
        sa.Column("x_max", sa.Float(), nullable=False),
        sa.Column("y_max", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["inspection_id"], ["inspections.id"],
                                name=op.f("fk_boxes_inspection_id_inspections"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_boxes")),
    )
    op.create_index(op.f("ix_boxes_inspection_id"), "boxes", ["inspection_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_boxes_inspection_id"), table_name="boxes")
    op.drop_table("boxes")
    op.drop_table("results")
    op.drop_index(op.f("ix_inspections_created"), table_name="inspections")
    op.drop_table("inspections")
    op.drop_table("runs")
    op.drop_table("pictures")
