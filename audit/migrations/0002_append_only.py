"""The database refuses UPDATE and DELETE on audit entries (audit/triggers.py)."""

from django.db import migrations


def create(apps, schema_editor):
    from audit import triggers

    triggers.create(schema_editor)


def drop(apps, schema_editor):
    from audit import triggers

    triggers.drop(schema_editor)


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]

    operations = [migrations.RunPython(create, drop)]
