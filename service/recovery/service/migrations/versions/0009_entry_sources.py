"""what a FHIR client sent with a score or session (its identifiers, date-time with offset and
status), so the record reads back as it was sent

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ('pain_scores', 'sessions'):
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(sa.Column('source', sa.JSON(), nullable=True))


def downgrade() -> None:
    for table in ('pain_scores', 'sessions'):
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column('source')
