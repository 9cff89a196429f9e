"""Readings name their file by a number instead of repeating its 64-character SHA-256 on every row
(a year of hourly profiles is 14 million rows: 0.9 GB of hashes, written to heap and WAL).

Revision ID: 0006
"""

from alembic import op

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    op.execute("ALTER TABLE reading_files ADD COLUMN file_no integer GENERATED ALWAYS AS IDENTITY UNIQUE")
    op.execute("ALTER TABLE readings ADD COLUMN file_no integer")
    # the one rewrite the append-only rule allows: a migration, in its own transaction
    op.execute("ALTER TABLE readings DISABLE TRIGGER readings_append_only")
    op.execute("UPDATE readings r SET file_no = f.file_no FROM reading_files f WHERE f.file_sha256 = r.file_sha256")
    op.execute("ALTER TABLE readings ENABLE TRIGGER readings_append_only")
    op.execute("ALTER TABLE readings ALTER COLUMN file_no SET NOT NULL, DROP COLUMN file_sha256")


def downgrade() -> None:
    raise NotImplementedError("readings keep their file numbers")
