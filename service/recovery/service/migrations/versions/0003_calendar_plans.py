"""record start dates, shared plans, the previously served model (rollback)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('patients') as batch_op:
        batch_op.add_column(sa.Column('start_date', sa.Date(), nullable=True))
    with op.batch_alter_table('served') as batch_op:
        batch_op.add_column(sa.Column('previous_model_id', sa.String(length=40), nullable=True))
        batch_op.create_foreign_key('fk_served_previous_model', 'models',
                                    ['previous_model_id'], ['id'])
    op.create_table('plans',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('patient_id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('spec', sa.JSON(), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['created_by'], ['users.id']),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id']),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_plans_patient_id', 'plans', ['patient_id'])


def downgrade() -> None:
    op.drop_index('ix_plans_patient_id', table_name='plans')
    op.drop_table('plans')
    with op.batch_alter_table('served') as batch_op:
        batch_op.drop_constraint('fk_served_previous_model', type_='foreignkey')
        batch_op.drop_column('previous_model_id')
    with op.batch_alter_table('patients') as batch_op:
        batch_op.drop_column('start_date')
