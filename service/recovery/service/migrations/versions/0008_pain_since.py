"""pain onset on the patient record (the natural course runs from it)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('patients') as batch_op:
        batch_op.add_column(sa.Column('pain_since', sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('patients') as batch_op:
        batch_op.drop_column('pain_since')
