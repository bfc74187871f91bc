"""64-bit ids on PostgreSQL: users, record entries, audit rows and sign-in failures, and every
column that points at a user (the API takes ids up to 2^63 - 1; a 32-bit column answered 500
above 2^31 - 1). SQLite's INTEGER is 64-bit already: nothing to do there.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

# (table, column, has its own sequence)
COLUMNS = [
    ('users', 'id', True), ('pain_scores', 'id', True), ('sessions', 'id', True),
    ('audit_log', 'id', True), ('login_failures', 'id', True),
    ('patient_identifiers', 'id', True),
    ('patients', 'therapist_id', False), ('plans', 'created_by', False),
    ('forecasts', 'user_id', False), ('cohorts', 'created_by', False),
    ('jobs', 'created_by', False), ('audit_log', 'user_id', False),
    ('fhir_clients', 'user_id', False), ('patient_identifiers', 'therapist_id', False),
]


def _retype(kind: str) -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    for table, column, sequenced in COLUMNS:
        op.execute(f'ALTER TABLE {table} ALTER COLUMN {column} TYPE {kind}')
        if sequenced:
            op.execute(f"DO $$ DECLARE s text := pg_get_serial_sequence('{table}', '{column}'); "
                       f"BEGIN IF s IS NOT NULL THEN EXECUTE 'ALTER SEQUENCE ' || s || "
                       f"' AS {kind}'; END IF; END $$")


def upgrade() -> None:
    _retype('BIGINT')


def downgrade() -> None:
    _retype('INTEGER')
