"""revocable tokens, job leases, audit trail, failed sign-ins

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('users') as batch_op:
        batch_op.add_column(sa.Column('token_version', sa.Integer(), nullable=False,
                                      server_default='0'))
        batch_op.add_column(sa.Column('active', sa.Boolean(), nullable=False,
                                      server_default=sa.true()))
    with op.batch_alter_table('jobs') as batch_op:
        batch_op.add_column(sa.Column('lease', sa.String(length=32), nullable=True))
    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('action', sa.String(length=10), nullable=False),
    sa.Column('route', sa.String(length=200), nullable=False),
    sa.Column('patient_id', sa.String(length=32), nullable=True),
    sa.Column('reason', sa.String(length=300), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_audit_patient', 'audit_log', ['patient_id', 'at'])
    op.create_index('ix_audit_user', 'audit_log', ['user_id', 'at'])
    op.create_table('login_failures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=80), nullable=False),
    sa.Column('client', sa.String(length=64), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_login_failures_username', 'login_failures', ['username', 'at'])
    op.create_index('ix_login_failures_client', 'login_failures', ['client', 'at'])


def downgrade() -> None:
    op.drop_index('ix_login_failures_client', table_name='login_failures')
    op.drop_index('ix_login_failures_username', table_name='login_failures')
    op.drop_table('login_failures')
    op.drop_index('ix_audit_user', table_name='audit_log')
    op.drop_index('ix_audit_patient', table_name='audit_log')
    op.drop_table('audit_log')
    with op.batch_alter_table('jobs') as batch_op:
        batch_op.drop_column('lease')
    with op.batch_alter_table('users') as batch_op:
        batch_op.drop_column('active')
        batch_op.drop_column('token_version')
