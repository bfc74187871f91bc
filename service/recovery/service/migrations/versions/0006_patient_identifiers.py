"""every FHIR identifier of a record (canonical system|value), unique per therapist, so a
Patient is matched by any of its identifiers

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'patient_identifiers',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('therapist_id', sa.Integer(), sa.ForeignKey('users.id'), nullable=False),
        sa.Column('patient_id', sa.String(length=32), sa.ForeignKey('patients.id'),
                  nullable=False),
        sa.Column('identifier', sa.String(length=300), nullable=False),
        sa.UniqueConstraint('therapist_id', 'identifier', name='ux_patient_identifiers'))
    op.create_index('ix_patient_identifiers_patient', 'patient_identifiers', ['patient_id'])
    op.execute("INSERT INTO patient_identifiers (therapist_id, patient_id, identifier) "
               "SELECT therapist_id, id, fhir_identifier FROM patients "
               "WHERE fhir_identifier IS NOT NULL")


def downgrade() -> None:
    op.drop_index('ix_patient_identifiers_patient', table_name='patient_identifiers')
    op.drop_table('patient_identifiers')
