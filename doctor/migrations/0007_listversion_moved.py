from django.db import migrations


class Migration(migrations.Migration):
    """ListVersion now belongs to the listcache app; its table stays."""

    dependencies = [
        ("doctor", "0006_listversion"),
        ("listcache", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="ListVersion")],
            database_operations=[],
        ),
    ]
