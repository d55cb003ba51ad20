"""an index on inspections (runs_key, image): `watch` asks which paths the store has seen

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07

"""
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_inspections_runs_key_image", "inspections", ["runs_key", "image"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_inspections_runs_key_image", table_name="inspections")
