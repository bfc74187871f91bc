"""a record's FHIR Patient identifier (system|value), unique per therapist

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('patients') as batch_op:
        batch_op.add_column(sa.Column('fhir_identifier', sa.String(length=300), nullable=True))
    op.create_index('ux_patients_fhir_identifier', 'patients',
                    ['therapist_id', 'fhir_identifier'], unique=True)


def downgrade() -> None:
    op.drop_index('ux_patients_fhir_identifier', table_name='patients')
    with op.batch_alter_table('patients') as batch_op:
        batch_op.drop_column('fhir_identifier')
