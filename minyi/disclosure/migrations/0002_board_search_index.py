"""The board's word search on PostgreSQL: a GIN index over the segmented tokens of published cases.

SQLite has no such index; there the board searches the same tokens with LIKE (fine at embedded scale).
"""

from django.db import migrations

INDEX = "pub_board_search"


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {INDEX} ON disclosure_publication "
        "USING gin (to_tsvector('simple'::regconfig, search_text)) WHERE state = 'published'"
    )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("disclosure", "0001_initial")]
    operations = [migrations.RunPython(create, drop, elidable=False)]
